//! [`PktPool`]: a pool of packet buffers (DPDK's `rte_pktmbuf_pool_create`) and its
//! per-lcore [`MbufCache`].

use std::fmt;
use std::ptr::NonNull;

use burst_eal::memory::{Memory, Region};

use crate::cache::CacheCore;
use crate::mbuf::{HDR_SIZE, Home, MbufHeader, pool_of, release_chain};
use crate::pool::{CACHE_LINE, PoolRef};
use crate::ptrs::{Handle, ObjPtr, with_scratch};
use crate::{Exhausted, Mbuf, MbufError, MempoolError};

/// The buffer sizes of a [`PktPool`]'s mbufs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MbufConfig {
    /// Bytes kept free before the data of a fresh mbuf, for headers to prepend
    /// (`RTE_PKTMBUF_HEADROOM`).
    pub headroom: u16,
    /// Bytes for the data after the headroom.
    pub data_room: u16,
}

impl Default for MbufConfig {
    /// DPDK's defaults: 128 bytes of headroom, 2048 of data room
    /// (`RTE_MBUF_DEFAULT_BUF_SIZE`).
    fn default() -> Self {
        Self {
            headroom: 128,
            data_room: 2048,
        }
    }
}

/// A pool of packet buffers ([`Mbuf`]s), each a header and a buffer of headroom + data
/// room, cache-line aligned, in one IOVA-contiguous run. A handle: clones share it.
#[derive(Clone)]
pub struct PktPool {
    pool: PoolRef,
    config: MbufConfig,
}

impl PktPool {
    /// `size` mbufs with `config`'s buffers in a region of `memory`
    /// (`rte_pktmbuf_pool_create`).
    pub fn new(
        memory: &Memory,
        name: &str,
        size: usize,
        config: MbufConfig,
    ) -> Result<Self, MempoolError> {
        let MbufConfig {
            headroom,
            data_room,
        } = config;
        let buf_len = headroom
            .checked_add(data_room)
            .ok_or(MempoolError::BufTooLarge {
                headroom,
                data_room,
            })?;
        let stride = HDR_SIZE + (buf_len as usize).next_multiple_of(CACHE_LINE);
        let pool = PoolRef::create(
            memory,
            name,
            size,
            stride,
            buf_len as usize,
            |slot, iova, pool| {
                let hdr = MbufHeader::new(pool, iova + HDR_SIZE as u64, buf_len, headroom);
                // SAFETY: the slot is `stride` bytes of fresh, cache-line aligned memory:
                // the header, then the buffer.
                unsafe { slot.cast::<MbufHeader>().write(hdr) };
                slot
            },
        )?;
        Ok(Self { pool, config })
    }

    /// A handle to the pool behind `pool`, whose mbufs have `config`'s buffers.
    pub(crate) fn from_ref(pool: PoolRef, config: MbufConfig) -> Self {
        Self { pool, config }
    }

    /// A per-lcore cache of up to `size` mbufs (at most [`CACHE_MAX_SIZE`]), for one
    /// worker to own.
    ///
    /// [`CACHE_MAX_SIZE`]: crate::CACHE_MAX_SIZE
    pub fn cache(&self, size: usize) -> Result<MbufCache, MempoolError> {
        Ok(MbufCache {
            core: CacheCore::new(self.pool.clone(), size)?,
            foreign: Vec::new(),
        })
    }

    /// One mbuf from the ring (`rte_pktmbuf_alloc` without a cache).
    pub fn alloc(&self) -> Option<Mbuf> {
        let pool = self.pool.inner();
        let obj = pool.dequeue_one()?;
        // SAFETY: a free mbuf of this pool, now ours.
        Some(unsafe { Mbuf::from_obj(obj) })
    }

    /// Appends exactly `n` mbufs from the ring to `out`, or none.
    pub fn alloc_bulk(&self, out: &mut Vec<Mbuf>, n: usize) -> Result<(), Exhausted> {
        // SAFETY: this pool's objects are `Mbuf`s.
        if unsafe { self.pool.inner().dequeue(out, n) } {
            Ok(())
        } else {
            Err(Exhausted)
        }
    }

    /// The buffer sizes given at creation.
    pub fn config(&self) -> MbufConfig {
        self.config
    }

    /// The name given at creation.
    pub fn name(&self) -> &str {
        self.pool.inner().name()
    }

    /// Mbufs in the pool.
    pub fn size(&self) -> usize {
        self.pool.inner().size()
    }

    /// Free mbufs: in the ring and in live caches; see [`Mempool::available`].
    ///
    /// [`Mempool::available`]: crate::Mempool::available
    pub fn available(&self) -> usize {
        self.pool.inner().available()
    }

    /// Mbufs held by users (clones' headers and buffers kept for them included).
    pub fn in_use(&self) -> usize {
        self.size() - self.available()
    }

    /// Whether every mbuf is free.
    pub fn is_full(&self) -> bool {
        self.in_use() == 0
    }

    /// The memory the mbufs live in, e.g. to map it for a device's DMA.
    pub fn region(&self) -> &Region {
        self.pool.inner().region()
    }
}

/// Two handles are equal when they are handles to the same pool.
impl PartialEq for PktPool {
    fn eq(&self, other: &Self) -> bool {
        self.pool.as_ptr() == other.pool.as_ptr()
    }
}

impl Eq for PktPool {}

impl fmt::Debug for PktPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PktPool")
            .field("name", &self.name())
            .field("size", &self.size())
            .field("config", &self.config)
            .field("available", &self.available())
            .finish()
    }
}

/// A per-lcore cache of a [`PktPool`]: the fast path for mbufs. Allocs are a pointer
/// copy (mbufs are reset when freed); frees reset each segment and stack it, with no
/// atomic RMW for unshared buffers. Dropping it flushes it.
pub struct MbufCache {
    core: CacheCore<Mbuf>,
    /// Freed headers of other pools, sent home at the end of a free.
    foreign: Vec<ObjPtr>,
}

impl MbufCache {
    /// Appends exactly `n` fresh mbufs to `out`, or none (`rte_pktmbuf_alloc_bulk`).
    /// `out` does not allocate when it has the capacity.
    #[inline(always)]
    pub fn alloc_bulk(&mut self, out: &mut Vec<Mbuf>, n: usize) -> Result<(), Exhausted> {
        self.core.get(out, n)
    }

    /// One fresh mbuf (`rte_pktmbuf_alloc`).
    #[inline]
    pub fn alloc(&mut self) -> Option<Mbuf> {
        self.core.get_one()
    }

    /// Frees every mbuf of `mbufs` and their segments, leaving it empty
    /// (`rte_pktmbuf_free_bulk`). This pool's go to the cache (flushed above 1.5 × its
    /// size), other pools' to their rings; a buffer still shared with clones is only
    /// released by this reference.
    #[inline]
    pub fn free_bulk(&mut self, mbufs: &mut Vec<Mbuf>) {
        let n = mbufs.len();
        let base = mbufs.as_ptr().cast::<ObjPtr>();
        // SAFETY: the handles are taken over below, one by one; a panic in between
        // leaks the rest, which is safe.
        unsafe { mbufs.set_len(0) };
        self.free_chains((0..n).map(|i| {
            // SAFETY: the i-th handle (i < n, the old length), taken over here.
            unsafe { base.add(i).read() }
        }));
    }

    /// Frees one mbuf and its segments.
    #[inline]
    pub fn free(&mut self, m: Mbuf) {
        self.free_chains(std::iter::once(ObjPtr(m.into_raw().cast())));
    }

    /// Frees chains given up by their handles, then applies the flush policy and
    /// sends other pools' headers home.
    #[inline(always)]
    fn free_chains(&mut self, heads: impl Iterator<Item = ObjPtr>) {
        let mine = self.core.pool().as_ptr();
        let Self { core, foreign } = self;
        let mut sink = |seg: NonNull<MbufHeader>| {
            let obj = ObjPtr(seg.cast());
            if pool_of(seg) == mine {
                // SAFETY: a freed mbuf of this cache's pool, given up to us.
                unsafe { core.push(obj) };
            } else {
                foreign.push(obj);
            }
        };
        for head in heads {
            // SAFETY: the chain was given up by its handle (caller).
            unsafe { release_chain(head.0.cast(), &mut sink) };
        }
        self.core.pushed();
        if !self.foreign.is_empty() {
            self.send_foreign();
        }
    }

    #[cold]
    #[inline(never)]
    fn send_foreign(&mut self) {
        with_scratch(|objs| {
            let mut home = Home::new(objs);
            for obj in self.foreign.drain(..) {
                home.send(obj.0.cast());
            }
            home.flush();
        });
    }

    /// A clone of `m` sharing its bytes, with headers from this cache's pool
    /// (`rte_pktmbuf_clone(m, mp)`); see [`Mbuf::try_clone`].
    pub fn clone_mbuf(&mut self, m: &Mbuf) -> Result<Mbuf, MbufError> {
        m.clone_with(|| self.alloc())
    }

    /// Moves every cached mbuf to the pool's ring.
    pub fn flush(&mut self) {
        self.core.flush();
    }

    /// Mbufs in the cache now.
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// Whether the cache holds no mbuf.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The size the cache keeps after a flush or a refill.
    pub fn size(&self) -> usize {
        self.core.size()
    }
}

impl fmt::Debug for MbufCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MbufCache")
            .field("pool", &self.core.pool().inner().name())
            .field("size", &self.size())
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;
    use std::thread;

    use super::*;
    use crate::Mempool;
    use crate::testutil::{memory, unique};

    /// xorshift64: a cheap deterministic random stream per thread.
    fn rng(seed: u64) -> impl FnMut(u64) -> u64 {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        move |below| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % below
        }
    }

    const THREADS: u64 = 4;
    const ROUNDS: u64 = 1_000_000;

    /// Four threads, three with caches and one straight on the ring, each taking and
    /// returning random bulks of one pool and checking nobody else wrote its objects.
    #[test]
    fn threads_share_a_pool_through_their_caches() {
        let pool = Mempool::new(&memory(), &unique("stress"), 8191, 64).unwrap();
        let start = Barrier::new(THREADS as usize);
        thread::scope(|s| {
            for t in 0..THREADS {
                let (pool, start) = (&pool, &start);
                s.spawn(move || {
                    let mut cache = (t != 0).then(|| pool.cache(256).unwrap());
                    let mut random = rng(t + 1);
                    let (mut held, mut batch) = (Vec::new(), Vec::with_capacity(64));
                    start.wait();
                    for round in 0..ROUNDS {
                        let n = 1 + random(32) as usize;
                        let got = match &mut cache {
                            Some(cache) => cache.get_bulk(&mut batch, n),
                            None => pool.get_bulk(&mut batch, n),
                        };
                        got.expect("8191 objects for at most 4 × (768 cached + 160 held)");
                        let stamp = (t << 32 | round).to_ne_bytes();
                        for obj in &mut batch {
                            obj.as_bytes_mut()[..8].copy_from_slice(&stamp);
                        }
                        for obj in &batch {
                            assert_eq!(obj.as_bytes()[..8], stamp, "an object was shared");
                        }
                        held.append(&mut batch);
                        if held.len() > 128 || random(4) == 0 {
                            let keep = random(held.len() as u64 + 1) as usize;
                            batch.extend(held.drain(keep..));
                            match &mut cache {
                                Some(cache) => cache.put_bulk(&mut batch),
                                None => pool.put_bulk(&mut batch),
                            }
                        }
                    }
                    if let Some(cache) = &mut cache {
                        cache.put_bulk(&mut held);
                    } else {
                        pool.put_bulk(&mut held);
                    }
                });
            }
        });
        assert!(pool.is_full(), "{pool:?}");
    }

    /// Mbufs, some cloned, cross threads through rings; every thread frees what it
    /// receives with its own cache.
    #[test]
    fn mbufs_and_clones_cross_threads() {
        let pool = PktPool::new(
            &memory(),
            &unique("stress-pkt"),
            4095,
            MbufConfig::default(),
        )
        .unwrap();
        let rings: Vec<_> = (0..THREADS)
            .map(|_| burst_ring::Ring::<Mbuf>::new(1024).unwrap())
            .collect();
        thread::scope(|s| {
            for t in 0..THREADS as usize {
                let (pool, rings) = (&pool, &rings);
                s.spawn(move || {
                    let mut cache = pool.cache(128).unwrap();
                    let mut random = rng(t as u64 + 7);
                    let (mut burst, mut got) = (Vec::with_capacity(32), Vec::with_capacity(64));
                    for round in 0..ROUNDS / 20 {
                        let n = 1 + random(32) as usize;
                        if cache.alloc_bulk(&mut burst, n).is_ok() {
                            for m in &mut burst {
                                m.append(8).unwrap().copy_from_slice(&round.to_ne_bytes());
                            }
                            if random(8) == 0 {
                                let clone = cache.clone_mbuf(&burst[0]).unwrap();
                                burst.push(clone);
                            }
                            let to = &rings[random(THREADS) as usize];
                            let _ = to.enqueue_burst(&mut burst);
                            cache.free_bulk(&mut burst);
                        }
                        let _ = rings[t].dequeue_burst(&mut got, 64);
                        for m in &got {
                            assert_eq!(m.pkt_len(), 8);
                        }
                        cache.free_bulk(&mut got);
                    }
                });
            }
        });
        drop(rings);
        assert!(pool.is_full(), "{pool:?}");
    }
}
