//! DPDK's head/tail protocol (`rte_ring_c11_pvt.h`): each side of the ring has a head,
//! which claims slots, and a tail, which publishes them once written (or read).
//!
//! An enqueue moves `prod.head` forward to reserve slots, copies the elements in, then
//! moves `prod.tail` to the same place so consumers may take them; a dequeue does the
//! same with `cons`. Indices are free-running `u32`s that wrap; `index & mask` is the
//! slot. With one thread per side the head is a plain store; with several it is a CAS,
//! and each thread waits for the tail to reach its own old head before publishing, so
//! tails always move in reservation order.

use crossbeam_utils::CachePadded;

use crate::mode::SyncMode;
use crate::sync::{AtomicU32, Ordering, fence, spin_wait};

/// How many elements an operation must move.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Behavior {
    /// All `n` or none (DPDK's `RTE_RING_QUEUE_FIXED`, the `_bulk` calls).
    Fixed,
    /// As many as possible up to `n` (`RTE_RING_QUEUE_VARIABLE`, the `_burst` calls).
    Variable,
}

/// One side's head and tail, on a cache line of its own so the producer and the
/// consumer do not false-share.
#[derive(Debug, Default)]
pub(crate) struct HeadTail {
    head: AtomicU32,
    tail: AtomicU32,
}

/// The slots a thread reserved: `[old, old + n)`, and the free (enqueue) or filled
/// (dequeue) entries that remain beyond them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reservation {
    pub(crate) old: u32,
    pub(crate) n: u32,
    pub(crate) left: u32,
}

impl HeadTail {
    /// Reserves up to `n` slots on this side (`self`) against the other side's tail.
    ///
    /// `room(other_tail, old_head)` is how many slots are usable: free entries for a
    /// producer (`capacity + cons.tail - prod.head`), filled ones for a consumer
    /// (`prod.tail - cons.head`).
    #[inline(always)]
    pub(crate) fn reserve<M: SyncMode>(
        &self,
        other: &CachePadded<HeadTail>,
        n: u32,
        behavior: Behavior,
        room: impl Fn(u32, u32) -> u32,
    ) -> Reservation {
        // Relaxed: the head only orders reservations among threads of this side, which
        // the CAS below does by itself; no data is published through it.
        let mut old = self.head.load(Ordering::Relaxed);
        loop {
            // Acquire fence: our head load above (and the failed CAS's reload) is ordered
            // before the other side's tail load below, as in DPDK. Reading the tail
            // first could pair a newer tail with an older head and overstate the room.
            fence(Ordering::Acquire);
            // Acquire: pairs with the other side's Release store of its tail, so the
            // slots it finished with (read by consumers, written by producers) are
            // ours to reuse or read only after its accesses to them are complete.
            let other_tail = other.tail.load(Ordering::Acquire);
            let avail = room(other_tail, old);
            let take = if n <= avail {
                n
            } else if behavior == Behavior::Fixed {
                0
            } else {
                avail
            };
            if take == 0 {
                return Reservation {
                    old,
                    n: 0,
                    left: avail,
                };
            }
            let new = old.wrapping_add(take);
            if M::SINGLE {
                // Relaxed: nobody else moves this head; the tail store publishes.
                self.head.store(new, Ordering::Relaxed);
                return Reservation {
                    old,
                    n: take,
                    left: avail - take,
                };
            }
            // Relaxed on both outcomes: winning the CAS only claims the index range;
            // the data is ordered by the tails (Acquire above, Release in `publish`).
            match self
                .head
                .compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    return Reservation {
                        old,
                        n: take,
                        left: avail - take,
                    };
                }
                Err(current) => old = current,
            }
        }
    }

    /// Publishes a finished reservation by moving this side's tail past it.
    #[inline(always)]
    pub(crate) fn publish<M: SyncMode>(&self, r: Reservation) {
        if !M::SINGLE {
            // Wait until every earlier reservation on this side is published. Acquire
            // (DPDK uses Relaxed here): it makes the earlier thread's slot accesses
            // happen-before our Release store below, so the other side, acquiring our
            // tail, sees theirs too. Under the C11 model a Relaxed load would not carry
            // that ordering through (a plain store does not extend a release sequence).
            // On x86 both compile to a plain load.
            let mut spins = 0;
            while self.tail.load(Ordering::Acquire) != r.old {
                spin_wait(&mut spins);
            }
        }
        // Release: our slot writes (enqueue) or reads (dequeue) happen-before the other
        // side's Acquire load of this tail.
        self.tail.store(r.old.wrapping_add(r.n), Ordering::Release);
    }

    /// The tail, for counts. Acquire, so a count never runs ahead of the data.
    #[inline]
    pub(crate) fn tail(&self) -> u32 {
        self.tail.load(Ordering::Acquire)
    }
}
