//! Forwarding between two `net_null` ports on one thread (one lcore), the setting of
//! `scripts/compare-dpdk.sh l2fwd`, in packets per second.
//!
//! - `l2fwd/io_fwd_null2`: io forwarding, `rx_burst` of 32 on each port straight into
//!   `tx_burst` on the other (testpmd's `io` mode): the framework's own cost.
//! - `l2fwd/l2fwd_null2_{mac,nomac}`: apps/l2fwd's per-burst work, `Forward::poll` on
//!   each port: `rx_burst`, the MAC rewrite (or not), the TX buffer that sends every 32
//!   packets; the buffers are drained after every iteration, as the app's 100 us timer
//!   would.
//!
//! One iteration is one burst of 32 on each port: 64 packets, the throughput's
//! elements, so criterion's rate is packets per second (Mpps / 1e6). The mbuf pool is
//! l2fwd's (8192 mbufs, DPDK's `NB_MBUF` for 2 ports and 1 lcore), in 2 MiB hugepages
//! when some are free, else in ordinary pages; the thread is pinned to the last CPU.

use std::hint::black_box;
use std::time::Duration;

use burst_eal::Devargs;
use burst_eal::memory::{Memory, MemoryConfig, PageSize};
use burst_mempool::{Mbuf, MbufCache, MbufConfig, PktPool, free_bulk};
use burst_pmd::{EthConf, Port, RxQueue, TxQueue, vdev};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use l2fwd::fwd::{self, Forward, MAX_PKT_BURST, TxBuffer};

/// Hugepage memory if it can be had, else ordinary pages (said once on stderr).
fn memory() -> Memory {
    let huge = MemoryConfig {
        in_memory: true,
        page_size: Some(PageSize::Size2M),
        ..MemoryConfig::default()
    };
    Memory::new(huge).unwrap_or_else(|err| {
        eprintln!("l2fwd bench: no hugepages ({err}); using --no-huge memory");
        Memory::new(MemoryConfig::no_huge()).expect("--no-huge memory")
    })
}

/// Pins the calling thread to the last CPU the process may use.
fn pin() {
    if let Some(&core) = core_affinity::get_core_ids().unwrap_or_default().last() {
        core_affinity::set_for_current(core);
    }
}

/// Two started `net_null` ports with one RX queue (from `pool`) and one TX queue each.
fn null_ports(pool: &PktPool) -> (Vec<Port>, Vec<RxQueue>, Vec<TxQueue>) {
    let (mut ports, mut rxqs, mut txqs) = (Vec::new(), Vec::new(), Vec::new());
    for id in 0..2u16 {
        let devargs = Devargs::parse(&format!("net_null{id}")).expect("devargs");
        let mut port = vdev::probe(&devargs, id).expect("probe net_null");
        let conf = EthConf {
            nb_rx_queues: 1,
            nb_tx_queues: 1,
            ..EthConf::default()
        };
        port.configure(&conf).expect("configure");
        rxqs.push(port.rx_queue_setup(0, 1024, pool).expect("RX queue"));
        txqs.push(port.tx_queue_setup(0, 1024).expect("TX queue"));
        port.start().expect("start");
        ports.push(port);
    }
    (ports, rxqs, txqs)
}

fn pool(memory: &Memory) -> PktPool {
    PktPool::new(memory, "l2fwd_bench", 8192, MbufConfig::default()).expect("mbuf pool")
}

/// rx_burst on each port, tx_burst of what came on the other; unsent packets freed.
fn io_fwd(c: &mut Criterion, memory: &Memory) {
    let pool = pool(memory);
    let (_ports, mut rxqs, mut txqs) = null_ports(&pool);
    let mut pkts: Vec<Mbuf> = Vec::with_capacity(MAX_PKT_BURST);
    let mut g = c.benchmark_group("l2fwd");
    g.throughput(Throughput::Elements(2 * MAX_PKT_BURST as u64));
    g.bench_function("io_fwd_null2", |b| {
        b.iter(|| {
            for p in 0..2 {
                let n = rxqs[p].rx_burst(&mut pkts, MAX_PKT_BURST);
                black_box(n);
                txqs[1 - p].tx_burst(&mut pkts);
                if !pkts.is_empty() {
                    free_bulk(&mut pkts);
                }
            }
        })
    });
    g.finish();
    drop((rxqs, txqs));
    assert!(pool.is_full(), "{pool:?}");
}

/// apps/l2fwd's `Forward::poll` on each port, with or without MAC updating.
fn l2fwd_poll(c: &mut Criterion, memory: &Memory, mac_updating: bool) {
    let pool = pool(memory);
    let (ports, rxqs, txqs) = null_ports(&pool);
    let stats = fwd::new_statistics();
    let mut cache: MbufCache = pool.cache(256).expect("mbuf cache");
    // Port 0 sends on 1 and 1 on 0, as l2fwd pairs them.
    let mut txqs: Vec<Option<TxQueue>> = txqs.into_iter().map(Some).collect();
    let mut forwards: Vec<Forward> = rxqs
        .into_iter()
        .enumerate()
        .map(|(p, rxq)| {
            let d = 1 - p;
            let txq = txqs[d].take().expect("one TX queue per port");
            let mac = mac_updating.then(|| fwd::mac_header(d as u16, ports[d].mac_addr()));
            Forward::new(rxq, TxBuffer::new(txq, stats.clone()), mac, stats.clone())
        })
        .collect();
    let name = if mac_updating {
        "l2fwd_null2_mac"
    } else {
        "l2fwd_null2_nomac"
    };
    let mut g = c.benchmark_group("l2fwd");
    g.throughput(Throughput::Elements(2 * MAX_PKT_BURST as u64));
    g.bench_function(name, |b| {
        b.iter(|| {
            for f in &mut forwards {
                black_box(f.poll(&mut cache));
            }
            for f in &mut forwards {
                f.drain(&mut cache);
            }
        })
    });
    g.finish();
    let counts = stats[0].get();
    assert_eq!(counts.dropped, 0);
    drop(forwards);
    drop(cache);
    assert!(pool.is_full(), "{pool:?}");
}

fn benches(c: &mut Criterion) {
    pin();
    let memory = memory();
    io_fwd(c, &memory);
    l2fwd_poll(c, &memory, true);
    l2fwd_poll(c, &memory, false);
}

criterion_group! {
    name = l2fwd_benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(l2fwd_benches);
