//! The poll-mode drivers, one folder each.

use burst_mempool::{Mbuf, MbufCache, MempoolError, PktPool, free_bulk};

use crate::ethdev::{EthError, Link, PortId};

pub mod e1000e;
pub mod null;
pub mod pcap;
pub mod ring;
pub mod virtio;

/// Mbufs a queue's cache holds at most: enough for a few bursts.
const QUEUE_CACHE_SIZE: usize = 256;

/// A queue's cache of `pool`: [`QUEUE_CACHE_SIZE`], or a quarter of a small pool, so
/// that a cache never holds what other queues of the pool need.
fn queue_cache(pool: &PktPool) -> Result<MbufCache, MempoolError> {
    pool.cache(QUEUE_CACHE_SIZE.min(pool.size() / 4))
}

/// The mbuf cache an RX queue refills from.
pub(crate) fn rx_cache(pool: &PktPool, port: PortId, queue: u16) -> Result<MbufCache, EthError> {
    queue_cache(pool).map_err(|e| EthError::Invalid {
        port,
        msg: format!(
            "RX queue {queue}: no cache of mempool '{}': {e}",
            pool.name()
        ),
    })
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

/// Frees a TX queue's sent (or dropped) mbufs through a cache of their pool, made at
/// the first free. DPDK's TX paths free into the lcore's mempool cache; without one
/// every burst would go through the pool's ring (a CAS, and FIFO reuse of cold
/// buffers). Mbufs of other pools still go to theirs.
#[derive(Default)]
pub(crate) struct TxFree {
    cache: Option<MbufCache>,
}

impl TxFree {
    /// Frees every mbuf of `pkts`, leaving it empty.
    #[inline]
    pub(crate) fn free_bulk(&mut self, pkts: &mut Vec<Mbuf>) {
        if self.cache.is_none()
            && let Some(first) = pkts.first()
        {
            self.cache = queue_cache(&first.pool()).ok();
        }
        match &mut self.cache {
            Some(cache) => cache.free_bulk(pkts),
            None => free_bulk(pkts),
        }
    }
}
