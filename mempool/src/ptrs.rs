//! Object pointers as the ring and the caches hold them, the owned handles built on
//! them, and the thread's scratch vector for returns made without a cache.

use std::cell::RefCell;
use std::mem::MaybeUninit;
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

// SAFETY: an `ObjPtr` is the address itself; as a "handle" it is the bare pointer the
// ring and caches hold.
unsafe impl Handle for ObjPtr {
    unsafe fn from_obj(obj: ObjPtr) -> Self {
        obj
    }
}

/// The handles of `objs` seen as the object pointers they are.
#[inline(always)]
pub(crate) fn as_ptrs<T: Handle>(objs: &[T]) -> &[ObjPtr] {
    const { assert!(size_of::<T>() == size_of::<ObjPtr>() && align_of::<T>() == align_of::<ObjPtr>()) };
    // SAFETY: `T` is `repr(transparent)` over the object's address (`Handle`), so the
    // slice has the layout of as many `ObjPtr`s; the borrow keeps the handles alive.
    unsafe { std::slice::from_raw_parts(objs.as_ptr().cast(), objs.len()) }
}

/// The first `n` of `out`'s spare capacity (reserved here) as slots for object
/// pointers, which become `T` handles when the caller extends `out` over them.
#[inline(always)]
pub(crate) fn spare_ptrs<T: Handle>(out: &mut Vec<T>, n: usize) -> &mut [MaybeUninit<ObjPtr>] {
    out.reserve(n);
    let spare = &mut out.spare_capacity_mut()[..n];
    // SAFETY: `MaybeUninit<T>` has `T`'s layout, which is `ObjPtr`'s (`Handle`); any
    // bytes are a valid `MaybeUninit`, and the borrow of `out` covers the slice.
    unsafe { &mut *(std::ptr::from_mut(spare) as *mut [MaybeUninit<ObjPtr>]) }
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
