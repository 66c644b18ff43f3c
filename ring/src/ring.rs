//! `Ring<T>`: the storage and the four operations (bulk/burst × enqueue/dequeue),
//! generic over single- or multi-threaded sides.

use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr;

use crate::headtail::{Behavior, Cursor, Lines, Reservation};
use crate::layout::{Apart, LineLayout};
use crate::mode::{Multi, Single, SyncMode};
use crate::slots::Slots;

/// Largest ring size: indices are `u32` and the free-space arithmetic needs one bit.
pub const MAX_SIZE: usize = 1 << 31;

/// Why a ring could not be created.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RingError {
    /// `Ring::new` takes a power of two (DPDK's rule); use `new_exact` for other counts.
    #[error("ring size {0} is not a power of two in 2..=2^31: use Ring::new_exact for any count")]
    NotPowerOfTwo(usize),
    /// The count is zero or needs a ring larger than [`MAX_SIZE`].
    #[error("ring count {0} out of range 1..2^31")]
    BadCount(usize),
}

/// Result of an enqueue: how many elements went in, and the free space left after.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Enqueued {
    /// Elements moved into the ring (taken from the front of the source).
    pub count: usize,
    /// Free slots left once this enqueue completed, at least: the producer's view of
    /// the consumer may lag (it rereads the consumer's tail only when that view shows
    /// too little room), so the ring may have more.
    pub free: usize,
}

/// Result of a dequeue: how many elements came out, and how many remain after.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dequeued {
    /// Elements appended to the destination.
    pub count: usize,
    /// Elements left in the ring as seen at reservation.
    pub available: usize,
}

/// A lock-free bounded FIFO of `T`s (DPDK's `rte_ring`).
///
/// `Ring`'s own methods are multi-producer/multi-consumer and take `&self`: share it
/// with `Arc`. For single-threaded sides, which skip the CAS and the wait, create
/// split handles with [`channel`](crate::channel) or [`spsc`](crate::spsc).
///
/// Elements are moved: an enqueue takes them out of a `Vec` (from the front, leaving
/// the rest), a dequeue appends them to a `Vec` (give it capacity up front and it never
/// allocates). Elements still in the ring are dropped with it.
///
/// `L` places the heads and tails on cache lines for how the ring is used: [`Apart`]
/// (the default) when producers and consumers are different threads,
/// [`Together`](crate::Together) when every thread both enqueues and dequeues, as on a
/// mempool's ring.
pub struct Ring<T, L: LineLayout = Apart> {
    lines: L::Lines,
    mask: u32,
    capacity: u32,
    slots: Slots<T>,
    layout: PhantomData<L>,
}

// SAFETY: the ring hands each element from exactly one producer to exactly one
// consumer (the head/tail protocol gives every slot one owner at a time), so sharing
// the ring moves `T`s between threads, which `T: Send` allows.
unsafe impl<T: Send, L: LineLayout> Sync for Ring<T, L> {}
// SAFETY: as above; owning the ring owns its `T`s.
unsafe impl<T: Send, L: LineLayout> Send for Ring<T, L> {}

impl<T> Ring<T> {
    /// A ring of `size` slots, `size` a power of two; it holds `size - 1` elements, as
    /// DPDK's `rte_ring_create` without `RING_F_EXACT_SZ`.
    pub fn new(size: usize) -> Result<Self, RingError> {
        Self::with_layout(size, Apart)
    }

    /// A ring that holds exactly `count` elements (DPDK's `RING_F_EXACT_SZ`): the
    /// storage is the next power of two above `count`.
    pub fn new_exact(count: usize) -> Result<Self, RingError> {
        Self::exact_with_layout(count, Apart)
    }
}

impl<T, L: LineLayout> Ring<T, L> {
    /// As [`new`](Ring::new), with the heads and tails placed as `L` says.
    pub fn with_layout(size: usize, _layout: L) -> Result<Self, RingError> {
        if !size.is_power_of_two() || !(2..=MAX_SIZE).contains(&size) {
            return Err(RingError::NotPowerOfTwo(size));
        }
        Ok(Self::build(size, size - 1))
    }

    /// As [`new_exact`](Ring::new_exact), with the heads and tails placed as `L` says.
    pub fn exact_with_layout(count: usize, _layout: L) -> Result<Self, RingError> {
        if count == 0 || count >= MAX_SIZE {
            return Err(RingError::BadCount(count));
        }
        Ok(Self::build((count + 1).next_power_of_two(), count))
    }

    fn build(size: usize, capacity: usize) -> Self {
        let slots = Slots::new(size);
        Self {
            lines: L::Lines::default(),
            mask: (size - 1) as u32,
            capacity: capacity as u32,
            slots,
            layout: PhantomData,
        }
    }

    /// Starts fetching the producers' head for writing, a hint for a caller about to
    /// enqueue after some work of its own (checking what it enqueues, say): when other
    /// cores enqueue too, the head's cache line is theirs, and its transfer then
    /// overlaps that work instead of following it. No effect on the ring's state.
    #[inline(always)]
    pub fn prefetch_enqueue(&self) {
        self.lines.prod().prefetch_head();
    }

    /// Sets the producers' head, from a single producer's handle as it drops.
    pub(crate) fn set_prod_head(&self, head: u32) {
        self.lines.prod().set_head(head);
    }

    /// Sets the consumers' head, from a single consumer's handle as it drops.
    pub(crate) fn set_cons_head(&self, head: u32) {
        self.lines.cons().set_head(head);
    }

    /// How many elements the ring can hold.
    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// Elements in the ring now (a snapshot when other threads are active).
    pub fn count(&self) -> usize {
        let n = self
            .lines
            .prod()
            .tail()
            .wrapping_sub(self.lines.cons().tail());
        // Between the two loads the consumer may pass the producer's snapshot.
        (n as usize).min(self.capacity())
    }

    /// Free slots now (a snapshot when other threads are active).
    pub fn free_count(&self) -> usize {
        self.capacity() - self.count()
    }

    /// True when no element is in the ring.
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// True when no slot is free.
    pub fn is_full(&self) -> bool {
        self.free_count() == 0
    }

    /// Moves all of `items` in or none (MP). On success `items` is left empty.
    #[inline]
    pub fn enqueue_bulk(&self, items: &mut Vec<T>) -> Enqueued {
        // SAFETY: the multi-producer protocol allows concurrent callers.
        unsafe { self.enqueue_vec::<Multi>(items, Behavior::Fixed, None) }
    }

    /// Moves as many of `items` in as fit (MP), taken from the front; the rest stay.
    #[inline]
    pub fn enqueue_burst(&self, items: &mut Vec<T>) -> Enqueued {
        // SAFETY: the multi-producer protocol allows concurrent callers.
        unsafe { self.enqueue_vec::<Multi>(items, Behavior::Variable, None) }
    }

    /// Appends exactly `n` elements to `out`, or none if fewer are there (MC).
    #[inline]
    pub fn dequeue_bulk(&self, out: &mut Vec<T>, n: usize) -> Dequeued {
        // SAFETY: the multi-consumer protocol allows concurrent callers.
        unsafe { self.dequeue_vec::<Multi>(out, n, Behavior::Fixed, None) }
    }

    /// Appends up to `n` elements to `out`, as many as are there (MC).
    #[inline]
    pub fn dequeue_burst(&self, out: &mut Vec<T>, n: usize) -> Dequeued {
        // SAFETY: the multi-consumer protocol allows concurrent callers.
        unsafe { self.dequeue_vec::<Multi>(out, n, Behavior::Variable, None) }
    }

    /// Moves `item` in (MP), or hands it back when the ring is full (DPDK's
    /// `rte_ring_mp_enqueue`). No `Vec` to go through: the path for one element.
    #[inline]
    pub fn enqueue(&self, item: T) -> Result<(), T> {
        // SAFETY: the multi-producer protocol allows concurrent callers.
        unsafe { self.enqueue_one::<Multi>(item, None) }
    }

    /// Takes the oldest element out (MC), `None` when the ring is empty (DPDK's
    /// `rte_ring_mc_dequeue`).
    #[inline]
    pub fn dequeue(&self) -> Option<T> {
        // SAFETY: the multi-consumer protocol allows concurrent callers.
        unsafe { self.dequeue_one::<Multi>(None) }
    }

    /// One-element enqueue with a single- or multi-producer head.
    ///
    /// # Safety
    /// With `M` = `Single`, no other enqueue on this ring may run concurrently. A
    /// `cursor` (`Single` only) must hold this side's head: every enqueue since the
    /// ring was made went through it.
    #[inline(always)]
    pub(crate) unsafe fn enqueue_one<M: SyncMode>(
        &self,
        item: T,
        cursor: Option<&mut Cursor>,
    ) -> Result<(), T> {
        let capacity = self.capacity;
        let r = self.lines.prod().reserve::<M, L>(
            self.lines.cons(),
            1,
            Behavior::Fixed,
            capacity,
            |cons_tail, prod_head| capacity.wrapping_add(cons_tail).wrapping_sub(prod_head),
            !L::TOGETHER,
            cursor,
        );
        if r.n == 0 {
            return Err(item);
        }
        let item = std::mem::ManuallyDrop::new(item);
        // SAFETY: slot r.old is reserved for us and empty; `item` is moved into it and
        // not dropped here (ManuallyDrop).
        unsafe { self.write_slots(r, &*item) };
        self.lines.prod().publish::<M>(r);
        Ok(())
    }

    /// One-element dequeue with a single- or multi-consumer head.
    ///
    /// # Safety
    /// With `M` = `Single`, no other dequeue on this ring may run concurrently. A
    /// `cursor` (`Single` only) must hold this side's head: every dequeue since the
    /// ring was made went through it.
    #[inline(always)]
    pub(crate) unsafe fn dequeue_one<M: SyncMode>(&self, cursor: Option<&mut Cursor>) -> Option<T> {
        let r = self.lines.cons().reserve::<M, L>(
            self.lines.prod(),
            1,
            Behavior::Fixed,
            self.capacity,
            |prod_tail, cons_head| prod_tail.wrapping_sub(cons_head),
            false,
            cursor,
        );
        if r.n == 0 {
            return None;
        }
        let mut item = MaybeUninit::<T>::uninit();
        // SAFETY: slot r.old is reserved for us and holds an initialised element
        // published by its producer; it is moved into `item`, which it initialises.
        let item = unsafe {
            self.read_slots(r, item.as_mut_ptr());
            item.assume_init()
        };
        self.lines.cons().publish::<M>(r);
        Some(item)
    }

    /// Copies all of `items` in or none (MP): the slice form of
    /// [`enqueue_bulk`](Self::enqueue_bulk) for `Copy` elements such as pointers,
    /// like DPDK's `obj_table` arguments; `items` is left as it was.
    #[inline]
    pub fn enqueue_bulk_copy(&self, items: &[T]) -> Enqueued
    where
        T: Copy,
    {
        // SAFETY: the multi-producer protocol allows concurrent callers; `T: Copy`, so
        // the ring may hold copies of `items`.
        unsafe { self.enqueue_raw::<Multi>(items.as_ptr(), items.len(), Behavior::Fixed, None) }
    }

    /// Copies as many of `items` in as fit (MP), from the front: the slice form of
    /// [`enqueue_burst`](Self::enqueue_burst).
    #[inline]
    pub fn enqueue_burst_copy(&self, items: &[T]) -> Enqueued
    where
        T: Copy,
    {
        // SAFETY: as in `enqueue_bulk_copy`.
        unsafe { self.enqueue_raw::<Multi>(items.as_ptr(), items.len(), Behavior::Variable, None) }
    }

    /// Moves exactly `out.len()` elements into `out`, or none (MC): the slice form of
    /// [`dequeue_bulk`](Self::dequeue_bulk), e.g. into a `Vec`'s spare capacity. The
    /// first `count` entries of `out` are initialised on return.
    #[inline]
    pub fn dequeue_bulk_uninit(&self, out: &mut [MaybeUninit<T>]) -> Dequeued {
        // SAFETY: the multi-consumer protocol allows concurrent callers; `out` has room
        // for out.len() elements.
        unsafe {
            self.dequeue_raw::<Multi>(out.as_mut_ptr().cast(), out.len(), Behavior::Fixed, None)
        }
    }

    /// Moves up to `out.len()` elements into `out`, as many as are there (MC); the
    /// first `count` entries of `out` are initialised on return.
    #[inline]
    pub fn dequeue_burst_uninit(&self, out: &mut [MaybeUninit<T>]) -> Dequeued {
        // SAFETY: as in `dequeue_bulk_uninit`.
        unsafe {
            self.dequeue_raw::<Multi>(out.as_mut_ptr().cast(), out.len(), Behavior::Variable, None)
        }
    }

    /// Enqueue from a `Vec`, which gives up the elements moved in.
    ///
    /// # Safety
    /// With `M` = `Single`, no other enqueue on this ring may run concurrently. A
    /// `cursor` (`Single` only) must hold this side's head: every enqueue since the
    /// ring was made went through it.
    #[inline(always)]
    pub(crate) unsafe fn enqueue_vec<M: SyncMode>(
        &self,
        items: &mut Vec<T>,
        behavior: Behavior,
        cursor: Option<&mut Cursor>,
    ) -> Enqueued {
        // SAFETY: the caller's promise for `M`; the elements copied in are forgotten by
        // `consume_front`, so each has one owner.
        let done = unsafe { self.enqueue_raw::<M>(items.as_ptr(), items.len(), behavior, cursor) };
        consume_front(items, done.count);
        done
    }

    /// Enqueue of `len` elements at `src` with a single- or multi-producer head; the
    /// first `count` of them are now the ring's.
    ///
    /// # Safety
    /// With `M` = `Single`, no other enqueue on this ring may run concurrently; a
    /// `cursor` as for [`enqueue_one`](Self::enqueue_one). `src`
    /// must hold `len` initialised elements; the caller must treat the first `count`
    /// as moved out (unless `T: Copy`).
    #[inline(always)]
    pub(crate) unsafe fn enqueue_raw<M: SyncMode>(
        &self,
        src: *const T,
        len: usize,
        behavior: Behavior,
        cursor: Option<&mut Cursor>,
    ) -> Enqueued {
        let len = len.min(u32::MAX as usize) as u32;
        let capacity = self.capacity;
        let r = self.lines.prod().reserve::<M, L>(
            self.lines.cons(),
            len,
            behavior,
            capacity,
            |cons_tail, prod_head| capacity.wrapping_add(cons_tail).wrapping_sub(prod_head),
            !L::TOGETHER,
            cursor,
        );
        if r.n > 0 {
            // SAFETY: slots [r.old, r.old + r.n) are reserved for us and empty (their
            // consumer published past them); `src` holds at least r.n initialised
            // elements, given up by the caller.
            unsafe { self.write_slots(r, src) };
            self.lines.prod().publish::<M>(r);
        }
        Enqueued {
            count: r.n as usize,
            free: r.left as usize,
        }
    }

    /// Dequeue appended to a `Vec`.
    ///
    /// # Safety
    /// With `M` = `Single`, no other dequeue on this ring may run concurrently. A
    /// `cursor` (`Single` only) must hold this side's head: every dequeue since the
    /// ring was made went through it.
    #[inline(always)]
    pub(crate) unsafe fn dequeue_vec<M: SyncMode>(
        &self,
        out: &mut Vec<T>,
        n: usize,
        behavior: Behavior,
        cursor: Option<&mut Cursor>,
    ) -> Dequeued {
        // No dequeue takes more than the ring holds, so room for that is enough.
        out.reserve(n.min(self.capacity as usize));
        let len = out.len();
        // SAFETY: the caller's promise for `M`; `reserve` made room after `len` for as
        // many as can come out, and the `count` elements written there are initialised.
        unsafe {
            let done = self.dequeue_raw::<M>(out.as_mut_ptr().add(len), n, behavior, cursor);
            out.set_len(len + done.count);
            done
        }
    }

    /// Dequeue of up to `n` elements to `dst` with a single- or multi-consumer head;
    /// the first `count` at `dst` are initialised on return, owned by the caller.
    ///
    /// # Safety
    /// With `M` = `Single`, no other dequeue on this ring may run concurrently; a
    /// `cursor` as for [`dequeue_one`](Self::dequeue_one). `dst`
    /// must have room for `n` elements, or for the ring's capacity if that is less
    /// (no more can come out).
    #[inline(always)]
    pub(crate) unsafe fn dequeue_raw<M: SyncMode>(
        &self,
        dst: *mut T,
        n: usize,
        behavior: Behavior,
        cursor: Option<&mut Cursor>,
    ) -> Dequeued {
        let n = n.min(u32::MAX as usize) as u32;
        let r = self.lines.cons().reserve::<M, L>(
            self.lines.prod(),
            n,
            behavior,
            self.capacity,
            |prod_tail, cons_head| prod_tail.wrapping_sub(cons_head),
            false,
            cursor,
        );
        if r.n > 0 {
            // SAFETY: `dst` has room for min(n, capacity) >= r.n elements; slots
            // [r.old, r.old + r.n) are reserved for us and hold initialised elements
            // published by their producers, which we move out (the slots become empty).
            unsafe { self.read_slots(r, dst) };
            self.lines.cons().publish::<M>(r);
        }
        Dequeued {
            count: r.n as usize,
            available: r.left as usize,
        }
    }

    /// Where the reservation starts in the slot array, and whether it runs past the
    /// array's end (then it continues at slot 0).
    #[cfg(not(loom))]
    #[inline(always)]
    fn place(&self, r: Reservation) -> (usize, bool) {
        let idx = (r.old & self.mask) as usize;
        (idx, idx + r.n as usize > self.mask as usize + 1)
    }

    /// Moves `r.n` elements from `src` into the reserved slots.
    ///
    /// # Safety
    /// The slots must be reserved by the caller and empty; `src` must hold `r.n`
    /// initialised elements, which the caller must not use or drop afterwards.
    #[inline(always)]
    unsafe fn write_slots(&self, r: Reservation, src: *const T) {
        #[cfg(not(loom))]
        {
            let (idx, wraps) = self.place(r);
            let base = self.slots.as_ptr();
            let n = r.n as usize;
            // SAFETY: `UnsafeCell<MaybeUninit<T>>` has `T`'s layout; the run (or the two,
            // split at the array's end) lies inside the slot array and the caller owns
            // it; `src` has r.n elements.
            unsafe {
                if !wraps {
                    copy_elems(src, base.add(idx), n);
                } else {
                    let first = self.mask as usize + 1 - idx;
                    copy_elems(src, base.add(idx), first);
                    copy_elems(src.add(first), base, n - first);
                }
            }
        }
        #[cfg(loom)]
        for i in 0..r.n as usize {
            let slot = (r.old as usize + i) & self.mask as usize;
            // SAFETY: as above, one element at a time so loom tracks each slot.
            self.slots
                .get(slot)
                .with_mut(|p| unsafe { (*p).write(ptr::read(src.add(i))) });
        }
    }

    /// Moves `r.n` elements out of the reserved slots to `dst`.
    ///
    /// # Safety
    /// The slots must be reserved by the caller and hold initialised elements, which
    /// become logically uninitialised; `dst` must have room for `r.n` elements.
    #[inline(always)]
    unsafe fn read_slots(&self, r: Reservation, dst: *mut T) {
        #[cfg(not(loom))]
        {
            let (idx, wraps) = self.place(r);
            let base = self.slots.as_ptr().cast_const();
            let n = r.n as usize;
            // SAFETY: see `write_slots`; `dst` has room for r.n elements.
            unsafe {
                if !wraps {
                    copy_elems(base.add(idx), dst, n);
                } else {
                    let first = self.mask as usize + 1 - idx;
                    copy_elems(base.add(idx), dst, first);
                    copy_elems(base, dst.add(first), n - first);
                }
            }
        }
        #[cfg(loom)]
        for i in 0..r.n as usize {
            let slot = (r.old as usize + i) & self.mask as usize;
            // SAFETY: as above, one element at a time so loom tracks each slot.
            self.slots
                .get(slot)
                .with_mut(|p| unsafe { dst.add(i).write((*p).assume_init_read()) });
        }
    }
}

/// Copies `n` elements without calling `memcpy`: bursts are short (1 to 32), and the
/// call and its size dispatch cost more than the copy. Eight at a time, then what is
/// left in a four, a two and a one: straight-line code for the usual counts, where a
/// loop of single elements (or the vectorizer's unrolled one, with its own dispatch)
/// costs more than the copy itself.
///
/// Pointer-sized elements are stored 16-byte aligned: an odd first slot is copied
/// alone, so no 16-byte store straddles two cache lines. A pool's ring is full but for
/// the objects out, so its producers' index runs one short of the consumers' multiple
/// of 32 and every fourth store of a put straddled lines that the other core had just
/// read; under that contention aligning took the cache-less 2-core pool case at bulk
/// 32 from 0.77 to 0.93 of DPDK's speed (`benches/examples/ring_vs_dpdk.rs`).
///
/// # Safety
/// `src` must be readable and `dst` writable for `n` elements, not overlapping.
#[cfg(not(loom))]
#[inline(always)]
unsafe fn copy_elems<T>(src: *const T, dst: *mut T, n: usize) {
    /// Copies `K` elements at offset `i`.
    ///
    /// # Safety
    /// `i + K <= n` for the caller's ranges.
    #[inline(always)]
    unsafe fn chunk<T, const K: usize>(src: *const T, dst: *mut T, i: usize) {
        // SAFETY: the caller's promise; unaligned access because `[T; K]` may ask for
        // more alignment than `T` has.
        unsafe {
            let c = src.add(i).cast::<[T; K]>().read_unaligned();
            dst.add(i).cast::<[T; K]>().write_unaligned(c);
        }
    }
    let mut i = 0;
    if size_of::<T>() == 8 && n >= 2 && (dst as usize) % 16 != 0 {
        // SAFETY: 1 <= n.
        unsafe { chunk::<T, 1>(src, dst, 0) };
        i = 1;
    }
    while n - i >= 8 {
        // SAFETY: i + 8 <= n.
        unsafe { chunk::<T, 8>(src, dst, i) };
        i += 8;
    }
    if n - i >= 4 {
        // SAFETY: i + 4 <= n.
        unsafe { chunk::<T, 4>(src, dst, i) };
        i += 4;
    }
    if n - i >= 2 {
        // SAFETY: i + 2 <= n.
        unsafe { chunk::<T, 2>(src, dst, i) };
        i += 2;
    }
    if n - i >= 1 {
        // SAFETY: i + 1 <= n.
        unsafe { chunk::<T, 1>(src, dst, i) };
    }
}

/// Forgets the first `n` elements of `items` (already moved out) and shifts the rest
/// to the front. No copy when all were taken, the common case.
#[inline(always)]
fn consume_front<T>(items: &mut Vec<T>, n: usize) {
    let len = items.len();
    // SAFETY: the first n elements were moved out by the caller and must not be
    // dropped; the remaining len - n are moved down (memmove), keeping their order.
    unsafe {
        items.set_len(0);
        if n < len {
            let p = items.as_mut_ptr();
            ptr::copy(p.add(n), p, len - n);
        }
        items.set_len(len - n);
    }
}

impl<T, L: LineLayout> Drop for Ring<T, L> {
    fn drop(&mut self) {
        if !std::mem::needs_drop::<T>() {
            return;
        }
        let mut out = Vec::new();
        // SAFETY: `&mut self`: no other operation can run, so the single-consumer
        // path is sound; it moves every remaining element out to be dropped.
        let _ =
            unsafe { self.dequeue_vec::<Single>(&mut out, usize::MAX, Behavior::Variable, None) };
    }
}

impl<T, L: LineLayout> std::fmt::Debug for Ring<T, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("capacity", &self.capacity())
            .field("count", &self.count())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::Together;
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use proptest::prelude::*;

    #[test]
    fn sizes_follow_dpdk() {
        assert_eq!(Ring::<u8>::new(1024).unwrap().capacity(), 1023);
        assert_eq!(Ring::<u8>::new_exact(1000).unwrap().capacity(), 1000);
        assert_eq!(Ring::<u8>::new_exact(1024).unwrap().capacity(), 1024);
        assert_eq!(
            Ring::<u8>::new(1000).unwrap_err(),
            RingError::NotPowerOfTwo(1000)
        );
        assert_eq!(Ring::<u8>::new(1).unwrap_err(), RingError::NotPowerOfTwo(1));
        assert_eq!(
            Ring::<u8>::new_exact(0).unwrap_err(),
            RingError::BadCount(0)
        );
    }

    #[test]
    fn bulk_is_all_or_nothing_and_burst_takes_what_fits() {
        let ring = Ring::new(8).unwrap(); // holds 7
        let mut v: Vec<u32> = (0..5).collect();
        assert_eq!(ring.enqueue_bulk(&mut v), Enqueued { count: 5, free: 2 });
        assert!(v.is_empty());
        let mut v: Vec<u32> = (5..9).collect();
        assert_eq!(ring.enqueue_bulk(&mut v), Enqueued { count: 0, free: 2 });
        assert_eq!(v, [5, 6, 7, 8]);
        assert_eq!(ring.enqueue_burst(&mut v), Enqueued { count: 2, free: 0 });
        assert_eq!(v, [7, 8], "unsent elements stay, in order");
        assert!(ring.is_full());
        let mut out = Vec::new();
        assert_eq!(
            ring.dequeue_bulk(&mut out, 8),
            Dequeued {
                count: 0,
                available: 7
            }
        );
        assert_eq!(
            ring.dequeue_burst(&mut out, 8),
            Dequeued {
                count: 7,
                available: 0
            }
        );
        assert_eq!(out, [0, 1, 2, 3, 4, 5, 6]);
        assert!(ring.is_empty());
    }

    #[test]
    fn wraps_around_the_slot_array() {
        let ring = Ring::new(4).unwrap();
        let mut out = Vec::new();
        for round in 0..100u32 {
            let mut v = vec![round, round + 1, round + 2];
            assert_eq!(ring.enqueue_bulk(&mut v).count, 3);
            out.clear();
            assert_eq!(ring.dequeue_bulk(&mut out, 3).count, 3);
            assert_eq!(out, [round, round + 1, round + 2]);
        }
    }

    #[test]
    fn copies_every_count_at_every_offset() {
        // Pointer-sized elements take the aligning first step at odd offsets.
        let src: Vec<u64> = (1..=40).collect();
        for offset in 0..2 {
            for n in 0..=32 {
                let mut dst = vec![0u64; 42];
                // SAFETY: src has 40 elements, dst 42 >= offset + n; no overlap.
                unsafe { copy_elems(src.as_ptr(), dst.as_mut_ptr().add(offset), n) };
                assert_eq!(&dst[offset..offset + n], &src[..n], "n {n} offset {offset}");
                assert!(
                    dst[..offset]
                        .iter()
                        .chain(&dst[offset + n..])
                        .all(|&x| x == 0)
                );
            }
        }
    }

    #[test]
    fn a_lagging_view_never_refuses_room_that_exists() {
        let (mut tx, mut rx) = crate::spsc::<u32>(8).unwrap(); // holds 7
        for round in 0..3 {
            let mut v: Vec<u32> = (0..7).collect();
            let done = tx.enqueue_bulk(&mut v);
            // The producer's view of the consumer is from the last refused call at
            // best, so `free` is 0 here either way; the room itself must be found.
            assert_eq!(done, Enqueued { count: 7, free: 0 }, "round {round}");
            let mut out = Vec::new();
            assert_eq!(rx.dequeue_bulk(&mut out, 7).count, 7, "round {round}");
            assert_eq!(out, (0..7).collect::<Vec<_>>());
        }
        // A view shows fewer free slots than there are, never more.
        let mut one = vec![1];
        let done = tx.enqueue_bulk(&mut one);
        assert_eq!(done.count, 1);
        assert!(done.free <= 6);
    }

    struct Counted<'a>(&'a AtomicUsize);
    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn drops_what_is_left_exactly_once() {
        let drops = AtomicUsize::new(0);
        {
            let ring = Ring::new(16).unwrap();
            let mut v: Vec<_> = (0..10).map(|_| Counted(&drops)).collect();
            assert_eq!(ring.enqueue_bulk(&mut v).count, 10);
            let mut out = Vec::new();
            assert_eq!(ring.dequeue_bulk(&mut out, 4).count, 4);
            drop(out);
            assert_eq!(drops.load(Ordering::Relaxed), 4);
        }
        assert_eq!(drops.load(Ordering::Relaxed), 10);
    }

    #[test]
    fn single_handles_hand_their_heads_back_when_they_drop() {
        // The ring drains what is left from its consumer head, which a single
        // consumer keeps in its handle until it drops: elements taken before must not
        // be dropped again, the rest exactly once.
        let drops = AtomicUsize::new(0);
        let (mut tx, mut rx) = crate::spsc(16).unwrap();
        for _ in 0..3 {
            let mut v: Vec<_> = (0..5).map(|_| Counted(&drops)).collect();
            assert_eq!(tx.enqueue_bulk(&mut v).count, 5);
            let mut out = Vec::new();
            assert_eq!(rx.dequeue_bulk(&mut out, 4).count, 4);
        }
        assert_eq!(drops.load(Ordering::Relaxed), 12);
        assert_eq!(rx.status().count(), 3);
        drop((tx, rx));
        assert_eq!(drops.load(Ordering::Relaxed), 15);
    }

    #[derive(Debug, Clone)]
    enum Op {
        EnqBulk(usize),
        EnqBurst(usize),
        DeqBulk(usize),
        DeqBurst(usize),
        EnqOne,
        DeqOne,
        EnqCopy(bool, usize),
        DeqUninit(bool, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..20usize).prop_map(Op::EnqBulk),
            (0..20usize).prop_map(Op::EnqBurst),
            (0..20usize).prop_map(Op::DeqBulk),
            (0..20usize).prop_map(Op::DeqBurst),
            Just(Op::EnqOne),
            Just(Op::DeqOne),
            (any::<bool>(), 0..20usize).prop_map(|(bulk, n)| Op::EnqCopy(bulk, n)),
            (any::<bool>(), 0..20usize).prop_map(|(bulk, n)| Op::DeqUninit(bulk, n)),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_vecdeque(exact in any::<bool>(), together in any::<bool>(), size in 1usize..40, ops in prop::collection::vec(op(), 0..200)) {
            if together {
                let ring = if exact { Ring::exact_with_layout(size, Together) } else { Ring::with_layout((size + 1).next_power_of_two(), Together) };
                like_vecdeque(ring.unwrap(), ops)?;
            } else {
                let ring = if exact { Ring::new_exact(size) } else { Ring::new((size + 1).next_power_of_two()) };
                like_vecdeque(ring.unwrap(), ops)?;
            }
        }
    }

    /// A dequeue took `want` of the `have` there were; `available` is exact.
    fn check_dequeued(r: Dequeued, want: usize, have: usize) -> Result<(), TestCaseError> {
        prop_assert_eq!(r.count, want);
        prop_assert_eq!(r.available, have - want);
        Ok(())
    }

    /// How many of `n` a bulk (all or none) or burst call moves when `room` fit.
    fn expect_count(bulk: bool, n: usize, room: usize) -> usize {
        match bulk {
            true if n <= room => n,
            true => 0,
            false => n.min(room),
        }
    }

    /// Runs `ops` on `ring` and on a `VecDeque`, comparing every result.
    fn like_vecdeque<L: LineLayout>(ring: Ring<u64, L>, ops: Vec<Op>) -> Result<(), TestCaseError> {
        let cap = ring.capacity();
        let mut model = VecDeque::new();
        let mut next = 0u64;
        for op in ops {
            match op {
                Op::EnqBulk(n) | Op::EnqBurst(n) => {
                    let bulk = matches!(op, Op::EnqBulk(_));
                    let mut v: Vec<u64> = (next..next + n as u64).collect();
                    next += n as u64;
                    let free = cap - model.len();
                    let want = expect_count(bulk, n, free);
                    let r = if bulk {
                        ring.enqueue_bulk(&mut v)
                    } else {
                        ring.enqueue_burst(&mut v)
                    };
                    prop_assert_eq!(r.count, want);
                    prop_assert!(r.free <= free - want, "free is a lower bound");
                    let sent: Vec<u64> = (next - n as u64..next - n as u64 + want as u64).collect();
                    model.extend(sent);
                    prop_assert_eq!(v.len(), n - want);
                }
                Op::DeqBulk(n) | Op::DeqBurst(n) => {
                    let bulk = matches!(op, Op::DeqBulk(_));
                    let have = model.len();
                    let want = expect_count(bulk, n, have);
                    let mut out = vec![u64::MAX];
                    let r = if bulk {
                        ring.dequeue_bulk(&mut out, n)
                    } else {
                        ring.dequeue_burst(&mut out, n)
                    };
                    check_dequeued(r, want, have)?;
                    let expect: Vec<u64> = std::iter::once(u64::MAX)
                        .chain(model.drain(..want))
                        .collect();
                    prop_assert_eq!(out, expect);
                }
                Op::EnqOne => {
                    let r = ring.enqueue(next);
                    if model.len() < cap {
                        prop_assert_eq!(r, Ok(()));
                        model.push_back(next);
                    } else {
                        prop_assert_eq!(r, Err(next));
                    }
                    next += 1;
                }
                Op::DeqOne => prop_assert_eq!(ring.dequeue(), model.pop_front()),
                Op::EnqCopy(bulk, n) => {
                    let v: Vec<u64> = (next..next + n as u64).collect();
                    next += n as u64;
                    let free = cap - model.len();
                    let want = expect_count(bulk, n, free);
                    let r = if bulk {
                        ring.enqueue_bulk_copy(&v)
                    } else {
                        ring.enqueue_burst_copy(&v)
                    };
                    prop_assert_eq!(r.count, want);
                    prop_assert!(r.free <= free - want);
                    model.extend(&v[..want]);
                }
                Op::DeqUninit(bulk, n) => {
                    let have = model.len();
                    let want = expect_count(bulk, n, have);
                    let mut out = vec![MaybeUninit::<u64>::uninit(); n];
                    let r = if bulk {
                        ring.dequeue_bulk_uninit(&mut out)
                    } else {
                        ring.dequeue_burst_uninit(&mut out)
                    };
                    check_dequeued(r, want, have)?;
                    for slot in &out[..want] {
                        // SAFETY: the first `count` entries are initialised.
                        prop_assert_eq!(Some(unsafe { slot.assume_init() }), model.pop_front());
                    }
                }
            }
            prop_assert_eq!(ring.count(), model.len());
            prop_assert_eq!(ring.free_count(), cap - model.len());
            prop_assert_eq!(ring.is_empty(), model.is_empty());
            prop_assert_eq!(ring.is_full(), model.len() == cap);
        }
        Ok(())
    }
}
