//! The `Port` state machine and argument checks, on `net_null`: what every driver gets
//! from the ethdev layer.

use burst_eal::Devargs;
use burst_eal::memory::{Memory, MemoryConfig};
use burst_mempool::{MbufConfig, PktPool};
use burst_pmd::{EthConf, EthError, Port, PortState, rx_offload, vdev};

fn pool(name: &str, n: usize) -> PktPool {
    let mem = Memory::new(MemoryConfig::no_huge()).unwrap();
    PktPool::new(&mem, name, n, MbufConfig::default()).unwrap()
}

fn null(args: &str) -> Port {
    vdev::probe(&Devargs::parse(args).unwrap(), 0).unwrap()
}

fn conf(rx: u16, tx: u16) -> EthConf {
    EthConf {
        nb_rx_queues: rx,
        nb_tx_queues: tx,
        ..EthConf::default()
    }
}

#[test]
fn configure_checks_against_dev_info() {
    let mut port = null("net_null0");
    let info = port.info();
    let err = port.configure(&conf(0, 0)).unwrap_err().to_string();
    assert!(err.contains("at least one"), "{err}");
    let err = port
        .configure(&conf(info.max_rx_queues + 1, 1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("RX queues requested"), "{err}");
    let err = port
        .configure(&conf(1, info.max_tx_queues + 1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("TX queues requested"), "{err}");
    let err = port
        .configure(&EthConf {
            rx_offloads: rx_offload::VLAN_STRIP,
            ..conf(1, 1)
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("RX offloads"), "{err}");
    let err = port
        .configure(&EthConf {
            rss: true,
            ..conf(2, 2)
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("no RSS"), "{err}");
    assert_eq!(
        port.state(),
        PortState::Unconfigured,
        "failures change nothing"
    );
    port.configure(&conf(1, 1)).unwrap();
    assert_eq!(port.state(), PortState::Stopped);
}

#[test]
fn queues_need_a_configured_stopped_port() {
    let pool = pool("ethdev-states", 1024);
    let mut port = null("net_null0");
    assert!(matches!(
        port.rx_queue_setup(0, 512, &pool),
        Err(EthError::State { .. })
    ));
    assert!(matches!(
        port.tx_queue_setup(0, 512),
        Err(EthError::State { .. })
    ));
    assert!(matches!(port.start(), Err(EthError::State { .. })));

    port.configure(&conf(2, 1)).unwrap();
    let err = port.rx_queue_setup(2, 512, &pool).unwrap_err().to_string();
    assert!(err.contains("RX queue 2 does not exist"), "{err}");
    let err = port.tx_queue_setup(0, 0).unwrap_err().to_string();
    assert!(err.contains("0 descriptors"), "{err}");

    let rx0 = port.rx_queue_setup(0, 512, &pool).unwrap();
    let tx0 = port.tx_queue_setup(0, 512).unwrap();
    let err = port.start().unwrap_err().to_string();
    assert_eq!(err, "port 0: RX queue 1 is not set up");
    let rx1 = port.rx_queue_setup(1, 512, &pool).unwrap();
    assert_eq!((rx1.port(), rx1.queue(), tx0.queue()), (0, 1, 0));
    port.start().unwrap();
    assert!(matches!(
        port.configure(&conf(1, 1)),
        Err(EthError::State { .. })
    ));
    assert!(matches!(
        port.rx_queue_setup(0, 512, &pool),
        Err(EthError::State { .. })
    ));
    port.start().unwrap(); // already started: nothing to do
    port.close().unwrap();
    assert_eq!(port.state(), PortState::Closed);
    let err = port.start().unwrap_err().to_string();
    assert_eq!(err, "port 0: cannot start while closed");
    assert!(port.set_mtu(1500).is_err());
    drop((rx0, rx1, tx0));
    assert!(pool.is_full());
}

#[test]
fn link_and_bursts_follow_start_and_stop() {
    let pool = pool("ethdev-bursts", 1024);
    let mut port = null("net_null0,size=100");
    port.configure(&conf(1, 1)).unwrap();
    let mut rx = port.rx_queue_setup(0, 512, &pool).unwrap();
    let mut tx = port.tx_queue_setup(0, 512).unwrap();
    let mut burst = Vec::with_capacity(64);
    assert!(!port.link().up);
    assert_eq!(rx.rx_burst(&mut burst, 32), 0, "not started yet");

    port.start().unwrap();
    assert!(port.link().up);
    assert_eq!(port.link().speed_mbps, 10_000);
    assert_eq!(rx.rx_burst(&mut burst, 32), 32);
    assert!(burst.iter().all(|m| m.pkt_len() == 100));

    port.stop().unwrap();
    assert!(!port.link().up);
    assert_eq!(rx.rx_burst(&mut burst, 32), 0);
    assert_eq!(tx.tx_burst(&mut burst), 0, "stopped: nothing sent");
    assert_eq!(burst.len(), 32, "unsent packets stay with the caller");

    port.start().unwrap();
    assert_eq!(tx.tx_burst(&mut burst), 32);
    assert!(burst.is_empty());
    drop((rx, tx));
    assert!(pool.is_full(), "{} mbufs leaked", pool.in_use());
}

#[test]
fn stats_reset_and_xstats_names() {
    let pool = pool("ethdev-stats", 1024);
    let mut port = null("net_null0,size=64");
    port.configure(&conf(2, 1)).unwrap();
    let mut rx0 = port.rx_queue_setup(0, 512, &pool).unwrap();
    let mut rx1 = port.rx_queue_setup(1, 512, &pool).unwrap();
    let mut tx = port.tx_queue_setup(0, 512).unwrap();
    port.start().unwrap();
    let mut burst = Vec::with_capacity(64);
    assert_eq!(rx0.rx_burst(&mut burst, 10), 10);
    assert_eq!(rx1.rx_burst(&mut burst, 20), 20);
    assert_eq!(tx.tx_burst(&mut burst), 30);
    let s = port.stats();
    assert_eq!(
        (s.ipackets, s.ibytes, s.opackets, s.obytes),
        (30, 1920, 30, 1920)
    );
    assert_eq!(s.q_ipackets, [10, 20]);
    assert_eq!(s.q_ibytes, [640, 1280]);
    assert_eq!(s.q_opackets, [30]);

    let names: Vec<String> = port.xstats().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        names,
        [
            "rx_good_packets",
            "tx_good_packets",
            "rx_good_bytes",
            "tx_good_bytes",
            "rx_missed_errors",
            "rx_errors",
            "tx_errors",
            "rx_mbuf_allocation_errors",
            "rx_q0_packets",
            "rx_q0_bytes",
            "rx_q0_errors",
            "rx_q1_packets",
            "rx_q1_bytes",
            "rx_q1_errors",
            "tx_q0_packets",
            "tx_q0_bytes",
        ]
    );
    assert_eq!(port.xstats()[0], ("rx_good_packets".to_string(), 30));

    port.stats_reset();
    assert_eq!(port.stats().ipackets, 0);
    assert_eq!(rx1.rx_burst(&mut burst, 5), 5);
    let s = port.stats();
    assert_eq!((s.ipackets, s.q_ipackets.clone()), (5, vec![0, 5]));
    drop(burst);
    drop((rx0, rx1, tx));
    assert!(pool.is_full());
}

#[test]
fn empty_pool_counts_rx_nombuf() {
    let pool = pool("ethdev-nombuf", 64);
    let mut port = null("net_null0");
    port.configure(&conf(1, 1)).unwrap();
    let mut rx = port.rx_queue_setup(0, 512, &pool).unwrap();
    let tx = port.tx_queue_setup(0, 512).unwrap();
    port.start().unwrap();
    let mut held = Vec::with_capacity(128);
    assert_eq!(rx.rx_burst(&mut held, 64), 64);
    assert_eq!(rx.rx_burst(&mut held, 1), 0);
    assert_eq!(port.stats().rx_nombuf, 1);
    drop(held);
    drop((rx, tx));
    assert!(pool.is_full());
}

#[test]
fn mtu_range_and_packet_size_checks() {
    let mut port = null("net_null0");
    let (lo, hi) = port.info().mtu_range;
    assert_eq!(port.mtu(), burst_pmd::DEFAULT_MTU);
    let err = port.set_mtu(lo - 1).unwrap_err().to_string();
    assert!(err.contains("out of range"), "{err}");
    port.set_mtu(hi).unwrap();
    port.set_mtu(9000).unwrap();
    assert_eq!(port.mtu(), 9000);

    // A packet size larger than the pool's data room fails at setup, not per packet.
    let pool = pool("ethdev-size", 1024);
    let mut port = null("net_null0,size=4000");
    port.configure(&conf(1, 1)).unwrap();
    let err = port.rx_queue_setup(0, 512, &pool).unwrap_err().to_string();
    assert!(err.contains("size=4000 does not fit"), "{err}");
}
