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
/// counts of the fast path (1 to 64), rather than a call to `memcpy`. Where the CPU
/// has AVX2 (checked at run time; `std` caches the answer) 9 to 64 pointers move
/// through 32-byte registers instead: half the loads and stores of the baseline
/// target's 16-byte ones (a get+put of 32 through a cache: 1.07 -> 1.19 of DPDK's
/// speed, whose Debian build has SSE4.2 only).
///
/// # Safety
/// As `ptr::copy_nonoverlapping(src, dst, n)`.
#[inline(always)]
pub(crate) unsafe fn copy_ptrs(src: *const ObjPtr, dst: *mut ObjPtr, n: usize) {
    // SAFETY: the caller's contract, passed on; `has_avx2` tells the truth.
    unsafe { copy_ptrs_with(src, dst, n, has_avx2) }
}

/// Whether the CPU has AVX2.
#[inline(always)]
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// [`copy_ptrs`], asking `avx2` (only for counts over 8) whether to use AVX2.
///
/// # Safety
/// As `ptr::copy_nonoverlapping(src, dst, n)`; `avx2` returns true only if the CPU
/// has AVX2.
#[inline(always)]
unsafe fn copy_ptrs_with(src: *const ObjPtr, dst: *mut ObjPtr, n: usize, avx2: impl Fn() -> bool) {
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
    #[cfg(not(target_arch = "x86_64"))]
    let _ = avx2;
    // SAFETY: the caller's contract, passed on.
    unsafe {
        match n {
            0 => {}
            1 => dst.write(src.read()),
            2..=4 => ends::<2>(src, dst, n),
            5..=8 => ends::<4>(src, dst, n),
            // The CPU has AVX2 (the caller's promise for `avx2`), 8 < n.
            #[cfg(target_arch = "x86_64")]
            _ if n <= 64 && avx2() => ymm_copy(src, dst, n),
            9..=16 => ends::<8>(src, dst, n),
            17..=32 => ends::<16>(src, dst, n),
            33..=64 => ends::<32>(src, dst, n),
            _ => std::ptr::copy_nonoverlapping(src, dst, n),
        }
    }
}

/// Copies `n >= 8` pointers 8 at a time through two 32-byte registers, the last 8
/// overlapping the ones before. Inline assembly, so that it inlines into code built
/// for the baseline target: a `#[target_feature(enable = "avx2")]` function cannot,
/// and its call and the registers saved around it cost more than the stores saved.
///
/// # Safety
/// The CPU must have AVX2; `n >= 8`; otherwise as `ptr::copy_nonoverlapping`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn ymm_copy(src: *const ObjPtr, dst: *mut ObjPtr, n: usize) {
    // SAFETY: the caller's contract: AVX2 present, both ranges valid for `n >= 8`
    // pointers, so every 64-byte block at `i < n - 8` and the one at `n - 8` is inside
    // them. Only the registers named are written (VZEROUPPER clears the upper halves
    // again, so SSE code after pays no state transition); no stack is used.
    unsafe {
        std::arch::asm!(
            "xor {i:e}, {i:e}",
            "2:",
            "vmovdqu ymm0, [{s} + {i} * 8]",
            "vmovdqu ymm1, [{s} + {i} * 8 + 32]",
            "vmovdqu [{d} + {i} * 8], ymm0",
            "vmovdqu [{d} + {i} * 8 + 32], ymm1",
            "add {i}, 8",
            "cmp {i}, {last}",
            "jb 2b",
            "vmovdqu ymm0, [{s} + {last} * 8]",
            "vmovdqu ymm1, [{s} + {last} * 8 + 32]",
            "vmovdqu [{d} + {last} * 8], ymm0",
            "vmovdqu [{d} + {last} * 8 + 32], ymm1",
            "vzeroupper",
            s = in(reg) src,
            d = in(reg) dst,
            last = in(reg) n - 8,
            i = out(reg) _,
            out("xmm0") _,
            out("xmm1") _,
            options(nostack),
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every count from 0 to past the block sizes, at several 8-byte offsets on
    /// either side: exactly the `n` pointers arrive and nothing around them is
    /// written, on the baseline path and on the one this CPU takes (AVX2 if it has it).
    #[test]
    fn copy_ptrs_copies_exactly_n() {
        let ptr = |v: usize| ObjPtr(NonNull::new(v as *mut u8).unwrap());
        let baseline: fn() -> bool = || false;
        for (path, avx2) in [("baseline", baseline), ("detected", has_avx2)] {
            for n in 0..=140 {
                for (s_off, d_off) in [(0, 0), (1, 0), (0, 1), (3, 2), (2, 3)] {
                    let src: Vec<ObjPtr> = (1..=n + 4).map(ptr).collect();
                    let mut dst = vec![ptr(usize::MAX); n + 8];
                    // SAFETY: `s_off + n <= src.len()`, `d_off + n <= dst.len()`, two
                    // vectors; `avx2` is false or the CPU's answer.
                    unsafe {
                        copy_ptrs_with(
                            src.as_ptr().add(s_off),
                            dst.as_mut_ptr().add(d_off),
                            n,
                            avx2,
                        )
                    };
                    let at = format!("{path}, n={n}, offsets {s_off}/{d_off}");
                    assert!(dst[..d_off].iter().all(|&p| p == ptr(usize::MAX)), "{at}");
                    assert_eq!(&dst[d_off..d_off + n], &src[s_off..s_off + n], "{at}");
                    assert!(
                        dst[d_off + n..].iter().all(|&p| p == ptr(usize::MAX)),
                        "{at}"
                    );
                }
            }
        }
    }
}
