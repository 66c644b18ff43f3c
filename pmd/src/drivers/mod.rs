//! The poll-mode drivers, one folder each.

use burst_mempool::{MbufCache, PktPool};

use crate::ethdev::{EthError, PortId};

pub mod e1000e;
pub mod null;
pub mod pcap;
pub mod ring;

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
