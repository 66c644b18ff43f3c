//! The cases of DPDK's `mempool_perf_autotest` (app/test/test_mempool_perf.c, v22.11)
//! that `scripts/compare-dpdk.sh mempool` compares, and an mbuf alloc/free case.
//!
//! - `mempool/cache{0,256}_bulk{1,32}_{1,2}core`: one iteration is a get of n objects
//!   and a put of the same n, straight on the pool's ring (cache 0) or through the
//!   worker's own cache of 256. With 2 cores a second pinned thread runs the same loop
//!   on the same pool with its own cache, and the time reported is both threads'
//!   elapsed time summed and halved: the cost per object per core, as DPDK's
//!   `rate_persec` divided by the cores.
//! - `mbuf/alloc_free_bulk32`: `alloc_bulk(32)` + `free_bulk(32)` through a cache of
//!   256, as `scripts/dpdk/mbuf_bench.c` times `rte_pktmbuf_alloc_bulk` +
//!   `rte_pktmbuf_free_bulk`.
//!
//! Throughput is in objects, so criterion's per-element time is per object. Bulk sizes
//! are compile-time constants, as DPDK's compared `constant_n=1` rows. The pool holds
//! 2047 objects of 2048 bytes, the autotest's pool when run on two lcores
//! (`MEMPOOL_SIZE` = lcores x (`MAX_KEEP` 512 + 512) - 1, `MEMPOOL_ELT_SIZE`); the mbuf
//! pool 8191 mbufs, as `mbuf_bench.c`'s. Both in 2 MiB hugepages when some are free,
//! else in ordinary pages.

use std::hint::black_box;
use std::sync::{Barrier, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use burst_eal::memory::{Memory, MemoryConfig, PageSize};
use burst_mempool::{Cache, MbufConfig, Mempool, Object, PktPool};
use core_affinity::CoreId;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};

const POOL_SIZE: usize = 2047;
const MBUF_POOL_SIZE: usize = 8191;
const ELT_SIZE: usize = 2048;
const CACHE_SIZE: usize = 256;

/// Hugepage memory if it can be had, else ordinary pages (said once on stderr).
fn memory() -> Memory {
    let huge = MemoryConfig {
        in_memory: true,
        page_size: Some(PageSize::Size2M),
        ..MemoryConfig::default()
    };
    Memory::new(huge).unwrap_or_else(|err| {
        eprintln!("mempool bench: no hugepages ({err}); using --no-huge memory");
        Memory::new(MemoryConfig::no_huge()).expect("--no-huge memory")
    })
}

/// The CPUs the process may use, as found before any thread was pinned (a pinned
/// thread's affinity is one CPU).
fn cpus() -> &'static [CoreId] {
    static CPUS: OnceLock<Vec<CoreId>> = OnceLock::new();
    CPUS.get_or_init(|| core_affinity::get_core_ids().unwrap_or_default())
}

/// Pins the calling thread to the `i`th CPU the process may use, if there is one.
fn pin(i: usize) {
    if let Some(&core) = cpus().get(i) {
        core_affinity::set_for_current(core);
    }
}

/// One iteration through a cache.
#[inline(always)]
fn cached<const N: usize>(cache: &mut Cache, objs: &mut Vec<Object>) {
    cache
        .get_bulk(objs, N)
        .expect("the pool has objects to spare");
    cache.put_bulk(objs);
}

/// One iteration straight on the ring.
#[inline(always)]
fn uncached<const N: usize>(pool: &Mempool, objs: &mut Vec<Object>) {
    pool.get_bulk(objs, N)
        .expect("the pool has objects to spare");
    pool.put_bulk(objs);
}

/// `iters` iterations on this thread once `start` opens, timed; a cache of its own
/// (warmed first) unless `cache_size` is 0.
fn timed_loop<const N: usize>(
    pool: &Mempool,
    cache_size: usize,
    iters: u64,
    start: &Barrier,
) -> Duration {
    let mut objs = Vec::with_capacity(N);
    if cache_size == 0 {
        start.wait();
        let t = Instant::now();
        for _ in 0..iters {
            uncached::<N>(black_box(pool), black_box(&mut objs));
        }
        t.elapsed()
    } else {
        let mut cache = pool.cache(cache_size).expect("cache size");
        cached::<N>(&mut cache, &mut objs);
        start.wait();
        let t = Instant::now();
        for _ in 0..iters {
            cached::<N>(black_box(&mut cache), black_box(&mut objs));
        }
        t.elapsed()
    }
}

/// Registers `cache{cache_size}_bulk{N}_{cores}core`.
fn case<const N: usize>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    pool: &Mempool,
    cache_size: usize,
    cores: usize,
) {
    g.throughput(Throughput::Elements(N as u64));
    let id = format!("cache{cache_size}_bulk{N}_{cores}core");
    if cores == 1 {
        let mut objs = Vec::with_capacity(N);
        if cache_size == 0 {
            g.bench_function(id, |b| {
                b.iter(|| uncached::<N>(black_box(pool), black_box(&mut objs)))
            });
        } else {
            let mut cache = pool.cache(cache_size).expect("cache size");
            g.bench_function(id, |b| {
                b.iter(|| cached::<N>(black_box(&mut cache), black_box(&mut objs)))
            });
        }
        return;
    }
    g.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let start = Barrier::new(2);
            thread::scope(|s| {
                let other = s.spawn(|| {
                    pin(1);
                    timed_loop::<N>(pool, cache_size, iters, &start)
                });
                pin(0);
                let mine = timed_loop::<N>(pool, cache_size, iters, &start);
                (mine + other.join().expect("bench thread")) / 2
            })
        })
    });
}

fn mempool(c: &mut Criterion) {
    pin(0);
    let pool = Mempool::new(&memory(), "bench", POOL_SIZE, ELT_SIZE).expect("pool");
    let two = cpus().len() >= 2;
    if !two {
        eprintln!("skipped mempool/*_2core: fewer than two usable CPUs");
    }
    let mut g = c.benchmark_group("mempool");
    for cores in [1, 2] {
        if cores == 2 && !two {
            continue;
        }
        for cache_size in [0, CACHE_SIZE] {
            case::<1>(&mut g, &pool, cache_size, cores);
            case::<32>(&mut g, &pool, cache_size, cores);
        }
    }
    g.finish();
    assert!(pool.is_full(), "the benchmark leaks: {pool:?}");
}

fn mbuf(c: &mut Criterion) {
    pin(0);
    let pool =
        PktPool::new(&memory(), "bench", MBUF_POOL_SIZE, MbufConfig::default()).expect("pool");
    let mut cache = pool.cache(CACHE_SIZE).expect("cache size");
    let mut mbufs = Vec::with_capacity(32);
    let mut g = c.benchmark_group("mbuf");
    g.throughput(Throughput::Elements(32));
    g.bench_function("alloc_free_bulk32", |b| {
        b.iter(|| {
            let cache = black_box(&mut cache);
            cache
                .alloc_bulk(black_box(&mut mbufs), 32)
                .expect("the pool has mbufs to spare");
            cache.free_bulk(black_box(&mut mbufs));
        })
    });
    g.finish();
    drop(cache);
    assert!(pool.is_full(), "the benchmark leaks: {pool:?}");
}

criterion_group!(benches, mempool, mbuf);
criterion_main!(benches);
