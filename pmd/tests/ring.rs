//! `net_ring` end to end: paired ports across threads, and no mbuf lost when ports are
//! dropped with packets still in their rings.

use std::sync::Arc;

use burst_eal::Devargs;
use burst_eal::memory::{Memory, MemoryConfig};
use burst_mempool::{Mbuf, MbufConfig, PktPool};
use burst_pmd::drivers::ring;
use burst_pmd::{EthConf, Port, RxQueue, TxQueue, vdev};
use burst_ring::Ring;

fn pool(name: &str, n: usize) -> PktPool {
    let mem = Memory::new(MemoryConfig::no_huge()).unwrap();
    PktPool::new(&mem, name, n, MbufConfig::default()).unwrap()
}

fn start(port: &mut Port, queues: u16, pool: &PktPool) -> (Vec<RxQueue>, Vec<TxQueue>) {
    port.configure(&EthConf {
        nb_rx_queues: queues,
        nb_tx_queues: queues,
        ..EthConf::default()
    })
    .unwrap();
    let rx = (0..queues)
        .map(|q| port.rx_queue_setup(q, 512, pool).unwrap())
        .collect();
    let tx = (0..queues)
        .map(|q| port.tx_queue_setup(q, 512).unwrap())
        .collect();
    port.start().unwrap();
    (rx, tx)
}

/// A packet carrying `seq` in its first 8 bytes.
fn packet(pool: &PktPool, seq: u64) -> Mbuf {
    let mut m = pool.alloc().unwrap();
    m.append(64).unwrap()[..8].copy_from_slice(&seq.to_le_bytes());
    m
}

fn seq(m: &Mbuf) -> u64 {
    u64::from_le_bytes(m.data()[..8].try_into().unwrap())
}

#[test]
fn paired_ports_cross_their_rings() {
    let pool = pool("ring-pair", 1024);
    let [mut a, mut b] = ring::pair([0, 1], "link", 2).unwrap();
    assert_eq!((a.name(), b.name()), ("net_ring_link0", "net_ring_link1"));
    let (mut arx, mut atx) = start(&mut a, 2, &pool);
    let (mut brx, mut btx) = start(&mut b, 2, &pool);
    let mut burst = Vec::with_capacity(32);

    burst.push(packet(&pool, 1));
    assert_eq!(atx[1].tx_burst(&mut burst), 1);
    assert_eq!(arx[1].rx_burst(&mut burst, 32), 0, "A's TX is not A's RX");
    assert_eq!(
        brx[0].rx_burst(&mut burst, 32),
        0,
        "queue 1 goes to queue 1"
    );
    assert_eq!(brx[1].rx_burst(&mut burst, 32), 1);
    assert_eq!((seq(&burst[0]), burst[0].port()), (1, 1));

    assert_eq!(btx[0].tx_burst(&mut burst), 1, "and back");
    assert_eq!(arx[0].rx_burst(&mut burst, 32), 1);
    assert_eq!((seq(&burst[0]), burst[0].port()), (1, 0));
    assert_eq!((a.stats().opackets, a.stats().ipackets), (1, 1));
    assert_eq!((b.stats().opackets, b.stats().ipackets), (1, 1));
    drop(burst);
    drop((arx, atx, brx, btx));
    assert!(pool.is_full());
}

#[test]
fn order_is_kept_across_threads() {
    const N: u64 = 100_000;
    let pool = pool("ring-threads", 2048);
    let [mut a, mut b] = ring::pair([0, 1], "t", 1).unwrap();
    let (_arx, mut atx) = start(&mut a, 1, &pool);
    let (mut brx, _btx) = start(&mut b, 1, &pool);
    let mut tx = atx.pop().unwrap();
    let sender = {
        let pool = pool.clone();
        std::thread::spawn(move || {
            let mut burst = Vec::with_capacity(32);
            let mut next = 0;
            while next < N {
                while burst.len() < 32 && next < N {
                    match pool.alloc() {
                        Some(mut m) => {
                            m.append(64).unwrap()[..8].copy_from_slice(&next.to_le_bytes());
                            burst.push(m);
                            next += 1;
                        }
                        None => break,
                    }
                }
                tx.tx_burst(&mut burst); // what does not fit is retried
            }
            while !burst.is_empty() {
                tx.tx_burst(&mut burst);
            }
        })
    };
    let mut got = Vec::with_capacity(32);
    let mut expect = 0;
    while expect < N {
        brx[0].rx_burst(&mut got, 32);
        for m in got.drain(..) {
            assert_eq!(seq(&m), expect);
            expect += 1;
        }
    }
    sender.join().unwrap();
    let s = b.stats();
    assert_eq!((s.ipackets, s.ibytes), (N, N * 64));
    assert_eq!(a.stats().opackets, N);
    drop((brx, _arx));
    assert!(pool.is_full());
}

#[test]
fn mbufs_left_in_rings_go_back_to_the_pool() {
    let pool = pool("ring-leak", 1024);
    // A loopback vdev with packets in two of its rings.
    let mut lo = vdev::probe(&Devargs::parse("net_ring0").unwrap(), 0).unwrap();
    let (rx, mut tx) = start(&mut lo, 2, &pool);
    for (q, txq) in tx.iter_mut().enumerate() {
        let mut burst: Vec<Mbuf> = (0..10).map(|i| packet(&pool, i)).collect();
        assert_eq!(txq.tx_burst(&mut burst), 10, "queue {q}");
    }
    // A pair and a port over the caller's rings, with packets in flight both ways.
    let [mut a, mut b] = ring::pair([1, 2], "leak", 1).unwrap();
    let (arx, mut atx) = start(&mut a, 1, &pool);
    let (brx, mut btx) = start(&mut b, 1, &pool);
    let mut burst: Vec<Mbuf> = (0..5).map(|i| packet(&pool, i)).collect();
    assert_eq!(atx[0].tx_burst(&mut burst), 5);
    let mut burst: Vec<Mbuf> = (0..7).map(|i| packet(&pool, i)).collect();
    assert_eq!(btx[0].tx_burst(&mut burst), 7);
    let own: Arc<Ring<Mbuf>> = Arc::new(Ring::new(64).unwrap());
    let mut mine = ring::from_rings(3, "own", vec![], vec![Arc::clone(&own)]).unwrap();
    mine.configure(&EthConf {
        nb_rx_queues: 0,
        nb_tx_queues: 1,
        ..EthConf::default()
    })
    .unwrap();
    let mut otx = mine.tx_queue_setup(0, 64).unwrap();
    mine.start().unwrap();
    let mut burst: Vec<Mbuf> = (0..3).map(|i| packet(&pool, i)).collect();
    assert_eq!(otx.tx_burst(&mut burst), 3);
    assert_eq!(own.count(), 3);
    assert_eq!(pool.in_use(), 20 + 5 + 7 + 3);

    drop((lo, rx, tx, a, b, arx, atx, brx, btx));
    assert_eq!(
        pool.in_use(),
        3,
        "the caller's ring still holds its packets"
    );
    drop((mine, otx));
    drop(own);
    assert!(pool.is_full(), "{} mbufs leaked", pool.in_use());
}
