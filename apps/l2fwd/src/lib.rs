//! `l2fwd`: DPDK 22.11's `examples/l2fwd` on burst. Every enabled port is paired with
//! another (consecutive enabled ports, or `--portmap`); what one receives is sent out
//! on the other, with the destination MAC set to `02:00:00:00:00:<TX port>` and the
//! source MAC to the TX port's (unless `--no-mac-updating`). Statistics are printed
//! every `-T` seconds and at exit (SIGINT/SIGTERM).
//!
//! ```text
//! l2fwd [EAL options] -- -p PORTMASK [-P] [-q NQ] [-T PERIOD]
//!       [--portmap "(a,b),(c,d)"] [--no-mac-updating]
//! l2fwd -l 0-1 --no-huge --vdev net_null0 --vdev net_null1 -- -p 0x3 -T 1
//! ```
//!
//! The output, option checks and messages are DPDK's; where this one differs: it
//! prints the statistics once more at exit, drains its TX buffers before stopping,
//! checks that every mbuf came back to the pool (an error and exit code 1 if not),
//! prints statistics even when the main lcore has no port to poll, and accepts
//! `--mac-updating` (the default) as older DPDK releases did.

pub mod args;
pub mod config;
pub mod fwd;
pub mod signal;
pub mod tsc;

use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::time::Duration;

use burst_eal::{Eal, LcoreId};
use burst_mempool::{MbufConfig, PktPool};
use burst_pmd::{EthConf, Port, RxQueue, TxQueue};

use crate::args::{MAX_ETHPORTS, Options};
use crate::config::enabled;
use crate::fwd::{Forward, LcoreWork, MAX_PKT_BURST, StatsTimer, TxBuffer};

/// RX descriptors per queue (`RX_DESC_DEFAULT`).
pub const RX_DESC_DEFAULT: u16 = 1024;
/// TX descriptors per queue (`TX_DESC_DEFAULT`).
pub const TX_DESC_DEFAULT: u16 = 1024;
/// Mbufs in each lcore's cache (`MEMPOOL_CACHE_SIZE`).
pub const MEMPOOL_CACHE_SIZE: usize = 256;
/// The log line that says every mbuf came back (tests look for it).
pub const POOL_FULL_MSG: &str = "every mbuf is back in the pool";

/// DPDK's `rte_exit(EXIT_FAILURE, ...)`: the cause on stderr, exit code 1.
pub fn rte_exit(cause: impl std::fmt::Display) -> ! {
    let _ = io::stdout().flush();
    eprintln!("EAL: Error - exiting with code: 1\n  Cause: {cause}");
    std::process::exit(1)
}

/// Flushes stdout, as DPDK's `fflush(stdout)` after a partial line.
pub fn flush_stdout() {
    let _ = io::stdout().flush();
}

/// Runs l2fwd with this command line (program name, EAL options, `--`, l2fwd's
/// options) and returns the exit code; exits the process itself on fatal errors, as
/// DPDK's `rte_exit`.
pub fn main_with_args<I, S>(args: I) -> i32
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let (eal, app_args) = Eal::init(args).unwrap_or_else(|err| err.exit());
    signal::install();

    let opts = match args::parse(&app_args) {
        Ok(opts) => opts,
        Err(err) => {
            err.report(app_args.first().map_or("l2fwd", String::as_str));
            rte_exit("Invalid L2FWD arguments");
        }
    };
    println!(
        "MAC updating {}",
        if opts.mac_updating {
            "enabled"
        } else {
            "disabled"
        }
    );

    let mut ports = burst_pmd::probe_all(&eal).unwrap_or_else(|err| rte_exit(err));
    let nb_ports = ports.len();
    if nb_ports == 0 {
        rte_exit("No Ethernet ports - bye");
    }

    let mut portmask = opts.portmask;
    if let Some(pairs) = &opts.portmap {
        match config::check_port_pair_config(pairs, portmask, nb_ports) {
            Ok(mask) => portmask = mask,
            Err(msg) => {
                println!("{msg}");
                rte_exit("Invalid port pair config");
            }
        }
    }
    let possible = if nb_ports >= MAX_ETHPORTS {
        u32::MAX
    } else {
        (1u32 << nb_ports) - 1
    };
    if portmask & !possible != 0 {
        rte_exit(format!("Invalid portmask; possible (0x{possible:x})"));
    }

    let (dst, odd) = config::dst_ports(&opts, portmask, nb_ports);
    if odd {
        println!("Notice: odd number of ports in portmask.");
    }

    let lcore_ids: Vec<u32> = eal.lcores().iter().map(|l| l.id().get()).collect();
    let Some(plan) = config::assign_lcores(&lcore_ids, portmask, nb_ports, opts.rx_ports_per_lcore)
    else {
        rte_exit("Not enough cores");
    };
    for (lcore, rx_ports) in &plan {
        for &p in rx_ports {
            println!("Lcore {lcore}: RX port {p} TX port {}", dst[usize::from(p)]);
        }
    }

    let nb_mbufs = config::nb_mbufs(
        nb_ports,
        RX_DESC_DEFAULT.into(),
        TX_DESC_DEFAULT.into(),
        MAX_PKT_BURST,
        plan.len(),
        MEMPOOL_CACHE_SIZE,
    );
    let pool = PktPool::new(eal.memory(), "mbuf_pool", nb_mbufs, MbufConfig::default())
        .unwrap_or_else(|err| rte_exit(format!("Cannot init mbuf pool: {err}")));

    let (rxqs, txqs) = init_ports(&mut ports, portmask, &opts, &pool);
    if rxqs.iter().all(Option::is_none) {
        rte_exit("All available ports are disabled. Please set portmask.");
    }

    check_all_ports_link_status(&ports, portmask);

    let stats = fwd::new_statistics();
    let work = lcore_work(
        &eal, &opts, plan, &dst, &ports, rxqs, txqs, &pool, &stats, portmask,
    );

    let stop = burst_eal::stop_flag();
    let jobs = work
        .into_iter()
        .map(|(id, work)| (id, move |_: LcoreId| work.run(stop)));
    let mut code = if launch_and_wait("l2fwd", &eal, jobs) {
        0
    } else {
        1
    };

    if opts.timer_period > 0 {
        fwd::print_stats(std::slice::from_ref(&stats), portmask);
    }

    close_ports(&mut ports, portmask);
    drop(ports);
    if !check_pool("l2fwd", &pool) {
        code = 1;
    }
    drop(eal);
    println!("Bye...");
    flush_stdout();
    code
}

/// Runs `jobs` on their lcores and waits for them all (they return once the stop flag
/// is set); then says which signal stopped them, as DPDK's examples do ("Signal 2
/// received, preparing to exit..."). Whether every job ran and ended well (else the
/// failures are logged under `target`).
pub fn launch_and_wait<F>(
    target: &str,
    eal: &Eal,
    jobs: impl IntoIterator<Item = (LcoreId, F)>,
) -> bool
where
    F: FnOnce(LcoreId) + Send + 'static,
{
    let mut ok = true;
    match eal.launch_each(jobs) {
        Ok(launched) => {
            let results = launched.wait();
            if let Some(sig) = signal::received() {
                println!("\n\nSignal {sig} received, preparing to exit...");
            }
            for (lcore, result) in results {
                if let Err(err) = result {
                    log::error!(target: target, "lcore {lcore}: {err}");
                    ok = false;
                }
            }
        }
        Err(err) => {
            log::error!(target: target, "cannot launch the lcores: {err}");
            ok = false;
        }
    }
    ok
}

/// Stops and closes every enabled port, as DPDK's examples do at exit ("Closing port
/// 0... Done").
pub fn close_ports(ports: &mut [Port], portmask: u32) {
    for port in ports.iter_mut() {
        if !enabled(portmask, port.id().into()) {
            continue;
        }
        print!("Closing port {}...", port.id());
        flush_stdout();
        if let Err(err) = port.stop() {
            println!("rte_eth_dev_stop: err={err}, port={}", port.id());
        }
        if let Err(err) = port.close() {
            println!("rte_eth_dev_close: err={err}, port={}", port.id());
        }
        println!(" Done");
    }
}

/// Whether every mbuf of `pool` came back (once the ports are closed and the lcores
/// done): logs [`POOL_FULL_MSG`] under `target` if so, an error naming the leak if not.
pub fn check_pool(target: &str, pool: &PktPool) -> bool {
    if pool.is_full() {
        log::info!(target: target, "{POOL_FULL_MSG} ({} mbufs)", pool.size());
        true
    } else {
        log::error!(
            target: target,
            "mbuf leak: {} of {} mbufs are not back in the pool",
            pool.in_use(),
            pool.size()
        );
        false
    }
}

type Queues = (Vec<Option<RxQueue>>, Vec<Option<TxQueue>>);

/// Configures and starts every enabled port with one RX and one TX queue, as DPDK's
/// port loop, printing as it does; returns the queues by port id.
fn init_ports(ports: &mut [Port], portmask: u32, opts: &Options, pool: &PktPool) -> Queues {
    let mut rxqs: Vec<Option<RxQueue>> = ports.iter().map(|_| None).collect();
    let mut txqs: Vec<Option<TxQueue>> = ports.iter().map(|_| None).collect();
    for port in ports.iter_mut() {
        let id = port.id();
        if !enabled(portmask, id.into()) {
            println!("Skipping disabled port {id}");
            continue;
        }
        print!("Initializing port {id}... ");
        flush_stdout();
        let conf = EthConf {
            nb_rx_queues: 1,
            nb_tx_queues: 1,
            ..EthConf::default()
        };
        if let Err(err) = port.configure(&conf) {
            rte_exit(format!("Cannot configure device: err={err}, port={id}"));
        }
        // rte_eth_dev_adjust_nb_rx_tx_desc: into the device's range.
        let (lo, hi) = port.info().desc_lim;
        let nb_rxd = RX_DESC_DEFAULT.clamp(lo, hi);
        let nb_txd = TX_DESC_DEFAULT.clamp(lo, hi);
        let rxq = port
            .rx_queue_setup(0, nb_rxd, pool)
            .unwrap_or_else(|err| rte_exit(format!("rte_eth_rx_queue_setup:err={err}, port={id}")));
        let txq = port
            .tx_queue_setup(0, nb_txd)
            .unwrap_or_else(|err| rte_exit(format!("rte_eth_tx_queue_setup:err={err}, port={id}")));
        if let Err(err) = port.start() {
            rte_exit(format!("rte_eth_dev_start:err={err}, port={id}"));
        }
        println!("done: ");
        if opts.promiscuous
            && let Err(err) = port.set_promiscuous(true)
        {
            rte_exit(format!("rte_eth_promiscuous_enable:err={err}, port={id}"));
        }
        println!("Port {id}, MAC address: {}\n", port.mac_addr());
        rxqs[usize::from(id)] = Some(rxq);
        txqs[usize::from(id)] = Some(txq);
    }
    (rxqs, txqs)
}

/// DPDK's `check_all_ports_link_status`: waits up to 9 s for every enabled port's link,
/// printing a dot every 100 ms, then each port's link.
pub fn check_all_ports_link_status(ports: &[Port], portmask: u32) {
    const CHECK_INTERVAL: Duration = Duration::from_millis(100);
    const MAX_CHECK_TIME: u32 = 90;
    let stop = burst_eal::stop_flag();
    let enabled_ports = || ports.iter().filter(|p| enabled(portmask, p.id().into()));
    print!("\nChecking link status");
    flush_stdout();
    for count in 0..=MAX_CHECK_TIME {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let all_up = enabled_ports().all(|p| p.link().up);
        if !all_up {
            print!(".");
            flush_stdout();
            std::thread::sleep(CHECK_INTERVAL);
        }
        if all_up || count == MAX_CHECK_TIME - 1 {
            println!("done");
            for p in enabled_ports() {
                println!("Port {} {}", p.id(), p.link());
            }
            return;
        }
    }
}

/// Builds each lcore's work: every lcore gets an entry (those without ports return at
/// once, but the main lcore prints the statistics).
#[allow(clippy::too_many_arguments)]
fn lcore_work(
    eal: &Eal,
    opts: &Options,
    plan: Vec<(u32, Vec<u16>)>,
    dst: &[u16; MAX_ETHPORTS],
    ports: &[Port],
    mut rxqs: Vec<Option<RxQueue>>,
    mut txqs: Vec<Option<TxQueue>>,
    pool: &PktPool,
    stats: &fwd::Statistics,
    portmask: u32,
) -> Vec<(LcoreId, LcoreWork)> {
    let main = eal.main_lcore();
    eal.lcores()
        .iter()
        .map(|lcore| {
            let id = lcore.id();
            let rx_ports = plan
                .iter()
                .find(|(l, _)| *l == id.get())
                .map(|(_, p)| p.as_slice())
                .unwrap_or_default();
            let forwards: Vec<Forward> = rx_ports
                .iter()
                .map(|&p| {
                    let d = dst[usize::from(p)];
                    let rxq = rxqs[usize::from(p)]
                        .take()
                        .expect("an enabled port has an RX queue");
                    let txq = txqs[usize::from(d)].take().expect(
                        "a destination is an enabled port, the destination of no other port",
                    );
                    let mac = opts
                        .mac_updating
                        .then(|| fwd::mac_header(d, ports[usize::from(d)].mac_addr()));
                    Forward::new(rxq, TxBuffer::new(txq, stats.clone()), mac, stats.clone())
                })
                .collect();
            let cache =
                if forwards.is_empty() {
                    None
                } else {
                    Some(pool.cache(MEMPOOL_CACHE_SIZE).unwrap_or_else(|err| {
                        rte_exit(format!("Cannot make an mbuf cache: {err}"))
                    }))
                };
            let timer = (id == main && opts.timer_period > 0)
                .then(|| StatsTimer::new(opts.timer_period, vec![stats.clone()], portmask));
            let work = LcoreWork {
                lcore: id.get(),
                ports: forwards,
                cache,
                timer,
            };
            (id, work)
        })
        .collect()
}
