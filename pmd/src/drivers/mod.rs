//! The poll-mode drivers, one folder each.

use burst_mempool::{MbufCache, PktPool};

use crate::ethdev::{EthError, Link, PortId};

pub mod e1000e;
pub mod null;
pub mod pcap;
pub mod ring;
pub mod virtio;

/// Mbufs an RX queue's cache holds at most: enough for a few bursts.
const RX_CACHE_SIZE: usize = 256;

/// The mbuf cache an RX queue refills from: [`RX_CACHE_SIZE`], or a quarter of a small
/// pool, so that a cache never holds what other queues of the pool need.
pub(crate) fn rx_cache(pool: &PktPool, port: PortId, queue: u16) -> Result<MbufCache, EthError> {
    pool.cache(RX_CACHE_SIZE.min(pool.size() / 4))
        .map_err(|e| EthError::Invalid {
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
