//! `net_virtio`: virtio-net devices of the modern (virtio 1.x) PCI interface (1af4:1041,
//! QEMU's `virtio-net-pci,disable-legacy=on`), driven from user space through VFIO
//! (DPDK's `net_virtio` for these devices).
//!
//! - Discovery: the vendor-specific PCI capabilities locate the common, notification
//!   and device configuration structures in the BARs ([`pci`]).
//! - Handshake (§3.1.1 of the virtio 1.1 spec): reset, `ACKNOWLEDGE`, `DRIVER`, the
//!   features, `FEATURES_OK` (read back: the device may refuse), the virtqueues, then
//!   `DRIVER_OK` at start. Features taken when offered: `VIRTIO_F_VERSION_1` (required),
//!   `VIRTIO_F_ACCESS_PLATFORM` (required under IOVA-as-VA: without it the device's DMA
//!   would bypass the IOMMU), `VIRTIO_NET_F_MAC`, `VIRTIO_NET_F_STATUS` (link state),
//!   `VIRTIO_NET_F_MTU` and `VIRTIO_NET_F_SPEED_DUPLEX`. Not `VIRTIO_NET_F_MRG_RXBUF`
//!   (a frame of the MTU fits one mbuf), nor `VIRTIO_F_EVENT_IDX` (notifications are
//!   suppressed with the ring flags), nor indirect descriptors, offloads, multiqueue or
//!   the control virtqueue.
//! - Queues: one RX (virtqueue 0) and one TX (virtqueue 1) split virtqueue, of a
//!   power-of-two size up to the device's, in one region of EAL memory mapped for the
//!   device's DMA; each RX queue's mempool is mapped too, once per pool for the whole
//!   process (see [`crate::pci`]). Packets to send must come from a pool some RX queue
//!   uses, as the device reaches only mapped memory. Interrupts are suppressed
//!   (`VIRTQ_AVAIL_F_NO_INTERRUPT`, no MSI-X vector): the queues are polled.
//! - RX: each descriptor is an mbuf's data room plus the 12 bytes of headroom before it,
//!   where the device writes the `virtio_net_hdr`, so the frame lands at the data offset.
//!   A burst takes the used buffers as packets, re-arms their descriptors with fresh
//!   mbufs from the queue's cache (one bulk get), publishes them with one store of the
//!   available index, and notifies the device only if it asked to be
//!   (`VIRTQ_USED_F_NO_NOTIFY` clear). Runts and over-long lengths are dropped and
//!   counted in `ierrors`. A frame larger than the buffers is dropped by the device
//!   itself, uncounted: the MTU's frames must fit one mbuf. There is no device counter
//!   of missed packets: a virtio-net device without buffers holds frames back rather
//!   than drop them, so `imissed` stays 0.
//! - TX: one descriptor per segment; the header is prepended in the first segment's
//!   headroom (or, when that is too small or shared with clones, read from a zeroed
//!   header in the ring memory through one more descriptor, as DPDK does). One store of
//!   the available index and at most one notification per burst; used chains are
//!   reclaimed and their mbufs freed in bulk when fewer than 32 descriptors are free.
//!   The device maps each buffer through the IOMMU page by page, so buffers may cross
//!   hugepages (unlike the e1000e of QEMU 7.2); multi-segment packets need IOVA-as-VA.
//! - Stop (and drop) resets the device, after which it touches no ring or buffer, and
//!   gives every mbuf of both rings back to its pool. Start goes through the whole
//!   handshake again: reset, features, queues, `DRIVER_OK`.
//! - Link: down while stopped (as DPDK reports it); up per the `status` field with
//!   `VIRTIO_NET_F_STATUS`, always up without it; speed and duplex from the device
//!   configuration with `VIRTIO_NET_F_SPEED_DUPLEX`, unknown (0) and full otherwise.
//! - Promiscuous mode: without the control virtqueue there is no receive filter to
//!   program; a virtio-net device then passes every frame (QEMU's is promiscuous from
//!   reset until told otherwise through `VIRTIO_NET_CTRL_RX`). DPDK's `net_virtio`
//!   answers `-ENOTSUP` to both enable and disable without `VIRTIO_NET_F_CTRL_RX`; here
//!   enabling succeeds, as the device already is, and disabling is not supported.
//! - MAC from the device configuration (`VIRTIO_NET_F_MAC`), or else a locally
//!   administered one made of the PCI address. MTU up to the device's advice
//!   (`VIRTIO_NET_F_MTU`) or DPDK's 9728-byte frame limit; it must fit the RX buffers.
//!
//! No devargs.

pub mod net;
pub mod pci;
mod queue;
pub mod virtqueue;

use std::sync::Arc;

use burst_eal::Eal;
use burst_eal::memory::IovaMode;
use burst_eal::vfio::VfioPciDevice;
use burst_mempool::PktPool;

use crate::drivers::ring_mbufs::fill_rx;
use crate::drivers::ring_mem::RingMem;
use crate::drivers::shared::Shared;
use crate::drivers::{LcoreCache, drain_tx};
use crate::ethdev::{DevInfo, Driver, EthConf, EthError, Link, MacAddr, PortId, RxBurst, TxBurst};
use crate::pci::{PciArgs, PciDriver, PciId, PoolDma, device_error, map_pool, reset_for_dma};
use crate::stats::QueueCounters;
use net::*;
use pci::{
    ACKNOWLEDGE, CommonCfg, DEVICE_NEEDS_RESET, DRIVER_OK, FAILED, FEATURES_OK, Notifier,
    Structures, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_VERSION_1, Window, map_structures,
};
use queue::{Rx, RxRing, Tx, TxRing};
use virtqueue::{MAX_QUEUE_SIZE, QUEUE_BYTES, Vring};

/// The registry entry.
pub const DRIVER: PciDriver = PciDriver {
    name: "net_virtio",
    ids: &[PciId {
        vendor: 0x1af4,
        device: 0x1041,
    }],
    probe,
};

/// Fewest descriptors a queue may have.
pub const MIN_DESC: u16 = 32;
/// Largest frame without the device's MTU advice (DPDK's `VIRTIO_MAX_RX_PKTLEN`).
const MAX_RX_PKTLEN: u16 = 9728;
/// Bytes a frame has beyond its MTU: the Ethernet header and one VLAN tag.
const RX_OVERHEAD: u16 = 14 + 4;
/// Smallest MTU (IPv4's minimum, DPDK's `RTE_ETHER_MIN_MTU`).
const MIN_MTU: u16 = 68;
/// Virtqueue numbers of the first queue pair (§5.1.2): receiveq1 and transmitq1.
const RX_VQ: u16 = 0;
const TX_VQ: u16 = 1;
/// Each virtqueue's slot in the ring memory.
const RX_SLOT: usize = 0;
const TX_SLOT: usize = 1;

/// The features the driver takes when the device offers them.
const WANTED: u64 = VIRTIO_F_VERSION_1
    | VIRTIO_F_ACCESS_PLATFORM
    | VIRTIO_NET_F_MAC
    | VIRTIO_NET_F_STATUS
    | VIRTIO_NET_F_MTU
    | VIRTIO_NET_F_SPEED_DUPLEX;

/// Feature names, for the probe's log.
const FEATURE_NAMES: &[(u64, &str)] = &[
    (VIRTIO_NET_F_MTU, "MTU"),
    (VIRTIO_NET_F_MAC, "MAC"),
    (VIRTIO_NET_F_MRG_RXBUF, "MRG_RXBUF"),
    (VIRTIO_NET_F_STATUS, "STATUS"),
    (VIRTIO_NET_F_CTRL_VQ, "CTRL_VQ"),
    (VIRTIO_NET_F_CTRL_RX, "CTRL_RX"),
    (VIRTIO_F_VERSION_1, "VERSION_1"),
    (VIRTIO_F_ACCESS_PLATFORM, "ACCESS_PLATFORM"),
    (VIRTIO_NET_F_SPEED_DUPLEX, "SPEED_DUPLEX"),
];

/// `features` by name, then the rest in hex.
fn feature_names(features: u64) -> String {
    let mut rest = features;
    let mut names: Vec<String> = FEATURE_NAMES
        .iter()
        .filter(|&&(bit, _)| features & bit != 0)
        .map(|&(bit, name)| {
            rest &= !bit;
            name.to_string()
        })
        .collect();
    if rest != 0 {
        names.push(format!("{rest:#x}"));
    }
    names.join(" ")
}

/// An RX queue as the port sees it.
struct RxState {
    ring: Arc<Shared<RxRing>>,
    /// To notify the device of the buffers filled at start.
    notifier: Notifier,
    /// Bytes of frame each receive buffer holds (the pool's data room).
    buf_len: u16,
    /// Keeps the pool mapped for DMA; dropped after the ring is released.
    _dma: PoolDma,
}

struct VirtioNet {
    port: PortId,
    /// Its PCI address, for errors.
    name: String,
    mac: MacAddr,
    /// The features negotiated.
    features: u64,
    /// The device's largest RX and TX virtqueues.
    max_size: (u16, u16),
    max_mtu: u16,
    rx: Option<RxState>,
    tx: Option<Arc<Shared<TxRing>>>,
    mtu: u16,
    started: bool,
    iova_is_va: bool,
    /// Both virtqueues' memory, mapped for the device's DMA; dropped after the queues
    /// (whose rings also keep it).
    mem: Arc<RingMem>,
    structures: Structures,
    dev: VfioPciDevice,
}

/// Resets the device and negotiates the features up to `FEATURES_OK` (§3.1.1); the
/// features taken.
fn negotiate(common: &CommonCfg, iova_is_va: bool, name: &str) -> Result<u64, EthError> {
    let err = |msg: String| EthError::Devargs {
        dev: name.to_string(),
        msg,
    };
    if !common.reset() {
        return Err(err(
            "the device did not reset (device_status stays non-zero)".into(),
        ));
    }
    common.add_status(ACKNOWLEDGE);
    common.add_status(pci::DRIVER);
    let offered = common.device_features();
    if offered & VIRTIO_F_VERSION_1 == 0 {
        common.add_status(FAILED);
        return Err(err(
            "the device does not offer VIRTIO_F_VERSION_1: it is a legacy virtio device \
             (QEMU: give virtio-net-pci disable-legacy=on)"
                .into(),
        ));
    }
    if iova_is_va && offered & VIRTIO_F_ACCESS_PLATFORM == 0 {
        common.add_status(FAILED);
        return Err(err(
            "the device does not offer VIRTIO_F_ACCESS_PLATFORM: its DMA would bypass the \
             IOMMU and take IOVAs for physical addresses (QEMU: give virtio-net-pci \
             iommu_platform=on), or use --iova-mode=pa"
                .into(),
        ));
    }
    let features = offered & WANTED;
    common.set_driver_features(features);
    common.add_status(FEATURES_OK);
    if common.status() & FEATURES_OK == 0 {
        common.add_status(FAILED);
        return Err(err(format!(
            "the device refused the features {}",
            feature_names(features)
        )));
    }
    log::debug!(
        "{name}: virtio features offered {}; negotiated {}",
        feature_names(offered),
        feature_names(features)
    );
    Ok(features)
}

fn probe(
    eal: &Eal,
    dev: VfioPciDevice,
    args: &PciArgs<'_>,
    port: PortId,
) -> Result<Box<dyn Driver>, EthError> {
    args.check_keys(&[])?;
    let name = dev.addr().to_string();
    reset_for_dma(&dev)?;
    let structures = map_structures(&dev, CFG_LEN)
        .map_err(|err| device_error(&name, "find the virtio structures", err))?;
    let iova_is_va = eal.memory().config().iova_mode == IovaMode::Va;
    let common = &structures.common;
    let features = negotiate(common, iova_is_va, &name)?;
    let invalid = |msg: String| EthError::Devargs {
        dev: name.clone(),
        msg,
    };
    if common.num_queues() < 2 {
        return Err(invalid(format!(
            "the device has {} virtqueues: a receive and a transmit queue are needed",
            common.num_queues()
        )));
    }
    let mut max_size = [0; 2];
    for (vq, max) in [RX_VQ, TX_VQ].into_iter().zip(&mut max_size) {
        common.select_queue(vq);
        *max = common.queue_size().min(MAX_QUEUE_SIZE);
        if *max < MIN_DESC {
            return Err(invalid(format!(
                "virtqueue {vq} has {} entries, fewer than {MIN_DESC}",
                common.queue_size()
            )));
        }
    }
    common.disable_config_vector();

    let (mac, advised_mtu) = read_config(common, &structures.device, |cfg| {
        let mac: [u8; 6] = std::array::from_fn(|i| cfg.read8(CFG_MAC + i));
        (mac, cfg.read16(CFG_MTU))
    });
    let mac = if features & VIRTIO_NET_F_MAC != 0 {
        MacAddr(mac)
    } else {
        let a = dev.addr();
        let mac = MacAddr([0x02, 0, 0, a.bus(), a.device(), a.function()]);
        log::warn!("{name}: the device has no MAC address; using {mac}");
        mac
    };
    let pktlen_mtu = MAX_RX_PKTLEN - RX_OVERHEAD - NET_HDR_LEN as u16;
    let max_mtu = if features & VIRTIO_NET_F_MTU != 0 {
        advised_mtu.clamp(MIN_MTU, pktlen_mtu)
    } else {
        pktlen_mtu
    };

    let mem = RingMem::new(
        eal,
        &dev,
        &name,
        (2, QUEUE_BYTES),
        "virtqueues",
        "virtqueue memory",
    )?;
    let driver = VirtioNet {
        port,
        mac,
        features,
        max_size: (max_size[0], max_size[1]),
        max_mtu,
        rx: None,
        tx: None,
        mtu: crate::ethdev::DEFAULT_MTU.min(max_mtu),
        started: false,
        iova_is_va,
        mem: Arc::new(mem),
        structures,
        dev,
        name,
    };
    log::info!(
        "{}: virtio-net MAC {mac}, virtqueues of up to {}/{} entries, features {}",
        driver.name,
        max_size[0],
        max_size[1],
        feature_names(features)
    );
    Ok(Box::new(driver))
}

/// Reads the device configuration with `f` until the configuration generation is the
/// same before and after, so the fields belong together (§4.1.4.3.1).
fn read_config<T>(common: &CommonCfg, device: &Window, f: impl Fn(&Window) -> T) -> T {
    loop {
        let before = common.config_generation();
        let value = f(device);
        if common.config_generation() == before {
            return value;
        }
    }
}

impl VirtioNet {
    fn invalid(&self, msg: String) -> EthError {
        EthError::Invalid {
            port: self.port,
            msg,
        }
    }

    /// Checks that frames of `mtu` fit RX buffers of `buf_len` bytes.
    fn check_mtu_fits(&self, mtu: u16, buf_len: u16) -> Result<(), EthError> {
        if mtu + RX_OVERHEAD > buf_len {
            return Err(self.invalid(format!(
                "MTU {mtu} needs {}-byte receive buffers, the RX queue's are {buf_len} \
                 (mergeable RX buffers are not supported: use a mempool with a larger data \
                 room)",
                mtu + RX_OVERHEAD
            )));
        }
        Ok(())
    }

    /// The virtqueue size for `nb_desc` descriptors asked for queue `what`, if valid
    /// for a virtqueue of at most `max` entries.
    fn queue_size(&self, what: &str, nb_desc: u16, max: u16) -> Result<u16, EthError> {
        if !nb_desc.is_power_of_two() || nb_desc > max {
            return Err(self.invalid(format!(
                "{what}: {nb_desc} descriptors: a virtqueue's size is a power of two, at \
                 most {max} here"
            )));
        }
        Ok(nb_desc)
    }

    /// The notifier of virtqueue `vq`.
    fn notifier(&self, vq: u16) -> Result<Notifier, EthError> {
        let s = &self.structures;
        s.common.select_queue(vq);
        let off = s.common.queue_notify_off();
        Notifier::new(&s.notify, s.notify_off_multiplier, vq, off).ok_or_else(|| {
            self.invalid(format!(
                "virtqueue {vq}: its notification address (offset {off} × {}) is outside \
                 the notification structure",
                s.notify_off_multiplier
            ))
        })
    }

    /// The virtqueue in ring memory slot `slot`, of `size` entries.
    fn vring(&self, slot: usize, size: u16) -> Vring {
        let (base, iova) = self.mem.slot(slot);
        // SAFETY: the slot is QUEUE_BYTES of the page-aligned ring memory, IOVA-contiguous
        // (checked at probe), kept by `mem`; only this queue's ring (the previous one,
        // if any, is dropped by the caller and holds no buffer) and the device use it.
        unsafe { Vring::new(base, iova, size, self.mem.clone()) }
    }

    /// Takes the queues from the lcores (waiting for a burst in progress), resets the
    /// device and gives every mbuf of the rings back.
    fn stop_queues(&mut self) {
        // First no burst runs any more, then the device stops, then the buffers go.
        if let Some(rx) = &self.rx {
            rx.ring.stop();
        }
        if let Some(tx) = &self.tx {
            tx.stop();
            // The device has used every chain made available once the used idx
            // reaches the avail idx.
            drain_tx(&self.name, self.link().up, || {
                tx.control(|ring| (ring.in_flight() == 0, false)) != Some(false)
            });
        }
        if !self.structures.common.reset() {
            log::error!(
                "{}: the device did not reset: its buffers are leaked, as it may still \
                 use them",
                self.name
            );
            self.started = false;
            return;
        }
        if let Some(rx) = &self.rx {
            if !rx.ring.release(RxRing::release) {
                log::error!("{}: an RX burst panicked: its mbufs leak", self.name);
            }
        }
        if let Some(tx) = &self.tx {
            if !tx.release(TxRing::release) {
                log::error!("{}: a TX burst panicked: its mbufs leak", self.name);
            }
        }
        self.started = false;
    }
}

impl Driver for VirtioNet {
    fn info(&self) -> DevInfo {
        DevInfo {
            driver_name: DRIVER.name,
            max_rx_queues: 1,
            max_tx_queues: 1,
            desc_lim: (MIN_DESC, self.max_size.0.min(self.max_size.1)),
            mtu_range: (MIN_MTU, self.max_mtu),
            rx_offload_capa: 0,
            rss: false,
        }
    }

    fn mac_addr(&self) -> MacAddr {
        self.mac
    }

    fn configure(&mut self, _conf: &EthConf) -> Result<(), EthError> {
        // The port is stopped: the old queues hold no mbuf, and go.
        self.rx = None;
        self.tx = None;
        Ok(())
    }

    fn rx_queue_setup(
        &mut self,
        queue: u16,
        nb_desc: u16,
        pool: &PktPool,
        counters: Arc<QueueCounters>,
    ) -> Result<Box<dyn RxBurst>, EthError> {
        let size = self.queue_size(&format!("RX queue {queue}"), nb_desc, self.max_size.0)?;
        let cfg = pool.config();
        if usize::from(cfg.headroom) < NET_HDR_LEN {
            return Err(self.invalid(format!(
                "RX queue {queue}: mempool '{}' has {} bytes of headroom, the device needs \
                 {NET_HDR_LEN} for the virtio-net header",
                pool.name(),
                cfg.headroom
            )));
        }
        self.check_mtu_fits(self.mtu, cfg.data_room)?;
        let dma = map_pool(&self.dev, pool)?;
        let cache = LcoreCache::new(pool);
        let notifier = self.notifier(RX_VQ)?;
        // The previous queue, if any, goes first: it holds no mbuf (the port is stopped).
        self.rx = None;
        let ring = Arc::new(Shared::new(RxRing::new(
            self.vring(RX_SLOT, size),
            cache,
            self.port,
            counters,
        )));
        self.rx = Some(RxState {
            ring: Arc::clone(&ring),
            notifier: notifier.clone(),
            buf_len: cfg.data_room,
            _dma: dma,
        });
        Ok(Box::new(Rx { ring, notifier }))
    }

    fn tx_queue_setup(
        &mut self,
        queue: u16,
        nb_desc: u16,
        counters: Arc<QueueCounters>,
    ) -> Result<Box<dyn TxBurst>, EthError> {
        let size = self.queue_size(&format!("TX queue {queue}"), nb_desc, self.max_size.1)?;
        let notifier = self.notifier(TX_VQ)?;
        self.tx = None;
        let ring = Arc::new(Shared::new(TxRing::new(
            self.vring(TX_SLOT, size),
            self.iova_is_va,
            counters,
        )));
        self.tx = Some(Arc::clone(&ring));
        Ok(Box::new(Tx { ring, notifier }))
    }

    fn start(&mut self) -> Result<(), EthError> {
        let common = &self.structures.common;
        self.features = negotiate(common, self.iova_is_va, &self.name)?;
        // The rings' layouts, to give the device: (size, descriptor area, driver area,
        // device area).
        let layout = |vq: &Vring| {
            let (desc, driver, device) = vq.iovas();
            (vq.size(), desc, driver, device)
        };
        let rx = match &self.rx {
            Some(rx) => Some(fill_rx(self.port, &rx.ring, |ring| {
                ring.fill().map(|()| layout(ring.vq()))
            })?),
            None => None,
        };
        let tx = match &self.tx {
            Some(tx) => match tx.control(|ring| {
                ring.reset();
                (layout(ring.vq()), false)
            }) {
                Some(vq) => Some(vq),
                None => {
                    // Nothing given to the device yet: the RX ring's mbufs go back.
                    self.stop_queues();
                    return Err(self.invalid("TX queue 0 is poisoned by a panic".into()));
                }
            },
            None => None,
        };
        let common = &self.structures.common;
        if let Some((size, desc, driver, device)) = rx {
            common.select_queue(RX_VQ);
            common.enable_queue(size, desc, driver, device);
        }
        if let Some((size, desc, driver, device)) = tx {
            common.select_queue(TX_VQ);
            common.enable_queue(size, desc, driver, device);
        }
        common.add_status(DRIVER_OK);
        if common.status() & DEVICE_NEEDS_RESET != 0 {
            self.stop_queues();
            return Err(self.invalid(
                "the device asked for a reset when set live (DEVICE_NEEDS_RESET)".into(),
            ));
        }
        if let Some(rx) = &self.rx {
            rx.ring.run();
            // The device may have asked for no notification already; one costs little.
            rx.notifier.notify();
        }
        if let Some(tx) = &self.tx {
            tx.run();
        }
        self.started = true;
        Ok(())
    }

    fn stop(&mut self) -> Result<(), EthError> {
        self.stop_queues();
        Ok(())
    }

    fn link(&self) -> Link {
        let s = &self.structures;
        if !self.started || s.common.status() & DEVICE_NEEDS_RESET != 0 {
            return Link::default();
        }
        let (status, speed, duplex) = read_config(&s.common, &s.device, |cfg| {
            (
                cfg.read16(CFG_STATUS),
                cfg.read32(CFG_SPEED),
                cfg.read8(CFG_DUPLEX),
            )
        });
        let up = self.features & VIRTIO_NET_F_STATUS == 0 || status & VIRTIO_NET_S_LINK_UP != 0;
        let reported = self.features & VIRTIO_NET_F_SPEED_DUPLEX != 0;
        Link {
            up,
            speed_mbps: match (up, reported && speed != SPEED_UNKNOWN) {
                (true, true) => speed,
                _ => 0,
            },
            full_duplex: !reported || duplex == DUPLEX_FULL || duplex == u8::MAX,
            autoneg: true,
        }
    }

    fn set_promiscuous(&mut self, on: bool) -> Result<(), EthError> {
        // See the module docs: without the control virtqueue the device passes every
        // frame, and cannot be told to filter.
        if on {
            Ok(())
        } else {
            Err(EthError::NotSupported {
                port: self.port,
                op: "turning promiscuous mode off (no control virtqueue: the device \
                     receives every frame)",
                driver: DRIVER.name,
            })
        }
    }

    fn set_mtu(&mut self, mtu: u16) -> Result<(), EthError> {
        if let Some(rx) = &self.rx {
            self.check_mtu_fits(mtu, rx.buf_len)?;
        }
        self.mtu = mtu;
        Ok(())
    }
}

impl Drop for VirtioNet {
    fn drop(&mut self) {
        if self.started {
            self.stop_queues();
        } else {
            // Not live, no feature negotiated.
            self.structures.common.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_named() {
        assert_eq!(
            feature_names(VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC | 1 << 40 | 1),
            "MAC VERSION_1 0x10000000001"
        );
        assert_eq!(feature_names(0), "");
    }
}
