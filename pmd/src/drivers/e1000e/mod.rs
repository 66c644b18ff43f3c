//! `net_e1000e`: the Intel 82574L (8086:10d3), which QEMU's `e1000e` device emulates,
//! driven from user space through VFIO (DPDK's `net_e1000_em` for this chip).
//!
//! One RX and one TX queue (the 82574 has two of each; the second and RSS are not
//! used), legacy descriptors, interrupts masked: the queues are polled. At probe the
//! device is reset (VFIO function reset, then `CTRL.RST`), its MAC address read from
//! receive address 0, the other address and multicast filters cleared, and the link
//! set up (`CTRL.SLU`). Descriptor rings live in one region of EAL memory mapped for the
//! device's DMA; each RX queue's mempool is mapped too, once per pool for the whole
//! process (see [`crate::pci`]). Packets to send must come from a pool some e1000e RX
//! queue uses, as the device reaches only mapped memory.
//!
//! - RX: every descriptor points at an mbuf's data room; a burst takes the done
//!   descriptors' mbufs as packets, re-arms the descriptors with fresh mbufs from the
//!   queue's cache (one bulk get) and writes RDT once. The CRC is stripped. A packet
//!   that does not fit one buffer (no scattered RX), or has a frame error, is dropped
//!   and counted in `ierrors`. Buffers are the largest the 82574 offers (256 to 16384
//!   bytes) that fits the pool's data room; the MTU's frames must fit one.
//! - TX: one descriptor per segment (per page of it: QEMU's e1000e before 8.0 drops a
//!   packet whose buffer crosses an IOMMU page), Report Status every 32 descriptors (DPDK's
//!   `tx_rs_thresh`), TDT written once per burst; sent mbufs are freed in bulk when
//!   fewer than 32 descriptors are free (`tx_free_thresh`). Multi-segment packets need
//!   IOVA-as-VA (mbufs give the IOVA of their first segment only).
//! - Stop disables the receiver and transmitter, waits for the device's DMA to drain,
//!   and gives every mbuf in both rings back to its pool; start fills the RX ring again.
//!   Dropping the port does the same.
//! - Statistics: packets and bytes are counted by the queues; the device's counters
//!   (clear on read) are accumulated at each [`xstats`](Driver::xstats) call and at stop,
//!   under DPDK's e1000 xstat names, and the missed-packets count (MPC) is added to the
//!   RX queue's `imissed`.
//!
//! No devargs.

pub mod desc;
mod queue;
pub mod regs;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use burst_eal::Eal;
use burst_eal::memory::IovaMode;
use burst_eal::vfio::{Bar, VfioPciDevice};
use burst_mempool::PktPool;

use crate::drivers::ring_mbufs::fill_rx;
use crate::drivers::ring_mem::RingMem;
use crate::drivers::shared::Shared;
use crate::drivers::{LcoreCache, drain_tx, wait_for};
use crate::ethdev::{DevInfo, Driver, EthConf, EthError, Link, MacAddr, PortId, RxBurst, TxBurst};
use crate::pci::{PciArgs, PciDriver, PciId, PoolDma, device_error, map_pool, reset_for_dma};
use crate::stats::QueueCounters;
use desc::DESC_LEN;
use queue::{DescRing, Rx, RxRing, Tx, TxRing};
use regs::*;

/// The registry entry.
pub const DRIVER: PciDriver = PciDriver {
    name: "net_e1000e",
    ids: &[PciId {
        vendor: 0x8086,
        device: 0x10d3,
    }],
    probe,
};

/// Fewest descriptors a queue may have (DPDK's `E1000_MIN_RING_DESC`).
pub const MIN_DESC: u16 = 32;
/// Most descriptors a queue may have (DPDK's `E1000_MAX_RING_DESC`).
pub const MAX_DESC: u16 = 4096;
/// Descriptor counts are multiples of this: ring lengths are multiples of 128 bytes.
pub const DESC_ALIGN: u16 = 8;
/// Largest MTU: the 82574 takes frames of up to 9018 bytes.
pub const MAX_MTU: u16 = 9000;
/// Bytes a frame in a receive buffer has beyond its MTU: the Ethernet header and one
/// VLAN tag (the CRC is stripped).
const RX_OVERHEAD: u16 = 14 + 4;
/// Largest frame without `RCTL.LPE`: 1518 bytes and a VLAN tag.
const MAX_NORMAL_MTU: u16 = 1500;

/// Bytes of each descriptor ring's slot in the descriptor memory: room for
/// [`MAX_DESC`].
const RING_BYTES: usize = MAX_DESC as usize * DESC_LEN;
/// Each descriptor ring's slot in the descriptor memory.
const RX_SLOT: usize = 0;
const TX_SLOT: usize = 1;

/// How long the device may take to reset or to stop its DMA.
const RESET_TIMEOUT: Duration = Duration::from_millis(100);
/// What Intel's drivers wait after disabling receive and transmit, for DMA in flight.
const DMA_DRAIN: Duration = Duration::from_millis(10);

/// The device's statistics counters, accumulated (they clear when read).
struct HwStats {
    c32: [u64; STATS32.len()],
    c64: [u64; STATS64.len()],
}

impl HwStats {
    /// Reads (and so clears) every counter and adds it in; returns the missed packets
    /// (MPC) just read.
    fn update(&mut self, bar: &Bar) -> u64 {
        let mut missed = 0;
        for (sum, &(_, reg)) in self.c32.iter_mut().zip(STATS32) {
            let n = u64::from(bar.read32(reg));
            if reg == MPC {
                missed = n;
            }
            *sum += n;
        }
        for (sum, &(_, lo, hi)) in self.c64.iter_mut().zip(STATS64) {
            // Low half first: reading the high half clears both.
            let low = u64::from(bar.read32(lo));
            *sum += low | u64::from(bar.read32(hi)) << 32;
        }
        missed
    }
}

/// An RX queue as the port sees it.
struct RxState {
    ring: Arc<Shared<RxRing>>,
    counters: Arc<QueueCounters>,
    /// RCTL's buffer size bits for the queue's pool.
    rctl_bsize: u32,
    /// Its buffer size in bytes.
    buf_size: u16,
    /// Keeps the pool mapped for DMA; dropped after the ring is released.
    _dma: PoolDma,
}

struct E1000e {
    port: PortId,
    /// Its PCI address, for errors.
    name: String,
    mac: MacAddr,
    rx: Option<RxState>,
    tx: Option<Arc<Shared<TxRing>>>,
    promiscuous: bool,
    mtu: u16,
    started: bool,
    stats: Mutex<HwStats>,
    iova_is_va: bool,
    /// The EAL memory's page size, which mempools' memory has too.
    page_size: usize,
    /// Dropped after the queues (whose rings also keep it).
    mem: Arc<RingMem>,
    bar: Arc<Bar>,
    dev: VfioPciDevice,
}

/// Resets the device as Intel's drivers do (`e1000_reset_hw_82571`): interrupts
/// masked, receive and transmit off, bus mastering quiesced, then `CTRL.RST` and the
/// NVM reloaded.
fn reset(bar: &Bar, name: &str) -> Result<(), EthError> {
    bar.write32(IMC, u32::MAX);
    bar.write32(RCTL, 0);
    bar.write32(TCTL, TCTL_PSP);
    bar.read32(STATUS);
    bar.write32(CTRL, bar.read32(CTRL) | CTRL_GIO_MASTER_DISABLE);
    if !wait_for(RESET_TIMEOUT, || {
        bar.read32(STATUS) & STATUS_GIO_MASTER_ENABLE == 0
    }) {
        log::warn!("{name}: master requests still pending before reset");
    }
    std::thread::sleep(DMA_DRAIN);
    bar.write32(CTRL, bar.read32(CTRL) | CTRL_RST);
    std::thread::sleep(Duration::from_millis(1));
    if !wait_for(RESET_TIMEOUT, || bar.read32(CTRL) & CTRL_RST == 0) {
        return Err(EthError::Devargs {
            dev: name.into(),
            msg: "the device did not come out of reset (CTRL.RST stays set)".into(),
        });
    }
    if !wait_for(RESET_TIMEOUT, || bar.read32(EECD) & EECD_AUTO_RD != 0) {
        log::warn!("{name}: NVM auto-read not done after reset");
    }
    bar.write32(IMC, u32::MAX);
    bar.read32(ICR);
    Ok(())
}

/// The MAC address in receive address 0, if valid.
fn read_mac(bar: &Bar) -> Option<MacAddr> {
    let (ral, rah) = (bar.read32(ral(0)), bar.read32(rah(0)));
    if rah & RAH_AV == 0 {
        return None;
    }
    let [a, b, c, d] = ral.to_le_bytes();
    let [e, f, ..] = rah.to_le_bytes();
    Some(MacAddr([a, b, c, d, e, f]))
}

/// RCTL's buffer size bits (BSIZE, BSEX) and size for the largest buffer the 82574
/// offers that fits `room` bytes, if any does.
fn rx_buffer(room: u16) -> Option<(u32, u16)> {
    const SIZES: [(u16, u32); 7] = [
        (16384, 0b01 << RCTL_BSIZE_SHIFT | RCTL_BSEX),
        (8192, 0b10 << RCTL_BSIZE_SHIFT | RCTL_BSEX),
        (4096, 0b11 << RCTL_BSIZE_SHIFT | RCTL_BSEX),
        (2048, 0),
        (1024, 0b01 << RCTL_BSIZE_SHIFT),
        (512, 0b10 << RCTL_BSIZE_SHIFT),
        (256, 0b11 << RCTL_BSIZE_SHIFT),
    ];
    SIZES
        .into_iter()
        .find(|&(size, _)| size <= room)
        .map(|(size, bits)| (bits, size))
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
    let bar = Arc::new(
        dev.bar(0)
            .map_err(|err| device_error(&name, "map BAR 0", err))?,
    );
    reset(&bar, &name)?;
    let mac = read_mac(&bar).ok_or_else(|| EthError::Devargs {
        dev: name.clone(),
        msg: "no valid MAC address in receive address 0 (RAH0.AV is clear): is the NVM \
              programmed?"
            .into(),
    })?;
    for n in 1..RA_ENTRIES {
        // High half first when clearing, as the datasheet asks.
        bar.write32(rah(n), 0);
        bar.write32(ral(n), 0);
    }
    for i in 0..MTA_LEN {
        bar.write32(MTA + 4 * i, 0);
    }
    let ctrl = bar.read32(CTRL) & !(CTRL_FRCSPD | CTRL_FRCDPLX | CTRL_GIO_MASTER_DISABLE);
    bar.write32(CTRL, ctrl | CTRL_SLU);
    bar.write32(CTRL_EXT, bar.read32(CTRL_EXT) | CTRL_EXT_DRV_LOAD);

    let mem = RingMem::new(
        eal,
        &dev,
        &name,
        (2, RING_BYTES),
        "descriptor rings",
        "descriptor ring memory",
    )?;
    let mut stats = HwStats {
        c32: [0; STATS32.len()],
        c64: [0; STATS64.len()],
    };
    // Clear what the counters held before us.
    stats.update(&bar);
    stats.c32.fill(0);
    stats.c64.fill(0);
    let driver = E1000e {
        port,
        mac,
        rx: None,
        tx: None,
        promiscuous: false,
        mtu: crate::ethdev::DEFAULT_MTU,
        started: false,
        stats: Mutex::new(stats),
        iova_is_va: eal.memory().config().iova_mode == IovaMode::Va,
        page_size: eal.memory().page_size(),
        mem: Arc::new(mem),
        bar,
        dev,
        name,
    };
    log::info!("{}: 82574 MAC {mac}, {}", driver.name, driver.link());
    Ok(Box::new(driver))
}

impl E1000e {
    fn invalid(&self, msg: String) -> EthError {
        EthError::Invalid {
            port: self.port,
            msg,
        }
    }

    /// The receive control the queue, MTU and promiscuous mode ask for, enabled.
    fn rctl(&self, rx: &RxState) -> u32 {
        let mut rctl = RCTL_EN | RCTL_BAM | RCTL_SECRC | rx.rctl_bsize;
        if self.mtu > MAX_NORMAL_MTU {
            rctl |= RCTL_LPE;
        }
        if self.promiscuous {
            rctl |= RCTL_UPE | RCTL_MPE;
        }
        rctl
    }

    /// Checks that frames of `mtu` fit the RX queue's buffers.
    fn check_mtu_fits(&self, mtu: u16, buf_size: u16) -> Result<(), EthError> {
        if mtu + RX_OVERHEAD > buf_size {
            return Err(self.invalid(format!(
                "MTU {mtu} needs {}-byte receive buffers, the RX queue's are {buf_size} \
                 (scattered RX is not supported: use a mempool with a larger data room)",
                mtu + RX_OVERHEAD
            )));
        }
        Ok(())
    }

    /// Stops the device's receiver and transmitter and waits for their DMA to end.
    fn disable(&self) {
        self.bar.write32(RCTL, self.bar.read32(RCTL) & !RCTL_EN);
        self.bar.write32(TCTL, self.bar.read32(TCTL) & !TCTL_EN);
        self.bar.read32(STATUS);
        std::thread::sleep(DMA_DRAIN);
    }

    /// Reads the device's counters into the sums; adds the missed packets to the RX
    /// queue's `imissed`.
    fn update_stats(&self) {
        let missed = self
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .update(&self.bar);
        if let (Some(rx), true) = (&self.rx, missed != 0) {
            // The control plane is the only writer of an e1000e queue's `missed`.
            rx.counters.add_missed(missed);
        }
    }

    /// Takes the queues from the lcores (waiting for a burst in progress), stops the
    /// device, and gives every mbuf of the rings back.
    fn stop_queues(&mut self) {
        // First no burst runs any more, then the device stops, then the buffers go.
        if let Some(rx) = &self.rx {
            rx.ring.stop();
        }
        if let Some(tx) = &self.tx {
            tx.stop();
            // Every descriptor is sent once the head (TDH) reaches the tail (TDT).
            drain_tx(&self.name, self.link().up, || {
                self.bar.read32(TDH) == self.bar.read32(TDT)
            });
        }
        self.disable();
        if let Some(rx) = &self.rx {
            if !rx.ring.release(RxRing::release) {
                log::error!("{}: an RX burst panicked: its mbufs are leaked", self.name);
            }
        }
        if let Some(tx) = &self.tx {
            if !tx.release(TxRing::release) {
                log::error!("{}: a TX burst panicked: its mbufs are leaked", self.name);
            }
        }
        self.update_stats();
        self.started = false;
    }
}

impl Driver for E1000e {
    fn info(&self) -> DevInfo {
        DevInfo {
            driver_name: DRIVER.name,
            max_rx_queues: 1,
            max_tx_queues: 1,
            desc_lim: (MIN_DESC, MAX_DESC),
            mtu_range: (68, MAX_MTU),
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
        if nb_desc % DESC_ALIGN != 0 {
            return Err(self.invalid(format!(
                "RX queue {queue}: {nb_desc} descriptors: the 82574 needs a multiple of \
                 {DESC_ALIGN}"
            )));
        }
        let room = pool.config().data_room;
        let (rctl_bsize, buf_size) = rx_buffer(room).ok_or_else(|| {
            self.invalid(format!(
                "RX queue {queue}: mempool '{}' has a {room}-byte data room, the 82574's \
                 smallest receive buffer is 256 bytes",
                pool.name()
            ))
        })?;
        self.check_mtu_fits(self.mtu, buf_size)?;
        let dma = map_pool(&self.dev, pool)?;
        let cache = LcoreCache::new(pool);
        let (base, _) = self.mem.slot(RX_SLOT);
        // SAFETY: the RX slot of the descriptor memory holds MAX_DESC >= nb_desc
        // descriptors, page-aligned; `mem` keeps it; only this queue's ring (the previous
        // one, if any, is dropped below and stopped) and the device use it.
        let desc = unsafe { DescRing::new(base.cast(), nb_desc.into(), self.mem.clone()) };
        let ring = Arc::new(Shared::new(RxRing::new(
            desc,
            cache,
            self.port,
            Arc::clone(&counters),
        )));
        self.rx = Some(RxState {
            ring: Arc::clone(&ring),
            counters,
            rctl_bsize,
            buf_size,
            _dma: dma,
        });
        Ok(Box::new(Rx {
            ring,
            bar: Arc::clone(&self.bar),
        }))
    }

    fn tx_queue_setup(
        &mut self,
        queue: u16,
        nb_desc: u16,
        counters: Arc<QueueCounters>,
    ) -> Result<Box<dyn TxBurst>, EthError> {
        if nb_desc % DESC_ALIGN != 0 {
            return Err(self.invalid(format!(
                "TX queue {queue}: {nb_desc} descriptors: the 82574 needs a multiple of \
                 {DESC_ALIGN}"
            )));
        }
        let (base, _) = self.mem.slot(TX_SLOT);
        // SAFETY: as for RX, with the TX slot.
        let desc = unsafe { DescRing::new(base.cast(), nb_desc.into(), self.mem.clone()) };
        let ring = Arc::new(Shared::new(TxRing::new(
            desc,
            self.iova_is_va,
            self.page_size,
            counters,
        )));
        self.tx = Some(Arc::clone(&ring));
        Ok(Box::new(Tx {
            ring,
            bar: Arc::clone(&self.bar),
        }))
    }

    fn start(&mut self) -> Result<(), EthError> {
        let bar = &self.bar;
        if let Some(rx) = &self.rx {
            let (_, iova) = self.mem.slot(RX_SLOT);
            bar.write32(RCTL, 0);
            let rdt = fill_rx(self.port, &rx.ring, RxRing::fill)?;
            let len = rdt as u32 + 1;
            bar.write32(RDBAL, iova as u32);
            bar.write32(RDBAH, (iova >> 32) as u32);
            bar.write32(RDLEN, len * DESC_LEN as u32);
            bar.write32(RDH, 0);
            bar.write32(RXDCTL, XDCTL_GRAN);
            bar.write32(RXCSUM, 0);
            bar.write32(RFCTL, bar.read32(RFCTL) & !RFCTL_EXTEN);
            bar.write32(RDT, rdt.into());
            bar.write32(RCTL, self.rctl(rx));
            rx.ring.run();
        }
        if let Some(tx) = &self.tx {
            let (_, iova) = self.mem.slot(TX_SLOT);
            let len = tx
                .control(|ring| (ring.len(), false))
                .ok_or_else(|| self.invalid("TX queue 0 is poisoned by a panic".into()))?;
            bar.write32(TCTL, 0);
            bar.write32(TDBAL, iova as u32);
            bar.write32(TDBAH, (iova >> 32) as u32);
            bar.write32(TDLEN, (len * DESC_LEN) as u32);
            bar.write32(TDH, 0);
            bar.write32(TDT, 0);
            bar.write32(TXDCTL, bar.read32(TXDCTL) & TXDCTL_RESERVED_22 | XDCTL_GRAN);
            bar.write32(TARC0, bar.read32(TARC0) | TARC_ENABLE);
            bar.write32(TIPG, TIPG_COPPER);
            bar.write32(TCTL, TCTL_EN | TCTL_PSP | TCTL_CT | TCTL_COLD | TCTL_RTLC);
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
        let status = self.bar.read32(STATUS);
        let up = status & STATUS_LU != 0;
        Link {
            up,
            speed_mbps: match (up, status >> STATUS_SPEED_SHIFT & STATUS_SPEED_MASK) {
                (false, _) => 0,
                (true, 0b00) => 10,
                (true, 0b01) => 100,
                (true, _) => 1000,
            },
            full_duplex: status & STATUS_FD != 0,
            autoneg: self.bar.read32(CTRL) & CTRL_FRCSPD == 0,
        }
    }

    fn set_promiscuous(&mut self, on: bool) -> Result<(), EthError> {
        self.promiscuous = on;
        if let (true, Some(rx)) = (self.started, &self.rx) {
            self.bar.write32(RCTL, self.rctl(rx));
        }
        Ok(())
    }

    fn set_mtu(&mut self, mtu: u16) -> Result<(), EthError> {
        if let Some(rx) = &self.rx {
            self.check_mtu_fits(mtu, rx.buf_size)?;
        }
        self.mtu = mtu;
        if let (true, Some(rx)) = (self.started, &self.rx) {
            self.bar.write32(RCTL, self.rctl(rx));
        }
        Ok(())
    }

    fn xstats(&self) -> Vec<(String, u64)> {
        self.update_stats();
        let stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        STATS32
            .iter()
            .zip(stats.c32)
            .map(|(&(name, _), v)| (name.to_string(), v))
            .chain(
                STATS64
                    .iter()
                    .zip(stats.c64)
                    .map(|(&(name, ..), v)| (name.to_string(), v)),
            )
            .collect()
    }
}

impl Drop for E1000e {
    fn drop(&mut self) {
        if self.started {
            self.stop_queues();
        } else {
            self.disable();
        }
        self.bar.write32(IMC, u32::MAX);
        self.bar
            .write32(CTRL_EXT, self.bar.read32(CTRL_EXT) & !CTRL_EXT_DRV_LOAD);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receive_buffers_are_the_largest_that_fit() {
        assert_eq!(rx_buffer(2048), Some((0, 2048)));
        assert_eq!(rx_buffer(2047), Some((0b01 << RCTL_BSIZE_SHIFT, 1024)));
        assert_eq!(
            rx_buffer(9216),
            Some((0b10 << RCTL_BSIZE_SHIFT | RCTL_BSEX, 8192))
        );
        assert_eq!(
            rx_buffer(u16::MAX),
            Some((0b01 << RCTL_BSIZE_SHIFT | RCTL_BSEX, 16384))
        );
        assert_eq!(rx_buffer(256), Some((0b11 << RCTL_BSIZE_SHIFT, 256)));
        assert_eq!(rx_buffer(255), None);
    }
}
