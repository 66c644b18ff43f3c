//! The data plane: each lcore polls its RX queues, routes every packet of a burst
//! ([`Router`]), and buffers it for its output port's TX queue (DPDK 22.11's
//! `lpm_main_loop`/`em_main_loop` with `send_packets_multi`).
//!
//! As in DPDK, every lcore has its own TX queue on every enabled port, so an lcore owns
//! all its queues, TX buffers and mbuf cache, and shares only the read-only tables.
//! Its counters are its own too (l2fwd's statistics table, one per lcore): several
//! lcores receive on one port's queues and send on its TX queues, and the printout
//! adds them up.

use std::sync::atomic::{AtomicBool, Ordering};

use burst_mempool::{Mbuf, MbufCache};
use burst_pmd::{PortId, RxQueue};
use l2fwd::fwd::{BURST_TX_DRAIN_US, MAX_PKT_BURST, Statistics, StatsTimer, TxBuffer};
use l2fwd::tsc;

use crate::args::MAX_ETHPORTS;
use crate::route::{BAD_PORT, Router};

/// How many packets ahead of the one being routed to prefetch (DPDK's
/// `PREFETCH_OFFSET`).
const PREFETCH_OFFSET: usize = 3;

/// Hints the CPU to bring the cache line at `p` into L1.
#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint that never faults, whatever the address; SSE is part
    // of x86-64.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// One lcore's forwarding state: the router, a TX buffer per enabled port, and where
/// a burst's packets are sorted by output port.
pub struct Forwarder {
    router: Router,
    /// By port: the buffer in front of this lcore's TX queue on it.
    tx: Vec<Option<TxBuffer>>,
    /// By port: the packets of the current burst that go out there.
    out: Vec<Vec<Mbuf>>,
    /// The packets of the current burst to drop.
    drop: Vec<Mbuf>,
    /// The output port of each packet of the current burst.
    dst: [u16; MAX_PKT_BURST],
    stats: Statistics,
}

impl Forwarder {
    /// Forwards with `router` to `tx` (by port id; an enabled port has one), counting
    /// into `stats` (this lcore's table, the one the TX buffers count into too).
    pub fn new(router: Router, tx: Vec<Option<TxBuffer>>, stats: Statistics) -> Self {
        assert!(tx.len() <= MAX_ETHPORTS && tx.len() <= stats.len());
        let out = (0..tx.len())
            .map(|_| Vec::with_capacity(MAX_PKT_BURST))
            .collect();
        Self {
            router,
            tx,
            out,
            drop: Vec::with_capacity(MAX_PKT_BURST),
            dst: [BAD_PORT; MAX_PKT_BURST],
            stats,
        }
    }

    /// Routes and sends a burst received on `in_port` (at most [`MAX_PKT_BURST`]
    /// packets, left empty): each packet goes to its output port's TX buffer, in
    /// order, or is freed and counted as dropped on `in_port`.
    #[inline]
    pub fn forward(&mut self, in_port: PortId, pkts: &mut Vec<Mbuf>, cache: &mut MbufCache) {
        let n = pkts.len().min(MAX_PKT_BURST);
        self.stats[usize::from(in_port)].add_rx(n as u64);
        for p in pkts.iter().take(PREFETCH_OFFSET) {
            prefetch(p.data().as_ptr());
        }
        for i in 0..n {
            if let Some(ahead) = pkts.get(i + PREFETCH_OFFSET) {
                prefetch(ahead.data().as_ptr());
            }
            // An mbuf shared with a clone cannot be rewritten: drop it.
            self.dst[i] = match pkts[i].data_mut() {
                Ok(frame) => self.router.route(frame, in_port),
                Err(_) => BAD_PORT,
            };
        }
        // Sort the packets by output port, in order; send each port's share.
        let mut ports = 0u64;
        for (m, &dst) in pkts.drain(..n).zip(&self.dst) {
            match self.out.get_mut(usize::from(dst)) {
                Some(out) if dst != BAD_PORT => {
                    out.push(m);
                    ports |= 1 << dst;
                }
                _ => self.drop.push(m),
            }
        }
        // Anything beyond MAX_PKT_BURST (never, from rx_burst) is dropped too.
        self.drop.append(pkts);
        while ports != 0 {
            let port = ports.trailing_zeros() as usize;
            ports &= ports - 1;
            match &mut self.tx[port] {
                Some(tx) => {
                    tx.buffer_all(&mut self.out[port], cache);
                }
                None => self.drop.append(&mut self.out[port]),
            }
        }
        if !self.drop.is_empty() {
            self.stats[usize::from(in_port)].add_dropped(self.drop.len() as u64);
            cache.free_bulk(&mut self.drop);
        }
    }

    /// Sends what waits in every TX buffer.
    #[inline]
    pub fn drain(&mut self, cache: &mut MbufCache) {
        for tx in self.tx.iter_mut().flatten() {
            if !tx.is_empty() {
                tx.flush(cache);
            }
        }
    }
}

/// One lcore's share of the work, moved into its thread.
pub struct LcoreWork {
    /// The lcore's id, for its log lines.
    pub lcore: u32,
    /// The RX queues it polls (`--config`).
    pub rxqs: Vec<RxQueue>,
    /// Its forwarding state; `None` when it has no RX queue.
    pub fwd: Option<(Forwarder, MbufCache)>,
    /// The statistics printout, on the main lcore with a non-zero `-T`.
    pub timer: Option<StatsTimer>,
}

impl LcoreWork {
    /// The forwarding loop (`lpm_main_loop`), until `stop` is set; then the TX buffers
    /// are drained, so no packet is left behind.
    pub fn run(mut self, stop: &AtomicBool) {
        let Some((fwd, cache)) = self.fwd.as_mut().filter(|_| !self.rxqs.is_empty()) else {
            log::info!(target: "l3fwd", "lcore {} has nothing to do", self.lcore);
            if let Some(timer) = &mut self.timer {
                l2fwd::fwd::stats_only(timer, stop);
            }
            return;
        };
        log::info!(target: "l3fwd", "entering main loop on lcore {}", self.lcore);
        for q in &self.rxqs {
            log::info!(
                target: "l3fwd",
                " -- lcoreid={} portid={} rxqueueid={}",
                self.lcore,
                q.port(),
                q.queue()
            );
        }
        let drain_ticks = tsc::ticks_per_us(BURST_TX_DRAIN_US);
        let mut pkts = Vec::with_capacity(MAX_PKT_BURST);
        let mut prev = tsc::now();
        while !stop.load(Ordering::Relaxed) {
            let now = tsc::now();
            let diff = now.wrapping_sub(prev);
            if diff > drain_ticks {
                fwd.drain(cache);
                if let Some(timer) = &mut self.timer {
                    timer.advance(diff);
                }
                prev = now;
            }
            for q in &mut self.rxqs {
                if q.rx_burst(&mut pkts, MAX_PKT_BURST) != 0 {
                    fwd.forward(q.port(), &mut pkts, cache);
                }
            }
        }
        fwd.drain(cache);
    }
}
