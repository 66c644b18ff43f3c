//! `net_ring` (DPDK's `drivers/net/ring`): ports over in-process rings of mbufs, so
//! that pipelines, tests and other processes' stand-ins exchange packets with no wire.
//!
//! - `--vdev net_ring0`: a loopback port. It has [`MAX_QUEUES`] queue pairs, and queue
//!   `i`'s TX and RX share ring `i` (DPDK's `ETH_RXTX<i>_<name>` rings of
//!   [`RING_SIZE`] slots): what TX queue `i` sends, RX queue `i` receives, in order.
//! - [`from_rings`] (`rte_eth_from_rings`): a port over rings the caller made;
//!   [`from_ring`] (`rte_eth_from_ring`) one ring as RX and TX; [`pair`] two ports wired
//!   to each other, A's TX being B's RX and B's TX A's RX.
//!
//! As in DPDK: no devargs (DPDK's `nodeaction`, which shares rings between devices by
//! name, is refused: use [`pair`] or [`from_rings`]); the MAC address is
//! `00:00:00:00:00:00`; the link is 10 Gb/s full duplex, up while started; TX into a full
//! ring sends what fits and leaves the rest with the caller, uncounted (no `oerrors`);
//! the MTU cannot be set. Unlike DPDK 22.11, which counts packets only, bytes are
//! counted too, and RX sets each mbuf's input port (as later DPDK does).
//!
//! The rings are multi-producer/multi-consumer (a CAS per burst, none per packet), so a
//! queue pair may be polled from two lcores, and rings given to [`from_rings`] may be
//! fed or drained by other threads as well.

use std::sync::Arc;

use burst_mempool::{Mbuf, PktPool};
use burst_ring::Ring;

use crate::ethdev::{
    DevInfo, Driver, EthConf, EthError, Link, MacAddr, Port, PortId, RxBurst, TxBurst,
};
use crate::stats::QueueCounters;
use crate::vdev::{VdevArgs, VdevDriver};

/// The registry entry.
pub const DRIVER: VdevDriver = VdevDriver {
    name: "net_ring",
    probe,
};

/// Queue pairs (and rings) of a `--vdev net_ring` port (DPDK's
/// `RTE_PMD_RING_MAX_RX_RINGS`).
pub const MAX_QUEUES: u16 = 16;

/// Slots of each ring a `--vdev` port or [`pair`] makes; a ring holds one less (1023
/// mbufs), as DPDK's `rte_ring_create(name, 1024, ...)`.
pub const RING_SIZE: usize = 1024;

/// A ring of mbufs, shared by the ports and threads that use it.
pub type MbufRing = Arc<Ring<Mbuf>>;

struct RingDev {
    port: PortId,
    rx: Vec<MbufRing>,
    tx: Vec<MbufRing>,
    started: bool,
}

fn probe(args: &VdevArgs<'_>, port: PortId) -> Result<Box<dyn Driver>, EthError> {
    if args.get("nodeaction").is_some() {
        return Err(args.error(
            "nodeaction (rings shared by name between devices) is not supported: \
             connect ports with burst_pmd::drivers::ring::pair or from_rings",
        ));
    }
    args.check_keys(&[])?;
    let rings = new_rings(MAX_QUEUES, port)?;
    Ok(Box::new(RingDev::new(port, rings.clone(), rings)))
}

/// `n` empty rings of [`RING_SIZE`] slots.
fn new_rings(n: u16, port: PortId) -> Result<Vec<MbufRing>, EthError> {
    (0..n)
        .map(|_| {
            Ring::new(RING_SIZE)
                .map(Arc::new)
                .map_err(|e| EthError::Invalid {
                    port,
                    msg: e.to_string(),
                })
        })
        .collect()
}

impl RingDev {
    fn new(port: PortId, rx: Vec<MbufRing>, tx: Vec<MbufRing>) -> Self {
        Self {
            port,
            rx,
            tx,
            started: false,
        }
    }
}

/// A port named `net_ring_<name>` (DPDK's naming) whose RX queue `i` dequeues from
/// `rx[i]` and TX queue `i` enqueues to `tx[i]` (`rte_eth_from_rings`): the way to plug
/// an application's own rings into code written against ports. Either list may be
/// empty, not both.
pub fn from_rings(
    id: PortId,
    name: &str,
    rx: Vec<MbufRing>,
    tx: Vec<MbufRing>,
) -> Result<Port, EthError> {
    let invalid = |msg: String| EthError::Invalid { port: id, msg };
    if rx.is_empty() && tx.is_empty() {
        return Err(invalid(
            "a ring port needs at least one RX or TX ring".into(),
        ));
    }
    for (dir, rings) in [("RX", &rx), ("TX", &tx)] {
        if rings.len() > usize::from(u16::MAX) {
            return Err(invalid(format!(
                "{} {dir} rings given, a port has at most {} queues",
                rings.len(),
                u16::MAX
            )));
        }
    }
    Ok(Port::new(
        id,
        format!("net_ring_{name}"),
        Box::new(RingDev::new(id, rx, tx)),
    ))
}

/// A port with one queue pair over `ring`, which is both its RX and its TX ring
/// (`rte_eth_from_ring`): a loopback.
pub fn from_ring(id: PortId, name: &str, ring: MbufRing) -> Result<Port, EthError> {
    from_rings(id, name, vec![Arc::clone(&ring)], vec![ring])
}

/// Two ports, `net_ring_<name>0` (id `ids[0]`) and `net_ring_<name>1` (id `ids[1]`),
/// wired back to back by `nb_queues` pairs of rings of [`RING_SIZE`] slots: what one
/// sends on TX queue `i`, the other receives on RX queue `i`.
pub fn pair(ids: [PortId; 2], name: &str, nb_queues: u16) -> Result<[Port; 2], EthError> {
    if nb_queues == 0 {
        return Err(EthError::Invalid {
            port: ids[0],
            msg: "a ring pair needs at least one queue".into(),
        });
    }
    let a_to_b = new_rings(nb_queues, ids[0])?;
    let b_to_a = new_rings(nb_queues, ids[1])?;
    Ok([
        from_rings(ids[0], &format!("{name}0"), b_to_a.clone(), a_to_b.clone())?,
        from_rings(ids[1], &format!("{name}1"), a_to_b, b_to_a)?,
    ])
}

impl Driver for RingDev {
    fn info(&self) -> DevInfo {
        DevInfo {
            driver_name: DRIVER.name,
            // Checked to fit when the device was made.
            max_rx_queues: self.rx.len() as u16,
            max_tx_queues: self.tx.len() as u16,
            // The rings are made with the device: descriptor counts are ignored, as
            // in DPDK.
            desc_lim: (1, u16::MAX),
            mtu_range: (68, u16::MAX),
            rx_offload_capa: 0,
            rss: false,
        }
    }

    fn mac_addr(&self) -> MacAddr {
        // DPDK's ring PMD leaves its zero-allocated address as it is.
        MacAddr([0; 6])
    }

    fn configure(&mut self, _conf: &EthConf) -> Result<(), EthError> {
        Ok(())
    }

    fn rx_queue_setup(
        &mut self,
        queue: u16,
        _nb_desc: u16,
        _pool: &PktPool,
        counters: Arc<QueueCounters>,
    ) -> Result<Box<dyn RxBurst>, EthError> {
        Ok(Box::new(RingRx {
            ring: Arc::clone(&self.rx[usize::from(queue)]),
            port: self.port,
            counters,
        }))
    }

    fn tx_queue_setup(
        &mut self,
        queue: u16,
        _nb_desc: u16,
        counters: Arc<QueueCounters>,
    ) -> Result<Box<dyn TxBurst>, EthError> {
        Ok(Box::new(RingTx {
            ring: Arc::clone(&self.tx[usize::from(queue)]),
            counters,
        }))
    }

    fn start(&mut self) -> Result<(), EthError> {
        self.started = true;
        Ok(())
    }

    fn stop(&mut self) -> Result<(), EthError> {
        self.started = false;
        Ok(())
    }

    fn link(&self) -> Link {
        super::virtual_link(self.started)
    }

    fn set_promiscuous(&mut self, _on: bool) -> Result<(), EthError> {
        Ok(())
    }

    fn set_mtu(&mut self, _mtu: u16) -> Result<(), EthError> {
        Err(EthError::NotSupported {
            port: self.port,
            op: "setting the MTU",
            driver: DRIVER.name,
        })
    }
}

struct RingRx {
    ring: MbufRing,
    port: PortId,
    counters: Arc<QueueCounters>,
}

impl RxBurst for RingRx {
    fn rx_burst(&mut self, pkts: &mut Vec<Mbuf>, nb_pkts: usize) -> usize {
        let first = pkts.len();
        let n = self.ring.dequeue_burst(pkts, nb_pkts).count;
        if n == 0 {
            return 0;
        }
        let mut bytes = 0;
        for m in &mut pkts[first..] {
            m.set_port(self.port);
            bytes += u64::from(m.pkt_len());
        }
        self.counters.add(n as u64, bytes);
        n
    }
}

struct RingTx {
    ring: MbufRing,
    counters: Arc<QueueCounters>,
}

fn total_len(pkts: &[Mbuf]) -> u64 {
    pkts.iter().map(|m| u64::from(m.pkt_len())).sum()
}

impl TxBurst for RingTx {
    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        if pkts.is_empty() {
            return 0;
        }
        let offered = total_len(pkts);
        let sent = self.ring.enqueue_burst(pkts).count;
        // What did not fit stays in `pkts`, with the caller.
        let bytes = if pkts.is_empty() {
            offered
        } else {
            offered - total_len(pkts)
        };
        self.counters.add(sent as u64, bytes);
        sent
    }
}

#[cfg(test)]
mod tests {
    use burst_eal::Devargs;
    use burst_eal::memory::{Memory, MemoryConfig};
    use burst_mempool::MbufConfig;

    use super::*;
    use crate::{EthConf, RxQueue, TxQueue, vdev};

    fn pool(n: usize) -> PktPool {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let mem = Memory::new(MemoryConfig::no_huge()).unwrap();
        let i = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        PktPool::new(&mem, &format!("ring-test-{i}"), n, MbufConfig::default()).unwrap()
    }

    /// `n` packets whose first byte is their index and whose length is 60 + index.
    fn packets(pool: &PktPool, n: usize) -> Vec<Mbuf> {
        (0..n)
            .map(|i| {
                let mut m = pool.alloc().unwrap();
                m.append(60 + i).unwrap()[0] = i as u8;
                m
            })
            .collect()
    }

    fn start(port: &mut Port, queues: u16, pool: &PktPool) -> (Vec<RxQueue>, Vec<TxQueue>) {
        port.configure(&EthConf {
            nb_rx_queues: queues,
            nb_tx_queues: queues,
            ..EthConf::default()
        })
        .unwrap();
        let rx = (0..queues)
            .map(|q| port.rx_queue_setup(q, 1024, pool).unwrap())
            .collect();
        let tx = (0..queues)
            .map(|q| port.tx_queue_setup(q, 1024).unwrap())
            .collect();
        port.start().unwrap();
        (rx, tx)
    }

    #[test]
    fn vdev_is_a_loopback_per_queue_in_order() {
        let pool = pool(512);
        let mut port = vdev::probe(&Devargs::parse("net_ring0").unwrap(), 3).unwrap();
        assert_eq!(port.mac_addr(), MacAddr([0; 6]));
        assert_eq!(port.info().max_rx_queues, MAX_QUEUES);
        assert!(!port.link().up);
        let (mut rx, mut tx) = start(&mut port, 2, &pool);
        assert_eq!(port.link().to_string(), "Link up at 10 Gbps FDX Fixed");

        let mut burst = packets(&pool, 5);
        assert_eq!(tx[1].tx_burst(&mut burst), 5);
        assert!(burst.is_empty());
        let mut got = Vec::with_capacity(32);
        assert_eq!(rx[0].rx_burst(&mut got, 32), 0, "queue 0 has its own ring");
        assert_eq!(rx[1].rx_burst(&mut got, 32), 5);
        for (i, m) in got.iter().enumerate() {
            assert_eq!(
                (m.data()[0], m.data_len(), m.port()),
                (i as u8, 60 + i as u16, 3)
            );
        }
        let s = port.stats();
        let bytes = (60..65).sum::<u64>();
        assert_eq!(
            (s.ipackets, s.ibytes, s.opackets, s.obytes),
            (5, bytes, 5, bytes)
        );
        assert_eq!((s.q_ipackets, s.q_opackets), (vec![0, 5], vec![0, 5]));
        assert_eq!(s.oerrors, 0);
        assert!(
            port.set_mtu(9000).is_err(),
            "DPDK's ring PMD has no mtu_set"
        );
        drop(got);
        assert!(pool.is_full());
    }

    #[test]
    fn nodeaction_and_unknown_keys_are_refused() {
        let e = vdev::probe(
            &Devargs::parse("net_ring0,nodeaction=r:0:CREATE").unwrap(),
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("nodeaction") && e.contains("pair"), "{e}");
        let e = vdev::probe(&Devargs::parse("net_ring0,size=4").unwrap(), 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown argument 'size'"), "{e}");
    }

    #[test]
    fn full_ring_leaves_the_rest_with_the_caller() {
        let pool = pool(64);
        let ring = Arc::new(Ring::new(8).unwrap()); // holds 7
        let mut port = from_ring(0, "small", ring).unwrap();
        assert_eq!(port.name(), "net_ring_small");
        let (mut rx, mut tx) = start(&mut port, 1, &pool);
        let mut burst = packets(&pool, 10);
        assert_eq!(tx[0].tx_burst(&mut burst), 7);
        assert_eq!(burst.len(), 3, "unsent mbufs stay with the caller");
        assert_eq!(burst[0].data()[0], 7, "in order, from the first unsent");
        let s = port.stats();
        assert_eq!((s.opackets, s.obytes, s.oerrors), (7, (60..67).sum(), 0));
        assert_eq!(tx[0].tx_burst(&mut burst), 0, "still full");
        let mut got = Vec::with_capacity(16);
        assert_eq!(rx[0].rx_burst(&mut got, 16), 7);
        assert_eq!(tx[0].tx_burst(&mut burst), 3);
        assert_eq!(rx[0].rx_burst(&mut got, 16), 3);
        let order: Vec<u8> = got.iter().map(|m| m.data()[0]).collect();
        assert_eq!(order, (0..10).collect::<Vec<u8>>());
        drop(got);
        assert!(pool.is_full());
    }

    #[test]
    fn from_rings_checks_its_arguments() {
        assert!(from_rings(0, "none", vec![], vec![]).is_err());
        assert!(pair([0, 1], "p", 0).is_err());
        let r: MbufRing = Arc::new(Ring::new(16).unwrap());
        let port = from_rings(4, "rx-only", vec![r], vec![]).unwrap();
        assert_eq!(
            (port.info().max_rx_queues, port.info().max_tx_queues),
            (1, 0)
        );
    }
}
