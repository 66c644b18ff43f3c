//! Model checks of the head/tail protocol under every interleaving loom explores:
//! `RUSTFLAGS="--cfg loom" cargo test -p burst-ring --release --test loom`.
//!
//! Each thread makes a fixed number of attempts (no retry loops, so the state space
//! stays finite); afterwards everything that went in must have come out exactly once,
//! either to a consumer or in the final drain, with each producer's order kept.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;

use burst_ring::{Apart, LineLayout, Multi, Ring, Single, SyncMode, Together, channel};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

/// Checks conservation and per-producer order: `sent[p]` is what producer p got in,
/// `received` each consumer's batches in order, `rest` the final drain.
fn check(sent: &[Vec<u32>], received: &[Vec<u32>], rest: &[u32]) {
    let mut all: Vec<u32> = received.iter().flatten().chain(rest).copied().collect();
    all.sort();
    let mut want: Vec<u32> = sent.iter().flatten().copied().collect();
    want.sort();
    assert_eq!(all, want, "lost or duplicated elements");
    for seq in received.iter().chain(std::iter::once(&rest.to_vec())) {
        for p in sent {
            let order: Vec<u32> = seq.iter().copied().filter(|e| p.contains(e)).collect();
            assert!(
                order.windows(2).all(|w| w[0] < w[1]),
                "order broken: {seq:?}"
            );
        }
    }
}

/// Two producers each try once to put two elements in, two consumers each try once
/// to take up to two, on a ring holding two with layout `L`.
fn two_by_two<L: LineLayout + Default>(bulk: bool) {
    model(move || {
        let ring = Arc::new(Ring::exact_with_layout(2, L::default()).unwrap());
        let producers: Vec<_> = [[10, 11], [20, 21]]
            .into_iter()
            .map(|items| {
                let ring = Arc::clone(&ring);
                thread::spawn(move || {
                    let mut v = items.to_vec();
                    let r = if bulk {
                        ring.enqueue_bulk(&mut v)
                    } else {
                        ring.enqueue_burst(&mut v)
                    };
                    assert_eq!(v.len(), 2 - r.count, "unsent elements stay with the caller");
                    items[..r.count].to_vec()
                })
            })
            .collect();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let ring = Arc::clone(&ring);
                thread::spawn(move || {
                    let mut out = Vec::new();
                    let _ = if bulk {
                        ring.dequeue_bulk(&mut out, 1)
                    } else {
                        ring.dequeue_burst(&mut out, 2)
                    };
                    out
                })
            })
            .collect();
        let sent: Vec<_> = producers.into_iter().map(|t| t.join().unwrap()).collect();
        let received: Vec<_> = consumers.into_iter().map(|t| t.join().unwrap()).collect();
        let mut rest = Vec::new();
        let _ = ring.dequeue_burst(&mut rest, 4);
        check(&sent, &received, &rest);
        assert!(ring.is_empty());
    });
}

#[test]
fn mpmc_bulk() {
    two_by_two::<Apart>(true);
}

#[test]
fn mpmc_burst() {
    two_by_two::<Apart>(false);
}

/// The protocol is the same with the tails beside the heads; this checks that every
/// access finds the tail where the layout put it.
#[test]
fn mpmc_bulk_tails_beside_heads() {
    two_by_two::<Together>(true);
}

/// One producer sends 0, 1, 2 one at a time (three attempts, by bulk and by the
/// one-element call) while one consumer makes two attempts (one element, then a
/// burst), through split handles in the given modes.
fn pair<P: SyncMode, C: SyncMode>() {
    model(|| {
        let (mut tx, mut rx) = channel::<u32, P, C>(2).unwrap(); // holds 1
        let t = thread::spawn(move || {
            let mut sent = Vec::new();
            for i in 0..3 {
                let ok = if i % 2 == 0 {
                    tx.enqueue_bulk(&mut vec![i]).count == 1
                } else {
                    tx.enqueue(i).is_ok()
                };
                if ok {
                    sent.push(i);
                }
            }
            sent
        });
        let mut got = Vec::new();
        got.extend(rx.dequeue());
        let _ = rx.dequeue_burst(&mut got, 2);
        let sent = t.join().unwrap();
        let mut rest = Vec::new();
        let _ = rx.dequeue_burst(&mut rest, 2);
        check(&[sent], &[got], &rest);
    });
}

#[test]
fn spsc() {
    pair::<Single, Single>();
}

#[test]
fn mpsc_and_spmc() {
    pair::<Multi, Single>();
    pair::<Single, Multi>();
}
