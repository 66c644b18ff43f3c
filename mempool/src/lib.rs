//! burst's memory pools (DPDK's `rte_mempool`) and packet buffers (`rte_mbuf`).
//!
//! A [`Mempool`] carves a fixed number of equal objects out of one region of
//! [`burst_eal::memory`] (hugepages, with IOVAs for devices) and keeps the free ones in
//! a lock-free [`burst_ring::Ring`]. Workers take and return objects through their own
//! [`Cache`], a handle they own (no thread-local lookup), so most calls copy pointers
//! and touch no shared cache line. A [`PktPool`] is a pool of packet buffers,
//! [`Mbuf`]s, with its [`MbufCache`] for the RX/TX fast path.
//!
//! ```
//! use burst_eal::memory::{Memory, MemoryConfig};
//! use burst_mempool::{MbufConfig, PktPool};
//!
//! let memory = Memory::new(MemoryConfig::no_huge())?;
//! let pool = PktPool::new(&memory, "rx0", 1023, MbufConfig::default())?;
//! let mut cache = pool.cache(256)?; // one per lcore
//! let mut burst = Vec::with_capacity(32);
//! cache.alloc_bulk(&mut burst, 32)?;
//! for m in &mut burst {
//!     m.append(64)?.fill(0xab);
//! }
//! cache.free_bulk(&mut burst);
//! assert!(pool.is_full());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Safety model
//! Objects and mbufs are owned handles: no leak (drop returns them) and no double free
//! from safe code. A pool outlives its objects: its memory is unmapped only once every
//! handle is gone and every object is back. The pool is multi-producer/multi-consumer
//! throughout; an SP/SC variant would only speed up cache refills and flushes, and
//! would need `!Send` mbufs.

mod cache;
mod error;
mod mbuf;
mod mempool;
mod pktpool;
mod pool;
mod ptrs;
#[cfg(test)]
mod testutil;

pub use cache::CACHE_MAX_SIZE;
pub use error::{ChainError, Exhausted, MbufError, MempoolError};
pub use mbuf::{INVALID_PORT, Mbuf, MbufHeader, Segments, free_bulk};
pub use mempool::{Cache, Mempool, Object};
pub use pktpool::{MbufCache, MbufConfig, PktPool};
pub use pool::MAX_OBJECTS;
