//! A queue's ring shared by the control plane and the lcore polling it: the port fills
//! the ring at start and releases its mbufs at stop, the lcore runs bursts on it in
//! between. [`Shared`] lets exactly one of them at a time reach the ring, at the cost of
//! one atomic compare-exchange and one store per burst; a burst finds a stopped queue
//! (or one the port holds) and does nothing, so no burst ever runs on a ring whose mbufs
//! were released.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU8, Ordering};

/// Nobody holds the ring; bursts do nothing.
const STOPPED: u8 = 0;
/// Nobody holds the ring; bursts may take it.
const RUNNING: u8 = 1;
/// A burst or the control plane holds the ring.
const BUSY: u8 = 2;
/// A holder panicked: the ring may be inconsistent and is never touched again (its
/// mbufs leak rather than risk a double free or a buffer still in the device's hands).
const POISONED: u8 = 3;

/// A ring shared by the control plane and the lcore polling it: whoever moves `state`
/// to [`BUSY`] has the ring to itself until it stores another state.
pub(crate) struct Shared<T> {
    state: AtomicU8,
    ring: UnsafeCell<T>,
}

// SAFETY: the ring is reached only by the one thread that moved `state` to BUSY (see
// `burst` and `control`), so sharing `Shared` shares no `T` between threads at once.
unsafe impl<T: Send> Sync for Shared<T> {}

/// Marks the ring poisoned if its holder unwinds.
struct PoisonOnUnwind<'a>(&'a AtomicU8);

impl Drop for PoisonOnUnwind<'_> {
    fn drop(&mut self) {
        self.0.store(POISONED, Ordering::Release);
    }
}

impl<T> Shared<T> {
    /// A stopped queue's ring.
    pub(crate) fn new(ring: T) -> Self {
        Self {
            state: AtomicU8::new(STOPPED),
            ring: UnsafeCell::new(ring),
        }
    }

    /// Holds the ring (already BUSY) for `f`, then leaves it in the state `f` returns.
    #[inline(always)]
    fn hold<R>(&self, f: impl FnOnce(&mut T) -> (R, u8)) -> R {
        let poison = PoisonOnUnwind(&self.state);
        // SAFETY: the caller moved `state` to BUSY: nobody else reaches the ring until
        // the store below.
        let (r, after) = f(unsafe { &mut *self.ring.get() });
        std::mem::forget(poison);
        // Release: what `f` did to the ring happens-before the next holder's Acquire.
        self.state.store(after, Ordering::Release);
        r
    }

    /// Data plane: runs `f` on the ring if the queue is running; `None` otherwise.
    #[inline]
    pub(crate) fn burst<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        // Acquire: the previous holder's ring updates (the last burst's, or the control
        // plane's fill) happen-before ours.
        self.state
            .compare_exchange(RUNNING, BUSY, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        Some(self.hold(|ring| (f(ring), RUNNING)))
    }

    /// Control plane: waits for a burst in progress to end, then runs `f` on the ring
    /// and leaves the queue running if `f` says so, stopped otherwise. `None` (and `f`
    /// not run) if a holder panicked.
    pub(crate) fn control<R>(&self, f: impl FnOnce(&mut T) -> (R, bool)) -> Option<R> {
        let mut spins = 0u32;
        loop {
            match self.state.load(Ordering::Relaxed) {
                POISONED => return None,
                BUSY => {
                    // A burst is bounded by the ring's size: spin, then yield.
                    if spins < 1000 {
                        std::hint::spin_loop();
                        spins += 1;
                    } else {
                        std::thread::yield_now();
                    }
                }
                state => {
                    // Acquire: as in `burst`.
                    if self
                        .state
                        .compare_exchange_weak(state, BUSY, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                    {
                        break;
                    }
                }
            }
        }
        let r = self.hold(|ring| {
            let (r, run) = f(ring);
            (r, if run { RUNNING } else { STOPPED })
        });
        Some(r)
    }

    /// Control plane: stops the queue, once a burst in progress has ended.
    pub(crate) fn stop(&self) {
        self.control(|_| ((), false));
    }

    /// Control plane: lets bursts run (unless a holder panicked).
    pub(crate) fn run(&self) {
        self.control(|_| ((), true));
    }

    /// Control plane, once the device is done with the ring's buffers: gives its mbufs
    /// back with `release` and leaves the queue stopped; false if a holder panicked, and
    /// the mbufs leak.
    pub(crate) fn release(&self, release: impl FnOnce(&mut T)) -> bool {
        self.control(|ring| (release(ring), false)).is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn the_ring_is_the_lcores_while_running_and_the_ports_while_stopped() {
        let shared = Shared::new(7u32);
        assert_eq!(shared.burst(|n| *n), None, "stopped");
        assert_eq!(shared.control(|n| (*n + 1, true)), Some(8));
        assert_eq!(shared.burst(|n| std::mem::replace(n, 9)), Some(7));
        assert_eq!(shared.control(|n| (*n, false)), Some(9));
        assert_eq!(shared.burst(|n| *n), None, "stopped again");

        // A panicking holder poisons the ring for good.
        shared.control(|_| ((), true));
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            shared.burst(|_| panic!("a bug in a burst"))
        }));
        assert!(panicked.is_err());
        assert_eq!(shared.burst(|n| *n), None);
        assert_eq!(shared.control(|n| (*n, true)), None);
    }

    #[test]
    fn stopping_waits_for_the_burst_in_progress() {
        let shared = Arc::new(Shared::new(0u64));
        shared.control(|_| ((), true));
        let lcore = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                let mut bursts = 0u64;
                while shared
                    .burst(|n| {
                        *n += 1;
                        bursts += 1;
                    })
                    .is_some()
                {}
                bursts
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        let seen = shared.control(|n| (*n, false)).unwrap();
        let bursts = lcore.join().unwrap();
        assert_eq!(
            seen, bursts,
            "every burst ended before the port took the ring"
        );
    }
}
