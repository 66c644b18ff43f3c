//! The mbufs a VFIO driver's rings hand the device by DMA.
//!
//! An RX ring's ([`RxMbufs`]): the one each descriptor points at (the device receives
//! into it with no copy), the thread cache fresh ones come from, and a burst's fresh
//! and dropped ones, each taken or freed in one bulk. The ring, which knows its
//! descriptors, moves mbufs in and out of the slots.
//!
//! A TX ring's: each segment of a packet is described by its IOVA ([`seg_iova`]).

use std::ptr::NonNull;
use std::sync::Arc;

use burst_mempool::{Mbuf, MbufHeader};

use crate::drivers::LcoreCache;
use crate::drivers::shared::Shared;
use crate::ethdev::{EthError, PortId};
use crate::stats::QueueCounters;

/// Why an RX ring could not be filled: the pool had too few free mbufs.
#[derive(Debug)]
pub(crate) struct NoMbufs {
    /// Mbufs the ring needs.
    pub need: usize,
}

/// Fills `port`'s RX queue 0, whose ring is `ring` (stopped, empty), with `fill`, and
/// leaves it stopped; what `fill` returns, or the error to give the application when
/// the pool has too few free mbufs or a burst that panicked poisoned the ring.
pub(crate) fn fill_rx<R, T>(
    port: PortId,
    ring: &Shared<R>,
    fill: impl FnOnce(&mut R) -> Result<T, NoMbufs>,
) -> Result<T, EthError> {
    let msg = match ring.control(|ring| (fill(ring), false)) {
        Some(Ok(filled)) => return Ok(filled),
        Some(Err(err)) => format!(
            "RX queue 0: its mempool has fewer than the {} free mbufs the ring needs (make \
             the pool larger, or free its mbufs)",
            err.need
        ),
        None => "RX queue 0 is poisoned by a panic".into(),
    };
    Err(EthError::Invalid { port, msg })
}

/// An RX ring's mbufs (see the module docs).
pub(crate) struct RxMbufs {
    /// The mbuf each descriptor points at: all `Some` while the ring is filled. Raw
    /// handles (`Mbuf::into_raw`): a buffer the device may still write is never freed
    /// by a drop, only by [`RxMbufs::release`] or by the ring once the device is done
    /// with it.
    pub(crate) sw: Box<[Option<NonNull<MbufHeader>>]>,
    cache: LcoreCache,
    /// One burst's fresh mbufs, taken from the cache in one bulk.
    pub(crate) fresh: Vec<Mbuf>,
    /// Mbufs of dropped packets, freed in one bulk.
    pub(crate) junk: Vec<Mbuf>,
    /// The port received packets are marked with.
    pub(crate) port: PortId,
    counters: Arc<QueueCounters>,
}

// SAFETY: the raw mbuf handles in `sw` are owned (as `Mbuf`s, which are Send, would
// be); the rest is Send.
unsafe impl Send for RxMbufs {}

impl RxMbufs {
    /// No mbuf yet for a ring of `len` descriptors, refilled from `cache`, counting into
    /// `counters`.
    pub(crate) fn new(
        len: usize,
        cache: LcoreCache,
        port: PortId,
        counters: Arc<QueueCounters>,
    ) -> Self {
        Self {
            sw: vec![None; len].into_boxed_slice(),
            cache,
            fresh: Vec::with_capacity(len),
            junk: Vec::with_capacity(len),
            port,
            counters,
        }
    }

    /// One fresh mbuf per descriptor in `fresh`, all or nothing: what filling the
    /// (empty) ring takes.
    pub(crate) fn take_for_fill(&mut self) -> Result<(), NoMbufs> {
        let len = self.sw.len();
        if self.cache.alloc_bulk(&mut self.fresh, len).is_err() {
            return Err(NoMbufs { need: len });
        }
        Ok(())
    }

    /// `want` fresh mbufs in `fresh`, in one bulk, or else as many as there are (counted
    /// in `rx_nombuf`); whether there is any.
    #[inline(always)]
    pub(crate) fn take_fresh(&mut self, want: usize) -> bool {
        if self.cache.alloc_bulk(&mut self.fresh, want).is_err() {
            self.fresh_one_by_one(want);
            return !self.fresh.is_empty();
        }
        true
    }

    /// The cache and pool could not give `want` mbufs at once: take what there is, one
    /// by one; the ring receives as many packets as it got mbufs for (as DPDK's PMDs
    /// do) and leaves the rest with the device for a later burst.
    #[cold]
    #[inline(never)]
    fn fresh_one_by_one(&mut self, want: usize) {
        self.counters.add_nombuf(1);
        while self.fresh.len() < want {
            match self.cache.alloc() {
                Some(m) => self.fresh.push(m),
                None => break,
            }
        }
    }

    /// Ends a burst that received `got` packets of `bytes` bytes and dropped `errors`:
    /// frees the dropped mbufs in one bulk and counts.
    #[inline(always)]
    pub(crate) fn end_burst(&mut self, got: usize, bytes: u64, errors: u64) {
        if !self.junk.is_empty() {
            self.cache.free_bulk(&mut self.junk);
        }
        self.counters.add(got as u64, bytes);
        if errors != 0 {
            self.counters.add_errors(errors);
        }
    }

    /// Gives every mbuf back to the pool. The device must be done with every buffer
    /// (stopped, or reset): it must not write one any more.
    pub(crate) fn release(&mut self) {
        for slot in self.sw.iter_mut() {
            if let Some(raw) = slot.take() {
                // SAFETY: `raw` came from `into_raw` when its descriptor was armed and is
                // taken back once (the slot is emptied); the device is done with it (the
                // caller stopped or reset it).
                self.junk.push(unsafe { Mbuf::from_raw(raw) });
            }
        }
        self.cache.free_bulk(&mut self.junk);
        self.cache.flush();
    }
}

/// The IOVA of segment `k` (with data `seg`) of `m`: mbufs give the IOVA of their first
/// segment only, so a later segment's is its address, which needs IOVA-as-VA.
#[inline(always)]
pub(crate) fn seg_iova(m: &Mbuf, k: usize, seg: &[u8]) -> u64 {
    if k == 0 {
        m.data_iova()
    } else {
        seg.as_ptr().addr() as u64
    }
}
