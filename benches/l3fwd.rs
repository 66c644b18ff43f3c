//! l3fwd's per-packet cost, on one thread (one lcore), in packets per second.
//!
//! - `l3fwd/route_{lpm,em}`: [`Router::route`] alone on a burst of 32 64-byte IPv4/UDP
//!   frames already in cache: classify, check (RFC 1812, checksum, TTL), look up with
//!   DPDK's 16 built-in routes or flows, decrement the TTL, rewrite the MACs. The frames
//!   are restored between iterations, outside the measurement.
//! - `l3fwd/fwd_{lpm,em}_pcap_null`: the setting of `scripts/compare-dpdk.sh l3fwd`:
//!   `rx_burst` of 32 from a `net_pcap` port replaying the same frame forever
//!   (`infinite_rx=1`, a copy into a fresh mbuf per packet), [`Forwarder::forward`]
//!   to a `net_null` port, and the TX buffer drained after every burst, as the app's
//!   100 us timer would.
//!
//! The frames go to 198.18.1.0 from 198.18.1.1, UDP port 9 to 9: port 1 by the LPM
//! route 198.18.1.0/24 and by the EM flow of the same 5-tuple.

use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use burst_eal::Devargs;
use burst_eal::memory::{Memory, MemoryConfig, PageSize};
use burst_mempool::{Mbuf, MbufConfig, PktPool};
use burst_net::ipv4::Ipv4Packet;
use burst_pmd::{EthConf, Port, vdev};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use l2fwd::fwd::{MAX_PKT_BURST, TxBuffer, new_statistics};
use l3fwd::args::{Lookup, MAX_ETHPORTS, Options};
use l3fwd::fwd::Forwarder;
use l3fwd::route::{Router, Tables, default_dest, eth_header};
use l3fwd::setup::{build_tables, read_rules};

/// A 64-byte IPv4/UDP frame 198.18.1.1:9 -> 198.18.1.0:9, TTL 64, checksum filled.
fn frame() -> Vec<u8> {
    let mut f = vec![0u8; 64];
    f[..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0x10]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip_len = (64 - 14) as u16;
    f[14..34].copy_from_slice(&[
        0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0, 198, 18, 1, 1, 198, 18, 1, 0,
    ]);
    f[16..18].copy_from_slice(&ip_len.to_be_bytes());
    f[34..42].copy_from_slice(&[0, 9, 0, 9, 0, 30, 0, 0]);
    Ipv4Packet::new_checked(&mut f[14..])
        .unwrap()
        .fill_checksum();
    f
}

/// A pcap file (microsecond, little-endian) of `n` copies of `frame`.
fn write_pcap(path: &std::path::Path, frame: &[u8], n: usize) {
    let mut out = Vec::new();
    out.extend(0xa1b2_c3d4u32.to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(4u16.to_le_bytes());
    out.extend([0u8; 8]);
    out.extend(65535u32.to_le_bytes());
    out.extend(1u32.to_le_bytes()); // Ethernet
    for i in 0..n as u32 {
        out.extend(i.to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out.extend((frame.len() as u32).to_le_bytes());
        out.extend((frame.len() as u32).to_le_bytes());
        out.extend(frame);
    }
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(&out))
        .expect("write the bench pcap");
}

/// Hugepage memory if it can be had, else ordinary pages.
fn memory() -> Memory {
    let huge = MemoryConfig {
        in_memory: true,
        page_size: Some(PageSize::Size2M),
        ..MemoryConfig::default()
    };
    Memory::new(huge)
        .or_else(|_| Memory::new(MemoryConfig::no_huge()))
        .expect("memory, hugepages or not")
}

/// Port 0: `net_pcap` replaying `pcap`; port 1: `net_null`; both unstarted.
fn ports(pcap: &std::path::Path) -> Vec<Port> {
    [
        format!("net_pcap0,rx_pcap={},infinite_rx=1", pcap.display()),
        "net_null0".to_string(),
    ]
    .iter()
    .enumerate()
    .map(|(id, dev)| {
        let devargs = Devargs::parse(dev).expect("devargs");
        vdev::probe(&devargs, id as u16).expect("probe")
    })
    .collect()
}

/// l3fwd's tables for `lookup` with DPDK's built-in rules, ports 0 and 1 enabled.
fn tables(lookup: Lookup, ports: &[Port]) -> Arc<Tables> {
    let opts = Options {
        lookup: Some(lookup),
        portmask: 0x3,
        ..Options::default()
    };
    let rules = read_rules(&opts).unwrap_or_else(|_| panic!("built-in rules"));
    let tables = build_tables(&rules, false, ports, 0x3).unwrap_or_else(|e| panic!("{}", e.msg));
    Arc::new(tables)
}

fn router(tables: Arc<Tables>, ports: &[Port]) -> Router {
    let eth: [[u8; 12]; MAX_ETHPORTS] = std::array::from_fn(|p| {
        let src = ports
            .get(p)
            .map(|port| port.mac_addr().0)
            .unwrap_or_default();
        eth_header(default_dest(p as u16), src)
    });
    Router::new(tables, eth)
}

fn pin() {
    if let Some(&core) = core_affinity::get_core_ids().unwrap_or_default().last() {
        core_affinity::set_for_current(core);
    }
}

fn route_only(c: &mut Criterion, ports: &[Port], lookup: Lookup) {
    let router = router(tables(lookup, ports), ports);
    let template = vec![frame(); MAX_PKT_BURST];
    let mut g = c.benchmark_group("l3fwd");
    g.throughput(Throughput::Elements(MAX_PKT_BURST as u64));
    g.bench_function(format!("route_{lookup}"), |b| {
        b.iter_batched_ref(
            || template.clone(),
            |frames| {
                for f in frames.iter_mut() {
                    black_box(router.route(f, 0));
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn fwd_pcap_null(c: &mut Criterion, memory: &Memory, pcap: &std::path::Path, lookup: Lookup) {
    let pool = PktPool::new(memory, "l3fwd_bench", 8192, MbufConfig::default()).expect("pool");
    let mut ports = ports(pcap);
    let conf = EthConf {
        nb_rx_queues: 1,
        nb_tx_queues: 1,
        ..EthConf::default()
    };
    let mut rxqs = Vec::new();
    let mut tx = Vec::new();
    for port in &mut ports {
        port.configure(&conf).expect("configure");
        rxqs.push(port.rx_queue_setup(0, 1024, &pool).expect("RX queue"));
        tx.push(port.tx_queue_setup(0, 1024).expect("TX queue"));
    }
    for port in &mut ports {
        port.start().expect("start");
    }
    let stats = new_statistics();
    let tx = tx
        .into_iter()
        .map(|q| Some(TxBuffer::new(q, stats.clone())))
        .collect();
    let mut fwd = Forwarder::new(router(tables(lookup, &ports), &ports), tx, stats.clone());
    let mut cache = pool.cache(256).expect("cache");
    let mut pkts: Vec<Mbuf> = Vec::with_capacity(MAX_PKT_BURST);
    let rxq = &mut rxqs[0];
    let mut g = c.benchmark_group("l3fwd");
    g.throughput(Throughput::Elements(MAX_PKT_BURST as u64));
    g.bench_function(format!("fwd_{lookup}_pcap_null"), |b| {
        b.iter(|| {
            let n = rxq.rx_burst(&mut pkts, MAX_PKT_BURST);
            fwd.forward(0, &mut pkts, &mut cache);
            fwd.drain(&mut cache);
            black_box(n)
        })
    });
    g.finish();
    let counts = stats[1].get();
    assert!(counts.tx > 0 && counts.dropped == 0, "{counts:?}");
    drop((fwd, rxqs, cache, ports));
    assert!(pool.is_full(), "{pool:?}");
}

fn benches(c: &mut Criterion) {
    pin();
    let memory = memory();
    let pcap = std::env::temp_dir().join(format!("l3fwd-bench-{}.pcap", std::process::id()));
    write_pcap(&pcap, &frame(), 1024);
    let ports = ports(&pcap);
    for lookup in [Lookup::Lpm, Lookup::Em] {
        route_only(c, &ports, lookup);
    }
    drop(ports);
    for lookup in [Lookup::Lpm, Lookup::Em] {
        fwd_pcap_null(c, &memory, &pcap, lookup);
    }
    let _ = std::fs::remove_file(&pcap);
}

criterion_group! {
    name = l3fwd_benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(l3fwd_benches);
