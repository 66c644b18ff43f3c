//! The pcap port's queues: RX from a file (read as it goes, or replayed from memory
//! with `infinite_rx`) or from nothing, TX to a file or to nowhere.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use burst_mempool::{Exhausted, Mbuf};

use super::file::{Reader, Replay, SNAPLEN, Writer};
use crate::drivers::{LcoreCache, TxFree};
use crate::ethdev::{PortId, RxBurst, TxBurst};
use crate::stats::QueueCounters;

/// RX from a pcap file, read as the bursts ask: each packet is copied into a fresh mbuf
/// (a chain of them when it is longer than one's data room, as DPDK's
/// `eth_pcap_rx_jumbo`). At the end of the file, RX returns 0 from then on.
pub(super) struct FileRx {
    pub reader: Reader,
    pub path: PathBuf,
    pub cache: LcoreCache,
    pub port: PortId,
    pub counters: Arc<QueueCounters>,
    /// The file ended, or failed: nothing more to read.
    pub ended: bool,
}

/// Copies `data` into the empty, fresh mbuf `head`, chaining more mbufs from `cache`
/// when it does not fit. `None` when the cache and pool ran out, or the chain would
/// exceed its 65535 segments; the caller drops `head` and what was chained to it.
fn fill(cache: &LcoreCache, head: &mut Mbuf, data: &[u8]) -> Option<()> {
    let (first, mut rest) = data.split_at(data.len().min(head.tailroom()));
    head.append(first.len()).ok()?.copy_from_slice(first);
    while !rest.is_empty() {
        let mut seg = cache.alloc()?;
        // Later segments need no headroom (as DPDK): start the data at the buffer.
        let headroom = seg.headroom();
        seg.prepend(headroom).ok()?;
        seg.trim(headroom).ok()?;
        let (part, tail) = rest.split_at(rest.len().min(seg.tailroom()));
        seg.append(part.len()).ok()?.copy_from_slice(part);
        head.chain(seg).ok()?;
        rest = tail;
    }
    Some(())
}

impl RxBurst for FileRx {
    fn rx_burst(&mut self, pkts: &mut Vec<Mbuf>, nb_pkts: usize) -> usize {
        if self.ended {
            return 0;
        }
        let (mut n, mut bytes) = (0, 0);
        while n < nb_pkts {
            // The mbuf first: when there is none, the packet stays in the file.
            let Some(mut m) = self.cache.alloc() else {
                self.counters.add_nombuf(1);
                break;
            };
            match self.reader.next() {
                None => {
                    self.cache.free(m);
                    self.ended = true;
                    break;
                }
                Some(Err(e)) => {
                    self.cache.free(m);
                    self.ended = true;
                    self.counters.add_errors(1);
                    log::error!("rx_pcap {}: {e}; no more packets", self.path.display());
                    break;
                }
                Some(Ok(p)) => {
                    if fill(&self.cache, &mut m, &p.data).is_none() {
                        // As DPDK: the packet is lost, counted as an error.
                        self.counters.add_errors(1);
                        self.cache.free(m);
                        break;
                    }
                    m.set_port(self.port);
                    bytes += u64::from(m.pkt_len());
                    pkts.push(m);
                    n += 1;
                }
            }
        }
        self.counters.add(n as u64, bytes);
        n
    }
}

/// RX of `infinite_rx`: the file's packets, loaded at setup, copied into mbufs taken in
/// one bulk per burst, round and round.
pub(super) struct ReplayRx {
    pub replay: Replay,
    /// The packet the next burst starts with.
    pub next: usize,
    pub cache: LcoreCache,
    pub port: PortId,
    pub counters: Arc<QueueCounters>,
}

impl RxBurst for ReplayRx {
    fn rx_burst(&mut self, pkts: &mut Vec<Mbuf>, nb_pkts: usize) -> usize {
        if nb_pkts == 0 || self.replay.packets.is_empty() {
            return 0;
        }
        let first = pkts.len();
        // All or nothing, as DPDK's eth_pcap_rx_infinite.
        if let Err(Exhausted) = self.cache.alloc_bulk(pkts, nb_pkts) {
            self.counters.add_nombuf(1);
            return 0;
        }
        let mut bytes = 0;
        for m in &mut pkts[first..] {
            let (start, end) = self.replay.packets[self.next];
            self.next += 1;
            if self.next == self.replay.packets.len() {
                self.next = 0;
            }
            let data = &self.replay.bytes[start..end];
            m.append(data.len())
                .expect("every packet fits a fresh mbuf (checked at setup)")
                .copy_from_slice(data);
            m.set_port(self.port);
            bytes += data.len() as u64;
        }
        self.counters.add(nb_pkts as u64, bytes);
        nb_pkts
    }
}

/// RX of a port given only `tx_pcap`: nothing, ever (DPDK's `eth_null_rx`).
pub(super) struct NoRx;

impl RxBurst for NoRx {
    fn rx_burst(&mut self, _pkts: &mut Vec<Mbuf>, _nb_pkts: usize) -> usize {
        0
    }
}

/// TX to a pcap file: every packet is written whole (up to [`SNAPLEN`] bytes, all
/// segments), stamped with the time of its burst, and the file is flushed at the end
/// of each burst (as DPDK), so it is complete whenever `tx_burst` returns.
pub(super) struct DumpTx {
    pub writer: Writer,
    pub path: PathBuf,
    /// Where a multi-segment packet is gathered, [`SNAPLEN`] bytes.
    pub scratch: Vec<u8>,
    pub free: TxFree,
    pub counters: Arc<QueueCounters>,
    /// A write failed already (logged once).
    pub failed: bool,
}

impl DumpTx {
    /// Writes `pkts` and flushes: the bytes captured, or the first error.
    fn dump(&mut self, pkts: &[Mbuf]) -> std::io::Result<u64> {
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut bytes = 0;
        for m in pkts {
            let len = m.pkt_len();
            let caplen = len.min(SNAPLEN) as usize;
            let data = if m.nb_segs() == 1 {
                &m.data()[..caplen]
            } else {
                let buf = &mut self.scratch[..caplen];
                m.read(0, buf)
                    .expect("caplen is at most the packet's length");
                buf
            };
            self.writer.write(ts, len, data)?;
            bytes += caplen as u64;
        }
        self.writer.flush()?;
        Ok(bytes)
    }
}

impl TxBurst for DumpTx {
    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        let n = pkts.len();
        if n == 0 {
            return 0;
        }
        match self.dump(pkts) {
            Ok(bytes) => self.counters.add(n as u64, bytes),
            Err(e) => {
                // Part of the burst may be in the file; all of it counts as failed.
                self.counters.add_errors(n as u64);
                if !self.failed {
                    self.failed = true;
                    log::error!("tx_pcap {}: {e}; packets are dropped", self.path.display());
                }
            }
        }
        self.free.free_bulk(pkts);
        n
    }
}

/// TX of a port given no `tx_pcap`: counts and frees (DPDK's `eth_tx_drop`).
pub(super) struct DropTx {
    pub free: TxFree,
    pub counters: Arc<QueueCounters>,
}

impl TxBurst for DropTx {
    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        let n = pkts.len();
        let bytes = pkts.iter().map(|m| u64::from(m.pkt_len())).sum();
        self.free.free_bulk(pkts);
        self.counters.add(n as u64, bytes);
        n
    }
}
