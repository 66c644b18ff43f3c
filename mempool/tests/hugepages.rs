//! Pools in hugepage memory: every mbuf's and object's IOVA is the region's mapping of
//! its address, and no buffer crosses an IOVA discontinuity (a device reads it in one
//! range).
//!
//! Needs free 2 MiB hugepages (and root for IOVA-as-PA). A missing precondition prints
//! `skipped: <reason>` and passes, unless `BURST_REQUIRE_HUGEPAGES=1` (as in CI), where
//! it fails.

use std::fmt::Display;

use burst_eal::memory::{IovaMode, Memory, MemoryConfig, MemoryError, PageSize, Region};
use burst_mempool::{MbufConfig, Mempool, MempoolError, PktPool};

/// Reports a missing precondition: a skip, or a failure under BURST_REQUIRE_HUGEPAGES=1.
fn skip(reason: impl Display) {
    if std::env::var("BURST_REQUIRE_HUGEPAGES").is_ok_and(|v| v == "1") {
        panic!("BURST_REQUIRE_HUGEPAGES=1, but {reason}");
    }
    eprintln!("skipped: {reason}");
}

/// Anonymous 2 MiB hugepage memory in `iova_mode`, or `None` after skipping.
fn hugepages(iova_mode: IovaMode) -> Option<Memory> {
    let cfg = MemoryConfig {
        in_memory: true,
        page_size: Some(PageSize::Size2M),
        iova_mode,
        ..MemoryConfig::default()
    };
    match Memory::new(cfg) {
        Ok(memory) => Some(memory),
        Err(
            err @ (MemoryError::HugepagesUnsupported
            | MemoryError::UnsupportedPageSize { .. }
            | MemoryError::NoFreeHugepages { .. }
            | MemoryError::PhysAddrUnavailable),
        ) => {
            skip(format_args!("{iova_mode:?}: {err}"));
            None
        }
        Err(err) => panic!("unexpected error: {err}"),
    }
}

/// The pool `create` made, or `None` after skipping if the hugepages ran out.
fn made<T>(mode: IovaMode, pool: Result<T, MempoolError>) -> Option<T> {
    match pool {
        Ok(pool) => Some(pool),
        Err(MempoolError::Memory(err @ MemoryError::NoFreeHugepages { .. })) => {
            skip(format_args!("{mode:?}: {err}"));
            None
        }
        Err(err) => panic!("{mode:?}: {err}"),
    }
}

/// Offset of `addr` in `region`.
fn offset(region: &Region, addr: usize) -> usize {
    addr - region.as_ptr().as_ptr().addr()
}

#[test]
fn mbuf_iovas_are_the_regions_mapping() {
    for mode in [IovaMode::Va, IovaMode::Pa] {
        let Some(memory) = hugepages(mode) else {
            continue;
        };
        // 4096 mbufs of 2304 bytes: 5 pages, so page boundaries fall inside the pool.
        let Some(pool) = made(
            mode,
            PktPool::new(&memory, "huge", 4096, MbufConfig::default()),
        ) else {
            continue;
        };
        let region = pool.region();
        assert!(region.is_hugepage());
        let mut mbufs = Vec::new();
        pool.alloc_bulk(&mut mbufs, 4096).unwrap();
        for m in &mut mbufs {
            let data = offset(region, m.data().as_ptr().addr());
            assert_eq!(m.data_iova(), region.iova(data), "{mode:?}");
            let buf = data - m.headroom();
            assert_eq!(m.buf_iova(), region.iova(buf));
            let last = buf + m.buf_len() as usize - 1;
            assert_eq!(
                region.iova(last),
                m.buf_iova() + m.buf_len() as u64 - 1,
                "{mode:?}: a buffer is IOVA-contiguous"
            );
            m.append(4).unwrap().copy_from_slice(b"dma!");
        }
        eprintln!(
            "{mode:?}: {} IOVA segment(s) for {} bytes",
            region.segments().len(),
            region.len()
        );
        drop(mbufs);
        assert!(pool.is_full());
    }
}

#[test]
fn object_iovas_are_the_regions_mapping() {
    let Some(memory) = hugepages(IovaMode::Va) else {
        return;
    };
    let Some(pool) = made(IovaMode::Va, Mempool::new(&memory, "huge-objs", 2047, 2048)) else {
        return;
    };
    let mut objs = Vec::new();
    pool.get_bulk(&mut objs, 2047).unwrap();
    for obj in &objs {
        let at = offset(pool.region(), obj.as_ptr().as_ptr().addr());
        assert_eq!(obj.iova(), pool.region().iova(at));
    }
    pool.put_bulk(&mut objs);
    assert!(pool.is_full());
}
