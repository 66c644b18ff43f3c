//! The virtio-net RX and TX queues: split virtqueues whose descriptors point at mbufs,
//! and the bursts.
//!
//! A queue's ring is shared by the port (control plane: fill at start, release at stop)
//! and the lcore polling it (data plane: bursts) through [`Shared`]: a burst does
//! nothing if the port holds the ring or has stopped the queue, so no burst ever runs
//! on a ring whose mbufs were released. A burst that panicked poisons the ring; it is
//! then never touched again and its mbufs leak rather than risk a double free or a
//! buffer still in the device's hands.
//!
//! Memory ordering with the device (x86-64, where burst's VFIO drivers run; QEMU's
//! virtio device is not `VIRTIO_F_ORDER_PLATFORM`, so CPU fences suffice): the device
//! writes used entries, then the used `idx`; the driver reads `idx` with a volatile load
//! and then issues an Acquire fence before reading the entries and the packets.
//! Descriptors and available entries are written with volatile stores, then a Release
//! fence orders them before the available `idx` store. Between that store and the
//! read of the used ring's `VIRTQ_USED_F_NO_NOTIFY` a SeqCst fence (`mfence`) is
//! needed: otherwise the flag could be read before the device sees the new `idx`, and a
//! device that has just re-enabled notifications would miss the buffers (§2.6.10).

use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};

use burst_mempool::{Mbuf, MbufHeader};

use super::net::NET_HDR_LEN;
use super::pci::Notifier;
use super::virtqueue::{
    VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VIRTQ_USED_F_NO_NOTIFY,
    VirtqDesc, Vring,
};
use crate::drivers::ring_mbufs::{NoMbufs, RxMbufs, seg_iova};
use crate::drivers::shared::Shared;
use crate::drivers::{LcoreCache, TxFree};
use crate::ethdev::{PortId, RxBurst, TxBurst};
use crate::stats::QueueCounters;

/// The smallest frame taken from the device: an Ethernet header.
const MIN_FRAME: usize = 14;
/// The free-descriptor count under which a TX burst first reclaims sent buffers
/// (DPDK's `tx_free_thresh`), for rings of 128 descriptors or more.
const TX_FREE_THRESH: usize = 32;

/// Publishes the available ring up to `idx`, and whether the device wants to be
/// notified of it (`VIRTQ_USED_F_NO_NOTIFY` clear).
#[inline(always)]
fn publish(vq: &Vring, idx: u16) -> bool {
    // Release: the descriptors and entries before the idx that hands them over.
    fence(Ordering::Release);
    vq.set_avail_idx(idx);
    // SeqCst: the idx store before the flag load (see the module docs).
    fence(Ordering::SeqCst);
    vq.used_flags() & VIRTQ_USED_F_NO_NOTIFY == 0
}

/// An RX queue's ring: every descriptor is one device-writable buffer, an mbuf's data
/// room and the [`NET_HDR_LEN`] bytes of headroom before it, where the device puts the
/// `virtio_net_hdr` (so the packet lands at the mbuf's data offset, with no copy).
pub(super) struct RxRing {
    vq: Vring,
    /// The mbuf each descriptor points at, in `mbufs.sw`.
    mbufs: RxMbufs,
    /// The next used entry to take.
    last_used: u16,
    /// The available `idx` the driver has reached.
    avail_idx: u16,
}

impl RxRing {
    /// An empty ring over `vq`, refilled from `cache`, counting into `counters`.
    pub(super) fn new(
        vq: Vring,
        cache: LcoreCache,
        port: PortId,
        counters: Arc<QueueCounters>,
    ) -> Self {
        Self {
            mbufs: RxMbufs::new(usize::from(vq.size()), cache, port, counters),
            vq,
            last_used: 0,
            avail_idx: 0,
        }
    }

    /// The virtqueue.
    pub(super) fn vq(&self) -> &Vring {
        &self.vq
    }

    /// The descriptor of a receive buffer in `m`.
    #[inline(always)]
    fn rx_desc(m: &Mbuf) -> VirtqDesc {
        VirtqDesc {
            // The pool's headroom holds the header: checked at queue setup.
            addr: m.data_iova() - NET_HDR_LEN as u64,
            len: (NET_HDR_LEN + m.tailroom()) as u32,
            flags: VIRTQ_DESC_F_WRITE,
            next: 0,
        }
    }

    /// Clears the rings and makes every descriptor available with a fresh mbuf, with
    /// interrupts suppressed. The ring must be empty (new, or released) and the
    /// device must not use the queue yet; notify it once the queue is enabled.
    pub(super) fn fill(&mut self) -> Result<(), NoMbufs> {
        self.mbufs.take_for_fill()?;
        self.vq.clear();
        self.vq.set_avail_flags(VIRTQ_AVAIL_F_NO_INTERRUPT);
        for (i, m) in (0..).zip(self.mbufs.fresh.drain(..)) {
            self.vq.set_desc(i, Self::rx_desc(&m));
            self.vq.set_avail(i, i);
            self.mbufs.sw[usize::from(i)] = Some(m.into_raw());
        }
        self.last_used = 0;
        self.avail_idx = self.vq.size();
        // Release: the descriptors and entries before the idx that hands them over.
        fence(Ordering::Release);
        self.vq.set_avail_idx(self.avail_idx);
        Ok(())
    }

    /// Gives every mbuf back to the pool. The device must be reset: it must not write a
    /// buffer any more.
    pub(super) fn release(&mut self) {
        self.mbufs.release();
    }

    /// Receives up to `nb_pkts` packets into `pkts`; returns how many, and whether to
    /// notify the device of the buffers given back.
    #[inline]
    pub(super) fn burst(&mut self, pkts: &mut Vec<Mbuf>, nb_pkts: usize) -> (usize, bool) {
        let size = usize::from(self.vq.size());
        // At most a ring's worth, even if the device wrote a wild idx.
        let used = usize::from(self.vq.used_idx().wrapping_sub(self.last_used)).min(size);
        let ready = used.min(nb_pkts);
        if ready == 0 {
            return (0, false);
        }
        // Acquire: the used entries and their packets are read after the idx.
        fence(Ordering::Acquire);
        // One fresh mbuf per used buffer, in one bulk: all or nothing.
        if !self.mbufs.take_fresh(ready) {
            return (0, false);
        }
        let (mut got, mut bytes, mut errors) = (0, 0, 0);
        while let Some(new) = self.mbufs.fresh.pop() {
            let elem = self.vq.used_elem(self.last_used);
            self.last_used = self.last_used.wrapping_add(1);
            let id = elem.id as usize;
            let Some(old) = self.mbufs.sw.get_mut(id).and_then(Option::take) else {
                // Not a buffer the device was given: a device bug. Nothing to re-arm.
                errors += 1;
                self.mbufs.junk.push(new);
                continue;
            };
            // Re-arm the descriptor with the fresh mbuf and hand it back.
            self.vq.set_desc(id as u16, Self::rx_desc(&new));
            self.mbufs.sw[id] = Some(new.into_raw());
            self.vq.set_avail(self.avail_idx, id as u16);
            self.avail_idx = self.avail_idx.wrapping_add(1);
            // SAFETY: `old` came from `into_raw` when descriptor `id` was armed and is
            // taken back once (its slot holds the new mbuf now); the device has put it
            // in the used ring (seen before the fence) and is done with the buffer.
            let mut m = unsafe { Mbuf::from_raw(old) };
            // The device wrote the header then the frame; a runt or a length past the
            // buffer (the device is not trusted) is dropped.
            let len = (elem.len as usize).saturating_sub(NET_HDR_LEN);
            if len < MIN_FRAME || m.append(len).is_err() {
                errors += 1;
                self.mbufs.junk.push(m);
                continue;
            }
            m.set_port(self.mbufs.port);
            bytes += len as u64;
            got += 1;
            pkts.push(m);
        }
        self.mbufs.end_burst(got, bytes, errors);
        (got, publish(&self.vq, self.avail_idx))
    }
}

/// What the TX ring knows of each descriptor that heads a chain.
#[derive(Clone, Copy)]
struct TxEntry {
    /// The packet to free once the device has used the chain (raw `Mbuf::into_raw`
    /// handle: the device may still be reading its buffers).
    mbuf: Option<NonNull<MbufHeader>>,
    /// Descriptors in the chain.
    ndescs: u16,
}

/// A TX queue's ring: one descriptor per mbuf segment, pointing at its data (no copy);
/// the `virtio_net_hdr` is prepended in the first segment's headroom, or, for a packet
/// whose headroom is too small or shared with clones, read from a zeroed header in the
/// ring's memory through one more descriptor. Free descriptors form a list, as the
/// device may use chains in any order.
pub(super) struct TxRing {
    vq: Vring,
    sw: Box<[TxEntry]>,
    /// The free list: `next[i]` follows descriptor `i`, as written in its `next`.
    next: Box<[u16]>,
    free_head: u16,
    free: usize,
    /// Reclaim sent buffers when fewer descriptors than this are free.
    free_thresh: usize,
    last_used: u16,
    avail_idx: u16,
    /// IOVA of the zeroed `virtio_net_hdr` in the ring's memory.
    zero_hdr: u64,
    /// Whether IOVAs are virtual addresses: a later segment's IOVA is then its address
    /// (mbufs give the IOVA of their first segment only).
    iova_is_va: bool,
    /// The chain heads of one burst's packets, in order.
    heads: Vec<u16>,
    /// Mbufs to free in one bulk.
    done: Vec<Mbuf>,
    /// Where `done` goes: a cache of the mbufs' pool.
    recycle: TxFree,
    counters: Arc<QueueCounters>,
}

// SAFETY: as for `RxRing`: the raw handles are owned mbufs.
unsafe impl Send for TxRing {}

impl TxRing {
    /// Chains made available to the device and not used yet.
    pub(super) fn in_flight(&self) -> u16 {
        self.avail_idx.wrapping_sub(self.vq.used_idx())
    }

    /// A ring over `vq`, counting into `counters`.
    pub(super) fn new(vq: Vring, iova_is_va: bool, counters: Arc<QueueCounters>) -> Self {
        let len = usize::from(vq.size());
        let mut ring = Self {
            sw: vec![
                TxEntry {
                    mbuf: None,
                    ndescs: 0
                };
                len
            ]
            .into_boxed_slice(),
            next: vec![0; len].into_boxed_slice(),
            free_head: 0,
            free: 0,
            free_thresh: (len / 4).min(TX_FREE_THRESH),
            last_used: 0,
            avail_idx: 0,
            zero_hdr: vq.extra_iova(),
            iova_is_va,
            heads: Vec::with_capacity(len),
            done: Vec::with_capacity(len),
            recycle: TxFree::default(),
            vq,
            counters,
        };
        ring.reset();
        ring
    }

    /// The virtqueue.
    pub(super) fn vq(&self) -> &Vring {
        &self.vq
    }

    /// Clears the rings and frees every descriptor, with interrupts suppressed. Holds
    /// no mbuf (new, or released); the device must not use the queue.
    pub(super) fn reset(&mut self) {
        let size = self.vq.size();
        self.vq.clear();
        self.vq.set_avail_flags(VIRTQ_AVAIL_F_NO_INTERRUPT);
        for (i, next) in (1..).zip(self.next.iter_mut()) {
            *next = i % size;
        }
        self.free_head = 0;
        self.free = usize::from(size);
        self.last_used = 0;
        self.avail_idx = 0;
    }

    /// Gives every mbuf back to its pool and empties the ring. The device must be
    /// reset: it must not read a buffer any more.
    pub(super) fn release(&mut self) {
        for entry in self.sw.iter_mut() {
            if let Some(raw) = entry.mbuf.take() {
                // SAFETY: `raw` came from `into_raw` when its packet was queued and is
                // taken back once (the entry is emptied); the device is reset.
                self.done.push(unsafe { Mbuf::from_raw(raw) });
            }
        }
        self.recycle.free_bulk(&mut self.done);
        self.reset();
    }

    /// Whether `m` can ever be sent on a ring of `size`: not empty, no empty segment, a single segment
    /// unless IOVAs are addresses, and its descriptors (one per segment, and maybe one
    /// for the header) fit the ring. Prepending the header does not change the answer.
    #[inline(always)]
    fn sendable(m: &Mbuf, iova_is_va: bool, size: u16) -> bool {
        let segs = usize::from(m.nb_segs());
        if segs == 1 {
            return m.data_len() != 0;
        }
        iova_is_va && segs < usize::from(size) && m.segments().all(|s| !s.is_empty())
    }

    /// Sends packets from the front of `pkts` (see [`TxBurst::tx_burst`]); returns how
    /// many were taken, and whether to notify the device.
    #[inline]
    pub(super) fn burst(&mut self, pkts: &mut Vec<Mbuf>) -> (usize, bool) {
        if pkts.is_empty() {
            return (0, false);
        }
        if self.free < self.free_thresh {
            self.reclaim();
        }
        let (iova_is_va, size) = (self.iova_is_va, self.vq.size());
        let (mut taken, mut bytes, mut dropped) = (0, 0, 0);
        for m in pkts.iter_mut() {
            if !Self::sendable(m, iova_is_va, size) {
                // Taken and dropped below (counted as an error), or it would block
                // the queue forever.
                taken += 1;
                dropped += 1;
                continue;
            }
            // The header goes in the headroom if the buffer is ours alone, as
            // `prepend` requires.
            let push = m.headroom() >= NET_HDR_LEN && m.refcnt() == 1;
            let need = usize::from(m.nb_segs()) + usize::from(!push);
            if need > self.free {
                self.reclaim();
                if need > self.free {
                    break;
                }
            }
            bytes += u64::from(m.pkt_len());
            let head = self.free_head;
            let mut at = head;
            if push {
                let Ok(hdr) = m.prepend(NET_HDR_LEN) else {
                    unreachable!("headroom and refcnt were checked");
                };
                hdr.fill(0);
            } else {
                self.vq.set_desc(
                    at,
                    VirtqDesc {
                        addr: self.zero_hdr,
                        len: NET_HDR_LEN as u32,
                        flags: VIRTQ_DESC_F_NEXT,
                        next: self.next[usize::from(at)],
                    },
                );
                at = self.next[usize::from(at)];
            }
            let segs = usize::from(m.nb_segs());
            for (k, seg) in m.segments().enumerate() {
                let next = self.next[usize::from(at)];
                let more = k + 1 < segs;
                self.vq.set_desc(
                    at,
                    VirtqDesc {
                        addr: seg_iova(m, k, seg),
                        len: seg.len() as u32,
                        flags: if more { VIRTQ_DESC_F_NEXT } else { 0 },
                        next: if more { next } else { 0 },
                    },
                );
                if more {
                    at = next;
                }
            }
            self.free_head = self.next[usize::from(at)];
            self.free -= need;
            // `need` < size <= 4096.
            self.sw[usize::from(head)].ndescs = need as u16;
            self.vq.set_avail(self.avail_idx, head);
            self.avail_idx = self.avail_idx.wrapping_add(1);
            self.heads.push(head);
            taken += 1;
        }
        // Hand the queued packets to their chains' heads, in order.
        let mut heads = self.heads.drain(..);
        for m in pkts.drain(..taken) {
            if !Self::sendable(&m, iova_is_va, size) {
                self.done.push(m);
                continue;
            }
            let Some(head) = heads.next() else {
                unreachable!("a head was recorded for every packet queued");
            };
            self.sw[usize::from(head)].mbuf = Some(m.into_raw());
        }
        let queued = taken - dropped;
        if dropped != 0 {
            self.recycle.free_bulk(&mut self.done);
            self.counters.add_errors(dropped as u64);
        }
        self.counters.add(queued as u64, bytes);
        (taken, queued != 0 && publish(&self.vq, self.avail_idx))
    }

    /// Frees the descriptors and mbufs of every chain the device has used (DPDK's
    /// `virtio_xmit_cleanup`), the mbufs in one bulk.
    fn reclaim(&mut self) {
        let size = self.vq.size();
        let used = self.vq.used_idx().wrapping_sub(self.last_used).min(size);
        if used == 0 {
            return;
        }
        // Acquire: the buffers are reused only after the device said it read them.
        fence(Ordering::Acquire);
        for _ in 0..used {
            let id = self.vq.used_elem(self.last_used).id as usize;
            self.last_used = self.last_used.wrapping_add(1);
            let Some(entry) = self.sw.get_mut(id) else {
                continue;
            };
            let Some(raw) = entry.mbuf.take() else {
                // Not a chain the device was given: a device bug.
                continue;
            };
            // SAFETY: `raw` came from `into_raw` when its packet was queued and is taken
            // back once (the entry is emptied); the device has used the chain.
            self.done.push(unsafe { Mbuf::from_raw(raw) });
            // Give the chain back to the free list: its tail then links the old head.
            let mut tail = id;
            for _ in 1..entry.ndescs {
                tail = usize::from(self.next[tail]);
            }
            self.next[tail] = self.free_head;
            self.free_head = id as u16;
            self.free += usize::from(entry.ndescs);
        }
        self.recycle.free_bulk(&mut self.done);
    }
}

/// The RX handle an lcore polls.
pub(super) struct Rx {
    pub(super) ring: Arc<Shared<RxRing>>,
    pub(super) notifier: Notifier,
}

impl RxBurst for Rx {
    #[inline]
    fn rx_burst(&mut self, pkts: &mut Vec<Mbuf>, nb_pkts: usize) -> usize {
        let notifier = &self.notifier;
        self.ring
            .burst(|ring| {
                let (n, notify) = ring.burst(pkts, nb_pkts);
                if notify {
                    notifier.notify();
                }
                n
            })
            .unwrap_or(0)
    }
}

/// The TX handle an lcore feeds.
pub(super) struct Tx {
    pub(super) ring: Arc<Shared<TxRing>>,
    pub(super) notifier: Notifier,
}

impl TxBurst for Tx {
    #[inline]
    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        let notifier = &self.notifier;
        self.ring
            .burst(|ring| {
                let (n, notify) = ring.burst(pkts);
                if notify {
                    notifier.notify();
                }
                n
            })
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    //! The rings against a simulated device: ring memory and mbufs in ordinary pages
    //! (IOVA = VA), the test playing the virtio-net device's part.

    use burst_eal::memory::Memory;
    use burst_mempool::PktPool;

    use super::super::virtqueue::{QUEUE_BYTES, VirtqUsedElem};
    use super::*;
    use crate::drivers::testutil::{frame, memory, packets, pool, ring_region};

    fn vring(mem: &Memory, size: u16) -> Vring {
        let region = ring_region(mem, QUEUE_BYTES);
        let base = region.as_ptr();
        let iova = region.iova(0);
        // SAFETY: a fresh page-aligned region of QUEUE_BYTES, IOVA = VA, kept by the ring.
        unsafe { Vring::new(base, iova, size, region) }
    }

    fn rx_ring(mem: &Memory, pool: &PktPool, size: u16) -> (RxRing, Arc<QueueCounters>) {
        let counters = Arc::new(QueueCounters::default());
        let ring = RxRing::new(vring(mem, size), LcoreCache::new(pool), 3, counters.clone());
        (ring, counters)
    }

    /// The device receives `data` into the buffer of descriptor `id` (header first)
    /// and puts it in used entry `used`.
    fn device_rx(vq: &Vring, used: u16, id: u16, data: &[u8]) {
        let d = vq.desc(id);
        assert_eq!(d.flags, VIRTQ_DESC_F_WRITE);
        assert!(NET_HDR_LEN + data.len() <= d.len as usize);
        let mut hdr = [0u8; NET_HDR_LEN];
        hdr[10] = 1; // num_buffers
        // SAFETY: the buffer of an mbuf the ring gave the "device"; IOVA = VA here.
        unsafe {
            let at = d.addr as *mut u8;
            std::ptr::copy_nonoverlapping(hdr.as_ptr(), at, NET_HDR_LEN);
            std::ptr::copy_nonoverlapping(data.as_ptr(), at.add(NET_HDR_LEN), data.len());
        }
        vq.push_used(
            used,
            VirtqUsedElem {
                id: id.into(),
                len: (NET_HDR_LEN + data.len()) as u32,
            },
        );
    }

    #[test]
    fn rx_takes_used_buffers_and_rearms_their_descriptors() {
        let mem = memory();
        let pool = pool(&mem, 511);
        let (mut rx, counters) = rx_ring(&mem, &pool, 32);
        rx.fill().unwrap();
        let vq = &rx.vq;
        assert_eq!(vq.avail(0).0, 32, "every descriptor is the device's");
        let addrs: Vec<_> = (0..32).map(|i| vq.desc(i).addr).collect();
        for i in 0..32 {
            let d = vq.desc(i);
            assert_eq!((d.len, d.flags), (12 + 2048, VIRTQ_DESC_F_WRITE));
            assert_eq!(vq.avail(i).1, i);
        }
        let mut pkts = Vec::with_capacity(64);
        assert_eq!(rx.burst(&mut pkts, 32), (0, false), "nothing received yet");

        // The device may use buffers in any order; the burst takes them in used order.
        let order = [3u16, 0, 1, 7, 2];
        for (used, &id) in order.iter().enumerate() {
            device_rx(&rx.vq, used as u16, id, &frame(id as u8, 60 + used));
        }
        rx.vq.set_used_flags(VIRTQ_USED_F_NO_NOTIFY);
        assert_eq!(
            rx.burst(&mut pkts, 32),
            (5, false),
            "the device asked not to be notified"
        );
        for (k, (m, &id)) in pkts.iter().zip(&order).enumerate() {
            assert_eq!(m.data(), frame(id as u8, 60 + k));
            assert_eq!(m.port(), 3);
            assert_eq!(
                m.data_iova(),
                addrs[usize::from(id)] + NET_HDR_LEN as u64,
                "zero copy"
            );
        }
        let vq = &rx.vq;
        assert_eq!(vq.avail(0).0, 32 + 5);
        for (k, &id) in order.iter().enumerate() {
            assert_eq!(vq.avail(32 + k as u16).1, id, "given back in used order");
            assert!(
                !addrs.contains(&vq.desc(id).addr),
                "re-armed with a fresh mbuf"
            );
        }
        let s = counters.snapshot();
        assert_eq!((s.packets, s.bytes, s.errors), (5, (60..65).sum(), 0));

        // A burst takes at most what is asked; the rest waits. Notified when asked to.
        rx.vq.set_used_flags(0);
        device_rx(&rx.vq, 5, 4, &frame(4, 70));
        device_rx(&rx.vq, 6, 5, &frame(5, 70));
        assert_eq!(rx.burst(&mut pkts, 1), (1, true));
        assert_eq!(rx.burst(&mut pkts, 8), (1, true));
        assert_eq!(pkts.len(), 7);
        pkts.clear();
        rx.release();
        assert!(pool.is_full(), "{pool:?}");
    }

    #[test]
    fn rx_drops_runts_overlong_lengths_and_unknown_buffers() {
        let mem = memory();
        let pool = pool(&mem, 511);
        let (mut rx, counters) = rx_ring(&mem, &pool, 32);
        rx.fill().unwrap();
        device_rx(&rx.vq, 0, 0, &frame(0, 13));
        device_rx(&rx.vq, 1, 1, &frame(1, 64));
        rx.vq.push_used(2, VirtqUsedElem { id: 2, len: 5000 });
        rx.vq.push_used(3, VirtqUsedElem { id: 99, len: 64 });
        device_rx(&rx.vq, 4, 3, &frame(3, 1514));
        let mut pkts = Vec::new();
        assert_eq!(rx.burst(&mut pkts, 32).0, 2);
        assert_eq!(pkts[0].data(), frame(1, 64));
        assert_eq!(pkts[1].data(), frame(3, 1514));
        let s = counters.snapshot();
        assert_eq!(
            (s.packets, s.errors),
            (2, 3),
            "a runt, too long, not a buffer"
        );
        drop(pkts);
        rx.release();
        assert!(pool.is_full());
    }

    #[test]
    fn rx_wraps_the_ring_and_the_16_bit_indices() {
        let mem = memory();
        let pool = pool(&mem, 255);
        let (mut rx, counters) = rx_ring(&mem, &pool, 32);
        rx.fill().unwrap();
        let (mut used, mut seq) = (0u16, 0u32);
        let mut pkts = Vec::with_capacity(32);
        // 70000 packets: past 65536, where the indices wrap.
        while seq < 70_000 {
            let n = 1 + seq % 32;
            for k in 0..n {
                // The device takes available entries in order.
                let (_, id) = rx.vq.avail(used);
                let mut data = (seq + k).to_le_bytes().to_vec();
                data.resize(60, 0);
                device_rx(&rx.vq, used, id, &data);
                used = used.wrapping_add(1);
            }
            assert_eq!(rx.burst(&mut pkts, 32).0, n as usize);
            for (k, m) in pkts.drain(..).enumerate() {
                assert_eq!(m.data()[..4], (seq + k as u32).to_le_bytes());
            }
            seq += n;
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
        let mut rx = RxRing::new(vring(&mem, 32), LcoreCache::new(&pool), 0, counters.clone());
        rx.fill().unwrap();
        let mut held = Vec::new();
        LcoreCache::new(&pool).alloc_bulk(&mut held, 29).unwrap();
        for i in 0..5 {
            device_rx(&rx.vq, i, i, &frame(i as u8, 64));
        }
        let mut pkts = Vec::new();
        assert_eq!(rx.burst(&mut pkts, 32).0, 2, "two mbufs were left");
        assert_eq!(counters.snapshot().nombuf, 1);
        held.clear();
        assert_eq!(rx.burst(&mut pkts, 32).0, 3, "the rest once mbufs are back");
        for (i, m) in pkts.iter().enumerate() {
            assert_eq!(m.data(), frame(i as u8, 64));
        }
        drop(pkts);
        rx.release();
        assert!(pool.is_full());

        let small = self::pool(&mem, 31);
        let mut rx = RxRing::new(vring(&mem, 32), LcoreCache::new(&small), 0, counters);
        assert_eq!(rx.fill().unwrap_err().need, 32);
        assert!(small.is_full(), "a failed fill keeps nothing");
    }

    /// The device reads the chain at `head`: its descriptors, and the bytes.
    fn device_read(vq: &Vring, head: u16) -> (Vec<VirtqDesc>, Vec<u8>) {
        let (mut descs, mut bytes) = (Vec::new(), Vec::new());
        let mut at = head;
        loop {
            let d = vq.desc(at);
            assert_eq!(d.flags & VIRTQ_DESC_F_WRITE, 0, "TX buffers are read");
            // SAFETY: a buffer the ring gave the "device"; IOVA = VA here.
            bytes.extend_from_slice(unsafe {
                std::slice::from_raw_parts(d.addr as *const u8, d.len as usize)
            });
            descs.push(d);
            if d.flags & VIRTQ_DESC_F_NEXT == 0 {
                return (descs, bytes);
            }
            at = d.next;
        }
    }

    #[test]
    fn tx_prepends_the_header_and_notifies_once_per_burst() {
        let mem = memory();
        let pool = pool(&mem, 511);
        let counters = Arc::new(QueueCounters::default());
        let mut tx = TxRing::new(vring(&mem, 32), true, counters.clone());
        let mut pkts = packets(&pool, 0, 10);
        let iovas: Vec<_> = pkts.iter().map(Mbuf::data_iova).collect();
        assert_eq!(tx.burst(&mut pkts), (10, true));
        assert!(pkts.is_empty());
        assert_eq!(tx.vq.avail(0).0, 10);
        for i in 0..10u16 {
            let (_, head) = tx.vq.avail(i);
            let (descs, bytes) = device_read(&tx.vq, head);
            assert_eq!(descs.len(), 1, "one descriptor, the header in the headroom");
            assert_eq!(descs[0].addr, iovas[usize::from(i)] - NET_HDR_LEN as u64);
            assert_eq!(&bytes[..NET_HDR_LEN], [0; NET_HDR_LEN]);
            assert_eq!(bytes[NET_HDR_LEN..], vec![i as u8; 60 + usize::from(i)][..]);
        }
        let s = counters.snapshot();
        assert_eq!(
            (s.packets, s.bytes),
            (10, (60..70).sum()),
            "without the headers"
        );
        // No notification when the device says so.
        tx.vq.set_used_flags(VIRTQ_USED_F_NO_NOTIFY);
        assert_eq!(tx.burst(&mut packets(&pool, 0, 2)), (2, false));
        assert_eq!(tx.burst(&mut Vec::new()), (0, false));
        tx.release();
        assert!(pool.is_full());
    }

    #[test]
    fn tx_shared_buffers_and_chains() {
        let mem = memory();
        let pool = pool(&mem, 511);
        let counters = Arc::new(QueueCounters::default());
        let mut tx = TxRing::new(vring(&mem, 64), true, counters.clone());
        // A clone shares its buffer: the header comes from the ring's zeroed one.
        let orig = packets(&pool, 7, 1).pop().unwrap();
        let clone = orig.try_clone().unwrap();
        // A chain of three segments: the header goes in the first one's headroom.
        let mut chain = packets(&pool, 1, 1).pop().unwrap();
        for seg in packets(&pool, 50, 2) {
            chain.chain(seg).unwrap();
        }
        let mut want_chain = Vec::new();
        for seg in chain.segments() {
            want_chain.extend_from_slice(seg);
        }
        let empty = pool.alloc().unwrap();
        let mut pkts = vec![clone, chain, empty];
        assert_eq!(tx.burst(&mut pkts), (3, true));
        let (descs, bytes) = device_read(&tx.vq, tx.vq.avail(0).1);
        assert_eq!(descs.len(), 2);
        assert_eq!((descs[0].addr, descs[0].len), (tx.zero_hdr, 12));
        assert_eq!(&bytes[..12], [0; 12]);
        assert_eq!(bytes[12..], orig.data()[..]);
        let (descs, bytes) = device_read(&tx.vq, tx.vq.avail(1).1);
        assert_eq!(descs.len(), 3);
        assert_eq!(&bytes[..12], [0; 12]);
        assert_eq!(bytes[12..], want_chain[..]);
        assert_eq!(tx.vq.avail(0).0, 2, "the empty packet was not queued");
        let s = counters.snapshot();
        assert_eq!((s.packets, s.errors), (2, 1));
        assert_eq!(tx.free, 64 - 5);

        // With physical IOVAs, chains cannot be described: dropped.
        let mut pa = TxRing::new(vring(&mem, 64), false, counters.clone());
        let mut chain = packets(&pool, 1, 1).pop().unwrap();
        chain.chain(packets(&pool, 2, 1).pop().unwrap()).unwrap();
        assert_eq!(pa.burst(&mut vec![chain]), (1, false));
        assert_eq!(counters.snapshot().errors, 2);
        tx.release();
        pa.release();
        drop(orig);
        assert!(pool.is_full());
    }

    #[test]
    fn tx_reclaims_chains_used_in_any_order() {
        let mem = memory();
        let pool = pool(&mem, 511);
        let counters = Arc::new(QueueCounters::default());
        let mut tx = TxRing::new(vring(&mem, 32), true, counters.clone());
        assert_eq!(tx.free_thresh, 8);
        // Two-descriptor packets (clones) and one-descriptor ones, alternating.
        let keep = packets(&pool, 0, 8);
        let mut pkts = Vec::new();
        for (i, m) in keep.iter().enumerate() {
            pkts.push(m.try_clone().unwrap());
            pkts.extend(packets(&pool, 100 + i as u8, 1));
        }
        // 16 packets, 24 descriptors; the ring has 32.
        assert_eq!(tx.burst(&mut pkts).0, 16);
        assert_eq!(tx.free, 8);
        let mut more = packets(&pool, 200, 12);
        assert_eq!(tx.burst(&mut more).0, 8, "the ring is full");
        assert_eq!((tx.free, more.len()), (0, 4));
        assert_eq!(tx.burst(&mut more), (0, false), "nothing used yet");

        // The device uses every other chain, backwards.
        let heads: Vec<u16> = (0..24).map(|i| tx.vq.avail(i).1).collect();
        let mut used = 0u16;
        for &head in heads.iter().rev().step_by(2) {
            tx.vq.push_used(
                used,
                VirtqUsedElem {
                    id: head.into(),
                    len: 0,
                },
            );
            used += 1;
        }
        let in_use = pool.in_use();
        assert_eq!(tx.burst(&mut more).0, 4, "reclaimed, then sent");
        assert_eq!(tx.free, 12 - 4, "12 one-descriptor chains back, 4 sent");
        assert!(pool.in_use() < in_use);
        // Then the rest: every descriptor is free again, each exactly once.
        let heads: Vec<u16> = (0..28).map(|i| tx.vq.avail(i).1).collect();
        for i in (0..24).step_by(2).chain(24..28) {
            let head = heads[i];
            tx.vq.push_used(
                used,
                VirtqUsedElem {
                    id: head.into(),
                    len: 0,
                },
            );
            used += 1;
        }
        tx.reclaim();
        assert_eq!(tx.free, 32);
        let mut seen = [false; 32];
        let mut at = tx.free_head;
        for _ in 0..32 {
            assert!(
                !seen[usize::from(at)],
                "descriptor {at} twice in the free list"
            );
            seen[usize::from(at)] = true;
            at = tx.next[usize::from(at)];
        }
        drop(keep);
        tx.release();
        assert!(pool.is_full(), "{pool:?}");
    }
}
