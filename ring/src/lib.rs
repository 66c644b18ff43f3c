//! burst's lock-free bounded ring, DPDK's `rte_ring`: a fixed-size FIFO that moves
//! elements between threads in bulk (all or nothing) or in bursts (as many as fit).
//!
//! Each side, producer and consumer, is either single-threaded (a plain head store) or
//! multi-threaded (a CAS on the head, then a wait for earlier reservations before the
//! tail moves), chosen at creation:
//!
//! - [`Ring`]: multi-producer/multi-consumer, `&self` methods, share it with `Arc`.
//! - [`channel`]`::<P, C>` / [`spsc`]: split [`Producer`] and [`Consumer`] handles; a
//!   [`Single`] side's handle cannot be cloned, so two threads on it do not compile.
//!
//! Where the heads and tails sit is a type too ([`LineLayout`]): each head and each
//! tail on a cache line of its own ([`Apart`], the default, for queues between
//! different threads) or all four on one line ([`Together`], for rings every thread
//! both fills and drains, such as a mempool's).
//!
//! ```
//! let (mut tx, mut rx) = burst_ring::spsc::<u64>(1024).unwrap();
//! let mut burst: Vec<u64> = (0..32).collect();
//! assert_eq!(tx.enqueue_bulk(&mut burst).count, 32);
//! assert!(burst.is_empty());
//! assert_eq!(rx.dequeue_burst(&mut burst, 64).count, 32);
//! assert_eq!(burst[31], 31);
//! ```
//!
//! A single-producer handle cannot be shared:
//!
//! ```compile_fail
//! let (tx, _rx) = burst_ring::spsc::<u32>(8).unwrap();
//! let tx2 = tx.clone();
//! ```

mod headtail;
mod layout;
mod mode;
mod ring;
mod slots;
mod sync;

use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::sync::Arc;

use headtail::{Behavior, Cursor};
pub use layout::{Apart, LineLayout, Together};
pub use mode::{Multi, Single, SyncMode};
pub use ring::{Dequeued, Enqueued, MAX_SIZE, Ring, RingError};

/// The producer end of a ring created by [`channel`].
pub struct Producer<T, M: SyncMode = Multi> {
    ring: Arc<Ring<T>>,
    /// The head and view of a `Single` handle (unused by `Multi` ones).
    cursor: Cursor,
    _mode: PhantomData<M>,
}

/// The consumer end of a ring created by [`channel`].
pub struct Consumer<T, M: SyncMode = Multi> {
    ring: Arc<Ring<T>>,
    /// The head of a `Single` handle (unused by `Multi` ones).
    cursor: Cursor,
    _mode: PhantomData<M>,
}

/// The two ends of a split ring, as [`channel`] returns them.
pub type Channel<T, P, C> = (Producer<T, P>, Consumer<T, C>);

/// A ring of `size` slots (power of two, holds `size - 1`) with the producer and
/// consumer sides in modes `P` and `C`.
pub fn channel<T, P: SyncMode, C: SyncMode>(size: usize) -> Result<Channel<T, P, C>, RingError> {
    Ok(split(Ring::new(size)?))
}

/// As [`channel`], holding exactly `count` elements (`RING_F_EXACT_SZ`).
pub fn channel_exact<T, P: SyncMode, C: SyncMode>(
    count: usize,
) -> Result<Channel<T, P, C>, RingError> {
    Ok(split(Ring::new_exact(count)?))
}

/// A single-producer/single-consumer ring of `size` slots (power of two).
pub fn spsc<T>(size: usize) -> Result<Channel<T, Single, Single>, RingError> {
    channel(size)
}

fn split<T, P: SyncMode, C: SyncMode>(ring: Ring<T>) -> Channel<T, P, C> {
    let ring = Arc::new(ring);
    (
        Producer {
            ring: Arc::clone(&ring),
            cursor: Cursor::default(),
            _mode: PhantomData,
        },
        Consumer {
            ring,
            cursor: Cursor::default(),
            _mode: PhantomData,
        },
    )
}

impl<T> Clone for Producer<T, Multi> {
    fn clone(&self) -> Self {
        Self {
            ring: Arc::clone(&self.ring),
            cursor: Cursor::default(),
            _mode: PhantomData,
        }
    }
}

impl<T> Clone for Consumer<T, Multi> {
    fn clone(&self) -> Self {
        Self {
            ring: Arc::clone(&self.ring),
            cursor: Cursor::default(),
            _mode: PhantomData,
        }
    }
}

impl<T, M: SyncMode> Producer<T, M> {
    /// Moves all of `items` in or none; on success `items` is left empty.
    #[inline]
    pub fn enqueue_bulk(&mut self, items: &mut Vec<T>) -> Enqueued {
        // SAFETY: a `Single` producer handle is unique (not `Clone`) and borrowed
        // mutably here, so no other enqueue runs, and its cursor has held the side's
        // head since `split` made the ring; `Multi` needs no guarantee.
        unsafe {
            self.ring
                .enqueue_vec::<M>(items, Behavior::Fixed, single::<M>(&mut self.cursor))
        }
    }

    /// Moves as many of `items` in as fit, from the front; the rest stay in `items`.
    #[inline]
    pub fn enqueue_burst(&mut self, items: &mut Vec<T>) -> Enqueued {
        // SAFETY: as in `enqueue_bulk`.
        unsafe {
            self.ring
                .enqueue_vec::<M>(items, Behavior::Variable, single::<M>(&mut self.cursor))
        }
    }

    /// Copies all of `items` in or none; see [`Ring::enqueue_bulk_copy`].
    #[inline]
    pub fn enqueue_bulk_copy(&mut self, items: &[T]) -> Enqueued
    where
        T: Copy,
    {
        // SAFETY: as in `enqueue_bulk`; `T: Copy`, so the ring may hold copies.
        unsafe {
            self.ring.enqueue_raw::<M>(
                items.as_ptr(),
                items.len(),
                Behavior::Fixed,
                single::<M>(&mut self.cursor),
            )
        }
    }

    /// Copies as many of `items` in as fit; see [`Ring::enqueue_burst_copy`].
    #[inline]
    pub fn enqueue_burst_copy(&mut self, items: &[T]) -> Enqueued
    where
        T: Copy,
    {
        // SAFETY: as in `enqueue_bulk_copy`.
        unsafe {
            self.ring.enqueue_raw::<M>(
                items.as_ptr(),
                items.len(),
                Behavior::Variable,
                single::<M>(&mut self.cursor),
            )
        }
    }

    /// Moves `item` in, or hands it back when the ring is full (`rte_ring_enqueue`).
    #[inline]
    pub fn enqueue(&mut self, item: T) -> Result<(), T> {
        // SAFETY: as in `enqueue_bulk`.
        unsafe {
            self.ring
                .enqueue_one::<M>(item, single::<M>(&mut self.cursor))
        }
    }

    /// The ring this handle feeds, for counts (`count`, `free_count`, ...).
    pub fn status(&self) -> Status<'_, T> {
        Status(&self.ring)
    }
}

impl<T, M: SyncMode> Consumer<T, M> {
    /// Appends exactly `n` elements to `out`, or none if fewer are there.
    #[inline]
    pub fn dequeue_bulk(&mut self, out: &mut Vec<T>, n: usize) -> Dequeued {
        // SAFETY: a `Single` consumer handle is unique (not `Clone`) and borrowed
        // mutably here, so no other dequeue runs, and its cursor has held the side's
        // head since `split` made the ring; `Multi` needs no guarantee.
        unsafe {
            self.ring
                .dequeue_vec::<M>(out, n, Behavior::Fixed, single::<M>(&mut self.cursor))
        }
    }

    /// Appends up to `n` elements to `out`, as many as are there.
    #[inline]
    pub fn dequeue_burst(&mut self, out: &mut Vec<T>, n: usize) -> Dequeued {
        // SAFETY: as in `dequeue_bulk`.
        unsafe {
            self.ring
                .dequeue_vec::<M>(out, n, Behavior::Variable, single::<M>(&mut self.cursor))
        }
    }

    /// Fills all of `out` or nothing; see [`Ring::dequeue_bulk_uninit`].
    #[inline]
    pub fn dequeue_bulk_uninit(&mut self, out: &mut [MaybeUninit<T>]) -> Dequeued {
        // SAFETY: as in `dequeue_bulk`; `out` has room for out.len() elements.
        unsafe {
            self.ring.dequeue_raw::<M>(
                out.as_mut_ptr().cast(),
                out.len(),
                Behavior::Fixed,
                single::<M>(&mut self.cursor),
            )
        }
    }

    /// Fills as much of `out` as there are elements; see [`Ring::dequeue_burst_uninit`].
    #[inline]
    pub fn dequeue_burst_uninit(&mut self, out: &mut [MaybeUninit<T>]) -> Dequeued {
        // SAFETY: as in `dequeue_bulk_uninit`.
        unsafe {
            self.ring.dequeue_raw::<M>(
                out.as_mut_ptr().cast(),
                out.len(),
                Behavior::Variable,
                single::<M>(&mut self.cursor),
            )
        }
    }

    /// Takes the oldest element out, `None` when empty (`rte_ring_dequeue`).
    #[inline]
    pub fn dequeue(&mut self) -> Option<T> {
        // SAFETY: as in `dequeue_bulk`.
        unsafe { self.ring.dequeue_one::<M>(single::<M>(&mut self.cursor)) }
    }

    /// The ring this handle drains, for counts (`count`, `free_count`, ...).
    pub fn status(&self) -> Status<'_, T> {
        Status(&self.ring)
    }
}

/// Read-only view of a split ring's counts; it cannot enqueue or dequeue.
pub struct Status<'a, T>(&'a Ring<T>);

impl<T> Status<'_, T> {
    /// See [`Ring::capacity`].
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }
    /// See [`Ring::count`].
    pub fn count(&self) -> usize {
        self.0.count()
    }
    /// See [`Ring::free_count`].
    pub fn free_count(&self) -> usize {
        self.0.free_count()
    }
    /// See [`Ring::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// See [`Ring::is_full`].
    pub fn is_full(&self) -> bool {
        self.0.is_full()
    }
}

/// A single side's head lives in its handle; the ring gets it back for what runs after
/// (the drain of what is left when the ring drops).
impl<T, M: SyncMode> Drop for Producer<T, M> {
    fn drop(&mut self) {
        if M::SINGLE {
            self.ring.set_prod_head(self.cursor.head);
        }
    }
}

impl<T, M: SyncMode> Drop for Consumer<T, M> {
    fn drop(&mut self) {
        if M::SINGLE {
            self.ring.set_cons_head(self.cursor.head);
        }
    }
}

/// The handle's cursor for a `Single` side, which keeps its head there; `None` for a
/// `Multi` one, whose head is shared in the ring.
#[inline(always)]
fn single<M: SyncMode>(c: &mut Cursor) -> Option<&mut Cursor> {
    if M::SINGLE { Some(c) } else { None }
}
