//! The data plane: each lcore polls its RX ports, rewrites each packet's MACs and
//! buffers it for its destination port's TX queue (DPDK's `l2fwd_main_loop`,
//! `l2fwd_simple_forward` and `rte_eth_tx_buffer`).
//!
//! Every port forwards to exactly one port and is the destination of exactly one (the
//! pairs are disjoint), so the TX queue of a destination belongs to the lcore that
//! polls its source: each lcore owns its queues, TX buffers and an mbuf cache outright.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use burst_mempool::{Mbuf, MbufCache};
use burst_pmd::{MacAddr, PortId, RxQueue, TxQueue};

use crate::args::MAX_ETHPORTS;
use crate::config::enabled;
use crate::tsc;

/// Packets per RX burst, and the TX buffer's flush threshold (DPDK's `MAX_PKT_BURST`).
pub const MAX_PKT_BURST: usize = 32;
/// How often the TX buffers are drained when traffic is too thin to fill them
/// (`BURST_TX_DRAIN_US`).
pub const BURST_TX_DRAIN_US: u64 = 100;

/// One counter alone on its cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Line<T>(T);

/// A counter with one writer: bumped with a relaxed load and store (no atomic RMW, as
/// only its lcore writes it), read by the statistics printer, which may see it a burst
/// late.
#[derive(Debug, Default)]
struct Counter(AtomicU64);

impl Counter {
    #[inline(always)]
    fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One port's counters (DPDK's `struct l2fwd_port_statistics`). `rx` is written by the
/// lcore that polls the port, `tx` and `dropped` by the lcore that feeds its TX queue,
/// which may be another: they sit on separate cache lines.
#[derive(Debug, Default)]
pub struct PortStatistics {
    rx: Line<Counter>,
    tx_dropped: Line<(Counter, Counter)>,
}

/// What [`PortStatistics`] held at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortCounts {
    /// Packets sent.
    pub tx: u64,
    /// Packets received.
    pub rx: u64,
    /// Packets that the TX queue refused, freed.
    pub dropped: u64,
}

impl PortStatistics {
    /// Reads the counters.
    pub fn get(&self) -> PortCounts {
        PortCounts {
            tx: self.tx_dropped.0.0.get(),
            rx: self.rx.0.get(),
            dropped: self.tx_dropped.0.1.get(),
        }
    }

    /// Counts `n` packets received. Only one thread may count into a table (the
    /// counters are bumped without atomic read-modify-writes): an application whose
    /// lcores share ports gives each its own table and prints their sum.
    #[inline(always)]
    pub fn add_rx(&self, n: u64) {
        self.rx.0.add(n);
    }

    /// Counts `n` packets dropped (by the TX queue, or by the application); one thread
    /// per table, as [`add_rx`](Self::add_rx).
    #[inline(always)]
    pub fn add_dropped(&self, n: u64) {
        self.tx_dropped.0.1.add(n);
    }
}

impl std::ops::AddAssign for PortCounts {
    fn add_assign(&mut self, other: Self) {
        self.tx += other.tx;
        self.rx += other.rx;
        self.dropped += other.dropped;
    }
}

/// The counters of every port, by port id.
pub type Statistics = Arc<[PortStatistics]>;

/// A table of [`MAX_ETHPORTS`] zeroed counters.
pub fn new_statistics() -> Statistics {
    (0..MAX_ETHPORTS)
        .map(|_| PortStatistics::default())
        .collect()
}

/// DPDK's `print_stats`: clears the screen and prints every enabled port's counters and
/// their totals, to stdout, flushed. A port's counters are the sum of its counters in
/// every table of `tables` (one table per lcore where lcores share ports).
pub fn print_stats(tables: &[Statistics], portmask: u32) {
    let mut out = String::with_capacity(1024);
    // Clear the screen, cursor to the top left.
    out.push_str("\x1b[2J\x1b[1;1H");
    out.push_str("\nPort statistics ====================================");
    let mut total = PortCounts::default();
    for port in 0..MAX_ETHPORTS {
        if !enabled(portmask, port) {
            continue;
        }
        let mut c = PortCounts::default();
        for table in tables {
            c += table.get(port).map(PortStatistics::get).unwrap_or_default();
        }
        out.push_str(&format!(
            "\nStatistics for port {port} ------------------------------\
             \nPackets sent: {:>24}\
             \nPackets received: {:>20}\
             \nPackets dropped: {:>21}",
            c.tx, c.rx, c.dropped
        ));
        total += c;
    }
    out.push_str(&format!(
        "\nAggregate statistics ===============================\
         \nTotal packets sent: {:>18}\
         \nTotal packets received: {:>14}\
         \nTotal packets dropped: {:>15}",
        total.tx, total.rx, total.dropped
    ));
    out.push_str("\n====================================================\n");
    let mut stdout = io::stdout().lock();
    // A closed stdout (e.g. `| head`) must not stop forwarding.
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}

/// The 12 bytes MAC updating writes at the front of each frame sent on `port`:
/// destination `02:00:00:00:00:<port>`, source the port's own MAC.
pub fn mac_header(port: PortId, mac: MacAddr) -> [u8; 12] {
    let mut hdr = [0u8; 12];
    // DPDK stores 0x000000000002 + (port << 40) as a u64: byte 5 is the port's low byte.
    hdr[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, port as u8]);
    hdr[6..].copy_from_slice(&mac.0);
    hdr
}

/// DPDK's `l2fwd_mac_updating`: writes `hdr` (from [`mac_header`]) over the frame's
/// destination and source MACs. A frame shorter than 12 bytes, or whose bytes are
/// shared with a clone, is left as it is.
#[inline(always)]
pub fn mac_update(m: &mut Mbuf, hdr: &[u8; 12]) {
    if let Ok(data) = m.data_mut()
        && let Some(macs) = data.get_mut(..12)
    {
        macs.copy_from_slice(hdr);
    }
}

/// A TX queue with a buffer in front (DPDK's `rte_eth_dev_tx_buffer`): packets collect
/// until [`MAX_PKT_BURST`] are there and go out in one burst; the lcore drains partial
/// buffers every [`BURST_TX_DRAIN_US`]. Packets the queue refuses are freed and counted
/// as dropped (DPDK's `rte_eth_tx_buffer_count_callback`).
pub struct TxBuffer {
    pkts: Vec<Mbuf>,
    txq: TxQueue,
    stats: Statistics,
    port: usize,
}

impl TxBuffer {
    /// A buffer in front of `txq`, counting into `stats[txq.port()]`.
    pub fn new(txq: TxQueue, stats: Statistics) -> Self {
        let port = usize::from(txq.port());
        assert!(port < stats.len(), "port {port} has no statistics slot");
        Self {
            pkts: Vec::with_capacity(MAX_PKT_BURST),
            txq,
            stats,
            port,
        }
    }

    /// The port this buffer sends on.
    pub fn port(&self) -> PortId {
        self.txq.port()
    }

    /// Packets waiting in the buffer.
    pub fn len(&self) -> usize {
        self.pkts.len()
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.pkts.is_empty()
    }

    /// Buffers every packet of `pkts`, in order, leaving it empty; each time the
    /// buffer fills it is sent (`rte_eth_tx_buffer` per packet). Returns the packets
    /// sent.
    #[inline]
    pub fn buffer_all(&mut self, pkts: &mut Vec<Mbuf>, cache: &mut MbufCache) -> usize {
        if self.pkts.is_empty() && pkts.len() == MAX_PKT_BURST {
            // A whole burst into an empty buffer: hand over the vector itself.
            std::mem::swap(&mut self.pkts, pkts);
            return self.flush(cache);
        }
        let mut sent = 0;
        while !pkts.is_empty() {
            let room = MAX_PKT_BURST - self.pkts.len();
            let take = room.min(pkts.len());
            self.pkts.extend(pkts.drain(..take));
            if self.pkts.len() == MAX_PKT_BURST {
                sent += self.flush(cache);
            }
        }
        sent
    }

    /// Sends what the buffer holds in one burst (`rte_eth_tx_buffer_flush`); what the
    /// queue refuses is freed and counted as dropped. Returns the packets sent.
    #[inline]
    pub fn flush(&mut self, cache: &mut MbufCache) -> usize {
        if self.pkts.is_empty() {
            return 0;
        }
        let sent = self.txq.tx_burst(&mut self.pkts);
        let stats = &self.stats[self.port];
        if sent != 0 {
            stats.tx_dropped.0.0.add(sent as u64);
        }
        if !self.pkts.is_empty() {
            self.drop_unsent(cache);
        }
        sent
    }

    #[cold]
    #[inline(never)]
    fn drop_unsent(&mut self, cache: &mut MbufCache) {
        self.stats[self.port]
            .tx_dropped
            .0
            .1
            .add(self.pkts.len() as u64);
        cache.free_bulk(&mut self.pkts);
    }
}

/// One RX port of an lcore and the TX buffer of its destination.
pub struct Forward {
    rxq: RxQueue,
    tx: TxBuffer,
    /// The MACs to write, or `None` with `--no-mac-updating`.
    mac: Option<[u8; 12]>,
    pkts: Vec<Mbuf>,
    stats: Statistics,
    rx_port: usize,
}

impl Forward {
    /// Forwards what `rxq` receives to `tx`, rewriting MACs with `mac` (from
    /// [`mac_header`]) if given.
    pub fn new(rxq: RxQueue, tx: TxBuffer, mac: Option<[u8; 12]>, stats: Statistics) -> Self {
        let rx_port = usize::from(rxq.port());
        assert!(
            rx_port < stats.len(),
            "port {rx_port} has no statistics slot"
        );
        Self {
            rxq,
            tx,
            mac,
            pkts: Vec::with_capacity(MAX_PKT_BURST),
            stats,
            rx_port,
        }
    }

    /// The RX port.
    pub fn rx_port(&self) -> PortId {
        self.rxq.port()
    }

    /// The TX port.
    pub fn tx_port(&self) -> PortId {
        self.tx.port()
    }

    /// One RX burst, forwarded: returns the packets received.
    #[inline]
    pub fn poll(&mut self, cache: &mut MbufCache) -> usize {
        let n = self.rxq.rx_burst(&mut self.pkts, MAX_PKT_BURST);
        if n == 0 {
            return 0;
        }
        self.stats[self.rx_port].rx.0.add(n as u64);
        if let Some(hdr) = &self.mac {
            // No prefetch (DPDK's l2fwd prefetches each packet just before rewriting
            // it): the rewrite only stores, and store misses wait in the store buffer
            // without stalling; prefetching 3 or all 32 packets ahead measured no
            // better than none.
            for m in self.pkts.iter_mut() {
                mac_update(m, hdr);
            }
        }
        self.tx.buffer_all(&mut self.pkts, cache);
        n
    }

    /// Sends what waits in the TX buffer.
    #[inline]
    pub fn drain(&mut self, cache: &mut MbufCache) -> usize {
        self.tx.flush(cache)
    }
}

/// The statistics printout of the main lcore: every `period` seconds (DPDK's
/// `timer_period`), the first at once.
pub struct StatsTimer {
    /// Counter ticks between printouts.
    period: u64,
    /// Ticks since the last printout.
    elapsed: u64,
    tables: Vec<Statistics>,
    portmask: u32,
}

impl StatsTimer {
    /// Prints the sum of `tables` (see [`print_stats`]) for the ports in `portmask`
    /// every `period_secs` seconds.
    pub fn new(period_secs: u64, tables: Vec<Statistics>, portmask: u32) -> Self {
        let period = period_secs.saturating_mul(tsc::hz());
        Self {
            period,
            elapsed: period,
            tables,
            portmask,
        }
    }

    /// Counts `ticks` more; prints if the period is over.
    #[inline]
    pub fn advance(&mut self, ticks: u64) {
        self.elapsed = self.elapsed.saturating_add(ticks);
        if self.elapsed >= self.period {
            print_stats(&self.tables, self.portmask);
            self.elapsed = 0;
        }
    }
}

/// One lcore's share of the work, moved into its thread.
pub struct LcoreWork {
    /// The lcore's id, for its log lines.
    pub lcore: u32,
    /// Its RX ports, with their destinations.
    pub ports: Vec<Forward>,
    /// Where it frees packets its TX queues refuse; `None` when it has no port.
    pub cache: Option<MbufCache>,
    /// The statistics printout, on the main lcore with a non-zero `-T`.
    pub timer: Option<StatsTimer>,
}

impl LcoreWork {
    /// The forwarding loop (`l2fwd_main_loop`), until `stop` is set; then the TX
    /// buffers are drained, so no packet is left behind.
    pub fn run(mut self, stop: &AtomicBool) {
        let (Some(cache), false) = (self.cache.as_mut(), self.ports.is_empty()) else {
            log::info!(target: "l2fwd", "lcore {} has nothing to do", self.lcore);
            if let Some(timer) = &mut self.timer {
                stats_only(timer, stop);
            }
            return;
        };
        log::info!(target: "l2fwd", "entering main loop on lcore {}", self.lcore);
        for f in &self.ports {
            log::info!(target: "l2fwd", " -- lcoreid={} portid={}", self.lcore, f.rx_port());
        }
        let drain_ticks = tsc::ticks_per_us(BURST_TX_DRAIN_US);
        let mut prev = tsc::now();
        while !stop.load(Ordering::Relaxed) {
            let now = tsc::now();
            let diff = now.wrapping_sub(prev);
            if diff > drain_ticks {
                for f in &mut self.ports {
                    f.drain(cache);
                }
                if let Some(timer) = &mut self.timer {
                    timer.advance(diff);
                }
                prev = now;
            }
            for f in &mut self.ports {
                f.poll(cache);
            }
        }
        for f in &mut self.ports {
            f.drain(cache);
        }
    }
}

/// The main lcore without ports still prints the statistics (DPDK's would print none):
/// every millisecond it checks the timer, until `stop` is set.
pub fn stats_only(timer: &mut StatsTimer, stop: &AtomicBool) {
    let mut prev = tsc::now();
    timer.advance(0);
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(1));
        let now = tsc::now();
        timer.advance(now.wrapping_sub(prev));
        prev = now;
    }
}

#[cfg(test)]
mod tests {
    use burst_eal::memory::{Memory, MemoryConfig};
    use burst_mempool::{MbufConfig, PktPool};
    use burst_pmd::drivers::ring::from_rings;
    use burst_pmd::{EthConf, Port};
    use burst_ring::Ring;

    use super::*;

    #[test]
    fn mac_header_is_dpdks() {
        let hdr = mac_header(0x0103, MacAddr([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]));
        assert_eq!(hdr, [2, 0, 0, 0, 0, 3, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
    }

    #[test]
    fn counters_are_separate_lines() {
        let s = PortStatistics::default();
        s.rx.0.add(3);
        s.tx_dropped.0.0.add(2);
        s.tx_dropped.0.1.add(1);
        assert_eq!(
            s.get(),
            PortCounts {
                tx: 2,
                rx: 3,
                dropped: 1
            }
        );
        assert!(size_of::<PortStatistics>() >= 128);
    }

    type MbufRing = Arc<Ring<Mbuf>>;

    /// A started port 0 receiving from `rx` and sending into `tx`, with its queues.
    fn ring_port(pool: &PktPool, rx: &MbufRing, tx: &MbufRing) -> (Port, RxQueue, TxQueue) {
        let mut port = from_rings(0, "l2fwd_test", vec![rx.clone()], vec![tx.clone()]).unwrap();
        let conf = EthConf {
            nb_rx_queues: 1,
            nb_tx_queues: 1,
            ..EthConf::default()
        };
        port.configure(&conf).unwrap();
        let rxq = port.rx_queue_setup(0, 64, pool).unwrap();
        let txq = port.tx_queue_setup(0, 64).unwrap();
        port.start().unwrap();
        (port, rxq, txq)
    }

    /// `n` mbufs of 64 bytes, byte `i` of each = `i`, with `seq` at offset 20.
    fn frames(pool: &PktPool, n: usize, seq: u8) -> Vec<Mbuf> {
        (0..n)
            .map(|_| {
                let mut m = pool.alloc().unwrap();
                let data = m.append(64).unwrap();
                for (i, b) in data.iter_mut().enumerate() {
                    *b = i as u8;
                }
                data[20] = seq;
                m
            })
            .collect()
    }

    fn drain(ring: &MbufRing) -> Vec<Mbuf> {
        let mut out = Vec::new();
        let _ = ring.dequeue_burst(&mut out, ring.capacity());
        out
    }

    #[test]
    fn tx_buffer_sends_every_32_and_drops_what_the_queue_refuses() {
        let memory = Memory::new(MemoryConfig::no_huge()).unwrap();
        let pool = PktPool::new(&memory, "l2fwd_txbuf", 1023, MbufConfig::default()).unwrap();
        let (rx, tx) = (
            Arc::new(Ring::new(64).unwrap()),
            Arc::new(Ring::new(64).unwrap()),
        );
        let (_port, _rxq, txq) = ring_port(&pool, &rx, &tx);
        let stats = new_statistics();
        let mut cache = pool.cache(32).unwrap();
        let mut buf = TxBuffer::new(txq, stats.clone());

        let mut pkts = frames(&pool, 20, 1);
        assert_eq!(buf.buffer_all(&mut pkts, &mut cache), 0);
        assert!(pkts.is_empty());
        assert_eq!((buf.len(), tx.count()), (20, 0));
        pkts = frames(&pool, 20, 2);
        assert_eq!(buf.buffer_all(&mut pkts, &mut cache), 32);
        assert_eq!((buf.len(), tx.count()), (8, 32));
        assert_eq!(buf.flush(&mut cache), 8);
        assert_eq!(buf.flush(&mut cache), 0);
        assert!(buf.is_empty());
        // A whole burst into an empty buffer; the ring (63 slots) takes 23 of it.
        pkts = frames(&pool, 32, 3);
        assert_eq!(buf.buffer_all(&mut pkts, &mut cache), 23);
        assert!(buf.is_empty() && pkts.is_empty());
        assert_eq!(
            stats[0].get(),
            PortCounts {
                tx: 63,
                rx: 0,
                dropped: 9
            }
        );
        let sent = drain(&tx);
        let seqs: Vec<u8> = sent.iter().map(|m| m.data()[20]).collect();
        let mut expect = vec![1; 20];
        expect.extend([2; 20]);
        expect.extend([3; 23]);
        assert_eq!(seqs, expect, "in order");
        drop((sent, buf, cache));
        assert!(pool.is_full(), "{pool:?}");
    }

    #[test]
    fn forward_rewrites_macs_and_counts() {
        let memory = Memory::new(MemoryConfig::no_huge()).unwrap();
        let pool = PktPool::new(&memory, "l2fwd_fwd", 1023, MbufConfig::default()).unwrap();
        let (rx, tx) = (
            Arc::new(Ring::new(128).unwrap()),
            Arc::new(Ring::new(128).unwrap()),
        );
        let (port, rxq, txq) = ring_port(&pool, &rx, &tx);
        let stats = new_statistics();
        let mut cache = pool.cache(32).unwrap();
        let hdr = mac_header(0, MacAddr([2, 1, 2, 3, 4, 5]));
        let mut f = Forward::new(
            rxq,
            TxBuffer::new(txq, stats.clone()),
            Some(hdr),
            stats.clone(),
        );
        assert_eq!((f.rx_port(), f.tx_port()), (0, 0));

        let mut pkts = frames(&pool, 40, 7);
        let _ = rx.enqueue_burst(&mut pkts);
        assert_eq!(f.poll(&mut cache), 32);
        assert_eq!(f.poll(&mut cache), 8);
        assert_eq!(f.poll(&mut cache), 0);
        assert_eq!(tx.count(), 32, "the last 8 wait for the drain");
        assert_eq!(f.drain(&mut cache), 8);
        assert_eq!(
            stats[0].get(),
            PortCounts {
                tx: 40,
                rx: 40,
                dropped: 0
            }
        );
        for m in drain(&tx) {
            let d = m.data();
            assert_eq!(d[..12], hdr);
            assert!(
                d[12..]
                    .iter()
                    .enumerate()
                    .all(|(i, &b)| b == if i + 12 == 20 { 7 } else { (i + 12) as u8 })
            );
        }

        // Without MAC updating the frames go out untouched; a runt is left alone too.
        let (rxq, txq) = (f.rxq, f.tx.txq);
        let mut f = Forward::new(rxq, TxBuffer::new(txq, stats.clone()), None, stats.clone());
        let mut pkts = frames(&pool, 3, 9);
        let _ = rx.enqueue_burst(&mut pkts);
        f.poll(&mut cache);
        f.drain(&mut cache);
        for m in drain(&tx) {
            assert!(
                m.data()
                    .iter()
                    .enumerate()
                    .all(|(i, &b)| b == if i == 20 { 9 } else { i as u8 })
            );
        }
        let mut runt = pool.alloc().unwrap();
        runt.append(6).unwrap().copy_from_slice(&[9; 6]);
        mac_update(&mut runt, &hdr);
        assert_eq!(runt.data(), &[9; 6]);
        drop((runt, f, cache, port));
        assert!(pool.is_full(), "{pool:?}");
    }
}
