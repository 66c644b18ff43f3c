//! Port statistics (DPDK's `rte_eth_stats`) and the per-queue counters behind them.
//!
//! A queue's counters are written only by the lcore that owns the queue, so they are
//! bumped with a relaxed load and store (no atomic read-modify-write on the fast path)
//! and read by the control plane, which may see a value one burst old.

use std::sync::atomic::{AtomicU64, Ordering};

/// One queue's counters: single writer (the owning lcore), any number of readers.
#[derive(Debug, Default)]
pub struct QueueCounters {
    packets: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    missed: AtomicU64,
    nombuf: AtomicU64,
}

/// A snapshot of one queue's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueSnapshot {
    /// Packets received (RX) or sent (TX).
    pub packets: u64,
    /// Bytes received or sent.
    pub bytes: u64,
    /// Erroneous packets (RX) or failed transmissions (TX).
    pub errors: u64,
    /// RX: packets dropped because the queue was full (`imissed`).
    pub missed: u64,
    /// RX: receive attempts that found no free mbuf (`rx_nombuf`).
    pub nombuf: u64,
}

#[inline(always)]
fn bump(c: &AtomicU64, n: u64) {
    // Relaxed load + store: only the owning lcore writes, so no update is lost, and
    // readers need no ordering with the packets themselves.
    c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

impl QueueCounters {
    /// Counts `packets` packets of `bytes` bytes in all. Call from the owning lcore.
    #[inline(always)]
    pub fn add(&self, packets: u64, bytes: u64) {
        if packets != 0 {
            bump(&self.packets, packets);
            bump(&self.bytes, bytes);
        }
    }

    /// Counts errors. Call from the owning lcore.
    #[inline(always)]
    pub fn add_errors(&self, n: u64) {
        bump(&self.errors, n);
    }

    /// Counts packets dropped because the queue was full. Call from the owning lcore.
    #[inline(always)]
    pub fn add_missed(&self, n: u64) {
        bump(&self.missed, n);
    }

    /// Counts failed mbuf allocations. Call from the owning lcore.
    #[inline(always)]
    pub fn add_nombuf(&self, n: u64) {
        bump(&self.nombuf, n);
    }

    /// Reads the counters.
    pub fn snapshot(&self) -> QueueSnapshot {
        QueueSnapshot {
            packets: self.packets.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            missed: self.missed.load(Ordering::Relaxed),
            nombuf: self.nombuf.load(Ordering::Relaxed),
        }
    }
}

/// A port's basic statistics, as DPDK's `rte_eth_stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets received.
    pub ipackets: u64,
    /// Packets sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Packets dropped by the device because its RX queues were full.
    pub imissed: u64,
    /// Erroneous packets received.
    pub ierrors: u64,
    /// Failed transmissions.
    pub oerrors: u64,
    /// RX mbuf allocation failures.
    pub rx_nombuf: u64,
    /// Per RX queue: packets received.
    pub q_ipackets: Vec<u64>,
    /// Per TX queue: packets sent.
    pub q_opackets: Vec<u64>,
    /// Per RX queue: bytes received.
    pub q_ibytes: Vec<u64>,
    /// Per TX queue: bytes sent.
    pub q_obytes: Vec<u64>,
    /// Per RX queue: erroneous packets.
    pub q_errors: Vec<u64>,
}

impl Stats {
    /// Sums the queues' counters (since `base`, the snapshot taken at the last reset).
    pub(crate) fn from_queues(rx: &[QueueSnapshot], tx: &[QueueSnapshot]) -> Self {
        let mut s = Stats::default();
        for q in rx {
            s.ipackets += q.packets;
            s.ibytes += q.bytes;
            s.ierrors += q.errors;
            s.imissed += q.missed;
            s.rx_nombuf += q.nombuf;
            s.q_ipackets.push(q.packets);
            s.q_ibytes.push(q.bytes);
            s.q_errors.push(q.errors);
        }
        for q in tx {
            s.opackets += q.packets;
            s.obytes += q.bytes;
            s.oerrors += q.errors;
            s.q_opackets.push(q.packets);
            s.q_obytes.push(q.bytes);
        }
        s
    }
}

impl QueueSnapshot {
    /// The counts since `base` (a snapshot taken at the last `stats_reset`).
    pub(crate) fn since(self, base: QueueSnapshot) -> QueueSnapshot {
        QueueSnapshot {
            packets: self.packets.wrapping_sub(base.packets),
            bytes: self.bytes.wrapping_sub(base.bytes),
            errors: self.errors.wrapping_sub(base.errors),
            missed: self.missed.wrapping_sub(base.missed),
            nombuf: self.nombuf.wrapping_sub(base.nombuf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_into_port_stats_and_reset_by_base() {
        let (a, b, t) = (
            QueueCounters::default(),
            QueueCounters::default(),
            QueueCounters::default(),
        );
        a.add(3, 192);
        b.add(1, 64);
        b.add_nombuf(2);
        b.add_missed(5);
        t.add(4, 256);
        t.add_errors(1);
        let s = Stats::from_queues(&[a.snapshot(), b.snapshot()], &[t.snapshot()]);
        assert_eq!(
            (s.ipackets, s.ibytes, s.rx_nombuf, s.imissed),
            (4, 256, 2, 5)
        );
        assert_eq!((s.opackets, s.obytes, s.oerrors), (4, 256, 1));
        assert_eq!(s.q_ipackets, [3, 1]);
        let base = a.snapshot();
        a.add(2, 10);
        assert_eq!(a.snapshot().since(base).packets, 2);
    }
}
