//! Forwards every packet received on port 0 back out of port 0, with l2fwd's MAC
//! rewrite (destination `02:00:00:00:00:<port>`, source the port's MAC): any burst PMD
//! end to end, e.g. e1000e or virtio-net in the test guest (scripts/vm, tests/vm.rs),
//! where the host sends the frames and checks what comes back.
//!
//! ```text
//! port_loop [EAL options] -a BDF -- --phases N[,N...]
//! ```
//!
//! Probes the ports with `burst_pmd::probe_all`, sets port 0 up (one RX and one TX
//! queue of 512 descriptors or the device's maximum if smaller, a pool of 4095 mbufs,
//! promiscuous), then for each phase: starts the port, prints its link and `phase K:
//! ready for N packets`, forwards until N packets went out, stops the port (the
//! driver's stop waits for the device to send what was queued), prints the port's
//! statistics and extended statistics and checks that every mbuf is back in the pool. A phase with no packet for 60 seconds, like any error, ends the
//! program with status 1 and a message.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use burst_eal::Eal;
use burst_mempool::{MbufConfig, PktPool};
use burst_pmd::{EthConf, MacAddr, Port};

/// Packets per burst.
const BURST: usize = 32;
/// Descriptors per queue, at most.
const RING: u16 = 512;
/// How long a phase may go without a packet.
const IDLE: Duration = Duration::from_secs(60);

type Error = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let (eal, args) = Eal::init(std::env::args()).unwrap_or_else(|err| err.exit());
    match phases(&args).and_then(|phases| run(&eal, &phases)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("port_loop: error: {err}");
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
        _ => Err("usage: port_loop [EAL options] -a BDF -- --phases N[,N...]".into()),
    }
}

fn run(eal: &Eal, phases: &[u64]) -> Result<(), Error> {
    let mut ports = burst_pmd::probe_all(eal)?;
    let Some(port) = ports.first_mut() else {
        return Err("no port: name a device with -a BDF or --vdev".into());
    };
    let mac = port.mac_addr();
    let info = port.info();
    let ring = RING.min(info.desc_lim.1);
    println!(
        "port_loop: port {}: {} MAC {mac} driver {} ring {ring} MTU {}..={}",
        port.id(),
        port.name(),
        info.driver_name,
        info.mtu_range.0,
        info.mtu_range.1
    );
    let pool = PktPool::new(eal.memory(), "port_loop", 4095, MbufConfig::default())?;
    port.configure(&EthConf {
        nb_rx_queues: 1,
        nb_tx_queues: 1,
        ..EthConf::default()
    })?;
    let mut rxq = port.rx_queue_setup(0, ring, &pool)?;
    let mut txq = port.tx_queue_setup(0, ring)?;
    port.set_promiscuous(true)?;
    // l2fwd's rewrite for a packet leaving port 0.
    let dst = MacAddr([0x02, 0, 0, 0, 0, 0]);

    for (phase, &want) in phases.iter().enumerate() {
        port.start()?;
        println!("port_loop: link: {}", port.link());
        println!("port_loop: phase {phase}: ready for {want} packets");
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
        port.stop()?;
        report(port, phase);
        println!(
            "port_loop: phase {phase}: stopped, link: {}, mempool full: {} ({}/{} free)",
            port.link(),
            if pool.is_full() { "yes" } else { "no" },
            pool.available(),
            pool.size()
        );
    }
    port.close()?;
    Ok(())
}

/// Prints the port's statistics and extended statistics.
fn report(port: &Port, phase: usize) {
    let s = port.stats();
    println!(
        "port_loop: phase {phase}: stats ipackets={} opackets={} ibytes={} obytes={} \
         ierrors={} oerrors={} imissed={} rx_nombuf={}",
        s.ipackets, s.opackets, s.ibytes, s.obytes, s.ierrors, s.oerrors, s.imissed, s.rx_nombuf
    );
    let xstats: Vec<_> = port
        .xstats()
        .into_iter()
        .map(|(name, v)| format!("{name}={v}"))
        .collect();
    println!("port_loop: phase {phase}: xstats {}", xstats.join(" "));
}
