//! Object pointers as the ring and the caches hold them, the owned handles built on
//! them, and the thread's scratch vector for returns made without a cache.

use std::cell::RefCell;
use std::mem::{self, ManuallyDrop};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// The address of a free (or just freed) object: what the ring and caches store.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct ObjPtr(pub(crate) NonNull<u8>);

// SAFETY: an `ObjPtr` names pool memory; whoever holds it in a ring slot, a cache or a
// handle owns that object, and the pool protocol hands it to one owner at a time, so
// moving it between threads moves that ownership.
unsafe impl Send for ObjPtr {}

impl ObjPtr {
    /// The address, for range checks.
    #[inline(always)]
    pub(crate) fn addr(self) -> usize {
        self.0.as_ptr().addr()
    }
}

/// An owned, pointer-sized handle to a pool object ([`Object`](crate::Object),
/// [`Mbuf`](crate::Mbuf)).
///
/// # Safety
/// The type must be `#[repr(transparent)]` over a `NonNull` to the address the pool
/// hands out, so a buffer of handles is a buffer of [`ObjPtr`]s.
pub(crate) unsafe trait Handle: Sized {
    /// Wraps a free object.
    ///
    /// # Safety
    /// `obj` must be an object of a pool of this handle's kind, owned by the caller,
    /// who gives that ownership to the handle.
    unsafe fn from_obj(obj: ObjPtr) -> Self;
}

/// A vector of handles seen as a vector of pointers, so the ring can move handles in
/// and out of it without a copy. The handles are back in it when this is dropped (on
/// unwind too: the ring leaves only whole objects in the vector).
pub(crate) struct PtrVec<'a, T: Handle> {
    handles: &'a mut Vec<T>,
    ptrs: ManuallyDrop<Vec<ObjPtr>>,
}

impl<'a, T: Handle> PtrVec<'a, T> {
    /// # Safety
    /// Every pointer left in the vector when this is dropped must be a free object,
    /// owned by the caller, of a pool of `T`'s kind: they become `T` handles again.
    #[inline(always)]
    pub(crate) unsafe fn new(handles: &'a mut Vec<T>) -> Self {
        const {
            assert!(size_of::<T>() == size_of::<ObjPtr>());
            assert!(align_of::<T>() == align_of::<ObjPtr>());
        }
        let mut taken = ManuallyDrop::new(mem::take(handles));
        // SAFETY: `T` is `repr(transparent)` over a pointer (`Handle`), so the buffer,
        // which the global allocator gave for `T`s, has the size and alignment `ObjPtr`s
        // need; `taken` is forgotten, so the buffer has one owner.
        let ptrs = unsafe {
            Vec::from_raw_parts(taken.as_mut_ptr().cast(), taken.len(), taken.capacity())
        };
        Self {
            handles,
            ptrs: ManuallyDrop::new(ptrs),
        }
    }
}

impl<T: Handle> Deref for PtrVec<'_, T> {
    type Target = Vec<ObjPtr>;

    fn deref(&self) -> &Vec<ObjPtr> {
        &self.ptrs
    }
}

impl<T: Handle> DerefMut for PtrVec<'_, T> {
    fn deref_mut(&mut self) -> &mut Vec<ObjPtr> {
        &mut self.ptrs
    }
}

impl<T: Handle> Drop for PtrVec<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        let ptrs = &mut self.ptrs;
        // SAFETY: as in `new`, back again; the caller of `new` vouches for the
        // pointers. The empty vector `take` left owns nothing, so it is overwritten.
        unsafe {
            std::ptr::write(
                self.handles,
                Vec::from_raw_parts(ptrs.as_mut_ptr().cast(), ptrs.len(), ptrs.capacity()),
            );
        }
    }
}

/// Copies `n` pointers from `src` to `dst` with at most two block moves for the
/// counts of the fast path (1 to 64), rather than a call to `memcpy`.
///
/// # Safety
/// As `ptr::copy_nonoverlapping(src, dst, n)`.
#[inline(always)]
pub(crate) unsafe fn copy_ptrs(src: *const ObjPtr, dst: *mut ObjPtr, n: usize) {
    /// The first `K` and the last `K` of `n` (`K <= n <= 2K`) pointers; the two
    /// blocks overlap when `n < 2K`.
    #[inline(always)]
    unsafe fn ends<const K: usize>(src: *const ObjPtr, dst: *mut ObjPtr, n: usize) {
        // SAFETY: both blocks lie within the `n` pointers of `src` and of `dst`, which
        // do not overlap each other (caller); pointers are Copy.
        unsafe {
            dst.cast::<[ObjPtr; K]>()
                .write(src.cast::<[ObjPtr; K]>().read());
            dst.add(n - K)
                .cast::<[ObjPtr; K]>()
                .write(src.add(n - K).cast::<[ObjPtr; K]>().read());
        }
    }
    // SAFETY: the caller's contract, passed on.
    unsafe {
        match n {
            0 => {}
            1 => dst.write(src.read()),
            2..=4 => ends::<2>(src, dst, n),
            5..=8 => ends::<4>(src, dst, n),
            9..=16 => ends::<8>(src, dst, n),
            17..=32 => ends::<16>(src, dst, n),
            33..=64 => ends::<32>(src, dst, n),
            _ => std::ptr::copy_nonoverlapping(src, dst, n),
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<Vec<ObjPtr>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with an empty vector that keeps its capacity across calls on this thread,
/// so a return made without a cache (a dropped `Mbuf`) does not allocate. Falls back to
/// a fresh vector when the thread's is in use (a drop inside `f`) or torn down.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Vec<ObjPtr>) -> R) -> R {
    let mut f = Some(f);
    let done = SCRATCH.try_with(|scratch| {
        let mut v = scratch.try_borrow_mut().ok()?;
        v.clear();
        let f = f.take()?;
        let result = f(&mut v);
        v.clear();
        Some(result)
    });
    match (done, f) {
        (Ok(Some(result)), _) => result,
        (_, Some(f)) => f(&mut Vec::new()),
        (_, None) => unreachable!("`f` runs once, and its result is returned"),
    }
}
