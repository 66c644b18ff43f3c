//! The poll-mode drivers, one folder each.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use burst_mempool::{Exhausted, Mbuf, MbufCache, PktPool, free_bulk};

use crate::ethdev::Link;

pub mod e1000e;
pub mod null;
pub mod pcap;
pub mod ring;
mod ring_mbufs;
mod ring_mem;
mod shared;
#[cfg(test)]
mod testutil;
pub mod virtio;

/// Mbufs a thread's cache of a pool holds at most: enough for a few bursts.
const LCORE_CACHE_SIZE: usize = 256;

thread_local! {
    /// This thread's cache of each pool its queues take mbufs from or give them to.
    static LCORE_CACHES: RefCell<Vec<(PktPool, MbufCache)>> = const { RefCell::new(Vec::new()) };
}

/// The calling thread's mbuf cache of a pool, shared by every queue the thread polls:
/// RX refills take from it and TX completions give back to it, so the buffer a TX
/// queue frees is the next one an RX queue fills, still warm, as DPDK's PMDs share
/// the lcore's mempool cache. Made at first use, [`LCORE_CACHE_SIZE`] or a quarter of
/// a small pool; it goes back to the pool when the thread ends (and counts as free
/// until then).
pub(crate) struct LcoreCache {
    pool: PktPool,
}

impl LcoreCache {
    /// The thread caches of `pool`.
    pub(crate) fn new(pool: &PktPool) -> Self {
        Self { pool: pool.clone() }
    }

    /// Runs `f(cache, arg)` on this thread's cache of the pool, or `fallback(pool, arg)`
    /// on the pool itself when the caches are in use (a free inside `f`) or torn down
    /// (thread exit).
    #[inline(always)]
    fn with<A, R>(
        &self,
        arg: A,
        f: impl FnOnce(&mut MbufCache, A) -> R,
        fallback: impl FnOnce(&PktPool, A) -> R,
    ) -> R {
        let mut call = Some((f, arg));
        let done = LCORE_CACHES.try_with(|caches| {
            let mut caches = caches.try_borrow_mut().ok()?;
            let i = match caches.iter().position(|(pool, _)| *pool == self.pool) {
                Some(i) => i,
                None => {
                    let size = LCORE_CACHE_SIZE.min(self.pool.size() / 4);
                    caches.push((self.pool.clone(), self.pool.cache(size).ok()?));
                    caches.len() - 1
                }
            };
            let (f, arg) = call.take()?;
            Some(f(&mut caches[i].1, arg))
        });
        match (done, call) {
            (Ok(Some(r)), _) => r,
            (_, Some((_, arg))) => fallback(&self.pool, arg),
            (_, None) => unreachable!("`f` runs once, and its result is returned"),
        }
    }

    /// Appends exactly `n` mbufs to `out`, or none.
    #[inline]
    pub(crate) fn alloc_bulk(&self, out: &mut Vec<Mbuf>, n: usize) -> Result<(), Exhausted> {
        self.with(
            out,
            |c, out| c.alloc_bulk(out, n),
            |p, out| p.alloc_bulk(out, n),
        )
    }

    /// One mbuf.
    #[inline]
    pub(crate) fn alloc(&self) -> Option<Mbuf> {
        self.with((), |c, ()| c.alloc(), |p, ()| p.alloc())
    }

    /// Frees every mbuf of `mbufs` (those of other pools go to theirs).
    #[inline]
    pub(crate) fn free_bulk(&self, mbufs: &mut Vec<Mbuf>) {
        self.with(mbufs, MbufCache::free_bulk, |_, mbufs| free_bulk(mbufs))
    }

    /// Frees one mbuf.
    pub(crate) fn free(&self, m: Mbuf) {
        self.with(m, MbufCache::free, |_, m| drop(m))
    }

    /// Gives this thread's cached mbufs of the pool back to it, so that the pool is
    /// full again once a port has stopped and released its buffers.
    pub(crate) fn flush(&self) {
        self.with((), |c, ()| c.flush(), |_, ()| ())
    }
}

/// How long a hardware port's stop waits for the device to send what the last bursts
/// queued, before it resets the device and drops the rest (ixgbe's and i40e's queue
/// stops wait on the descriptor heads the same way).
const TX_DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// A hardware port's stop, once no burst runs: waits (at most [`TX_DRAIN_TIMEOUT`]) until
/// `sent` says the device has sent everything tx_burst accepted, so that the reset
/// that follows drops nothing; warns if it has not. Nothing goes out with the link
/// down, so no wait then.
pub(crate) fn drain_tx(name: &str, link_up: bool, sent: impl FnMut() -> bool) {
    if link_up && !wait_for(TX_DRAIN_TIMEOUT, sent) {
        log::warn!(
            "{name}: TX queue not empty after {TX_DRAIN_TIMEOUT:?} when stopping: \
             what it still holds is dropped"
        );
    }
}

/// Waits until `done` holds or `timeout` passes, polling every 100 µs; whether it held.
pub(crate) fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// The link a virtual port reports, as DPDK's null, ring and pcap drivers do: 10 Gb/s,
/// full duplex, fixed speed, up while the port is started.
pub(crate) fn virtual_link(started: bool) -> Link {
    Link {
        up: started,
        speed_mbps: 10_000,
        full_duplex: true,
        autoneg: false,
    }
}

/// Frees a TX queue's sent (or dropped) mbufs through the thread's cache of their
/// pool (see [`LcoreCache`]), learnt from the first mbuf freed. DPDK's TX paths free
/// into the lcore's mempool cache; without one every burst would go through the
/// pool's ring (a CAS, and FIFO reuse of cold buffers). Mbufs of other pools still go
/// to theirs.
#[derive(Default)]
pub(crate) struct TxFree {
    cache: Option<LcoreCache>,
}

impl TxFree {
    /// Frees every mbuf of `pkts`, leaving it empty.
    #[inline]
    pub(crate) fn free_bulk(&mut self, pkts: &mut Vec<Mbuf>) {
        if self.cache.is_none()
            && let Some(first) = pkts.first()
        {
            self.cache = Some(LcoreCache::new(&first.pool()));
        }
        match &self.cache {
            Some(cache) => cache.free_bulk(pkts),
            None => free_bulk(pkts),
        }
    }
}
