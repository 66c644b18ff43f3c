//! Model checks of the head/tail protocol under every interleaving loom explores:
//! `RUSTFLAGS="--cfg loom" cargo test -p burst-ring --release --test loom`.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;

use burst_ring::{Ring, Single, channel};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(2);
    b.max_branches = 100_000;
    b.check(f);
}

/// Enqueues `items` by `bulk` or burst, yielding while the ring is full.
fn send_all(ring: &Ring<u32>, mut items: Vec<u32>, bulk: bool) {
    while !items.is_empty() {
        let sent = if bulk {
            ring.enqueue_bulk(&mut items)
        } else {
            ring.enqueue_burst(&mut items)
        };
        if sent.count == 0 {
            thread::yield_now();
        }
    }
}

/// Dequeues `n` elements by `bulk` (one at a time) or burst, yielding while empty.
fn recv_n(ring: &Ring<u32>, n: usize, bulk: bool) -> Vec<u32> {
    let mut out = Vec::new();
    while out.len() < n {
        let got = if bulk {
            ring.dequeue_bulk(&mut out, 1)
        } else {
            {
                let want = n - out.len();
                ring.dequeue_burst(&mut out, want)
            }
        };
        if got.count == 0 {
            thread::yield_now();
        }
    }
    out
}

/// Two producers and two consumers on a ring holding two elements.
fn mpmc(bulk: bool) {
    model(move || {
        let ring = Arc::new(Ring::new_exact(2).unwrap());
        let producers: Vec<_> = [[1, 2], [3, 4]]
            .into_iter()
            .map(|items| {
                let ring = Arc::clone(&ring);
                thread::spawn(move || send_all(&ring, items.to_vec(), bulk))
            })
            .collect();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let ring = Arc::clone(&ring);
                thread::spawn(move || recv_n(&ring, 2, bulk))
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        let mut all: Vec<u32> = consumers
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        all.sort();
        assert_eq!(all, [1, 2, 3, 4]);
        assert!(ring.is_empty());
    });
}

#[test]
fn mpmc_bulk() {
    mpmc(true);
}

#[test]
fn mpmc_burst() {
    mpmc(false);
}

#[test]
fn spsc_keeps_order() {
    model(|| {
        let (mut tx, mut rx) = channel::<u32, Single, Single>(2).unwrap(); // holds 1
        let t = thread::spawn(move || {
            for i in 0..3 {
                let mut v = vec![i];
                while tx.enqueue_bulk(&mut v).count == 0 {
                    thread::yield_now();
                }
            }
        });
        let mut out = Vec::new();
        while out.len() < 3 {
            if rx.dequeue_burst(&mut out, 2).count == 0 {
                thread::yield_now();
            }
        }
        t.join().unwrap();
        assert_eq!(out, [0, 1, 2]);
    });
}
