//! The pool shared by every handle: objects carved from one memory region, the free ones
//! in a multi-producer/multi-consumer ring, and the count that decides when the region
//! may be unmapped.
//!
//! # Lifetime
//! Objects are plain pointers into the region and hold no reference to the pool (that
//! would cost an atomic per object). Instead the region is freed only when both hold:
//! no handle is left ([`PoolRef`]: `Mempool`, `PktPool`, caches, and the short-lived
//! guards of threads returning objects without a handle) and every object is back in
//! the ring. A thread that drops the last handle while objects are still out leaves the
//! pool allocated; whoever returns the last object then frees it.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use burst_eal::memory::{IovaMode, Memory, Region};
use burst_ring::{Ring, Together};
use crossbeam_utils::CachePadded;

use crate::MempoolError;
use crate::ptrs::{Handle, ObjPtr, spare_ptrs};

/// Objects are aligned to cache lines, as DPDK's (`RTE_MEMPOOL_ALIGN`).
pub(crate) const CACHE_LINE: usize = 64;

/// Most objects a pool can hold: what its free ring can.
pub const MAX_OBJECTS: usize = burst_ring::MAX_SIZE - 1;

/// The fill level a live cache publishes, on a cache line of its own.
pub(crate) type CacheLen = Arc<CachePadded<AtomicUsize>>;

/// What all handles of one pool share.
pub(crate) struct PoolInner {
    /// Live handles, see [`PoolRef`]; on a line of its own, as threads returning objects
    /// without a cache touch it.
    refs: CachePadded<AtomicUsize>,
    /// The free objects that no cache holds. Every thread of a pool both takes and
    /// returns objects, so the ring keeps each side's head and tail on one line.
    ring: Ring<ObjPtr, Together>,
    /// First byte of the region and its length: an address `a` is one of this pool's
    /// objects iff `a - start < len` (objects are only made by pools).
    start: usize,
    len: usize,
    /// Objects in the pool.
    size: usize,
    /// Bytes of each object a user sees.
    elt_size: usize,
    name: String,
    /// The fill levels of the live caches, for [`available`](Self::available).
    caches: Mutex<Vec<CacheLen>>,
    region: Region,
}

impl PoolInner {
    /// Whether `addr` is an object of this pool.
    #[inline(always)]
    pub(crate) fn owns(&self, addr: usize) -> bool {
        addr.wrapping_sub(self.start) < self.len
    }

    /// Starts fetching the ring's producer head, ahead of the check that precedes
    /// an enqueue of many objects (see [`Ring::prefetch_enqueue`]).
    #[inline(always)]
    pub(crate) fn prefetch_enqueue(&self) {
        self.ring.prefetch_enqueue();
    }

    /// Whether all of `objs` are objects of this pool: one branch-free pass of
    /// subtractions and ORs, which compiles to plain vector integer ops.
    #[inline(always)]
    pub(crate) fn owns_all(&self, objs: &[ObjPtr]) -> bool {
        in_range(objs, self.start, self.len)
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn elt_size(&self) -> usize {
        self.elt_size
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn region(&self) -> &Region {
        &self.region
    }

    /// Free objects: in the ring and in live caches (a snapshot while others work).
    pub(crate) fn available(&self) -> usize {
        let cached: usize = self
            .caches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|len| len.load(Ordering::Relaxed))
            .sum();
        (self.ring.count() + cached).min(self.size)
    }

    /// Free objects in the ring (not in caches).
    #[cfg(test)]
    pub(crate) fn in_ring(&self) -> usize {
        self.ring.count()
    }

    /// Whether every object is in the ring (no cache, no user holds one).
    fn all_home(&self) -> bool {
        self.ring.count() == self.size
    }

    /// Moves exactly `n` free objects from the ring to the end of `out`, or none.
    ///
    /// # Safety
    /// `T` must be the handle kind of this pool's objects: they become `T`s in `out`.
    #[inline(always)]
    pub(crate) unsafe fn dequeue<T: Handle>(&self, out: &mut Vec<T>, n: usize) -> bool {
        if n == 0 {
            return true;
        }
        if self.ring.dequeue_bulk_uninit(spare_ptrs(out, n)).count != n {
            return false;
        }
        // SAFETY: the ring wrote n free objects of this pool past the end, which
        // become `T`s (the caller's promise) owned by `out`.
        unsafe { out.set_len(out.len() + n) };
        true
    }

    /// Takes one free object from the ring.
    #[inline(always)]
    pub(crate) fn dequeue_one(&self) -> Option<ObjPtr> {
        self.ring.dequeue()
    }

    /// Returns one object of this pool, given up by its owner, to the ring.
    ///
    /// # Panics
    /// If the ring is full, which would mean an object was returned twice.
    #[inline(always)]
    pub(crate) fn enqueue_one(&self, obj: ObjPtr) {
        assert!(
            self.ring.enqueue(obj).is_ok(),
            "mempool {}: free ring full: an object was returned twice",
            self.name
        );
    }

    /// Moves all of `objs`, this pool's objects given up by their owner, to the ring.
    ///
    /// # Panics
    /// If the ring is full, which would mean an object was returned twice.
    #[inline(always)]
    pub(crate) fn enqueue(&self, objs: &mut Vec<ObjPtr>) {
        self.enqueue_slice(objs);
        objs.clear();
    }

    /// As [`enqueue`](Self::enqueue), from a slice the caller no longer uses.
    #[inline(always)]
    pub(crate) fn enqueue_slice(&self, objs: &[ObjPtr]) {
        assert!(
            self.ring.enqueue_bulk_copy(objs).count == objs.len(),
            "mempool {}: free ring full: an object was returned twice",
            self.name
        );
    }

    /// Registers a new cache's fill level.
    pub(crate) fn add_cache(&self) -> CacheLen {
        let len = CacheLen::default();
        self.caches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&len));
        len
    }

    /// Forgets a dropped cache's fill level.
    pub(crate) fn remove_cache(&self, len: &CacheLen) {
        self.caches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|other| !Arc::ptr_eq(other, len));
    }
}

/// Names of the pools freed so far, for tests of when that happens.
#[cfg(test)]
pub(crate) static FREED: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[cfg(test)]
impl Drop for PoolInner {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        FREED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(name);
    }
}

/// A counted reference to a pool: what every handle holds.
///
/// The count is of references only, not of objects out; see the module docs for when
/// the pool is freed. Every operation through a `PoolRef` may touch the pool freely.
pub(crate) struct PoolRef(NonNull<PoolInner>);

// SAFETY: `PoolInner` is shared through atomics, the MP/MC ring and a mutex, and is
// freed by whichever thread ends its life (see `Drop`), so references may move between
// threads and be used from several at once.
unsafe impl Send for PoolRef {}
// SAFETY: as above.
unsafe impl Sync for PoolRef {}

impl PoolRef {
    /// Creates a pool of `size` objects, each in a slot of `stride` bytes that no
    /// IOVA-segment boundary crosses (a device reaches an object with one address range).
    /// `init` writes each object's header given its slot, the slot's IOVA and the pool,
    /// and returns the pointer the pool hands out for it.
    pub(crate) fn create(
        memory: &Memory,
        name: &str,
        size: usize,
        stride: usize,
        elt_size: usize,
        init: impl Fn(NonNull<u8>, u64, *const PoolInner) -> NonNull<u8>,
    ) -> Result<Self, MempoolError> {
        if size == 0 || size > MAX_OBJECTS {
            return Err(MempoolError::BadSize { size });
        }
        let bytes =
            region_len(memory, size, stride).ok_or(MempoolError::BadEltSize { size, elt_size })?;
        let region = memory.alloc(bytes)?;
        let slots = place(&region, size, stride).ok_or(MempoolError::NotContiguous { stride })?;
        let ring = Ring::exact_with_layout(size, Together).expect("1 <= size <= MAX_OBJECTS");
        let base = region.as_ptr();
        let inner = Box::new(PoolInner {
            refs: CachePadded::new(AtomicUsize::new(1)),
            ring,
            start: base.as_ptr().addr(),
            len: region.len(),
            size,
            elt_size,
            name: name.to_owned(),
            caches: Mutex::default(),
            region,
        });
        let pool = Self(NonNull::from(Box::leak(inner)));
        let inner = pool.inner();
        let mut free: Vec<ObjPtr> = slots
            .into_iter()
            .map(|offset| {
                // SAFETY: `place` put the slot inside the region, which is mapped for as
                // long as the pool lives and which nothing else has seen yet.
                let slot = unsafe { base.add(offset) };
                ObjPtr(init(slot, inner.region.iova(offset), pool.0.as_ptr()))
            })
            .collect();
        inner.enqueue(&mut free);
        Ok(pool)
    }

    /// Takes a reference to the pool of an object the caller holds.
    ///
    /// # Safety
    /// The caller must hold an object of `pool` out of it (in no ring or cache) until
    /// this call returns: the pool is then alive, as it is freed only once every object
    /// is home.
    pub(crate) unsafe fn guard(pool: *const PoolInner) -> Self {
        // SAFETY: alive, by the caller's contract.
        let refs = unsafe { &(*pool).refs };
        // Relaxed: the caller can already reach the pool; the count only has to be
        // right when it is decremented (as `Arc::clone`).
        if refs.fetch_add(1, Ordering::Relaxed) > isize::MAX as usize {
            std::process::abort();
        }
        // SAFETY: a pool pointer is never null.
        Self(unsafe { NonNull::new_unchecked(pool.cast_mut()) })
    }

    #[inline(always)]
    pub(crate) fn inner(&self) -> &PoolInner {
        // SAFETY: this reference keeps the pool allocated (see `Drop`).
        unsafe { self.0.as_ref() }
    }

    /// The pool's address, as object headers record it.
    #[inline(always)]
    pub(crate) fn as_ptr(&self) -> *const PoolInner {
        self.0.as_ptr()
    }
}

impl Clone for PoolRef {
    fn clone(&self) -> Self {
        // Relaxed: as in `guard`. Abort before the count could wrap (as `Arc`).
        if self.inner().refs.fetch_add(1, Ordering::Relaxed) > isize::MAX as usize {
            std::process::abort();
        }
        Self(self.0)
    }
}

impl Drop for PoolRef {
    /// Drops this reference; the holder of the last one frees the pool if every object
    /// is home. It checks while still holding its reference and then swaps the count
    /// from 1 to 0: a returner that took a guard in between makes the swap fail, so the
    /// pool is never freed under another thread (its last holder re-checks).
    fn drop(&mut self) {
        let inner = self.inner();
        let mut refs = inner.refs.load(Ordering::Relaxed);
        loop {
            if refs == 1 && inner.all_home() {
                // Acquire: every other holder's Release decrement heads a release
                // sequence this RMW reads from, so all their uses of the pool happen
                // before the free below.
                match inner
                    .refs
                    .compare_exchange(1, 0, Ordering::Acquire, Ordering::Relaxed)
                {
                    Ok(_) => {
                        // SAFETY: the count was 1 (ours) and every object is home, so no
                        // handle or object of the pool is left to reach it: no one can
                        // take a new reference. It was made by `Box::leak` in `create`.
                        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
                        return;
                    }
                    Err(now) => {
                        refs = now;
                        continue;
                    }
                }
            }
            // Release: our uses of the pool happen before whoever frees it (see above).
            // Reaching 0 with objects out leaves the pool to the last returner.
            match inner.refs.compare_exchange_weak(
                refs,
                refs - 1,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => refs = now,
            }
        }
    }
}

/// Whether every address in `objs` is in `[start, start + len)` (`len >= 1`).
///
/// With `d = addr - start` (wrapping), `addr` is in range iff `0 <= d <= len - 1` as
/// signed numbers, i.e. iff neither `d` nor `len - 1 - d` has its sign bit set: so the
/// sign bit of the OR of all of them answers for the whole slice, without a compare.
/// This holds because user-space addresses, hence `start`, `len` and every `addr`,
/// are below 2^63 on every 64-bit Linux target, so neither difference wraps across
/// the sign (pointers that are not `ObjPtr`s of some pool never get here).
#[inline(always)]
fn in_range(objs: &[ObjPtr], start: usize, len: usize) -> bool {
    let last = len - 1;
    let bad = objs.iter().fold(0usize, |bad, obj| {
        let d = obj.addr().wrapping_sub(start);
        bad | d | last.wrapping_sub(d)
    });
    (bad as isize) >= 0
}

/// Returns objects to the ring of their pool without holding a handle to it.
///
/// # Safety
/// Every object in `objs` must belong to `pool`, be out of it, and be given up by the
/// caller.
pub(crate) unsafe fn put_home(pool: *const PoolInner, objs: &mut Vec<ObjPtr>) {
    if objs.is_empty() {
        return;
    }
    // SAFETY: the caller holds `objs`, objects of `pool`, out of it.
    let guard = unsafe { PoolRef::guard(pool) };
    guard.inner().enqueue(objs);
}

/// Returns one object to the ring of its pool without holding a handle to it.
///
/// # Safety
/// As [`put_home`], for the one object `obj`.
pub(crate) unsafe fn put_home_one(pool: *const PoolInner, obj: ObjPtr) {
    // SAFETY: the caller holds `obj`, an object of `pool`, out of it.
    let guard = unsafe { PoolRef::guard(pool) };
    guard.inner().enqueue_one(obj);
}

/// Bytes to reserve for `size` slots of `stride` bytes. Under IOVA-as-PA pages may
/// not be physically contiguous, so room is left for a slot per page lost at page ends.
fn region_len(memory: &Memory, size: usize, stride: usize) -> Option<usize> {
    let page = memory.page_size();
    if memory.config().iova_mode == IovaMode::Pa && stride <= page {
        size.div_ceil(page / stride).checked_mul(page)
    } else {
        size.checked_mul(stride)
    }
}

/// Offsets of `size` slots of `stride` bytes in `region`, none crossing the end of one
/// of its IOVA-contiguous segments, or `None` if they do not fit.
fn place(region: &Region, size: usize, stride: usize) -> Option<Vec<usize>> {
    let base = region.as_ptr().as_ptr().addr();
    let mut slots = Vec::with_capacity(size);
    for segment in region.segments() {
        let mut offset = segment.va - base;
        let end = offset + segment.len;
        while slots.len() < size && offset + stride <= end {
            slots.push(offset);
            offset += stride;
        }
    }
    (slots.len() == size).then_some(slots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ptrs(addrs: &[usize]) -> Vec<ObjPtr> {
        addrs
            .iter()
            .map(|&a| ObjPtr(NonNull::new(std::ptr::without_provenance_mut(a)).unwrap()))
            .collect()
    }

    #[test]
    fn in_range_checks_both_ends() {
        let (start, len) = (0x7f00_0000_0000, 0x20_0000);
        assert!(in_range(&[], start, len));
        assert!(in_range(&ptrs(&[start, start + len - 1]), start, len));
        for out in [start - 1, start + len, 1, 0x7fff_ffff_ffff, start - len] {
            assert!(
                !in_range(&ptrs(&[start, out, start + 64]), start, len),
                "{out:#x}"
            );
        }
    }

    proptest! {
        #[test]
        fn in_range_is_the_naive_check(
            start in 1usize << 41..1 << 47,
            len in 1usize..1 << 40,
            offsets in prop::collection::vec(-(1i64 << 41)..1 << 41, 0..4),
        ) {
            // Around the range, so that all-in, some-out and all-out all occur.
            let addrs: Vec<usize> = offsets
                .iter()
                .map(|&o| start.wrapping_add_signed(o as isize % len as isize * 2).max(1))
                .collect();
            let naive = addrs.iter().all(|&a| a >= start && a - start < len);
            prop_assert_eq!(in_range(&ptrs(&addrs), start, len), naive);
        }
    }
}
