//! The atomics, cells and spin hint the ring is built from: `std`'s normally, `loom`'s
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
