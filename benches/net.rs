//! burst-net's lookup tables against DPDK's perf autotests (app/test/test_lpm_perf.c,
//! test_lpm6_perf.c) and l3fwd's exact-match table:
//!
//! - `lpm`: the ~1.07M-route IPv4 table `lpm_perf_autotest` generates (its per-class,
//!   per-depth route counts from a real router; `max_rules` 2M, 2048 tbl8 groups, so some
//!   routes longer than /24 do not fit, as in DPDK), looked up with uniformly random
//!   addresses. `lookup_single` is `rte_lpm_lookup`, `lookup_x4` `rte_lpm_lookupx4`,
//!   `lookup_x8` and `lookup_bulk32` `rte_lpm_lookup_bulk` of 8 and 32.
//! - `lpm6`: 1000 random routes of depths spread evenly over 1-128 and 100 000 addresses,
//!   100 under each route in route order (random bits after the prefix), as
//!   `lpm6_perf_autotest`'s tables: every lookup matches and walks down to its route's
//!   depth, mostly in cache. `lookup_single` is `rte_lpm6_lookup`, `lookup_bulk32`
//!   `rte_lpm6_lookup_bulk_func` (DPDK's call covers all 100 000 at once; it is a plain
//!   loop, so 32 at a time does the same work).
//! - `em`: l3fwd's exact-match table (capacity 4Mi) holding 1Mi random IPv4 5-tuples,
//!   looked up in random order, one by one and in bursts of 32 (DPDK's nearest figure:
//!   `hash_perf_autotest`, 13-byte keys, lookup and lookup_bulk).
//!
//! Each iteration looks up a batch of 4096 addresses (keys): for `lpm`, fresh random
//! ones written just before (untimed), as `lpm_perf_autotest` does; for `lpm6`, the next
//! 4096 of its fixed 100 000; for `em`, taken in turn from a pool larger than the caches.
//! The figure is time per lookup. Compare with
//! `echo lpm_perf_autotest | dpdk-test -l 0 --no-pci` (cycles per lookup at the TSC rate).

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use burst_net::em::{ExactMatch, Ipv4FiveTuple};
use burst_net::ip::IpProto;
use burst_net::lpm::Lpm;
use burst_net::lpm6::Lpm6;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

/// Lookups per iteration (DPDK's `BATCH_SIZE` in `lpm_perf_autotest`).
const BATCH: usize = 4096;
/// Routes in `lpm6_perf_autotest`'s table (`large_route_table` of test_lpm6_data.h).
const LPM6_ROUTES: usize = 1000;
/// Addresses it looks up per route (`NUM_IPS_ENTRIES` is 100 per route).
const LPM6_IPS_PER_ROUTE: usize = 100;

/// A 64-bit xorshift: fast, reproducible.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Routes per depth 1..=32 for addresses starting 0, 10 and 110 (classes A, B, C), as
/// `lpm_perf_autotest`'s `rule_count`.
const CLASS_RULES: [(u32, u32, [u32; 32]); 3] = [
    (
        1,
        0x0000_0000,
        [
            0, 0, 1, 0, 2, 1, 3, 185, 26, 16, 39, 144, 233, 528, 866, 3856, 3268, 5662, 17301,
            22226, 11147, 16746, 17120, 77578, 401, 656, 1107, 1121, 2316, 717, 10, 66,
        ],
    ),
    (
        2,
        0x8000_0000,
        [
            0, 0, 0, 0, 1, 1, 1, 3, 3, 30, 25, 168, 305, 569, 1129, 50800, 1645, 1820, 3506, 3258,
            3424, 4971, 6885, 39771, 424, 170, 433, 92, 366, 377, 2, 200,
        ],
    ),
    (
        3,
        0xc000_0000,
        [
            0, 0, 0, 0, 0, 0, 0, 12, 8, 9, 33, 69, 237, 1007, 1717, 14663, 8070, 16185, 48261,
            36870, 33960, 50638, 61422, 466549, 1829, 4824, 4927, 5914, 10254, 4905, 1, 716,
        ],
    ),
];

/// The route table of `generate_large_route_rule_table`: for each class and depth, its
/// count of prefixes spread evenly from a random start, plus the five fixed routes.
fn dpdk_route_table(rng: &mut XorShift) -> Vec<(u32, u8)> {
    let mut routes = Vec::with_capacity(1_100_000);
    for (fixed_bits, head, counts) in CLASS_RULES {
        for depth in 1..=32u8 {
            let n = counts[usize::from(depth) - 1];
            if n == 0 {
                continue;
            }
            let range = 1u64 << (u32::from(depth) - fixed_bits);
            let mask = range - 1;
            let step = if range <= u64::from(n) {
                1
            } else {
                (range as f64 / f64::from(n)).round() as u64
            };
            let mut start = rng.next() & mask;
            for _ in 0..n {
                routes.push(((start << (32 - depth)) as u32 | head, depth));
                start = (start + step) & mask;
            }
        }
    }
    for (ip, depth) in [
        ([0, 0, 0, 0], 8),
        ([10, 2, 23, 147], 32),
        ([192, 168, 100, 10], 24),
        ([192, 168, 25, 100], 24),
        ([192, 168, 129, 124], 32),
    ] {
        routes.push((u32::from(Ipv4Addr::from(ip)), depth));
    }
    routes
}

fn lpm(c: &mut Criterion) {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let routes = dpdk_route_table(&mut rng);
    let mut lpm = Lpm::new(2_000_000, 2048).unwrap();
    let added = routes
        .iter()
        .filter(|&&(ip, depth)| lpm.add(ip, depth, 0xaa).is_ok())
        .count();
    eprintln!(
        "lpm: {} routes, {added} added (2048 tbl8 groups, as DPDK)",
        routes.len()
    );
    let sample = 1 << 20;
    let fails = (0..sample)
        .filter(|_| lpm.lookup(rng.next() as u32).is_none())
        .count();
    eprintln!(
        "lpm: {:.1} % of lookups fail",
        fails as f64 * 100.0 / f64::from(sample)
    );

    // As `lpm_perf_autotest`: each batch is fresh random addresses, written (untimed) just
    // before its lookups, so the addresses are in L1 and only the table misses the cache.
    let mut g = c.benchmark_group("lpm");
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut batch = move || -> [u32; BATCH] { std::array::from_fn(|_| rng.next() as u32) };
    g.bench_function("lookup_single", |b| {
        b.iter_batched_ref(
            &mut batch,
            |batch| {
                let mut misses = 0u32;
                for &ip in batch.iter() {
                    misses += u32::from(lpm.lookup(ip).is_none());
                }
                black_box(misses)
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("lookup_x4", |b| {
        b.iter_batched_ref(
            &mut batch,
            |batch| {
                let mut misses = 0u32;
                for ips in batch.chunks_exact(4) {
                    let hops = lpm.lookupx4(ips.try_into().unwrap(), u32::MAX);
                    misses += hops.iter().map(|&h| u32::from(h == u32::MAX)).sum::<u32>();
                }
                black_box(misses)
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("lookup_x8", |b| {
        b.iter_batched_ref(
            &mut batch,
            |batch| {
                let mut misses = 0u32;
                for ips in batch.chunks_exact(8) {
                    let hops = lpm.lookup_bulk::<8>(ips.try_into().unwrap());
                    misses += hops.iter().map(|h| u32::from(h.is_none())).sum::<u32>();
                }
                black_box(misses)
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("lookup_bulk32", |b| {
        b.iter_batched_ref(
            &mut batch,
            |batch| {
                let mut misses = 0u32;
                for ips in batch.chunks_exact(32) {
                    let hops = lpm.lookup_bulk::<32>(ips.try_into().unwrap());
                    misses += hops.iter().map(|h| u32::from(h.is_none())).sum::<u32>();
                }
                black_box(misses)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn lpm6(c: &mut Criterion) {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut lpm = Lpm6::new(1_000_000, 1 << 16).unwrap();
    let mut routes = Vec::with_capacity(LPM6_ROUTES);
    while routes.len() < LPM6_ROUTES {
        let addr = u128::from(rng.next()) << 64 | u128::from(rng.next());
        let depth = 1 + (rng.next() % 128) as u8;
        if lpm.rule(Ipv6Addr::from(addr), depth).is_none() {
            lpm.add(Ipv6Addr::from(addr), depth, 0xaa).unwrap();
            routes.push((addr, depth));
        }
    }
    // `generate_large_ips_table`: 100 addresses per route, in route order, each the
    // route's prefix with random bits after it, so every lookup descends as deep as its
    // route (a /100 walks tbl24 and 10 tbl8 levels) and consecutive ones share a path.
    let pool: Vec<Ipv6Addr> = routes
        .iter()
        .flat_map(|&(prefix, depth)| std::iter::repeat_n((prefix, depth), LPM6_IPS_PER_ROUTE))
        .map(|(prefix, depth)| {
            let host = u128::from(rng.next()) << 64 | u128::from(rng.next());
            let mask = u128::MAX.checked_shl(128 - u32::from(depth)).unwrap_or(0);
            Ipv6Addr::from(prefix & mask | host & !mask)
        })
        .collect();
    let fails = pool.iter().filter(|&&a| lpm.lookup(a).is_none()).count();
    eprintln!(
        "lpm6: {LPM6_ROUTES} routes, {} addresses, {:.1} % of lookups fail",
        pool.len(),
        fails as f64 * 100.0 / pool.len() as f64
    );

    let mut g = c.benchmark_group("lpm6");
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut batches = pool.chunks_exact(BATCH).cycle();
    g.bench_function("lookup_single", |b| {
        b.iter(|| {
            let batch = batches.next().unwrap();
            let mut misses = 0u32;
            for &a in batch {
                misses += u32::from(lpm.lookup(a).is_none());
            }
            black_box(misses)
        })
    });
    g.bench_function("lookup_bulk32", |b| {
        b.iter(|| {
            let batch = batches.next().unwrap();
            let mut misses = 0u32;
            for addrs in batch.chunks_exact(32) {
                let hops = lpm.lookup_bulk::<32>(addrs.try_into().unwrap());
                misses += hops.iter().map(|h| u32::from(h.is_none())).sum::<u32>();
            }
            black_box(misses)
        })
    });
    g.finish();
}

fn em(c: &mut Criterion) {
    let mut rng = XorShift(0x1234_5678_9abc_def1);
    let mut em: ExactMatch<Ipv4FiveTuple, u32> = ExactMatch::new(4 << 20).unwrap();
    let mut keys = Vec::with_capacity(1 << 20);
    while keys.len() < 1 << 20 {
        let (a, b) = (rng.next(), rng.next());
        let key = Ipv4FiveTuple {
            src_addr: Ipv4Addr::from(a as u32),
            dst_addr: Ipv4Addr::from((a >> 32) as u32),
            src_port: b as u16,
            dst_port: (b >> 16) as u16,
            proto: if b >> 63 == 0 {
                IpProto::TCP
            } else {
                IpProto::UDP
            },
        };
        if em.insert(key, keys.len() as u32).unwrap().is_none() {
            keys.push(key);
        }
    }
    // Look the keys up in a random order.
    for i in (1..keys.len()).rev() {
        keys.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    eprintln!("em: {em:?}, hardware CRC32C: {}", em.uses_hardware_crc());

    let mut g = c.benchmark_group("em");
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut batches = keys.chunks_exact(BATCH).cycle();
    g.bench_function("lookup_single", |b| {
        b.iter(|| {
            let batch = batches.next().unwrap();
            let mut sum = 0u32;
            for key in batch {
                sum = sum.wrapping_add(em.lookup(key).unwrap_or(0));
            }
            black_box(sum)
        })
    });
    g.bench_function("lookup_bulk32", |b| {
        let mut values = [None; 32];
        b.iter(|| {
            let batch = batches.next().unwrap();
            let mut found = 0;
            for keys in batch.chunks_exact(32) {
                found += em.lookup_bulk(keys, &mut values);
            }
            black_box(found)
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3));
    targets = lpm, lpm6, em
}
criterion_main!(benches);
