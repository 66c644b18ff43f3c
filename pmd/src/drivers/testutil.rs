//! What the VFIO drivers' queue tests share: EAL memory in ordinary pages (IOVA = VA,
//! so a test can play the device and reach a buffer by its IOVA), mempools in it,
//! ring memory, and packets.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use burst_eal::memory::{Memory, MemoryConfig, Region};
use burst_mempool::{Mbuf, MbufConfig, PktPool};

/// EAL memory without hugepages.
pub(crate) fn memory() -> Memory {
    Memory::new(MemoryConfig::no_huge()).unwrap()
}

/// A pool of `n` mbufs of the default configuration in `mem`, with a name of its own.
pub(crate) fn pool(mem: &Memory, n: usize) -> PktPool {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!("driver-test-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    PktPool::new(mem, &name, n, MbufConfig::default()).unwrap()
}

/// A fresh page-aligned region of at least `bytes` in `mem`, for a ring to keep.
pub(crate) fn ring_region(mem: &Memory, bytes: usize) -> Arc<Region> {
    Arc::new(mem.alloc(bytes).unwrap())
}

/// `len` bytes counting up from `seq`.
pub(crate) fn frame(seq: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| seq.wrapping_add(i as u8)).collect()
}

/// `n` packets of 60 + i bytes whose first byte is `first + i`.
pub(crate) fn packets(pool: &PktPool, first: u8, n: usize) -> Vec<Mbuf> {
    (0..n)
        .map(|i| {
            let mut m = pool.alloc().unwrap();
            m.append(60 + i).unwrap().fill(first.wrapping_add(i as u8));
            m
        })
        .collect()
}
