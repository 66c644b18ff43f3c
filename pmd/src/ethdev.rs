//! The ethdev API (DPDK's `rte_ethdev`): a [`Port`] is configured, given RX and TX
//! queues, started and stopped from the control plane; each queue is handed by value
//! to the lcore that polls it, so the data plane needs no lock and no shared state
//! beyond its own counters.
//!
//! A driver implements [`Driver`] for the control plane and [`RxBurst`]/[`TxBurst`] for
//! its queues; `Port` enforces the state machine and argument checks once, for all
//! drivers, and sums the queues' counters into [`Stats`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use burst_mempool::{Mbuf, PktPool};

use crate::stats::{QueueCounters, QueueSnapshot, Stats};

/// A port's index, in probe order (DPDK's `port_id`).
pub type PortId = u16;

/// An Ethernet (MAC) address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl fmt::Display for MacAddr {
    /// Upper-case, colon-separated, as DPDK's `RTE_ETHER_ADDR_PRT_FMT`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Link state (DPDK's `rte_eth_link`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Link {
    /// Carrier up.
    pub up: bool,
    /// Speed in Mb/s (0 when unknown or down).
    pub speed_mbps: u32,
    /// Full duplex.
    pub full_duplex: bool,
    /// Negotiated by autonegotiation.
    pub autoneg: bool,
}

impl fmt::Display for Link {
    /// As DPDK's `rte_eth_link_to_str`: "Link up at 10 Gbps FDX Autoneg" or "Link down".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.up {
            return write!(f, "Link down");
        }
        let speed = match self.speed_mbps {
            0 => "Unknown".to_string(),
            s if s % 1000 == 0 => format!("{} Gbps", s / 1000),
            s => format!("{s} Mbps"),
        };
        let duplex = if self.full_duplex { "FDX" } else { "HDX" };
        let neg = if self.autoneg { "Autoneg" } else { "Fixed" };
        write!(f, "Link up at {speed} {duplex} {neg}")
    }
}

/// RX offload flags (DPDK's `RTE_ETH_RX_OFFLOAD_*`), as a bit set.
pub mod rx_offload {
    /// Strip VLAN tags.
    pub const VLAN_STRIP: u64 = 1 << 0;
    /// Verify IPv4 header checksums.
    pub const IPV4_CKSUM: u64 = 1 << 1;
    /// Verify UDP checksums.
    pub const UDP_CKSUM: u64 = 1 << 2;
    /// Verify TCP checksums.
    pub const TCP_CKSUM: u64 = 1 << 3;
    /// Deliver the RSS hash in `Mbuf::rss_hash`.
    pub const RSS_HASH: u64 = 1 << 19;
    /// IPv4, UDP and TCP checksums (DPDK's `RTE_ETH_RX_OFFLOAD_CHECKSUM`).
    pub const CHECKSUM: u64 = IPV4_CKSUM | UDP_CKSUM | TCP_CKSUM;
}

/// What a device can do (DPDK's `rte_eth_dev_info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevInfo {
    /// The driver's name, e.g. `net_null`.
    pub driver_name: &'static str,
    /// Most RX queues the device has.
    pub max_rx_queues: u16,
    /// Most TX queues the device has.
    pub max_tx_queues: u16,
    /// Fewest and most descriptors a queue may have.
    pub desc_lim: (u16, u16),
    /// Smallest and largest MTU.
    pub mtu_range: (u16, u16),
    /// RX offloads the device can do ([`rx_offload`] bits).
    pub rx_offload_capa: u64,
    /// Whether the device spreads flows over RX queues by RSS.
    pub rss: bool,
}

/// Port configuration (DPDK's `rte_eth_conf` and the queue counts).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EthConf {
    /// RX queues to create.
    pub nb_rx_queues: u16,
    /// TX queues to create.
    pub nb_tx_queues: u16,
    /// RX offloads requested ([`rx_offload`] bits); each must be in `rx_offload_capa`.
    pub rx_offloads: u64,
    /// Spread flows over the RX queues by RSS.
    pub rss: bool,
}

/// Why an ethdev operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EthError {
    /// No driver of that name is registered.
    #[error("unknown device driver '{0}' (known: {1})")]
    UnknownDriver(String, String),
    /// A device argument is missing, unknown or malformed.
    #[error("{dev}: {msg}")]
    Devargs {
        /// The device, e.g. `net_pcap0`.
        dev: String,
        /// What is wrong and what is expected.
        msg: String,
    },
    /// The port is not in a state that allows the operation.
    #[error("port {port}: cannot {op} while {state}")]
    State {
        /// The port.
        port: PortId,
        /// The operation, e.g. "set up an RX queue".
        op: &'static str,
        /// The port's state.
        state: PortState,
    },
    /// A configuration value is out of the device's range.
    #[error("port {port}: {msg}")]
    Invalid {
        /// The port.
        port: PortId,
        /// What is out of range, and the range.
        msg: String,
    },
    /// The device cannot do this at all.
    #[error("port {port}: {op} is not supported by {driver}")]
    NotSupported {
        /// The port.
        port: PortId,
        /// The operation.
        op: &'static str,
        /// The driver.
        driver: &'static str,
    },
    /// An I/O error from the device's backing (file, socket, VFIO).
    #[error("{dev}: {what}: {source}")]
    Io {
        /// The device.
        dev: String,
        /// What was being done, e.g. "open rx_pcap /tmp/in.pcap".
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The control-plane side of a driver: one per port. [`Port`] calls it only in the
/// states where DPDK allows each operation, after checking the arguments.
pub trait Driver: Send {
    /// What the device can do.
    fn info(&self) -> DevInfo;
    /// The device's MAC address.
    fn mac_addr(&self) -> MacAddr;
    /// Applies a configuration already checked against `info()`.
    fn configure(&mut self, conf: &EthConf) -> Result<(), EthError>;
    /// Creates RX queue `queue` with `nb_desc` descriptors, refilled from `pool`, its
    /// counters in `counters`.
    fn rx_queue_setup(
        &mut self,
        queue: u16,
        nb_desc: u16,
        pool: &PktPool,
        counters: Arc<QueueCounters>,
    ) -> Result<Box<dyn RxBurst>, EthError>;
    /// Creates TX queue `queue` with `nb_desc` descriptors, its counters in `counters`.
    fn tx_queue_setup(
        &mut self,
        queue: u16,
        nb_desc: u16,
        counters: Arc<QueueCounters>,
    ) -> Result<Box<dyn TxBurst>, EthError>;
    /// Starts the device: packets flow once this returns.
    fn start(&mut self) -> Result<(), EthError>;
    /// Stops the device; queues stay set up and may be started again.
    fn stop(&mut self) -> Result<(), EthError>;
    /// The current link state.
    fn link(&self) -> Link;
    /// Turns promiscuous mode on or off.
    fn set_promiscuous(&mut self, on: bool) -> Result<(), EthError>;
    /// Sets the MTU (already checked against `info().mtu_range`).
    fn set_mtu(&mut self, mtu: u16) -> Result<(), EthError>;
    /// Driver-specific counters, by name, beyond the basic [`Stats`].
    fn xstats(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
}

/// A driver's receive path for one queue.
pub trait RxBurst: Send {
    /// Appends up to `nb_pkts` received packets to `pkts`; returns how many.
    fn rx_burst(&mut self, pkts: &mut Vec<Mbuf>, nb_pkts: usize) -> usize;
}

/// A driver's transmit path for one queue.
pub trait TxBurst: Send {
    /// Sends packets from the front of `pkts`, removing those sent; returns how many.
    /// Packets not sent (the queue is full) stay in `pkts`, in order, for the caller.
    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize;
}

/// An RX queue, owned by the lcore that polls it.
pub struct RxQueue {
    port: PortId,
    queue: u16,
    started: Arc<AtomicBool>,
    imp: Box<dyn RxBurst>,
}

impl RxQueue {
    /// Receives up to `nb_pkts` packets, appended to `pkts` (give it the capacity up
    /// front: the fast path never allocates). Returns 0 while the port is stopped.
    #[inline]
    pub fn rx_burst(&mut self, pkts: &mut Vec<Mbuf>, nb_pkts: usize) -> usize {
        // Relaxed: a stop seen a burst late is harmless; the driver orders its own data.
        if !self.started.load(Ordering::Relaxed) {
            return 0;
        }
        self.imp.rx_burst(pkts, nb_pkts)
    }

    /// The port this queue belongs to.
    pub fn port(&self) -> PortId {
        self.port
    }

    /// The queue's index on its port.
    pub fn queue(&self) -> u16 {
        self.queue
    }
}

/// A TX queue, owned by the lcore that feeds it.
pub struct TxQueue {
    port: PortId,
    queue: u16,
    started: Arc<AtomicBool>,
    imp: Box<dyn TxBurst>,
}

impl TxQueue {
    /// Sends packets from the front of `pkts`; unsent ones stay there, in order, for
    /// the caller to retry or drop. Sends nothing while the port is stopped.
    #[inline]
    pub fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        // Relaxed: as in `RxQueue::rx_burst`.
        if !self.started.load(Ordering::Relaxed) {
            return 0;
        }
        self.imp.tx_burst(pkts)
    }

    /// The port this queue belongs to.
    pub fn port(&self) -> PortId {
        self.port
    }

    /// The queue's index on its port.
    pub fn queue(&self) -> u16 {
        self.queue
    }
}

impl fmt::Debug for RxQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RxQueue")
            .field("port", &self.port)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for TxQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TxQueue")
            .field("port", &self.port)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

/// Where a port is in its life (DPDK's configure → queue setup → start ↔ stop → close).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortState {
    /// Probed, not configured yet.
    Unconfigured,
    /// Configured (queues may be set up), not started.
    Stopped,
    /// Started: packets flow.
    Started,
    /// Closed: nothing more can be done.
    Closed,
}

impl fmt::Display for PortState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PortState::Unconfigured => "unconfigured",
            PortState::Stopped => "stopped",
            PortState::Started => "started",
            PortState::Closed => "closed",
        })
    }
}

/// An Ethernet port: a device and its queues, driven from the control plane.
pub struct Port {
    id: PortId,
    name: String,
    driver: Box<dyn Driver>,
    state: PortState,
    conf: EthConf,
    promiscuous: bool,
    mtu: u16,
    started: Arc<AtomicBool>,
    rxq: Vec<Option<Arc<QueueCounters>>>,
    txq: Vec<Option<Arc<QueueCounters>>>,
    rx_base: Vec<QueueSnapshot>,
    tx_base: Vec<QueueSnapshot>,
}

/// DPDK's default MTU.
pub const DEFAULT_MTU: u16 = 1500;

impl Port {
    /// Wraps a probed driver as port `id`, named `name` (e.g. `net_pcap0`).
    pub fn new(id: PortId, name: impl Into<String>, driver: Box<dyn Driver>) -> Self {
        Self {
            id,
            name: name.into(),
            driver,
            state: PortState::Unconfigured,
            conf: EthConf::default(),
            promiscuous: false,
            mtu: DEFAULT_MTU,
            started: Arc::new(AtomicBool::new(false)),
            rxq: Vec::new(),
            txq: Vec::new(),
            rx_base: Vec::new(),
            tx_base: Vec::new(),
        }
    }

    /// The port's id.
    pub fn id(&self) -> PortId {
        self.id
    }

    /// The device name it was probed as, e.g. `net_null0`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The port's state.
    pub fn state(&self) -> PortState {
        self.state
    }

    /// What the device can do.
    pub fn info(&self) -> DevInfo {
        self.driver.info()
    }

    fn state_error(&self, op: &'static str) -> EthError {
        EthError::State {
            port: self.id,
            op,
            state: self.state,
        }
    }

    fn invalid(&self, msg: String) -> EthError {
        EthError::Invalid { port: self.id, msg }
    }

    /// Sets the queue counts and offloads (`rte_eth_dev_configure`); the port must be
    /// stopped. Previously set-up queues are released.
    pub fn configure(&mut self, conf: &EthConf) -> Result<(), EthError> {
        if !matches!(self.state, PortState::Unconfigured | PortState::Stopped) {
            return Err(self.state_error("configure"));
        }
        let info = self.driver.info();
        if conf.nb_rx_queues == 0 && conf.nb_tx_queues == 0 {
            return Err(self.invalid("needs at least one RX or TX queue".into()));
        }
        if conf.nb_rx_queues > info.max_rx_queues {
            return Err(self.invalid(format!(
                "{} RX queues requested, {} supports at most {}",
                conf.nb_rx_queues, info.driver_name, info.max_rx_queues
            )));
        }
        if conf.nb_tx_queues > info.max_tx_queues {
            return Err(self.invalid(format!(
                "{} TX queues requested, {} supports at most {}",
                conf.nb_tx_queues, info.driver_name, info.max_tx_queues
            )));
        }
        let missing = conf.rx_offloads & !info.rx_offload_capa;
        if missing != 0 {
            return Err(self.invalid(format!(
                "RX offloads {:#x} requested, {} supports {:#x} (mask the request with info().rx_offload_capa)",
                conf.rx_offloads, info.driver_name, info.rx_offload_capa
            )));
        }
        if conf.rss && !info.rss && conf.nb_rx_queues > 1 {
            return Err(self.invalid(format!("{} has no RSS", info.driver_name)));
        }
        self.driver.configure(conf)?;
        self.conf = conf.clone();
        self.rxq = vec![None; conf.nb_rx_queues as usize];
        self.txq = vec![None; conf.nb_tx_queues as usize];
        self.rx_base = vec![QueueSnapshot::default(); conf.nb_rx_queues as usize];
        self.tx_base = vec![QueueSnapshot::default(); conf.nb_tx_queues as usize];
        self.state = PortState::Stopped;
        Ok(())
    }

    fn check_desc(&self, nb_desc: u16) -> Result<(), EthError> {
        let (lo, hi) = self.driver.info().desc_lim;
        if !(lo..=hi).contains(&nb_desc) {
            return Err(self.invalid(format!(
                "{nb_desc} descriptors requested, the range is {lo}..={hi}"
            )));
        }
        Ok(())
    }

    /// Sets up RX queue `queue` (`rte_eth_rx_queue_setup`) and returns it, for the
    /// lcore that will poll it. Packets are received into mbufs from `pool`.
    pub fn rx_queue_setup(
        &mut self,
        queue: u16,
        nb_desc: u16,
        pool: &PktPool,
    ) -> Result<RxQueue, EthError> {
        if self.state != PortState::Stopped {
            return Err(self.state_error("set up an RX queue"));
        }
        if queue >= self.conf.nb_rx_queues {
            return Err(self.invalid(format!(
                "RX queue {queue} does not exist ({} configured)",
                self.conf.nb_rx_queues
            )));
        }
        self.check_desc(nb_desc)?;
        let counters = Arc::new(QueueCounters::default());
        let imp = self
            .driver
            .rx_queue_setup(queue, nb_desc, pool, Arc::clone(&counters))?;
        self.rx_base[queue as usize] = QueueSnapshot::default();
        self.rxq[queue as usize] = Some(counters);
        Ok(RxQueue {
            port: self.id,
            queue,
            started: Arc::clone(&self.started),
            imp,
        })
    }

    /// Sets up TX queue `queue` (`rte_eth_tx_queue_setup`) and returns it, for the
    /// lcore that will feed it.
    pub fn tx_queue_setup(&mut self, queue: u16, nb_desc: u16) -> Result<TxQueue, EthError> {
        if self.state != PortState::Stopped {
            return Err(self.state_error("set up a TX queue"));
        }
        if queue >= self.conf.nb_tx_queues {
            return Err(self.invalid(format!(
                "TX queue {queue} does not exist ({} configured)",
                self.conf.nb_tx_queues
            )));
        }
        self.check_desc(nb_desc)?;
        let counters = Arc::new(QueueCounters::default());
        let imp = self
            .driver
            .tx_queue_setup(queue, nb_desc, Arc::clone(&counters))?;
        self.tx_base[queue as usize] = QueueSnapshot::default();
        self.txq[queue as usize] = Some(counters);
        Ok(TxQueue {
            port: self.id,
            queue,
            started: Arc::clone(&self.started),
            imp,
        })
    }

    /// Starts the port (`rte_eth_dev_start`); every configured queue must be set up.
    pub fn start(&mut self) -> Result<(), EthError> {
        match self.state {
            PortState::Started => return Ok(()),
            PortState::Stopped => {}
            _ => return Err(self.state_error("start")),
        }
        if let Some(q) = self.rxq.iter().position(Option::is_none) {
            return Err(self.invalid(format!("RX queue {q} is not set up")));
        }
        if let Some(q) = self.txq.iter().position(Option::is_none) {
            return Err(self.invalid(format!("TX queue {q} is not set up")));
        }
        self.driver.start()?;
        // Release: the driver's start-up writes happen-before a queue's first burst.
        self.started.store(true, Ordering::Release);
        self.state = PortState::Started;
        Ok(())
    }

    /// Stops the port (`rte_eth_dev_stop`): bursts return 0 from now on.
    pub fn stop(&mut self) -> Result<(), EthError> {
        match self.state {
            PortState::Stopped => return Ok(()),
            PortState::Started => {}
            _ => return Err(self.state_error("stop")),
        }
        self.started.store(false, Ordering::Release);
        self.driver.stop()?;
        self.state = PortState::Stopped;
        Ok(())
    }

    /// Closes the port (`rte_eth_dev_close`), stopping it first.
    pub fn close(&mut self) -> Result<(), EthError> {
        if self.state == PortState::Started {
            self.stop()?;
        }
        self.state = PortState::Closed;
        Ok(())
    }

    fn snapshots(
        queues: &[Option<Arc<QueueCounters>>],
        base: &[QueueSnapshot],
    ) -> Vec<QueueSnapshot> {
        queues
            .iter()
            .zip(base)
            .map(|(q, b)| {
                q.as_ref()
                    .map_or_else(QueueSnapshot::default, |q| q.snapshot().since(*b))
            })
            .collect()
    }

    /// The port's statistics since the last reset (`rte_eth_stats_get`).
    pub fn stats(&self) -> Stats {
        Stats::from_queues(
            &Self::snapshots(&self.rxq, &self.rx_base),
            &Self::snapshots(&self.txq, &self.tx_base),
        )
    }

    /// Resets the statistics to zero (`rte_eth_stats_reset`).
    pub fn stats_reset(&mut self) {
        Self::rebase(&self.rxq, &mut self.rx_base);
        Self::rebase(&self.txq, &mut self.tx_base);
    }

    /// Takes each set-up queue's counters now as its new zero.
    fn rebase(queues: &[Option<Arc<QueueCounters>>], base: &mut [QueueSnapshot]) {
        for (q, b) in queues.iter().zip(base) {
            if let Some(q) = q {
                *b = q.snapshot();
            }
        }
    }

    /// Extended statistics by name (`rte_eth_xstats_get`): DPDK's generic names
    /// (`rx_good_packets`, `rx_q0_packets`, ...) then the driver's own.
    pub fn xstats(&self) -> Vec<(String, u64)> {
        let s = self.stats();
        let mut x: Vec<(String, u64)> = [
            ("rx_good_packets", s.ipackets),
            ("tx_good_packets", s.opackets),
            ("rx_good_bytes", s.ibytes),
            ("tx_good_bytes", s.obytes),
            ("rx_missed_errors", s.imissed),
            ("rx_errors", s.ierrors),
            ("tx_errors", s.oerrors),
            ("rx_mbuf_allocation_errors", s.rx_nombuf),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (i, (p, b)) in s.q_ipackets.iter().zip(&s.q_ibytes).enumerate() {
            x.push((format!("rx_q{i}_packets"), *p));
            x.push((format!("rx_q{i}_bytes"), *b));
            x.push((format!("rx_q{i}_errors"), s.q_errors[i]));
        }
        for (i, (p, b)) in s.q_opackets.iter().zip(&s.q_obytes).enumerate() {
            x.push((format!("tx_q{i}_packets"), *p));
            x.push((format!("tx_q{i}_bytes"), *b));
        }
        x.extend(self.driver.xstats());
        x
    }

    /// The link state (`rte_eth_link_get_nowait`).
    pub fn link(&self) -> Link {
        self.driver.link()
    }

    /// The port's MAC address (`rte_eth_macaddr_get`).
    pub fn mac_addr(&self) -> MacAddr {
        self.driver.mac_addr()
    }

    /// Turns promiscuous mode on or off (`rte_eth_promiscuous_enable/disable`).
    pub fn set_promiscuous(&mut self, on: bool) -> Result<(), EthError> {
        if self.state == PortState::Closed {
            return Err(self.state_error("set promiscuous mode"));
        }
        self.driver.set_promiscuous(on)?;
        self.promiscuous = on;
        Ok(())
    }

    /// Whether promiscuous mode is on.
    pub fn promiscuous(&self) -> bool {
        self.promiscuous
    }

    /// Sets the MTU (`rte_eth_dev_set_mtu`), within `info().mtu_range`.
    pub fn set_mtu(&mut self, mtu: u16) -> Result<(), EthError> {
        if self.state == PortState::Closed {
            return Err(self.state_error("set the MTU"));
        }
        let (lo, hi) = self.driver.info().mtu_range;
        if !(lo..=hi).contains(&mtu) {
            return Err(self.invalid(format!("MTU {mtu} out of range {lo}..={hi}")));
        }
        self.driver.set_mtu(mtu)?;
        self.mtu = mtu;
        Ok(())
    }

    /// The MTU.
    pub fn mtu(&self) -> u16 {
        self.mtu
    }
}

impl fmt::Debug for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Port")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("state", &self.state)
            .finish()
    }
}
