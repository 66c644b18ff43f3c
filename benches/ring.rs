//! The cases of DPDK's `ring_perf_autotest` (app/test/test_ring_perf.c), pointer-sized
//! elements: one core enqueues then dequeues 1 (the one-element calls), 8 or 32 at a
//! time; two cores, one enqueuing and one dequeuing, in bulks of 8 and 32 (from and to
//! arrays, with the slice calls). Compare with `scripts/compare-dpdk.sh ring`; the
//! figure is time per element.

use std::hint::black_box;
use std::mem::MaybeUninit;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use burst_ring::{Ring, spsc};
use core_affinity::CoreId;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// DPDK's `RING_SIZE`.
const RING_SIZE: usize = 4096;

fn one_core(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring_1core");
    // One element: DPDK's rte_ring_{sp,mp}_enqueue + rte_ring_{sc,mc}_dequeue.
    g.throughput(Throughput::Elements(1));
    let (mut tx, mut rx) = spsc::<usize>(RING_SIZE).unwrap();
    g.bench_function("spsc_single", |b| {
        b.iter(|| {
            let _ = tx.enqueue(black_box(1));
            // The element, not the Option: black-boxing a 16-byte Option costs a
            // store-forwarding stall that is the harness's, not the ring's.
            if let Some(v) = rx.dequeue() {
                black_box(v);
            }
        })
    });
    let ring = Ring::<usize>::new(RING_SIZE).unwrap();
    g.bench_function("mpmc_single", |b| {
        b.iter(|| {
            let _ = ring.enqueue(black_box(1));
            if let Some(v) = ring.dequeue() {
                black_box(v);
            }
        })
    });
    for (name, n, bulk) in [
        ("burst_8", 8, false),
        ("burst_32", 32, false),
        ("bulk_8", 8, true),
        ("bulk_32", 32, true),
    ] {
        g.throughput(Throughput::Elements(n as u64));
        let mut objs: Vec<usize> = (0..n).collect();

        let (mut tx, mut rx) = spsc::<usize>(RING_SIZE).unwrap();
        g.bench_function(format!("spsc_{name}"), |b| {
            b.iter(|| {
                if bulk {
                    let _ = tx.enqueue_bulk(black_box(&mut objs));
                    let _ = rx.dequeue_bulk(black_box(&mut objs), n);
                } else {
                    let _ = tx.enqueue_burst(black_box(&mut objs));
                    let _ = rx.dequeue_burst(black_box(&mut objs), n);
                }
            })
        });
        assert_eq!(objs.len(), n);

        let ring = Ring::<usize>::new(RING_SIZE).unwrap();
        g.bench_function(format!("mpmc_{name}"), |b| {
            b.iter(|| {
                if bulk {
                    let _ = ring.enqueue_bulk(black_box(&mut objs));
                    let _ = ring.dequeue_bulk(black_box(&mut objs), n);
                } else {
                    let _ = ring.enqueue_burst(black_box(&mut objs));
                    let _ = ring.dequeue_burst(black_box(&mut objs), n);
                }
            })
        });
        assert_eq!(objs.len(), n);
    }
    g.finish();
}

/// Runs `enq` on this thread (pinned to `cpus[0]`) and `deq` on another (`cpus[1]`),
/// each `iters` times, and returns the sum of both threads' elapsed time, as DPDK adds
/// the two cores' cycles per element. Both clocks start once both threads are pinned
/// and waiting, so neither side's time includes the other's start-up. A side that finds
/// the ring full (empty) pauses once and retries, as DPDK's test does
/// (`enqueue_dequeue_bulk_helper`: `if (ret == 0) rte_pause();`).
fn two_cores(
    cpus: [CoreId; 2],
    iters: u64,
    mut enq: impl FnMut() -> bool,
    deq: impl FnMut() -> bool + Send,
) -> Duration {
    let start = Barrier::new(2);
    thread::scope(|s| {
        let consumer = s.spawn(|| {
            let mut deq = deq;
            core_affinity::set_for_current(cpus[1]);
            start.wait();
            let t = Instant::now();
            for _ in 0..iters {
                while !deq() {
                    std::hint::spin_loop();
                }
            }
            t.elapsed()
        });
        core_affinity::set_for_current(cpus[0]);
        start.wait();
        let t = Instant::now();
        for _ in 0..iters {
            while !enq() {
                std::hint::spin_loop();
            }
        }
        let producer = t.elapsed();
        producer + consumer.join().unwrap()
    })
}

fn two_core(c: &mut Criterion) {
    // Read before anything is pinned: a pinned thread sees only its own CPU.
    let cpus = match core_affinity::get_core_ids().as_deref() {
        Some([a, b, ..]) => [*a, *b],
        _ => {
            eprintln!("skipped ring_2core: fewer than two usable CPUs");
            return;
        }
    };
    let mut g = c.benchmark_group("ring_2core");
    for n in [8usize, 32] {
        g.throughput(Throughput::Elements(n as u64));
        // Pointer-sized objects from and to arrays, as DPDK's obj_table: the slice
        // calls, which copy the elements (no Vec to take them from or append them to).
        // The count is opaque to the compiler, as the autotest's, and nothing else goes
        // through memory per call (a black_box per call costs a store and a reload on
        // each side, ~10% of a bulk of 8 here).
        let src: Vec<usize> = (0..black_box(n)).collect();
        g.bench_function(format!("spsc_bulk_{n}"), |b| {
            b.iter_custom(|iters| {
                let (mut tx, mut rx) = spsc::<usize>(RING_SIZE).unwrap();
                let mut dst = vec![MaybeUninit::<usize>::uninit(); src.len()];
                let t = two_cores(
                    cpus,
                    iters,
                    || tx.enqueue_bulk_copy(&src).count > 0,
                    || rx.dequeue_bulk_uninit(&mut dst).count > 0,
                );
                black_box(&dst);
                t
            })
        });
        g.bench_function(format!("mpmc_bulk_{n}"), |b| {
            b.iter_custom(|iters| {
                let ring = Ring::<usize>::new(RING_SIZE).unwrap();
                let mut dst = vec![MaybeUninit::<usize>::uninit(); src.len()];
                let t = two_cores(
                    cpus,
                    iters,
                    || ring.enqueue_bulk_copy(&src).count > 0,
                    || ring.dequeue_bulk_uninit(&mut dst).count > 0,
                );
                black_box(&dst);
                t
            })
        });
    }
    g.finish();
}

criterion_group!(benches, one_core, two_core);
criterion_main!(benches);
