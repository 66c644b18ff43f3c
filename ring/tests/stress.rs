//! Many threads through one ring: nothing lost, nothing duplicated, and each
//! producer's elements reach each consumer in the order they were sent.
#![cfg(not(loom))]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;

use burst_ring::{LineLayout, Multi, Ring, Single, SyncMode, Together, channel};

const PRODUCERS: usize = 2;
const CONSUMERS: usize = 2;
const PER_PRODUCER: u64 = 5_000_000;
const BURST: usize = 32;

/// Each element is `producer << 32 | sequence`; `seen` has one bit per element.
struct Check {
    seen: Vec<AtomicU64>,
    received: AtomicUsize,
}

impl Check {
    fn new(producers: usize) -> Self {
        let words = producers * PER_PRODUCER.div_ceil(64) as usize;
        Self {
            seen: (0..words).map(|_| AtomicU64::new(0)).collect(),
            received: AtomicUsize::new(0),
        }
    }

    /// Marks a batch as received by one consumer, checking per-producer order.
    fn take(&self, last: &mut [Option<u64>], batch: &[u64]) {
        for &e in batch {
            let (p, seq) = ((e >> 32) as usize, e & 0xffff_ffff);
            if let Some(prev) = last[p] {
                assert!(seq > prev, "producer {p}: {seq} after {prev}: order broken");
            }
            last[p] = Some(seq);
            let bit = p as u64 * PER_PRODUCER.div_ceil(64) * 64 + seq;
            let old = self.seen[(bit / 64) as usize].fetch_or(1 << (bit % 64), Ordering::Relaxed);
            assert_eq!(old & (1 << (bit % 64)), 0, "element {e:#x} received twice");
        }
        self.received.fetch_add(batch.len(), Ordering::Relaxed);
    }

    fn assert_complete(&self, producers: usize) {
        assert_eq!(
            self.received.load(Ordering::Relaxed),
            producers * PER_PRODUCER as usize
        );
        for p in 0..producers {
            for seq in 0..PER_PRODUCER {
                let bit = p as u64 * PER_PRODUCER.div_ceil(64) * 64 + seq;
                let word = self.seen[(bit / 64) as usize].load(Ordering::Relaxed);
                assert!(word & (1 << (bit % 64)) != 0, "element {p}:{seq} lost");
            }
        }
    }
}

fn produce(p: usize, mut send: impl FnMut(&mut Vec<u64>) -> usize) {
    let mut batch = Vec::with_capacity(BURST);
    let mut seq = 0;
    while seq < PER_PRODUCER || !batch.is_empty() {
        while batch.len() < BURST && seq < PER_PRODUCER {
            batch.push((p as u64) << 32 | seq);
            seq += 1;
        }
        if send(&mut batch) == 0 {
            thread::yield_now();
        }
    }
}

fn consume(check: &Check, total: usize, mut recv: impl FnMut(&mut Vec<u64>) -> usize) {
    let mut last = vec![None; PRODUCERS];
    let mut out = Vec::with_capacity(BURST);
    while check.received.load(Ordering::Relaxed) < total {
        out.clear();
        if recv(&mut out) == 0 {
            thread::yield_now();
            continue;
        }
        check.take(&mut last, &out);
    }
}

#[test]
fn mpmc_four_threads_ten_million() {
    mpmc(Ring::new(1024).unwrap());
}

#[test]
fn mpmc_four_threads_ten_million_tails_beside_heads() {
    mpmc(Ring::with_layout(1024, Together).unwrap());
}

/// Two producers and two consumers through `ring`, 10^7 elements.
fn mpmc<L: LineLayout>(ring: Ring<u64, L>) {
    let ring = Arc::new(ring);
    let check = Arc::new(Check::new(PRODUCERS));
    let total = PRODUCERS * PER_PRODUCER as usize;
    let mut threads = Vec::new();
    for p in 0..PRODUCERS {
        let ring = Arc::clone(&ring);
        // Alternate bulk and burst enqueues.
        threads.push(thread::spawn(move || {
            produce(p, |b| {
                if p % 2 == 0 {
                    ring.enqueue_burst(b).count
                } else {
                    ring.enqueue_bulk(b).count
                }
            })
        }));
    }
    for c in 0..CONSUMERS {
        let (ring, check) = (Arc::clone(&ring), Arc::clone(&check));
        threads.push(thread::spawn(move || {
            consume(&check, total, |o| {
                if c % 2 == 0 {
                    ring.dequeue_burst(o, BURST).count
                } else {
                    ring.dequeue_bulk(o, 8).count
                }
            })
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    check.assert_complete(PRODUCERS);
    assert!(ring.is_empty());
}

/// One producer and one consumer through split handles of the given modes.
fn split_handles<P: SyncMode, C: SyncMode>() {
    let (mut tx, mut rx) = channel::<u64, P, C>(256).unwrap();
    let check = Check::new(1);
    thread::scope(|s| {
        s.spawn(|| produce(0, |b| tx.enqueue_burst(b).count));
        s.spawn(|| {
            consume(&check, PER_PRODUCER as usize, |o| {
                rx.dequeue_burst(o, BURST).count
            })
        });
    });
    check.assert_complete(1);
}

#[test]
fn spsc_handles() {
    split_handles::<Single, Single>();
}

#[test]
fn mpsc_and_spmc_handles() {
    split_handles::<Multi, Single>();
    split_handles::<Single, Multi>();
}
