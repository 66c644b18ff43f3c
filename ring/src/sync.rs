//! The atomics, cells and CPU hints the ring is built from: `std`'s normally, `loom`'s
//! under `--cfg loom` so the model checker sees every access.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, Ordering};

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

#[cfg(not(loom))]
pub(crate) use std::cell::UnsafeCell;

/// Waits a little for another thread's ring operation to finish: a pause
/// instruction, and after `spins` of those a yield, in case the thread being waited for
/// was preempted on an overcommitted core (never on the uncontended path).
#[inline(always)]
pub(crate) fn spin_wait(spins: &mut u32) {
    #[cfg(loom)]
    {
        let _ = spins;
        loom::thread::yield_now();
    }
    #[cfg(not(loom))]
    {
        *spins += 1;
        if *spins % 128 == 0 {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

/// Starts fetching the cache line at `p` for writing (x86 `PREFETCHW`, Arm `PRFM
/// PSTL1KEEP`), so a store to it soon after does not wait for the other core to give it
/// up. A hint only: no effect on memory, no fault for any address.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn prefetch_for_write(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHW reads no memory architecturally and never faults; every x86-64
    // CPU executes it (those without the PRFCHW feature as a NOP).
    unsafe {
        std::arch::asm!("prefetchw [{0}]", in(reg) p, options(nostack, preserves_flags, readonly));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: PRFM is a hint that never faults and changes no architectural state.
    unsafe {
        std::arch::asm!("prfm pstl1keep, [{0}]", in(reg) p, options(nostack, preserves_flags, readonly));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let _ = p;
}
