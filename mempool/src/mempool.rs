//! [`Mempool`]: a pool of raw fixed-size objects (DPDK's `rte_mempool_create`), its
//! [`Object`] handle and its per-lcore [`Cache`].

use std::fmt;
use std::ptr::NonNull;

use burst_eal::memory::{Memory, Region};

use crate::cache::CacheCore;
use crate::pool::{CACHE_LINE, PoolInner, PoolRef, put_home_one};
use crate::ptrs::{Handle, ObjPtr, as_ptrs};
use crate::{Exhausted, MempoolError};

/// The header before each raw object (DPDK's `rte_mempool_objhdr`), on its own cache
/// line so the object itself is cache-line aligned.
#[repr(C, align(64))]
struct ObjHdr {
    pool: *const PoolInner,
    iova: u64,
    len: usize,
}

const OBJHDR_SIZE: usize = size_of::<ObjHdr>();
const _: () = assert!(OBJHDR_SIZE == CACHE_LINE);

/// A pool of fixed-size objects in one memory region, free ones in a lock-free ring.
///
/// A handle: clones share the pool, which lives until the last handle is dropped and
/// every object is back. Take objects straight from the ring with `&self` methods (a
/// CAS per bulk), or through a per-lcore [`Cache`] (no atomic on most calls).
///
/// ```
/// use burst_eal::memory::{Memory, MemoryConfig};
/// use burst_mempool::Mempool;
///
/// let memory = Memory::new(MemoryConfig::no_huge())?;
/// let pool = Mempool::new(&memory, "flows", 1023, 64)?;
/// let mut cache = pool.cache(32)?;
/// let mut objs = Vec::with_capacity(32);
/// cache.get_bulk(&mut objs, 32)?;
/// objs[0].as_bytes_mut()[0] = 7;
/// assert_eq!(pool.in_use(), 32);
/// cache.put_bulk(&mut objs);
/// assert_eq!(pool.in_use(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Mempool {
    pool: PoolRef,
}

impl Mempool {
    /// `size` objects of `elt_size` bytes, each cache-line aligned, in a region of
    /// `memory` (DPDK's `rte_mempool_create` with a ring backend).
    pub fn new(
        memory: &Memory,
        name: &str,
        size: usize,
        elt_size: usize,
    ) -> Result<Self, MempoolError> {
        let stride = elt_size
            .checked_next_multiple_of(CACHE_LINE)
            .and_then(|elt| elt.checked_add(OBJHDR_SIZE))
            .filter(|_| elt_size > 0)
            .ok_or(MempoolError::BadEltSize { size, elt_size })?;
        let pool = PoolRef::create(memory, name, size, stride, elt_size, |slot, iova, pool| {
            let hdr = ObjHdr {
                pool,
                iova: iova + OBJHDR_SIZE as u64,
                len: elt_size,
            };
            // SAFETY: the slot is `stride` bytes of fresh, cache-line aligned memory:
            // the header fills its first line and the object follows.
            unsafe {
                slot.cast::<ObjHdr>().write(hdr);
                slot.add(OBJHDR_SIZE)
            }
        })?;
        Ok(Self { pool })
    }

    /// A per-lcore cache of up to `size` objects (at most [`CACHE_MAX_SIZE`]) in front
    /// of the pool's ring, for one worker to own.
    ///
    /// [`CACHE_MAX_SIZE`]: crate::CACHE_MAX_SIZE
    pub fn cache(&self, size: usize) -> Result<Cache, MempoolError> {
        Ok(Cache {
            core: CacheCore::new(self.pool.clone(), size)?,
        })
    }

    /// Appends exactly `n` objects from the ring to `out`, or none.
    #[inline]
    pub fn get_bulk(&self, out: &mut Vec<Object>, n: usize) -> Result<(), Exhausted> {
        if n == 1 {
            // One object needs no vector on the ring side (folds away for a constant n).
            return self.get().map(|obj| out.push(obj)).ok_or(Exhausted);
        }
        // SAFETY: this raw pool's objects are `Object`s.
        if unsafe { self.pool.inner().dequeue(out, n) } {
            Ok(())
        } else {
            Err(Exhausted)
        }
    }

    /// One object from the ring.
    #[inline]
    pub fn get(&self) -> Option<Object> {
        let pool = self.pool.inner();
        let obj = pool.dequeue_one()?;
        // SAFETY: a free object of this pool, now ours.
        Some(unsafe { Object::from_obj(obj) })
    }

    /// Moves all of `objs` back to the ring (objects of other pools go to theirs).
    #[inline(always)]
    pub fn put_bulk(&self, objs: &mut Vec<Object>) {
        let pool = self.pool.inner();
        if let [obj] = as_ptrs(objs)
            && pool.owns(obj.addr())
        {
            let obj = *obj;
            // SAFETY: the object moves to the ring; the vector forgets it first, so it
            // is not returned twice.
            unsafe { objs.set_len(0) };
            pool.enqueue_one(obj);
        } else {
            self.put_many(objs);
        }
    }

    /// `put_bulk` of other than one object of this pool.
    #[inline]
    fn put_many(&self, objs: &mut Vec<Object>) {
        let pool = self.pool.inner();
        // The ring head's line comes over while the objects are checked (two cores
        // sharing a cache-less pool, bulk 32: 0.90 -> 1.04 of DPDK's speed).
        pool.prefetch_enqueue();
        let ptrs = as_ptrs(objs);
        if pool.owns_all(ptrs) {
            let (first, len) = (objs.as_ptr(), objs.len());
            // SAFETY: the vector forgets the objects, which move to the ring below; its
            // buffer still holds their pointers, read while the vector is untouched.
            unsafe {
                objs.set_len(0);
                pool.enqueue_slice(std::slice::from_raw_parts(first.cast(), len));
            }
        } else {
            // Each goes home through its drop.
            objs.clear();
        }
    }

    /// The name given at creation.
    pub fn name(&self) -> &str {
        self.pool.inner().name()
    }

    /// Objects in the pool.
    pub fn size(&self) -> usize {
        self.pool.inner().size()
    }

    /// Bytes of each object.
    pub fn elt_size(&self) -> usize {
        self.pool.inner().elt_size()
    }

    /// Free objects: in the ring and in live caches. Exact when no other thread is
    /// using the pool, a snapshot otherwise; it locks the cache list, so keep it off
    /// the fast path (as DPDK's `rte_mempool_avail_count`).
    pub fn available(&self) -> usize {
        self.pool.inner().available()
    }

    /// Objects held by users: [`size`](Self::size) − [`available`](Self::available).
    pub fn in_use(&self) -> usize {
        self.size() - self.available()
    }

    /// Whether every object is free (in the ring or a cache).
    pub fn is_full(&self) -> bool {
        self.in_use() == 0
    }

    /// The memory the objects live in, e.g. to map it for a device's DMA.
    pub fn region(&self) -> &Region {
        self.pool.inner().region()
    }
}

impl fmt::Debug for Mempool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mempool")
            .field("name", &self.name())
            .field("size", &self.size())
            .field("elt_size", &self.elt_size())
            .field("available", &self.available())
            .finish()
    }
}

/// An object taken from a [`Mempool`]: exclusive access to its bytes. Dropping it
/// returns it to its pool's ring (a CAS; bulk puts through a [`Cache`] are cheaper).
#[repr(transparent)]
pub struct Object(NonNull<u8>);

// SAFETY: an `Object` owns its bytes exclusively (no other handle to them exists), and
// its pool, reached on drop, is thread-safe.
unsafe impl Send for Object {}
// SAFETY: `&Object` only reads the bytes and the immutable header.
unsafe impl Sync for Object {}

// SAFETY: `repr(transparent)` over the object's address.
unsafe impl Handle for Object {
    unsafe fn from_obj(obj: ObjPtr) -> Self {
        Self(obj.0)
    }
}

impl Object {
    fn hdr(&self) -> &ObjHdr {
        // SAFETY: every raw object is preceded by its header, written at creation and
        // never changed; the pool, hence the memory, lives while the object is out.
        unsafe { &*self.0.as_ptr().sub(OBJHDR_SIZE).cast::<ObjHdr>() }
    }

    /// The first byte; cache-line aligned.
    pub fn as_ptr(&self) -> NonNull<u8> {
        self.0
    }

    /// The object's size in bytes (its pool's `elt_size`).
    #[expect(
        clippy::len_without_is_empty,
        reason = "objects are never empty: pools refuse zero-byte objects"
    )]
    pub fn len(&self) -> usize {
        self.hdr().len
    }

    /// The IOVA of the first byte, for a device.
    pub fn iova(&self) -> u64 {
        self.hdr().iova
    }

    /// The object's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: `len` bytes of mapped, initialised (zeroed at creation) pool memory
        // that only this handle reaches.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr(), self.len()) }
    }

    /// The object's bytes, writable.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_bytes`; `&mut self` makes the borrow exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_ptr(), self.len()) }
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        // SAFETY: this object, of its pool and out of it, is given up here.
        unsafe { put_home_one(self.hdr().pool, ObjPtr(self.0)) };
    }
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Object")
            .field("addr", &self.0)
            .field("len", &self.len())
            .finish()
    }
}

/// A per-lcore cache of a [`Mempool`] (DPDK's `rte_mempool_cache`): owned by one worker,
/// it serves gets and puts from a stack of free objects and goes to the pool's ring in
/// bulk, with DPDK 22.11's policy (see [`CACHE_MAX_SIZE`]). Dropping it flushes it.
///
/// [`CACHE_MAX_SIZE`]: crate::CACHE_MAX_SIZE
pub struct Cache {
    core: CacheCore<Object>,
}

impl Cache {
    /// Appends exactly `n` objects to `out`, or none. `out` does not allocate when it
    /// has the capacity.
    #[inline(always)]
    pub fn get_bulk(&mut self, out: &mut Vec<Object>, n: usize) -> Result<(), Exhausted> {
        self.core.get(out, n)
    }

    /// One object.
    #[inline]
    pub fn get(&mut self) -> Option<Object> {
        self.core.get_one()
    }

    /// Moves all of `objs` into the cache, flushing to the ring above 1.5 × its size.
    /// The objects are not inspected (a pointer copy, as DPDK): one of another pool is
    /// sent to its own when the cache flushes.
    #[inline(always)]
    pub fn put_bulk(&mut self, objs: &mut Vec<Object>) {
        self.core.put(objs);
    }

    /// Moves one object into the cache.
    pub fn put(&mut self, obj: Object) {
        // SAFETY: the handle is given up; `Cache` holds only raw objects (the flush
        // sends another pool's home).
        unsafe { self.core.push(ObjPtr(obj.0)) };
        std::mem::forget(obj);
        self.core.pushed();
    }

    /// Moves every cached object to the pool's ring.
    pub fn flush(&mut self) {
        self.core.flush();
    }

    /// Objects in the cache now.
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// Whether the cache holds no object.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The size the cache keeps after a flush or a refill.
    pub fn size(&self) -> usize {
        self.core.size()
    }

    /// The pool this cache serves.
    pub fn pool(&self) -> Mempool {
        Mempool {
            pool: self.core.pool().clone(),
        }
    }
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("pool", &self.core.pool().inner().name())
            .field("size", &self.size())
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::testutil::{freed, memory, unique};
    use crate::{CACHE_MAX_SIZE, MAX_OBJECTS};

    fn pool(size: usize, elt_size: usize) -> Mempool {
        Mempool::new(&memory(), &unique("raw"), size, elt_size).unwrap()
    }

    /// The leak check every test ends with: all objects free, all of them in the ring
    /// once the caches are gone.
    fn assert_full(pool: &Mempool) {
        assert_eq!(pool.in_use(), 0, "{pool:?} leaks");
        assert_eq!(pool.available(), pool.size());
    }

    fn in_ring(pool: &Mempool) -> usize {
        pool.pool.inner().in_ring()
    }

    #[test]
    fn objects_are_distinct_aligned_writable_with_their_iova() {
        let pool = pool(100, 100);
        assert_eq!((pool.size(), pool.elt_size()), (100, 100));
        let mut objs = Vec::new();
        pool.get_bulk(&mut objs, 100).unwrap();
        let base = pool.region().as_ptr().as_ptr().addr();
        let mut seen = HashSet::new();
        for (i, obj) in objs.iter_mut().enumerate() {
            let addr = obj.as_ptr().as_ptr().addr();
            assert!(seen.insert(addr));
            assert_eq!(addr % CACHE_LINE, 0, "cache-line aligned");
            assert_eq!(obj.len(), 100);
            assert_eq!(obj.iova(), pool.region().iova(addr - base));
            obj.as_bytes_mut().fill(i as u8);
        }
        for (i, obj) in objs.iter().enumerate() {
            assert!(obj.as_bytes().iter().all(|&b| b == i as u8), "no overlap");
        }
        assert_eq!(pool.in_use(), 100);
        pool.put_bulk(&mut objs);
        assert!(objs.is_empty());
        assert_full(&pool);
    }

    #[test]
    fn bulk_get_is_all_or_nothing_and_exhaustion_is_an_error() {
        let pool = pool(100, 64);
        let mut a = Vec::new();
        pool.get_bulk(&mut a, 60).unwrap();
        let mut b = vec![pool.get().unwrap()];
        assert_eq!(pool.get_bulk(&mut b, 40), Err(Exhausted));
        assert_eq!(b.len(), 1, "nothing taken");
        pool.get_bulk(&mut b, 39).unwrap();
        assert_eq!(pool.available(), 0);
        assert!(pool.get().is_none());
        assert_eq!(pool.get_bulk(&mut b, 1), Err(Exhausted));
        pool.get_bulk(&mut b, 0).unwrap();
        let mut cache = pool.cache(8).unwrap();
        assert!(cache.get().is_none());
        assert_eq!(cache.get_bulk(&mut b, 3), Err(Exhausted));
        assert_eq!(b.len(), 40);
        drop(b.pop());
        assert_eq!(pool.in_use(), 99, "a dropped object goes home");
        cache.put_bulk(&mut b);
        pool.put_bulk(&mut a);
        drop(cache);
        assert_full(&pool);
    }

    #[test]
    fn bad_sizes_are_refused() {
        let memory = memory();
        for (size, elt) in [(0, 64), (MAX_OBJECTS + 1, 64), (10, 0), (10, usize::MAX)] {
            let err = Mempool::new(&memory, "bad", size, elt).unwrap_err();
            assert!(
                matches!(
                    err,
                    MempoolError::BadSize { .. } | MempoolError::BadEltSize { .. }
                ),
                "{err}"
            );
        }
        let pool = pool(100, 8);
        for size in [CACHE_MAX_SIZE + 1, 68] {
            let err = pool.cache(size).unwrap_err();
            assert!(matches!(err, MempoolError::BadCacheSize { .. }), "{err}");
        }
        assert_eq!(pool.cache(67).unwrap().size(), 67, "flushthresh 100 <= 100");
        assert_eq!(
            pool.cache(CACHE_MAX_SIZE).unwrap_err().to_string(),
            "a cache of 512 objects is too large: at most 512, and its flush threshold (1.5 × size) may not exceed the pool's 100 objects"
        );
    }

    #[test]
    fn cache_follows_dpdk_22_11() {
        let pool = pool(1000, 64);
        let mut cache = pool.cache(32).unwrap(); // flushthresh 48
        let mut objs = Vec::new();

        // Empty cache: fetch size + 1 from the ring, hand out 1.
        objs.push(cache.get().unwrap());
        assert_eq!((cache.len(), in_ring(&pool)), (32, 1000 - 33));
        // Puts stack up to below the threshold...
        cache.put_bulk(&mut objs);
        cache.get_bulk(&mut objs, 32).unwrap();
        assert_eq!(cache.len(), 1);
        pool.get_bulk(&mut objs, 46).unwrap();
        let mut back: Vec<Object> = objs.drain(..46).collect();
        cache.put_bulk(&mut back);
        assert_eq!(cache.len(), 47);
        // ...and at the threshold everything above `size` goes to the ring.
        back.push(objs.pop().unwrap());
        cache.put_bulk(&mut back);
        assert_eq!((cache.len(), in_ring(&pool)), (32, 1000 - 33 - 46 + 16));
        cache.put_bulk(&mut objs);
        assert_eq!((cache.len(), in_ring(&pool)), (32, 1000 - 32));

        // Not enough cached: hand out the cache, then fetch size + the rest.
        cache.get_bulk(&mut objs, 70).unwrap();
        assert_eq!(cache.len(), 32);
        let ring = in_ring(&pool);
        cache.put_bulk(&mut objs);
        assert_eq!(
            (cache.len(), in_ring(&pool)),
            (32, ring + 70),
            "102 >= 48: flushed down to 32"
        );

        // Bulks above CACHE_MAX_SIZE bypass the cache.
        cache.get_bulk(&mut objs, 600).unwrap();
        assert_eq!(cache.len(), 0, "the cache's 32, then 568 from the ring");
        cache.put_bulk(&mut objs);
        assert_eq!(cache.len(), 0);
        cache.flush();
        assert_eq!(in_ring(&pool), 1000);
        drop(cache);
        assert_full(&pool);
    }

    #[test]
    fn a_failed_cached_get_takes_nothing() {
        let pool = pool(64, 64);
        let mut cache = pool.cache(32).unwrap();
        let mut held = Vec::new();
        pool.get_bulk(&mut held, 49).unwrap();
        let mut ten: Vec<Object> = held.drain(..10).collect();
        cache.put_bulk(&mut ten);
        // The cache has 10, the ring 15: a refill of 32 + 10 fails, 10 straight from
        // the ring works.
        let mut out = Vec::new();
        cache.get_bulk(&mut out, 20).unwrap();
        assert_eq!((out.len(), cache.len(), in_ring(&pool)), (20, 0, 5));
        cache.put_bulk(&mut out);
        // The cache has 20, the ring 5: 30 is out of reach; nothing moves.
        let mut out = vec![held.pop().unwrap()];
        assert_eq!(cache.get_bulk(&mut out, 30), Err(Exhausted));
        assert_eq!((out.len(), cache.len(), in_ring(&pool)), (1, 20, 5));
        cache.get_bulk(&mut out, 25).unwrap();
        assert_eq!((out.len(), cache.len(), in_ring(&pool)), (26, 0, 0));
        cache.put_bulk(&mut out);
        pool.put_bulk(&mut held);
        drop(cache);
        assert_full(&pool);
    }

    #[test]
    fn caches_count_as_available_and_flush_when_dropped() {
        let pool = pool(200, 64);
        let mut caches: Vec<Cache> = (0..3).map(|_| pool.cache(40).unwrap()).collect();
        let mut objs = Vec::new();
        for cache in &mut caches {
            cache.get_bulk(&mut objs, 10).unwrap();
        }
        assert_eq!(pool.in_use(), 30);
        assert_eq!(pool.available(), 170);
        assert!(in_ring(&pool) < 170, "the caches hold some");
        caches[0].put_bulk(&mut objs);
        assert!(pool.is_full());
        assert_eq!(caches[0].pool().name(), pool.name());
        drop(caches);
        assert_eq!(in_ring(&pool), 200);
        assert_full(&pool);
    }

    #[test]
    fn objects_of_another_pool_go_home() {
        let (a, b) = (pool(100, 64), pool(100, 64));
        let mut from_b = Vec::new();
        b.get_bulk(&mut from_b, 10).unwrap();
        let mut cache = a.cache(16).unwrap();
        cache.put(from_b.pop().unwrap());
        cache.put_bulk(&mut from_b);
        // Not inspected on put: in `a`'s cache until a flush finds them.
        assert_eq!((cache.len(), b.in_use()), (10, 10));
        cache.flush();
        assert_full(&a);
        assert_full(&b);

        let mut mixed = Vec::new();
        a.get_bulk(&mut mixed, 5).unwrap();
        b.get_bulk(&mut mixed, 5).unwrap();
        a.put_bulk(&mut mixed);
        // One object takes the one-element path: a foreign one still goes home.
        b.get_bulk(&mut mixed, 1).unwrap();
        assert_eq!((mixed.len(), b.in_use()), (1, 1));
        a.put_bulk(&mut mixed);
        a.get_bulk(&mut mixed, 1).unwrap();
        a.put_bulk(&mut mixed);
        assert!(mixed.is_empty());
        drop(cache);
        assert_full(&a);
        assert_full(&b);
    }

    #[test]
    fn the_pool_is_freed_with_its_last_object() {
        let name = unique("orphan");
        let pool = Mempool::new(&memory(), &name, 10, 64).unwrap();
        let mut cache = pool.cache(4).unwrap();
        let obj = cache.get().unwrap();
        let other = pool.get().unwrap();
        drop(pool);
        drop(cache);
        assert!(!freed(&name), "objects are still out");
        drop(obj);
        assert!(!freed(&name));
        drop(other);
        assert!(freed(&name), "the last object frees it");

        let name = unique("plain");
        let pool = Mempool::new(&memory(), &name, 10, 64).unwrap();
        let copy = pool.clone();
        drop(pool);
        assert!(!freed(&name));
        drop(copy);
        assert!(freed(&name), "the last handle frees it");
    }
}
