//! `l3fwd`: DPDK 22.11's `examples/l3fwd` on burst. Each lcore polls the RX queues
//! `--config` gives it, looks every IPv4/IPv6 packet up by longest-prefix match on its
//! destination (`--lookup lpm`, the default) or exact match on its 5-tuple (`--lookup
//! em`), and sends it out of the port found (back out of its input port on a miss),
//! TTL decremented and Ethernet header rewritten.
//!
//! ```text
//! l3fwd [EAL options] -- -p PORTMASK --config "(port,queue,lcore)[,...]" --parse-ptype
//!       [-P] [--lookup lpm|em] [--rule_ipv4 FILE] [--rule_ipv6 FILE] [--ipv6]
//!       [--eth-dest=X,MM:MM:MM:MM:MM:MM] [--rx-queue-size N] [--tx-queue-size N]
//!       [--max-pkt-len LEN] [--per-port-pool] [-T PERIOD]
//! l3fwd -l 0 --no-huge --vdev net_pcap0,rx_pcap=in.pcap --vdev net_null0 \
//!       -- -p 0x3 --config "(0,0,0)" --parse-ptype
//! ```
//!
//! Options, checks, output and messages are DPDK's (see [`args`], [`config`], [`rules`],
//! [`route`] for each one's rules). Where this one differs, besides the packet
//! handling [`route`] describes and the rule handling of [`setup`]:
//! - RX offloads are masked by what the port can do, as DPDK 24.03's
//!   `--relax-rx-offload` (22.11 asks for checksum offload and fails on ports without
//!   it, such as pcap, null and memif); no burst port parses packet types, so
//!   `--parse-ptype` is needed, as DPDK's l3fwd needs it on those ports;
//! - `-T PERIOD` prints l2fwd's statistics block every PERIOD seconds (default: never),
//!   and l3fwd prints it at exit in any case: per port, packets received, sent, and
//!   dropped (by l3fwd, counted on the input port, or refused by the TX queue);
//! - a port mask naming ports that are not present is refused, as l2fwd refuses it;
//! - at exit the TX buffers are drained and every mbuf must be back in its pool (an
//!   error and exit code 1 if not).

pub mod args;
pub mod config;
pub mod fwd;
pub mod route;
pub mod rules;
pub mod setup;

use std::collections::BTreeMap;
use std::sync::Arc;

use burst_eal::{Eal, LcoreId};
use burst_mempool::{MbufConfig, PktPool};
use burst_pmd::{EthConf, Port, RxQueue, TxQueue, rx_offload};
use l2fwd::config::enabled;
use l2fwd::fwd::{StatsTimer, TxBuffer, new_statistics, print_stats};
use l2fwd::{check_all_ports_link_status, close_ports, flush_stdout, rte_exit};

use crate::args::{Lookup, MAX_ETHPORTS, Options};
use crate::fwd::{Forwarder, LcoreWork};
use crate::route::{Router, Tables, default_dest, eth_header};

/// Mbufs in each lcore's cache (`MEMPOOL_CACHE_SIZE`).
pub const MEMPOOL_CACHE_SIZE: usize = 256;
/// Longest `--max-pkt-len` (`MAX_JUMBO_PKT_LEN`).
pub const MAX_JUMBO_PKT_LEN: u32 = 9600;
/// Shortest `--max-pkt-len` (`RTE_ETHER_MIN_LEN`).
pub const ETHER_MIN_LEN: u32 = 64;
/// Ethernet header and CRC: what `--max-pkt-len` has beyond the MTU.
const ETHER_OVERHEAD: u32 = 18;
/// DPDK's `RTE_ETH_RSS_IP`: the RSS hash functions l3fwd asks for.
const RSS_IP: u64 = 0xa38c;

/// Runs l3fwd with this command line (program name, EAL options, `--`, l3fwd's
/// options) and returns the exit code; exits the process itself on fatal errors, as
/// DPDK's `rte_exit`.
pub fn main_with_args<I, S>(args: I) -> i32
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let (eal, app_args) = Eal::init(args).unwrap_or_else(|err| err.exit());
    l2fwd::signal::install();

    let opts = match args::parse(&app_args) {
        Ok(opts) => opts,
        Err(err) => {
            if let Some(cause) = err.fatal() {
                rte_exit(cause);
            }
            err.report(app_args.first().map_or("l3fwd", String::as_str));
            rte_exit("Invalid L3FWD parameters");
        }
    };
    let rules = setup::read_rules(&opts).unwrap_or_else(|e| rules_failed(&opts, e.family, e.error));

    let mut ports = burst_pmd::probe_all(&eal).unwrap_or_else(|err| rte_exit(err));
    let nb_ports = ports.len().min(MAX_ETHPORTS);
    let possible = if nb_ports >= 32 {
        u32::MAX
    } else {
        (1u32 << nb_ports) - 1
    };
    if opts.portmask & !possible != 0 {
        rte_exit(format!("Invalid portmask; possible (0x{possible:x})"));
    }
    let portmask = opts.portmask;

    // l3fwd_poll_resource_setup's checks.
    let lcore_ids: Vec<u32> = eal.lcores().iter().map(|l| l.id().get()).collect();
    let checked = |res: Result<(), String>, cause: &str| {
        if let Err(msg) = res {
            println!("{msg}");
            rte_exit(cause);
        }
    };
    checked(
        config::check_lcore_params(&opts.config, &lcore_ids),
        "check_lcore_params failed",
    );
    let lcore_queues = config::lcore_rx_queues(&opts.config).unwrap_or_else(|msg| {
        println!("{msg}");
        rte_exit("init_lcore_rx_queues failed")
    });
    checked(
        config::check_port_config(&opts.config, portmask, nb_ports),
        "check_port_config failed",
    );

    let setup = init_ports(&eal, &mut ports, &opts, &rules, &lcore_ids);
    let rxqs = init_rx_queues(&mut ports, &opts, &lcore_queues, &lcore_ids, &setup.pools);
    for port in ports.iter_mut() {
        let id = port.id();
        if !enabled(portmask, id.into()) {
            continue;
        }
        if let Err(err) = port.start() {
            rte_exit(format!("rte_eth_dev_start: err={err}, port={id}"));
        }
        if opts.promiscuous
            && let Err(err) = port.set_promiscuous(true)
        {
            rte_exit(format!("rte_eth_promiscuous_enable: err={err}, port={id}"));
        }
    }
    println!();
    check_ptypes(&opts, &lcore_queues);
    check_all_ports_link_status(&ports, portmask);

    let tables = Arc::new(setup.tables);
    let eth: [[u8; 12]; MAX_ETHPORTS] = std::array::from_fn(|p| {
        let src = ports
            .get(p)
            .map(|port| port.mac_addr().0)
            .unwrap_or_default();
        eth_header(opts.eth_dest[p].unwrap_or(default_dest(p as u16)), src)
    });
    let mut stats_tables = Vec::new();
    let mut txqs = setup.txqs;
    let mut rxqs = rxqs;
    let main = eal.main_lcore();
    let mut work: Vec<(LcoreId, LcoreWork)> = Vec::new();
    for (k, lcore) in eal.lcores().iter().enumerate() {
        let id = lcore.id();
        let queues = rxqs.remove(&id.get()).unwrap_or_default();
        let fwd = (!queues.is_empty()).then(|| {
            let stats = new_statistics();
            stats_tables.push(stats.clone());
            let tx = std::mem::take(&mut txqs[k])
                .into_iter()
                .map(|q| q.map(|q| TxBuffer::new(q, stats.clone())))
                .collect();
            // The cache of the pool of the lcore's first RX queue frees what it drops.
            let pool = &setup.pools[pool_index(&opts, queues[0].port())];
            let cache = pool
                .cache(MEMPOOL_CACHE_SIZE)
                .unwrap_or_else(|err| rte_exit(format!("Cannot make an mbuf cache: {err}")));
            let router = Router::new(tables.clone(), eth);
            (Forwarder::new(router, tx, stats), cache)
        });
        work.push((
            id,
            LcoreWork {
                lcore: id.get(),
                rxqs: queues,
                fwd,
                timer: None,
            },
        ));
    }
    if opts.timer_period > 0
        && let Some((_, w)) = work.iter_mut().find(|(id, _)| *id == main)
    {
        w.timer = Some(StatsTimer::new(
            opts.timer_period,
            stats_tables.clone(),
            portmask,
        ));
    }
    drop(txqs);

    let stop = burst_eal::stop_flag();
    let jobs = work
        .into_iter()
        .map(|(id, work)| (id, move |_: LcoreId| work.run(stop)));
    let mut code = if l2fwd::launch_and_wait("l3fwd", &eal, jobs) {
        0
    } else {
        1
    };

    print_stats(&stats_tables, portmask);
    close_ports(&mut ports, portmask);
    drop(ports);
    for pool in &setup.pools {
        if !l2fwd::check_pool("l3fwd", pool) {
            code = 1;
        }
    }
    drop(eal);
    println!("Bye...");
    flush_stdout();
    code
}

/// Logs why a family's rules cannot be used and exits with DPDK's cause ("Failed to
/// add IPv4 rules").
fn rules_failed(opts: &Options, family: &str, why: impl std::fmt::Display) -> ! {
    println!();
    log::error!(target: "l3fwd", "{why}");
    let em = if opts.lookup() == Lookup::Em {
        "EM "
    } else {
        ""
    };
    rte_exit(format!("Failed to add {em}{family} rules"))
}

/// What port initialisation leaves: the pools, the tables, and each lcore's TX queue
/// on every port (by lcore index, then port id).
struct PortSetup {
    pools: Vec<PktPool>,
    tables: Tables,
    txqs: Vec<Vec<Option<TxQueue>>>,
}

/// The pool RX queues of `port` take their mbufs from: the port's own with
/// `--per-port-pool` (pools are made in port order), else the one pool.
fn pool_index(opts: &Options, port: u16) -> usize {
    if opts.per_port_pool {
        (0..usize::from(port))
            .filter(|&p| enabled(opts.portmask, p))
            .count()
    } else {
        0
    }
}

/// DPDK's port loop: configures every enabled port (RX queues per `--config`, a TX
/// queue per lcore), makes the mbuf pool(s) and, with the first, the lookup tables,
/// and sets up the TX queues, printing as DPDK does.
fn init_ports(
    eal: &Eal,
    ports: &mut [Port],
    opts: &Options,
    rules: &setup::Rules,
    lcores: &[u32],
) -> PortSetup {
    let nb_ports = ports.len();
    let nb_lcores = lcores.len();
    let mut pools = Vec::new();
    let mut tables = None;
    let mut txqs: Vec<Vec<Option<TxQueue>>> = (0..nb_lcores)
        .map(|_| (0..nb_ports).map(|_| None).collect())
        .collect();
    let (mut nb_rxd, mut nb_txd) = (opts.nb_rxd, opts.nb_txd);
    for pi in 0..nb_ports {
        let id = ports[pi].id();
        if !enabled(opts.portmask, pi) {
            println!("\nSkipping disabled port {id}");
            continue;
        }
        print!("Initializing port {id} ... ");
        flush_stdout();
        let nb_rx_queue = config::port_rx_queues(&opts.config, id).unwrap_or_else(|m| rte_exit(m));
        let nb_tx_queue = nb_lcores as u16;
        print!("Creating queues: nb_rxq={nb_rx_queue} nb_txq={nb_tx_queue}... ");
        let info = ports[pi].info();
        let port = &mut ports[pi];
        if opts.max_pkt_len != 0 {
            if !(ETHER_MIN_LEN..=MAX_JUMBO_PKT_LEN).contains(&opts.max_pkt_len) {
                rte_exit(format!(
                    "Invalid max packet length: {} (port {id})",
                    opts.max_pkt_len
                ));
            }
            let mtu = (opts.max_pkt_len - ETHER_OVERHEAD) as u16;
            if let Err(err) = port.set_mtu(mtu) {
                rte_exit(format!("Cannot configure device: err={err}, port={id}"));
            }
        }
        if !info.rss {
            println!(
                "Port {id} modified RSS hash function based on hardware support,\
                 requested:{RSS_IP:#x} configured:0"
            );
        }
        // --relax-rx-offload (DPDK 24.03): ask only for what the port can do.
        let wanted = rx_offload::CHECKSUM;
        let rx_offloads = wanted & info.rx_offload_capa;
        if rx_offloads != wanted {
            println!(
                "Port {id} requested Rx offloads {wanted:#x} does not match Rx offloads \
                 capabilities {:#x}, masked to {rx_offloads:#x} (relax-rx-offload)",
                info.rx_offload_capa
            );
        }
        let conf = EthConf {
            nb_rx_queues: nb_rx_queue,
            nb_tx_queues: nb_tx_queue,
            rx_offloads,
            rss: info.rss && nb_rx_queue > 1,
        };
        if let Err(err) = port.configure(&conf) {
            rte_exit(format!("Cannot configure device: err={err}, port={id}"));
        }
        // rte_eth_dev_adjust_nb_rx_tx_desc: into the device's range.
        let (lo, hi) = info.desc_lim;
        nb_rxd = nb_rxd.clamp(lo, hi);
        nb_txd = nb_txd.clamp(lo, hi);
        let dest = opts.eth_dest[pi].unwrap_or(default_dest(id));
        print!(
            " Address:{}, Destination:{}, ",
            port.mac_addr(),
            burst_pmd::MacAddr(dest)
        );
        if opts.per_port_pool || pools.is_empty() {
            let ports_counted = if opts.per_port_pool { 1 } else { nb_ports };
            let n = config::nb_mbufs(
                ports_counted,
                (nb_rx_queue.into(), nb_rxd.into()),
                (nb_tx_queue.into(), nb_txd.into()),
                nb_lcores,
            );
            let index = if opts.per_port_pool { pi } else { 0 };
            let name = format!("mbuf_pool_{index}:0");
            let pool =
                PktPool::new(eal.memory(), &name, n, MbufConfig::default()).unwrap_or_else(|err| {
                    rte_exit(format!("Cannot init mbuf pool on socket 0: {err}"))
                });
            println!("Allocated mbuf pool on socket 0");
            pools.push(pool);
        }
        if tables.is_none() {
            let built = setup::build_tables(rules, opts.ipv6, ports, opts.portmask)
                .unwrap_or_else(|e| rules_failed(opts, e.family, e.msg));
            tables = Some(built);
        }
        for (k, &lcore) in lcores.iter().enumerate() {
            print!("txq={lcore},{k},0 ");
            flush_stdout();
            let txq = ports[pi]
                .tx_queue_setup(k as u16, nb_txd)
                .unwrap_or_else(|err| {
                    rte_exit(format!("rte_eth_tx_queue_setup: err={err}, port={id}"))
                });
            txqs[k][pi] = Some(txq);
        }
        println!();
    }
    let tables = tables
        .unwrap_or_else(|| rte_exit("All available ports are disabled. Please set portmask."));
    PortSetup {
        pools,
        tables,
        txqs,
    }
}

/// Sets up every lcore's RX queues, lcore by lcore, printing as DPDK does; returns
/// them by lcore id.
fn init_rx_queues(
    ports: &mut [Port],
    opts: &Options,
    lcore_queues: &BTreeMap<u32, Vec<(u16, u16)>>,
    lcores: &[u32],
    pools: &[PktPool],
) -> BTreeMap<u32, Vec<RxQueue>> {
    let mut out = BTreeMap::new();
    for &lcore in lcores {
        print!("\nInitializing rx queues on lcore {lcore} ... ");
        flush_stdout();
        let mut queues = Vec::new();
        for &(port, queue) in lcore_queues
            .get(&lcore)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            print!("rxq={port},{queue},0 ");
            flush_stdout();
            let p = &mut ports[usize::from(port)];
            let (lo, hi) = p.info().desc_lim;
            let pool = &pools[pool_index(opts, port)];
            let rxq = p
                .rx_queue_setup(queue, opts.nb_rxd.clamp(lo, hi), pool)
                .unwrap_or_else(|err| {
                    rte_exit(format!("rte_eth_rx_queue_setup: err={err}, port={port}"))
                });
            queues.push(rxq);
        }
        out.insert(lcore, queues);
    }
    out
}

/// DPDK's `prepare_ptype_parser` for every polled queue: with `--parse-ptype`, the
/// packet types are parsed in software (in the forwarding loop, which reads the headers
/// anyway); without it, the port must report them, and burst's ports report none.
fn check_ptypes(opts: &Options, lcore_queues: &BTreeMap<u32, Vec<(u16, u16)>>) {
    for &(port, _) in lcore_queues.values().flatten() {
        if opts.parse_ptype {
            println!("Port {port}: softly parse packet type info");
            continue;
        }
        let needed: &[&str] = match opts.lookup() {
            Lookup::Lpm => &["RTE_PTYPE_L3_IPV4", "RTE_PTYPE_L3_IPV6"],
            Lookup::Em => &["RTE_PTYPE_L3_IPV4_EXT", "RTE_PTYPE_L3_IPV6_EXT"],
        };
        for ptype in needed {
            println!("port {port} cannot parse {ptype}");
        }
        println!("port {port} cannot parse packet type, please add --parse-ptype");
        rte_exit("ptype check fails");
    }
}
