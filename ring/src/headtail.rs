//! DPDK's head/tail protocol (`rte_ring_c11_pvt.h`): each side of the ring has a head,
//! which claims slots, and a tail, which publishes them once written (or read).
//!
//! An enqueue moves `prod.head` forward to reserve slots, copies the elements in, then
//! moves `prod.tail` to the same place so consumers may take them; a dequeue does the
//! same with `cons`. Indices are free-running `u32`s that wrap; `index & mask` is the
//! slot. With one thread per side the head is a plain store; with several it is a CAS,
//! and each thread waits for the tail to reach its own old head before publishing, so
//! tails always move in reservation order.
//!
//! Two departures from DPDK, both about which cache lines move between cores:
//! - by default ([`Apart`](crate::Apart)) the head lives on a line of its own, apart
//!   from the tail: the head is touched only by this side, the tail is polled by the
//!   other, so a CAS on the head no longer has to win back the line the other side
//!   just read. [`Together`](crate::Together), for rings where every thread works both
//!   sides, puts both sides' heads and tails on one line (DPDK keeps one per side);
//! - the producers of an `Apart` ring keep the consumers' tail as they last read it
//!   (`seen`), and read the real one only when that view shows too little room (the
//!   cached index of the folly/rigtorp SPSC queues, here for multi producers too). So
//!   the `free` figure an enqueue returns is a lower bound. Consumers read the
//!   producers' tail every time, as DPDK's: a queue's consumer usually takes all there
//!   is, so its view would be stale at every call and only cost (measured against
//!   DPDK's ring, in `benches/examples/ring_vs_dpdk.rs`). On a `Together` ring neither
//!   side keeps a view: the other side's tail is on the line it works on anyway (two
//!   cores sharing a cache-less pool, bulk 32: 1.12 -> 1.15-1.21 of DPDK's speed
//!   without the views).

use crossbeam_utils::CachePadded;

use crate::layout::LineLayout;
use crate::mode::SyncMode;
#[cfg(not(loom))]
use crate::sync::prefetch_for_write;
use crate::sync::{AtomicU32, Ordering, spin_wait};

/// The largest reservation that pauses after losing the head's CAS on a `Together`
/// ring (see [`HeadTail::reserve`]).
#[cfg(not(loom))]
const PAUSE_MAX: u32 = 8;

/// How many elements an operation must move.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Behavior {
    /// All `n` or none (DPDK's `RTE_RING_QUEUE_FIXED`, the `_bulk` calls).
    Fixed,
    /// As many as possible up to `n` (`RTE_RING_QUEUE_VARIABLE`, the `_burst` calls).
    Variable,
}

/// One side's head and tail, where the ring's layout put them: the side's own
/// fields (head, view of the other tail, and with [`Together`](crate::Together) the
/// tail too) and the tail the other side reads. Made per call from the layout's
/// [`Lines`], which the compiler folds into fixed offsets.
#[derive(Clone, Copy)]
pub struct HeadTail<'a> {
    own: &'a Own,
    tail: &'a AtomicU32,
}

/// A side's own fields.
#[derive(Debug, Default)]
pub struct Own {
    head: AtomicU32,
    /// The other side's tail as a thread of this side last read it (producers of an
    /// `Apart` ring).
    seen: AtomicU32,
    /// The tail, when it sits beside the head.
    tail: AtomicU32,
}

/// A layout's storage for both sides' heads and tails ([`LineLayout::Lines`]).
pub trait Lines: Default + Send + Sync + std::fmt::Debug + 'static {
    /// The producers' side.
    fn prod(&self) -> HeadTail<'_>;
    /// The consumers' side.
    fn cons(&self) -> HeadTail<'_>;
}

/// [`Apart`](crate::Apart)'s storage: each side's own fields on a line of their own,
/// each tail on another.
#[derive(Debug, Default)]
pub struct ApartLines {
    prod: CachePadded<Own>,
    prod_tail: CachePadded<AtomicU32>,
    cons: CachePadded<Own>,
    cons_tail: CachePadded<AtomicU32>,
}

impl Lines for ApartLines {
    #[inline(always)]
    fn prod(&self) -> HeadTail<'_> {
        HeadTail {
            own: &self.prod,
            tail: &self.prod_tail,
        }
    }
    #[inline(always)]
    fn cons(&self) -> HeadTail<'_> {
        HeadTail {
            own: &self.cons,
            tail: &self.cons_tail,
        }
    }
}

/// [`Together`](crate::Together)'s storage: both sides' heads and tails on one line.
#[derive(Debug, Default)]
pub struct TogetherLines {
    sides: CachePadded<[Own; 2]>,
}

impl Lines for TogetherLines {
    #[inline(always)]
    fn prod(&self) -> HeadTail<'_> {
        HeadTail {
            own: &self.sides[0],
            tail: &self.sides[0].tail,
        }
    }
    #[inline(always)]
    fn cons(&self) -> HeadTail<'_> {
        HeadTail {
            own: &self.sides[1],
            tail: &self.sides[1].tail,
        }
    }
}

/// A single-threaded side's head and view of the other side's tail, kept in its
/// handle instead of the ring: only that thread uses them, and held in registers
/// across calls they spare each call a load that waited on the previous call's store
/// (1-core SP/SC, one element: 0.97 -> 1.27 of DPDK's speed, bursts of 8 1.04 ->
/// 1.19; 2-core bulk 8 1.49 -> 1.97). The ring's head is set from it when the handle
/// drops. A handle starts with a new ring: head and view 0.
#[derive(Debug, Default)]
pub(crate) struct Cursor {
    pub(crate) head: u32,
    seen: u32,
}

/// The slots a thread reserved: `[old, old + n)`, and the free (enqueue) or filled
/// (dequeue) entries that remain beyond them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reservation {
    pub(crate) old: u32,
    pub(crate) n: u32,
    pub(crate) left: u32,
}

impl HeadTail<'_> {
    /// Reserves up to `n` slots on this side (`self`) against the other side's tail.
    ///
    /// `room(other_tail, old_head)` is how many slots are usable, at most `capacity`:
    /// free entries for a producer (`capacity + cons.tail - prod.head`), filled ones
    /// for a consumer (`prod.tail - cons.head`). `keep_view`: look at the view of the
    /// other tail first, or always read the tail. `cursor`: where a single-threaded
    /// side keeps its head and view (`Some` only with `M` = `Single`), or `None` for
    /// the ring's own. A cursor is used by one thread only: no ordering needed.
    #[inline(always)]
    #[expect(
        clippy::too_many_arguments,
        reason = "one inlined helper for the six operations; a struct would only rename them"
    )]
    pub(crate) fn reserve<M: SyncMode, L: LineLayout>(
        self,
        other: HeadTail<'_>,
        n: u32,
        behavior: Behavior,
        capacity: u32,
        room: impl Fn(u32, u32) -> u32,
        keep_view: bool,
        mut cursor: Option<&mut Cursor>,
    ) -> Reservation {
        // Acquire, here and on a failed CAS below: pairs with the Release of the CAS
        // that moved the head here, so the other side's tail that thread saw (and
        // reserved against) happens-before our own load of that tail, which therefore
        // sees it or a later value. With Relaxed (DPDK 22.11's C11 code, which adds an
        // Acquire fence that does not pair with a Relaxed CAS) our tail could be older
        // than the head allows, `room` would wrap, and we would claim slots that are
        // not ours: loom finds that in a 2x2 model (ring/tests/loom.rs).
        let mut old = match cursor.as_deref() {
            Some(c) => c.head,
            None => self.own.head.load(Ordering::Acquire),
        };
        loop {
            // A producer looks at its view of the consumers' tail first: reading the
            // tail itself moves its line between the cores, and most calls find room
            // enough in an older view. A view can only lag (tails only move forward),
            // so it underestimates the room, or, with several producers, when it is
            // older than the tail another producer reserved against, `room` wraps
            // above `capacity` (a single producer's view is its own last read, never
            // older than what its head moved by); either way too little room sends
            // it to the tail itself.
            // Acquire: pairs with the Release store below, so what the consumers
            // published up to that tail happens-before our slot writes, as with the
            // tail itself.
            let view = keep_view.then(|| {
                let seen = match cursor.as_deref() {
                    Some(c) => c.seen,
                    None => self.own.seen.load(Ordering::Acquire),
                };
                room(seen, old)
            });
            let avail = match view {
                Some(avail) if avail >= n && (M::SINGLE || avail <= capacity) => avail,
                _ => {
                    // Acquire: pairs with the other side's Release store of its tail, so
                    // the slots it finished with (read by consumers, written by
                    // producers) are ours to reuse or read only after its accesses to
                    // them are complete.
                    let other_tail = other.tail.load(Ordering::Acquire);
                    if keep_view {
                        match cursor.as_deref_mut() {
                            Some(c) => c.seen = other_tail,
                            // Release: passes that ordering on to the thread using the view.
                            None => self.own.seen.store(other_tail, Ordering::Release),
                        }
                    }
                    room(other_tail, old)
                }
            };
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
                match cursor.as_deref_mut() {
                    Some(c) => c.head = new,
                    // Relaxed: nobody else moves this head; the tail store publishes.
                    None => self.own.head.store(new, Ordering::Relaxed),
                }
                return Reservation {
                    old,
                    n: take,
                    left: avail - take,
                };
            }
            // Release on success: publishes the tail we reserved against to the next
            // thread that reads this head (see the Acquire load above). Acquire on
            // failure, for the same reason as that load. The slot data itself is
            // ordered by the tails (Acquire above, Release in `publish`). On x86 these
            // orderings cost nothing over Relaxed: a locked CMPXCHG and a plain load.
            match self.own.head.compare_exchange_weak(
                old,
                new,
                Ordering::Release,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if !L::TOGETHER {
                        self.prefetch_tail();
                    }
                    return Reservation {
                        old,
                        n: take,
                        left: avail - take,
                    };
                }
                Err(current) => {
                    old = current;
                    // With the tail beside the head, the thread that just won comes
                    // back to this line to publish. Its copy of a few elements takes
                    // less time than the line takes to move, so a retry at once mostly
                    // pulls the line away just before that tail store needs it. One
                    // pause (65 TSC cycles on an EPYC) lets it publish first: two cores
                    // sharing a cache-less pool, one object at a time, 0.97 -> 1.11
                    // of DPDK's speed. A large reservation retries at once, as its copy
                    // overlaps the winner's (bulk 32 with the pause: 0.97 -> 0.95).
                    #[cfg(not(loom))]
                    if L::TOGETHER && take <= PAUSE_MAX {
                        std::hint::spin_loop();
                    }
                }
            }
        }
    }

    /// Asks for the tail's line for writing while the elements are copied: the other
    /// side has been reading it, and the next reservation's CAS waits for the store
    /// that publishes. Multi sides with the tail apart only: a single side's store
    /// waits for nobody, on one core the hint costs more than it saves, and a tail
    /// beside the head came with the CAS.
    #[inline(always)]
    fn prefetch_tail(self) {
        #[cfg(not(loom))]
        prefetch_for_write(self.tail.as_ptr().cast_const().cast());
    }

    /// Asks for the head's line for writing, ahead of a reservation (see
    /// [`Ring::prefetch_enqueue`](crate::Ring::prefetch_enqueue)).
    #[inline(always)]
    pub(crate) fn prefetch_head(self) {
        #[cfg(not(loom))]
        prefetch_for_write(self.own.head.as_ptr().cast_const().cast());
    }

    /// Sets the head from a dropped handle's cursor. Relaxed: whoever uses the ring
    /// next got it through the handle's `Arc`, which orders this store before.
    pub(crate) fn set_head(self, head: u32) {
        self.own.head.store(head, Ordering::Relaxed);
    }

    /// Publishes a finished reservation by moving this side's tail past it.
    #[inline(always)]
    pub(crate) fn publish<M: SyncMode>(self, r: Reservation) {
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
    pub(crate) fn tail(self) -> u32 {
        self.tail.load(Ordering::Acquire)
    }
}
