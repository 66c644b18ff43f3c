//! Forwards every packet received on port 0 back out of port 0, with l2fwd's MAC
//! rewrite (destination `02:00:00:00:00:<port>`, source the port's MAC): burst's
//! e1000e PMD end to end in the test guest (scripts/vm), where the host sends the
//! frames and checks what comes back.
//!
//! ```text
//! e1000e_loop [EAL options] -a BDF -- --phases N[,N...]
//! ```
//!
//! Probes the ports with `burst_pmd::probe_all`, sets port 0 up (one RX and one TX
//! queue of 512 descriptors, a pool of 4095 mbufs, promiscuous), then for each phase:
//! starts the port, prints `phase K: ready for N packets`, forwards until N packets
//! went out, prints the port's statistics and the device's counters, stops the port
//! and checks that every mbuf is back in the pool. A phase with no packet for 60
//! seconds, like any error, ends the program with status 1 and a message.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use burst_eal::Eal;
use burst_mempool::{MbufConfig, PktPool};
use burst_pmd::{EthConf, MacAddr, Port};

/// Packets per burst.
const BURST: usize = 32;
/// Descriptors per queue.
const RING: u16 = 512;
/// How long a phase may go without a packet.
const IDLE: Duration = Duration::from_secs(60);

type Error = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let (eal, args) = Eal::init(std::env::args()).unwrap_or_else(|err| err.exit());
    match phases(&args).and_then(|phases| run(&eal, &phases)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("e1000e_loop: error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `--phases N[,N...]` from the application's arguments.
fn phases(args: &[String]) -> Result<Vec<u64>, Error> {
    match args {
        [_, flag, list] if flag == "--phases" => list
            .split(',')
            .map(|n| {
                n.parse()
                    .map_err(|_| format!("--phases: '{n}' is not a count").into())
            })
            .collect(),
        _ => Err("usage: e1000e_loop [EAL options] -a BDF -- --phases N[,N...]".into()),
    }
}

fn run(eal: &Eal, phases: &[u64]) -> Result<(), Error> {
    let mut ports = burst_pmd::probe_all(eal)?;
    let Some(port) = ports.first_mut() else {
        return Err("no port: name the e1000e with -a BDF".into());
    };
    let mac = port.mac_addr();
    println!(
        "e1000e_loop: port {}: {} MAC {mac} driver {}",
        port.id(),
        port.name(),
        port.info().driver_name
    );
    let pool = PktPool::new(eal.memory(), "e1000e_loop", 4095, MbufConfig::default())?;
    port.configure(&EthConf {
        nb_rx_queues: 1,
        nb_tx_queues: 1,
        ..EthConf::default()
    })?;
    let mut rxq = port.rx_queue_setup(0, RING, &pool)?;
    let mut txq = port.tx_queue_setup(0, RING)?;
    port.set_promiscuous(true)?;
    // l2fwd's rewrite for a packet leaving port 0.
    let dst = MacAddr([0x02, 0, 0, 0, 0, 0]);

    for (phase, &want) in phases.iter().enumerate() {
        port.start()?;
        println!("e1000e_loop: link: {}", port.link());
        println!("e1000e_loop: phase {phase}: ready for {want} packets");
        let mut pkts = Vec::with_capacity(BURST);
        let (mut sent, mut last) = (0, Instant::now());
        while sent < want {
            let n = rxq.rx_burst(&mut pkts, BURST);
            if n == 0 {
                if last.elapsed() > IDLE {
                    return Err(format!(
                        "phase {phase}: no packet for {IDLE:?} after {sent} of {want}"
                    )
                    .into());
                }
                continue;
            }
            last = Instant::now();
            for m in &mut pkts {
                let data = m.data_mut()?;
                if data.len() >= 12 {
                    data[..6].copy_from_slice(&dst.0);
                    data[6..12].copy_from_slice(&mac.0);
                }
            }
            // Retry what the ring cannot take yet: the test wants every packet back.
            while !pkts.is_empty() {
                sent += txq.tx_burst(&mut pkts) as u64;
            }
        }
        report(port, phase);
        port.stop()?;
        let free = pool.available();
        println!(
            "e1000e_loop: phase {phase}: stopped, mempool full: {} ({free}/{} free)",
            if pool.is_full() { "yes" } else { "no" },
            pool.size()
        );
    }
    port.close()?;
    Ok(())
}

/// Prints the port's statistics and its device's main counters.
fn report(port: &Port, phase: usize) {
    let s = port.stats();
    println!(
        "e1000e_loop: phase {phase}: stats ipackets={} opackets={} ibytes={} obytes={} \
         ierrors={} oerrors={} imissed={} rx_nombuf={}",
        s.ipackets, s.opackets, s.ibytes, s.obytes, s.ierrors, s.oerrors, s.imissed, s.rx_nombuf
    );
    let xstats = port.xstats();
    let hw: Vec<_> = [
        "rx_total_packets",
        "tx_total_packets",
        "hw_rx_good_packets",
        "hw_tx_good_packets",
        "rx_missed_packets",
        "rx_crc_errors",
    ]
    .iter()
    .filter_map(|name| {
        let (_, v) = xstats.iter().find(|(n, _)| n == name)?;
        Some(format!("{name}={v}"))
    })
    .collect();
    println!("e1000e_loop: phase {phase}: xstats {}", hw.join(" "));
}
