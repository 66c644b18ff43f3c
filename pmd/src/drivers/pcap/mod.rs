//! `net_pcap` (DPDK's `drivers/net/pcap`): a port whose wire is pcap files, to feed a
//! pipeline captured traffic and capture what it sends, with no NIC and no privilege.
//!
//! Devargs, as DPDK's:
//! - `rx_pcap=FILE`: an RX queue reading FILE; repeat the key for more queues (queue
//!   `i` reads the `i`-th file), at most [`MAX_QUEUES`]. Each packet is copied into a
//!   fresh mbuf of the queue's pool, chained over several mbufs when longer than their
//!   data room. When the file ends, RX returns 0 from then on.
//! - `infinite_rx=1`: each RX queue loads its whole file at setup and replays it
//!   forever, copying from memory into mbufs taken in one bulk per burst (every packet
//!   must then fit one mbuf, as DPDK requires).
//! - `tx_pcap=FILE`: a TX queue writing FILE (created at probe, and again at each queue
//!   setup); repeat for more queues.
//!
//! Without `tx_pcap`, the port has one TX queue per RX queue that counts and frees
//! (DPDK's `tx_drop`); without `rx_pcap`, one RX queue per TX queue that receives
//! nothing. Files are checked whole at probe: a missing, unreadable, truncated or
//! corrupt one is an error naming it. Only the pcap format is read (not pcapng).
//! DPDK's live-interface keys (`iface`, `rx_iface`, `rx_iface_in`, `tx_iface`,
//! `phy_mac`) are refused: burst reaches interfaces through `net_af_packet`.
//!
//! As in DPDK: MAC `02:70:63:61:70:<n>` ("pcap", locally administered) with `n` the
//! count of pcap ports made before in this process; link 10 Gb/s full duplex, up while
//! started; written files use nanosecond timestamps (the time of the burst), snapshot
//! length 65535, and are flushed at the end of every TX burst, so they are complete as
//! soon as `tx_burst` returns. Unlike DPDK, which reopens its files at each start (RX
//! rewinds, TX truncates), a stop and start resumes where the queues were; set the
//! queues up again to start over.

mod file;
mod queue;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use burst_mempool::PktPool;

use crate::drivers::{LcoreCache, TxFree};
use crate::ethdev::{DevInfo, Driver, EthConf, EthError, Link, MacAddr, PortId, RxBurst, TxBurst};
use crate::stats::QueueCounters;
use crate::vdev::{VdevArgs, VdevDriver};
use file::{Reader, Writer};
use queue::{DropTx, DumpTx, FileRx, NoRx, ReplayRx};

/// The registry entry.
pub const DRIVER: VdevDriver = VdevDriver {
    name: "net_pcap",
    probe,
};

/// Most files of each direction a port takes (DPDK's `RTE_PMD_PCAP_MAX_QUEUES`).
pub const MAX_QUEUES: usize = 16;

/// DPDK's options for live interfaces, which burst leaves to `net_af_packet`.
const IFACE_KEYS: [&str; 5] = ["iface", "rx_iface", "rx_iface_in", "tx_iface", "phy_mac"];

/// The last byte of the next pcap port's MAC: DPDK's process-wide `iface_idx`.
static IFACE_IDX: AtomicU8 = AtomicU8::new(0);

/// What an RX queue reads.
enum RxSource {
    /// A pcap file.
    File(PathBuf),
    /// Nothing (the port has TX files only).
    Nothing,
}

/// Where a TX queue's packets go.
enum TxSink {
    /// A pcap file.
    File(PathBuf),
    /// Nowhere: counted and freed.
    Drop,
}

struct PcapDev {
    name: String,
    port: PortId,
    mac: MacAddr,
    rx: Vec<RxSource>,
    tx: Vec<TxSink>,
    infinite_rx: bool,
    started: bool,
}

fn probe(args: &VdevArgs<'_>, port: PortId) -> Result<Box<dyn Driver>, EthError> {
    if let Some(key) = IFACE_KEYS.iter().find(|k| args.get(k).is_some()) {
        return Err(args.error(format!(
            "{key}: live interfaces are not supported by net_pcap: use net_af_packet \
             (--vdev net_af_packet0,iface=IFNAME)"
        )));
    }
    args.check_keys(&["rx_pcap", "tx_pcap", "infinite_rx"])?;
    let rx_files: Vec<PathBuf> = args.get_all("rx_pcap").map(PathBuf::from).collect();
    let tx_files: Vec<PathBuf> = args.get_all("tx_pcap").map(PathBuf::from).collect();
    if rx_files.is_empty() && tx_files.is_empty() {
        return Err(args.error("no queue: give rx_pcap=FILE and/or tx_pcap=FILE"));
    }
    for (key, files) in [("rx_pcap", &rx_files), ("tx_pcap", &tx_files)] {
        if files.len() > MAX_QUEUES {
            return Err(args.error(format!(
                "{} {key} files given, at most {MAX_QUEUES}",
                files.len()
            )));
        }
    }
    if args.get_all("infinite_rx").count() > 1 {
        return Err(args.error("infinite_rx given more than once"));
    }
    let infinite_rx = args.get_flag("infinite_rx")?;
    if infinite_rx && rx_files.is_empty() {
        return Err(args.error("infinite_rx needs an rx_pcap file to replay"));
    }
    for rx in &rx_files {
        if tx_files.iter().any(|tx| same_file(rx, tx)) {
            return Err(args.error(format!(
                "{} is both rx_pcap and tx_pcap: writing it would destroy what is read",
                rx.display()
            )));
        }
    }

    let dev = args.name();
    for path in &rx_files {
        let packets = file::scan(path).map_err(|e| io_error(dev, "rx_pcap", path, e))?;
        log::debug!("{dev}: {}: {packets} packets", path.display());
    }
    for (i, path) in tx_files.iter().enumerate() {
        Writer::create(path).map_err(|e| io_error(dev, "tx_pcap", path, e))?;
        if tx_files[..i].iter().any(|other| same_file(other, path)) {
            return Err(args.error(format!(
                "{} is given twice as tx_pcap: two queues cannot write one file",
                path.display()
            )));
        }
    }

    let rx: Vec<RxSource> = if rx_files.is_empty() {
        tx_files.iter().map(|_| RxSource::Nothing).collect()
    } else {
        rx_files.into_iter().map(RxSource::File).collect()
    };
    let tx: Vec<TxSink> = if tx_files.is_empty() {
        rx.iter().map(|_| TxSink::Drop).collect()
    } else {
        tx_files.into_iter().map(TxSink::File).collect()
    };
    // Only a device that was made takes a number, as DPDK's pmd_init_internals.
    let idx = IFACE_IDX.fetch_add(1, Ordering::Relaxed);
    Ok(Box::new(PcapDev {
        name: dev.to_string(),
        port,
        mac: MacAddr([0x02, 0x70, 0x63, 0x61, 0x70, idx]),
        rx,
        tx,
        infinite_rx,
        started: false,
    }))
}

/// Whether two paths name one file (both must exist to tell).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn io_error(dev: &str, key: &str, path: &Path, source: std::io::Error) -> EthError {
    EthError::Io {
        dev: dev.to_string(),
        what: format!("{key} {}", path.display()),
        source,
    }
}

impl PcapDev {
    fn invalid(&self, msg: String) -> EthError {
        EthError::Invalid {
            port: self.port,
            msg,
        }
    }
}

impl Driver for PcapDev {
    fn info(&self) -> DevInfo {
        DevInfo {
            driver_name: DRIVER.name,
            // At most MAX_QUEUES each (checked at probe), as DPDK: one per file.
            max_rx_queues: self.rx.len() as u16,
            max_tx_queues: self.tx.len() as u16,
            desc_lim: (1, u16::MAX),
            mtu_range: (68, u16::MAX),
            rx_offload_capa: 0,
            rss: false,
        }
    }

    fn mac_addr(&self) -> MacAddr {
        self.mac
    }

    fn configure(&mut self, _conf: &EthConf) -> Result<(), EthError> {
        Ok(())
    }

    fn rx_queue_setup(
        &mut self,
        queue: u16,
        _nb_desc: u16,
        pool: &PktPool,
        counters: Arc<QueueCounters>,
    ) -> Result<Box<dyn RxBurst>, EthError> {
        let path = match &self.rx[usize::from(queue)] {
            RxSource::Nothing => return Ok(Box::new(NoRx)),
            RxSource::File(path) => path,
        };
        let cache = LcoreCache::new(pool);
        let dev = &self.name;
        if self.infinite_rx {
            let replay = file::load(path).map_err(|e| io_error(dev, "rx_pcap", path, e))?;
            let room = usize::from(pool.config().data_room);
            if replay.largest > room {
                return Err(self.invalid(format!(
                    "RX queue {queue}: {} has a {}-byte packet, more than the {room}-byte data \
                     room of mempool '{}': infinite_rx needs every packet in one mbuf \
                     (make the pool's data room larger)",
                    path.display(),
                    replay.largest,
                    pool.name()
                )));
            }
            if replay.packets.is_empty() {
                log::warn!(
                    "{dev}: {} has no packet: RX queue {queue} stays empty",
                    path.display()
                );
            }
            return Ok(Box::new(ReplayRx {
                replay,
                next: 0,
                cache,
                port: self.port,
                counters,
            }));
        }
        let reader = Reader::open(path).map_err(|e| io_error(dev, "rx_pcap", path, e))?;
        Ok(Box::new(FileRx {
            reader,
            path: path.clone(),
            cache,
            port: self.port,
            counters,
            ended: false,
        }))
    }

    fn tx_queue_setup(
        &mut self,
        queue: u16,
        _nb_desc: u16,
        counters: Arc<QueueCounters>,
    ) -> Result<Box<dyn TxBurst>, EthError> {
        match &self.tx[usize::from(queue)] {
            TxSink::Drop => Ok(Box::new(DropTx {
                free: TxFree::default(),
                counters,
            })),
            TxSink::File(path) => {
                let writer =
                    Writer::create(path).map_err(|e| io_error(&self.name, "tx_pcap", path, e))?;
                Ok(Box::new(DumpTx {
                    writer,
                    path: path.clone(),
                    scratch: vec![0; file::SNAPLEN as usize],
                    free: TxFree::default(),
                    counters,
                    failed: false,
                }))
            }
        }
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
        // A file filters nothing: every mode is the same.
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
