//! The 82574's RX and TX queues: descriptor rings in DMA memory, the mbufs their
//! descriptors point at, and the bursts.
//!
//! A ring and its mbufs are shared by the port (control plane: fill at start, release
//! at stop) and the lcore polling the queue (data plane: bursts) through [`Shared`].
//! The rings compute the new tail; the [`Rx`]/[`Tx`] handles write it to the device,
//! once per burst.
//!
//! Memory ordering with the device (x86-64, where burst's VFIO drivers run): the device
//! writes a descriptor back by DMA with its done bit last; the ring reads that bit with
//! a volatile load and then issues an Acquire fence before reading the rest of the
//! descriptor or the packet. Descriptors are written with volatile stores, then a
//! Release fence orders them before the tail register's (uncached, volatile) store;
//! x86 does not reorder stores, so no `sfence` is needed.

use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};

use burst_eal::vfio::Bar;
use burst_mempool::{Mbuf, MbufHeader};

use super::desc::{
    RXD_ERR_FRAME, RXD_STAT_DD, RXD_STAT_EOP, RxDesc, TXD_CMD_EOP, TXD_CMD_IFCS, TXD_CMD_RS,
    TXD_STAT_DD, TxDesc,
};
use super::regs::{RDT, TDT};
use crate::drivers::ring_mbufs::{NoMbufs, RxMbufs, seg_iova};
use crate::drivers::shared::Shared;
use crate::drivers::{LcoreCache, TxFree};
use crate::ethdev::{PortId, RxBurst, TxBurst};
use crate::stats::QueueCounters;

/// Most TX descriptors between two with Report Status (DPDK's `tx_rs_thresh`), and the
/// free count under which a burst first reclaims sent buffers (`tx_free_thresh`).
const TX_THRESH: usize = 32;

/// A ring of `len` descriptors of type `D` in memory the device reads and writes by
/// DMA. Accessed only with volatile loads and stores: the device changes it behind the
/// compiler's back, so no reference to it is ever made.
pub(super) struct DescRing<D> {
    base: NonNull<D>,
    len: usize,
    /// Keeps the memory mapped (and mapped for DMA) while the ring exists.
    _owner: Arc<dyn Send + Sync>,
}

// SAFETY: the ring is plain memory reached through raw pointers; who may touch it is
// decided by the `Shared` around the ring that holds it.
unsafe impl<D> Send for DescRing<D> {}

impl<D: Copy> DescRing<D> {
    /// The ring of `len` descriptors at `base`.
    ///
    /// # Safety
    /// `base` must be aligned for `D` and point to `len` descriptors' worth of memory
    /// that `owner` keeps mapped and that nothing but this ring and the device it is
    /// given to accesses.
    pub(super) unsafe fn new(base: NonNull<D>, len: usize, owner: Arc<dyn Send + Sync>) -> Self {
        Self {
            base,
            len,
            _owner: owner,
        }
    }

    /// Descriptors in the ring.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The descriptor at `i`.
    ///
    /// # Panics
    /// If `i` is out of the ring.
    #[inline(always)]
    fn at(&self, i: usize) -> *mut D {
        assert!(
            i < self.len,
            "descriptor {i} outside a ring of {}",
            self.len
        );
        // SAFETY: in bounds (checked), inside the memory `new`'s caller vouched for.
        unsafe { self.base.as_ptr().add(i) }
    }

    #[inline(always)]
    fn read(&self, i: usize) -> D {
        // SAFETY: an aligned descriptor of the ring (`at`); volatile, as the device
        // writes it.
        unsafe { self.at(i).read_volatile() }
    }

    #[inline(always)]
    fn write(&self, i: usize, desc: D) {
        // SAFETY: as in `read`; the device reads it only once the tail passes it.
        unsafe { self.at(i).write_volatile(desc) }
    }
}

impl DescRing<RxDesc> {
    /// The status byte of RX descriptor `i`, alone (the device writes it last).
    #[inline(always)]
    fn status(&self, i: usize) -> u8 {
        // SAFETY: a field of an aligned descriptor of the ring; volatile load.
        unsafe { ptr::addr_of!((*self.at(i)).status).read_volatile() }
    }
}

impl DescRing<TxDesc> {
    /// The status byte of TX descriptor `i`.
    #[inline(always)]
    fn status(&self, i: usize) -> u8 {
        // SAFETY: as for RX.
        unsafe { ptr::addr_of!((*self.at(i)).status).read_volatile() }
    }
}

#[inline(always)]
fn next(i: usize, len: usize) -> usize {
    if i + 1 == len { 0 } else { i + 1 }
}

/// An RX queue's ring: each descriptor points at the data room of an mbuf (at
/// `buf_iova + headroom`) the device receives into, with no copy.
pub(super) struct RxRing {
    desc: DescRing<RxDesc>,
    /// The mbuf whose buffer each descriptor points at, in `mbufs.sw`.
    mbufs: RxMbufs,
    /// The next descriptor the device fills.
    tail: usize,
    /// Skipping the descriptors of a packet that did not fit one buffer, up to its end.
    dropping: bool,
}

impl RxRing {
    /// An empty ring over `desc`, refilled from `cache`, counting into `counters`.
    pub(super) fn new(
        desc: DescRing<RxDesc>,
        cache: LcoreCache,
        port: PortId,
        counters: Arc<QueueCounters>,
    ) -> Self {
        Self {
            mbufs: RxMbufs::new(desc.len(), cache, port, counters),
            desc,
            tail: 0,
            dropping: false,
        }
    }

    /// Points every descriptor at a fresh mbuf, from the first; returns the tail to
    /// write (the last descriptor: the device fills all but one, so that head == tail
    /// always means empty). The ring must be empty (new, or released).
    pub(super) fn fill(&mut self) -> Result<u16, NoMbufs> {
        let len = self.desc.len();
        self.mbufs.take_for_fill()?;
        for (i, m) in self.mbufs.fresh.drain(..).enumerate() {
            self.desc.write(
                i,
                RxDesc {
                    buffer_addr: m.data_iova(),
                    ..RxDesc::default()
                },
            );
            self.mbufs.sw[i] = Some(m.into_raw());
        }
        self.tail = 0;
        self.dropping = false;
        // `len` <= 4096: checked at setup.
        Ok((len - 1) as u16)
    }

    /// Gives every mbuf back to the pool. The device must be stopped: it must not
    /// write a buffer any more.
    pub(super) fn release(&mut self) {
        self.mbufs.release();
        self.tail = 0;
        self.dropping = false;
    }

    /// Receives up to `nb_pkts` packets into `pkts`; returns how many, and the tail to
    /// write to RDT if descriptors were given back to the device.
    #[inline]
    pub(super) fn burst(&mut self, pkts: &mut Vec<Mbuf>, nb_pkts: usize) -> (usize, Option<u16>) {
        let len = self.desc.len();
        // Descriptors done, from the tail: read only their status bytes for now.
        let (mut ready, mut i) = (0, self.tail);
        while ready < nb_pkts.min(len - 1) && self.desc.status(i) & RXD_STAT_DD != 0 {
            ready += 1;
            i = next(i, len);
        }
        if ready == 0 {
            return (0, None);
        }
        // Acquire: the rest of those descriptors, and their packets, are read after
        // their done bits.
        fence(Ordering::Acquire);
        // One fresh mbuf per descriptor, in one bulk: all or nothing.
        if !self.mbufs.take_fresh(ready) {
            return (0, None);
        }
        let (mut got, mut bytes, mut errors) = (0, 0, 0);
        while let Some(new) = self.mbufs.fresh.pop() {
            let at = self.tail;
            let d = self.desc.read(at);
            self.desc.write(
                at,
                RxDesc {
                    buffer_addr: new.data_iova(),
                    ..RxDesc::default()
                },
            );
            let Some(old) = self.mbufs.sw[at].replace(new.into_raw()) else {
                unreachable!("RX descriptor {at} had no mbuf while the queue ran");
            };
            // SAFETY: `old` came from `into_raw` when descriptor `at` was armed and is
            // taken back once (its slot holds the new mbuf now); the device has written
            // it back (done bit, read before the fence) and is done with the buffer.
            let mut m = unsafe { Mbuf::from_raw(old) };
            self.tail = next(at, len);
            let eop = d.status & RXD_STAT_EOP != 0;
            let n = usize::from(d.length);
            // A bad frame, a zero or over-long length (the device is not trusted), or
            // part of a packet larger than one buffer (no scattered RX): dropped.
            if self.dropping
                || !eop
                || d.errors & RXD_ERR_FRAME != 0
                || n == 0
                || m.append(n).is_err()
            {
                errors += u64::from(eop);
                self.dropping = !eop;
                self.mbufs.junk.push(m);
                continue;
            }
            m.set_port(self.mbufs.port);
            bytes += n as u64;
            got += 1;
            pkts.push(m);
        }
        self.mbufs.end_burst(got, bytes, errors);
        // The tail register points one past the last descriptor the device may fill.
        let rdt = if self.tail == 0 {
            len - 1
        } else {
            self.tail - 1
        };
        (got, Some(rdt as u16))
    }
}

/// What the TX ring knows of each descriptor.
#[derive(Clone, Copy)]
struct TxEntry {
    /// The packet to free once sent, at its last descriptor (raw `Mbuf::into_raw`
    /// handle: the device may still be reading its buffers).
    mbuf: Option<NonNull<MbufHeader>>,
    /// The last descriptor of the packet this descriptor belongs to.
    last: u16,
}

/// A TX queue's ring: one descriptor per mbuf segment (per page of it), pointing at its
/// data (no copy).
pub(super) struct TxRing {
    desc: DescRing<TxDesc>,
    sw: Box<[TxEntry]>,
    /// The next descriptor to write.
    tail: usize,
    /// The oldest descriptor not yet reclaimed.
    clean: usize,
    /// Descriptors free to write (one is always left unused: head == tail is empty).
    free: usize,
    /// Descriptors written since the last one with Report Status.
    used: usize,
    /// Descriptors per Report Status (and the free count that triggers a reclaim).
    rs_thresh: usize,
    /// Whether IOVAs are virtual addresses: a later segment's IOVA is then its address
    /// (mbufs give the IOVA of their first segment only).
    iova_is_va: bool,
    /// The memory's page size (a power of two): no descriptor's buffer crosses a page.
    page_size: usize,
    /// Mbufs to free in one bulk.
    done: Vec<Mbuf>,
    /// Where `done` goes: a cache of the mbufs' pool.
    recycle: TxFree,
    counters: Arc<QueueCounters>,
}

// SAFETY: as for `RxRing`: the raw handles are owned mbufs.
unsafe impl Send for TxRing {}

impl TxRing {
    /// An empty ring over `desc` for mbufs in memory of `page_size` pages, counting into
    /// `counters`.
    pub(super) fn new(
        desc: DescRing<TxDesc>,
        iova_is_va: bool,
        page_size: usize,
        counters: Arc<QueueCounters>,
    ) -> Self {
        assert!(page_size.is_power_of_two(), "page size {page_size}");
        let len = desc.len();
        Self {
            sw: vec![
                TxEntry {
                    mbuf: None,
                    last: 0
                };
                len
            ]
            .into_boxed_slice(),
            tail: 0,
            clean: 0,
            free: len - 1,
            used: 0,
            // A quarter of a small ring, so that some descriptor in flight asks for
            // its status well before the ring is full.
            rs_thresh: (len / 4).min(TX_THRESH),
            iova_is_va,
            page_size,
            done: Vec::with_capacity(len),
            recycle: TxFree::default(),
            desc,
            counters,
        }
    }

    /// Descriptors in the ring.
    pub(super) fn len(&self) -> usize {
        self.desc.len()
    }

    /// Gives every mbuf back to its pool and empties the ring. The device must be
    /// stopped: it must not read a buffer any more.
    pub(super) fn release(&mut self) {
        for entry in self.sw.iter_mut() {
            if let Some(raw) = entry.mbuf.take() {
                // SAFETY: `raw` came from `into_raw` when its packet was queued and is
                // taken back once (the entry is emptied); the device is stopped.
                self.done.push(unsafe { Mbuf::from_raw(raw) });
            }
        }
        self.recycle.free_bulk(&mut self.done);
        self.tail = 0;
        self.clean = 0;
        self.free = self.desc.len() - 1;
        self.used = 0;
    }

    /// Descriptors for `len` (> 0) bytes at `iova`: one per page they touch. QEMU's
    /// e1000e before 8.0 maps each TX buffer in one piece and silently drops a packet
    /// whose buffer crosses an IOMMU page; mbufs may cross hugepages.
    #[inline(always)]
    fn chunks(&self, iova: u64, len: usize) -> usize {
        let shift = self.page_size.trailing_zeros();
        ((iova + len as u64 - 1) >> shift) as usize - (iova >> shift) as usize + 1
    }

    /// The descriptors `m` takes, or `None` if it can never be sent: empty, an empty
    /// segment, several segments with physical IOVAs, or more descriptors than the ring
    /// holds.
    #[inline(always)]
    fn descs(&self, m: &Mbuf) -> Option<usize> {
        let n = if m.nb_segs() == 1 {
            let len = usize::from(m.data_len());
            (len != 0).then(|| self.chunks(m.data_iova(), len))?
        } else {
            let mut n = 0;
            for (k, seg) in m.segments().enumerate() {
                if !self.iova_is_va || seg.is_empty() {
                    return None;
                }
                n += self.chunks(seg_iova(m, k, seg), seg.len());
            }
            n
        };
        (n < self.desc.len()).then_some(n)
    }

    /// Sends packets from the front of `pkts` (see [`TxBurst::tx_burst`]); returns how
    /// many, and the tail to write to TDT if descriptors were written.
    #[inline]
    pub(super) fn burst(&mut self, pkts: &mut Vec<Mbuf>) -> (usize, Option<u16>) {
        if pkts.is_empty() {
            return (0, None);
        }
        if self.free < self.rs_thresh {
            self.reclaim();
        }
        let len = self.desc.len();
        let start = self.tail;
        let (mut taken, mut bytes, mut dropped) = (0, 0, 0);
        for m in pkts.iter() {
            let Some(n) = self.descs(m) else {
                // Taken and dropped below (counted as an error), or it would block
                // the queue forever.
                taken += 1;
                dropped += 1;
                continue;
            };
            if n > self.free {
                self.reclaim();
                if n > self.free {
                    break;
                }
            }
            // `last` < len <= 4096.
            let last = ((self.tail + n - 1) % len) as u16;
            let mut written = 0;
            for (k, seg) in m.segments().enumerate() {
                let (mut iova, mut left) = (seg_iova(m, k, seg), seg.len());
                while left != 0 {
                    let part = left.min(self.page_size - (iova as usize & (self.page_size - 1)));
                    left -= part;
                    written += 1;
                    let mut cmd = TXD_CMD_IFCS;
                    if written == n {
                        cmd |= TXD_CMD_EOP;
                        self.used += n;
                        if self.used >= self.rs_thresh {
                            cmd |= TXD_CMD_RS;
                            self.used = 0;
                        }
                    }
                    self.desc.write(
                        self.tail,
                        TxDesc {
                            buffer_addr: iova,
                            // At most a segment's length: 65535 bytes.
                            length: part as u16,
                            cmd,
                            ..TxDesc::default()
                        },
                    );
                    self.sw[self.tail].last = last;
                    self.tail = next(self.tail, len);
                    iova += part as u64;
                }
            }
            self.free -= n;
            bytes += u64::from(m.pkt_len());
            taken += 1;
        }
        // Hand the queued packets to their last descriptors, in order.
        let mut at = start;
        for m in pkts.drain(..taken) {
            let Some(n) = self.descs(&m) else {
                self.done.push(m);
                continue;
            };
            at = (at + n) % len;
            let last = if at == 0 { len - 1 } else { at - 1 };
            self.sw[last].mbuf = Some(m.into_raw());
        }
        if !self.done.is_empty() {
            self.recycle.free_bulk(&mut self.done);
            self.counters.add_errors(dropped);
        }
        self.counters.add(taken as u64 - dropped, bytes);
        // `tail` < len <= 4096.
        (taken, (self.tail != start).then_some(self.tail as u16))
    }

    /// Frees the mbufs of sent packets, one Report Status group at a time (DPDK's
    /// `em_xmit_cleanup`): the descriptor `rs_thresh` after the oldest one ends a
    /// packet whose last descriptor has Report Status; once the device has set its
    /// done bit, every descriptor up to it is sent (the device works in order).
    fn reclaim(&mut self) {
        let len = self.desc.len();
        if len - 1 - self.free < self.rs_thresh {
            return;
        }
        let probe = (self.clean + self.rs_thresh - 1) % len;
        let last = usize::from(self.sw[probe].last);
        if self.desc.status(last) & TXD_STAT_DD == 0 {
            return;
        }
        // Acquire: the buffers are reused only after the device said it read them.
        fence(Ordering::Acquire);
        let mut i = self.clean;
        loop {
            if let Some(raw) = self.sw[i].mbuf.take() {
                // SAFETY: `raw` came from `into_raw` when its packet was queued and is
                // taken back once (the entry is emptied); the device has sent it.
                self.done.push(unsafe { Mbuf::from_raw(raw) });
            }
            self.free += 1;
            if i == last {
                break;
            }
            i = next(i, len);
        }
        self.clean = next(last, len);
        self.recycle.free_bulk(&mut self.done);
    }
}

/// The RX handle an lcore polls.
pub(super) struct Rx {
    pub(super) ring: Arc<Shared<RxRing>>,
    pub(super) bar: Arc<Bar>,
}

impl RxBurst for Rx {
    #[inline]
    fn rx_burst(&mut self, pkts: &mut Vec<Mbuf>, nb_pkts: usize) -> usize {
        let bar = &self.bar;
        self.ring
            .burst(|ring| {
                let (n, rdt) = ring.burst(pkts, nb_pkts);
                if let Some(rdt) = rdt {
                    // Release: the refilled descriptors before the doorbell.
                    fence(Ordering::Release);
                    bar.write32(RDT, rdt.into());
                }
                n
            })
            .unwrap_or(0)
    }
}

/// The TX handle an lcore feeds.
pub(super) struct Tx {
    pub(super) ring: Arc<Shared<TxRing>>,
    pub(super) bar: Arc<Bar>,
}

impl TxBurst for Tx {
    #[inline]
    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        let bar = &self.bar;
        self.ring
            .burst(|ring| {
                let (n, tdt) = ring.burst(pkts);
                if let Some(tdt) = tdt {
                    // Release: the new descriptors before the doorbell.
                    fence(Ordering::Release);
                    bar.write32(TDT, tdt.into());
                }
                n
            })
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    //! The rings against a simulated device: descriptor memory and mbufs in ordinary
    //! pages (IOVA = VA), the test playing the 82574's part.

    use burst_eal::memory::Memory;
    use burst_mempool::PktPool;

    use super::*;
    use crate::drivers::testutil::{frame, memory, packets, pool, ring_region};

    fn ring<D: Copy>(mem: &Memory, len: usize) -> DescRing<D> {
        let region = ring_region(mem, len * 16);
        let base = region.as_ptr().cast::<D>();
        // SAFETY: a fresh page-aligned region of `len` descriptors, kept by the ring.
        unsafe { DescRing::new(base, len, region) }
    }

    fn rx_ring(mem: &Memory, pool: &PktPool, len: usize) -> (RxRing, Arc<QueueCounters>) {
        let counters = Arc::new(QueueCounters::default());
        let ring = RxRing::new(ring(mem, len), LcoreCache::new(pool), 3, counters.clone());
        (ring, counters)
    }

    /// The device receives `data` into descriptor `i`, with `status` and `errors`.
    fn device_rx(ring: &RxRing, i: usize, data: &[u8], status: u8, errors: u8) {
        let mut d = ring.desc.read(i);
        assert_eq!(d.status, 0, "descriptor {i} is the device's");
        // SAFETY: the buffer of an mbuf the ring gave the "device"; IOVA = VA here, and
        // the 2048-byte data room holds `data`.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), d.buffer_addr as *mut u8, data.len())
        };
        d.length = data.len() as u16;
        d.errors = errors;
        d.status = status;
        ring.desc.write(i, d);
    }

    #[test]
    fn rx_takes_done_descriptors_and_rearms_them() {
        let mem = memory();
        let pool = pool(&mem, 511);
        let (mut rx, counters) = rx_ring(&mem, &pool, 32);
        assert_eq!(
            rx.fill().unwrap(),
            31,
            "all but one descriptor for the device"
        );
        let addrs: Vec<_> = (0..32).map(|i| rx.desc.read(i).buffer_addr).collect();
        assert!(addrs.iter().all(|&a| a != 0));
        let mut pkts = Vec::with_capacity(64);
        assert_eq!(rx.burst(&mut pkts, 32), (0, None), "nothing received yet");

        let full = RXD_STAT_DD | RXD_STAT_EOP;
        for i in 0..5 {
            device_rx(&rx, i, &frame(i as u8, 60 + i), full, 0);
        }
        assert_eq!(rx.burst(&mut pkts, 32), (5, Some(4)));
        for (i, m) in pkts.iter().enumerate() {
            assert_eq!(m.data(), frame(i as u8, 60 + i));
            assert_eq!((m.port(), m.data_iova()), (3, addrs[i]), "zero copy");
        }
        for i in 0..5 {
            let d = rx.desc.read(i);
            assert_eq!(d.status, 0);
            assert!(
                !addrs.contains(&d.buffer_addr),
                "re-armed with a fresh mbuf"
            );
        }
        let s = counters.snapshot();
        assert_eq!(
            (s.packets, s.bytes, s.errors),
            (5, 60 + 61 + 62 + 63 + 64, 0)
        );

        // A burst takes at most what is asked; the rest waits.
        device_rx(&rx, 5, &frame(5, 70), full, 0);
        device_rx(&rx, 6, &frame(6, 70), full, 0);
        assert_eq!(rx.burst(&mut pkts, 1), (1, Some(5)));
        assert_eq!(rx.burst(&mut pkts, 8), (1, Some(6)));
        assert_eq!(pkts.len(), 7);
        pkts.clear();
        rx.release();
        assert!(pool.is_full(), "{pool:?}");
    }

    #[test]
    fn rx_drops_bad_frames_and_packets_spanning_descriptors() {
        let mem = memory();
        let pool = pool(&mem, 511);
        let (mut rx, counters) = rx_ring(&mem, &pool, 32);
        rx.fill().unwrap();
        let full = RXD_STAT_DD | RXD_STAT_EOP;
        // A packet over three buffers, in two bursts; a CRC error; a length of 0; a
        // length past the data room; then a good one.
        device_rx(&rx, 0, &frame(0, 100), RXD_STAT_DD, 0);
        device_rx(&rx, 1, &frame(1, 100), RXD_STAT_DD, 0);
        let mut pkts = Vec::new();
        assert_eq!(rx.burst(&mut pkts, 32), (0, Some(1)));
        device_rx(&rx, 2, &frame(2, 100), full, 0);
        device_rx(&rx, 3, &frame(3, 100), full, 1 << 0);
        device_rx(&rx, 4, &[], full, 0);
        device_rx(&rx, 5, &frame(5, 10), full, 0);
        let mut d = rx.desc.read(5);
        d.length = 4000;
        rx.desc.write(5, d);
        device_rx(&rx, 6, &frame(6, 64), full, 0);
        assert_eq!(rx.burst(&mut pkts, 32), (1, Some(6)));
        assert_eq!(pkts[0].data(), frame(6, 64));
        let s = counters.snapshot();
        assert_eq!((s.packets, s.errors), (1, 4));
        drop(pkts);
        rx.release();
        assert!(pool.is_full());
    }

    #[test]
    fn rx_wraps_around_the_ring_many_times() {
        let mem = memory();
        let pool = pool(&mem, 255);
        let (mut rx, counters) = rx_ring(&mem, &pool, 32);
        rx.fill().unwrap();
        let (mut next_dev, mut seq) = (0usize, 0u32);
        let mut pkts = Vec::with_capacity(32);
        for round in 0..100 {
            // The device receives 1 to 31 packets (all it may hold), the burst takes
            // them all.
            let n = 1 + round % 31;
            for _ in 0..n {
                device_rx(
                    &rx,
                    next_dev,
                    &(seq.to_le_bytes()),
                    RXD_STAT_DD | RXD_STAT_EOP,
                    0,
                );
                next_dev = (next_dev + 1) % 32;
                seq += 1;
            }
            let (got, rdt) = rx.burst(&mut pkts, 32);
            assert_eq!(got, n);
            assert_eq!(usize::from(rdt.unwrap()), (next_dev + 31) % 32);
            for (k, m) in pkts.drain(..).enumerate() {
                let want = seq - n as u32 + k as u32;
                assert_eq!(m.data(), want.to_le_bytes());
            }
        }
        assert_eq!(counters.snapshot().packets, u64::from(seq));
        rx.release();
        assert!(pool.is_full());
    }

    #[test]
    fn rx_without_mbufs_takes_what_there_is() {
        let mem = memory();
        // 63 mbufs: 32 in the ring, 31 left, in the pool and this thread's cache of it.
        let pool = pool(&mem, 63);
        let counters = Arc::new(QueueCounters::default());
        let mut rx = RxRing::new(ring(&mem, 32), LcoreCache::new(&pool), 0, counters.clone());
        rx.fill().unwrap();
        let mut held = Vec::new();
        LcoreCache::new(&pool).alloc_bulk(&mut held, 29).unwrap();
        for i in 0..5 {
            device_rx(&rx, i, &frame(i as u8, 64), RXD_STAT_DD | RXD_STAT_EOP, 0);
        }
        let mut pkts = Vec::new();
        assert_eq!(rx.burst(&mut pkts, 32), (2, Some(1)), "two mbufs were left");
        assert_eq!(counters.snapshot().nombuf, 1);
        held.clear();
        assert_eq!(
            rx.burst(&mut pkts, 32),
            (3, Some(4)),
            "the rest once mbufs are back"
        );
        drop(pkts);
        rx.release();
        assert!(pool.is_full());

        let small = self::pool(&mem, 31);
        let mut rx = RxRing::new(ring(&mem, 32), LcoreCache::new(&small), 0, counters);
        assert_eq!(rx.fill().unwrap_err().need, 32);
        assert!(small.is_full(), "a failed fill keeps nothing");
    }

    /// A page size no test buffer crosses.
    const HUGE: usize = 1 << 30;

    /// The device sends everything up to `tdt`: done bits on Report Status descriptors.
    fn device_tx(ring: &TxRing, from: usize, tdt: usize) {
        let mut i = from;
        while i != tdt {
            let mut d = ring.desc.read(i);
            if d.cmd & TXD_CMD_RS != 0 {
                d.status |= TXD_STAT_DD;
                ring.desc.write(i, d);
            }
            i = (i + 1) % ring.desc.len();
        }
    }

    #[test]
    fn tx_writes_one_descriptor_per_segment_and_reclaims_in_groups() {
        let mem = memory();
        let pool = pool(&mem, 511);
        let counters = Arc::new(QueueCounters::default());
        let mut tx = TxRing::new(ring(&mem, 32), true, HUGE, counters.clone());
        assert_eq!(tx.rs_thresh, 8);
        let mut pkts = packets(&pool, 0, 10);
        let iovas: Vec<_> = pkts.iter().map(Mbuf::data_iova).collect();
        assert_eq!(tx.burst(&mut pkts), (10, Some(10)));
        assert!(pkts.is_empty());
        for (i, &iova) in iovas.iter().enumerate() {
            let d = tx.desc.read(i);
            assert_eq!((d.buffer_addr, usize::from(d.length)), (iova, 60 + i));
            let rs = if i == 7 { TXD_CMD_RS } else { 0 };
            assert_eq!(d.cmd, TXD_CMD_IFCS | TXD_CMD_EOP | rs, "descriptor {i}");
        }
        assert_eq!((pool.in_use(), tx.free), (10, 21));
        let s = counters.snapshot();
        assert_eq!((s.packets, s.bytes), (10, (60..70).sum::<u64>()));

        // The ring fills: 21 more fit, the rest stay with the caller, in order.
        let mut more = packets(&pool, 100, 25);
        assert_eq!(tx.burst(&mut more), (21, Some(31)));
        assert_eq!(more.len(), 4);
        assert_eq!(more[0].data()[0], 121);
        assert_eq!(
            tx.burst(&mut more),
            (0, None),
            "nothing sent: no done bit yet"
        );

        // Once the device has sent them, the next burst reclaims a group and goes on.
        device_tx(&tx, 0, 31);
        assert_eq!(tx.burst(&mut more), (4, Some(3)));
        assert_eq!(pool.in_use(), 31 + 4 - 8, "the first group of 8 is back");
        drop(more);
        tx.release();
        assert!(pool.is_full());
    }

    #[test]
    fn tx_chains_and_unsendable_packets() {
        let mem = memory();
        let pool = pool(&mem, 511);
        let counters = Arc::new(QueueCounters::default());
        let mut tx = TxRing::new(ring(&mem, 64), true, HUGE, counters.clone());
        let mut chain = packets(&pool, 1, 1).pop().unwrap();
        for seg in packets(&pool, 50, 2) {
            chain.chain(seg).unwrap();
        }
        let segs: Vec<_> = chain
            .segments()
            .map(|s| (s.as_ptr().addr() as u64, s.len()))
            .collect();
        let empty = pool.alloc().unwrap();
        let mut pkts = vec![chain, empty];
        pkts.extend(packets(&pool, 9, 1));
        assert_eq!(tx.burst(&mut pkts), (3, Some(4)));
        for (i, &(addr, len)) in segs.iter().enumerate() {
            let d = tx.desc.read(i);
            assert_eq!((d.buffer_addr, usize::from(d.length)), (addr, len));
            let eop = if i == 2 { TXD_CMD_EOP } else { 0 };
            assert_eq!(d.cmd & (TXD_CMD_EOP | TXD_CMD_IFCS), TXD_CMD_IFCS | eop);
        }
        assert_eq!(
            tx.desc.read(3).length,
            60,
            "the empty packet took no descriptor"
        );
        assert!(tx.sw[2].mbuf.is_some() && tx.sw[0].mbuf.is_none());
        let s = counters.snapshot();
        assert_eq!((s.packets, s.errors), (2, 1));
        assert_eq!(pool.in_use(), 4, "the empty packet was freed");

        // With physical IOVAs, chains cannot be described: dropped.
        let mut pa = TxRing::new(ring(&mem, 64), false, HUGE, counters.clone());
        let mut chain = packets(&pool, 1, 1).pop().unwrap();
        chain.chain(packets(&pool, 2, 1).pop().unwrap()).unwrap();
        let mut pkts = vec![chain];
        assert_eq!(pa.burst(&mut pkts), (1, None));
        assert_eq!(counters.snapshot().errors, 2);
        tx.release();
        pa.release();
        assert!(pool.is_full());
    }

    #[test]
    fn tx_buffers_never_cross_a_page() {
        let mem = memory();
        let pool = pool(&mem, 63);
        let counters = Arc::new(QueueCounters::default());
        let mut tx = TxRing::new(ring(&mem, 32), true, 4096, counters.clone());
        // An mbuf whose data room crosses a 4 KiB page, filled over the boundary.
        let mut all = Vec::new();
        pool.alloc_bulk(&mut all, 63).unwrap();
        let at = all
            .iter()
            .position(|m| 4096 - m.data_iova() % 4096 < 2000)
            .expect("some mbuf of 63 crosses a page");
        let mut m = all.swap_remove(at);
        let before = (4096 - m.data_iova() % 4096) as usize;
        m.append(before + 48).unwrap().fill(7);
        let iova = m.data_iova();
        drop(all);
        let mut pkts = vec![m];
        assert_eq!(tx.burst(&mut pkts), (1, Some(2)));
        let (a, b) = (tx.desc.read(0), tx.desc.read(1));
        assert_eq!((a.buffer_addr, usize::from(a.length)), (iova, before));
        assert_eq!((b.buffer_addr, b.length), (iova + before as u64, 48));
        assert_eq!((a.cmd, b.cmd), (TXD_CMD_IFCS, TXD_CMD_IFCS | TXD_CMD_EOP));
        assert!(tx.sw[1].mbuf.is_some() && tx.sw[0].mbuf.is_none());
        assert_eq!(usize::from(tx.sw[0].last), 1);
        assert_eq!(counters.snapshot().bytes, before as u64 + 48);
        tx.release();
        assert!(pool.is_full());
    }
}
