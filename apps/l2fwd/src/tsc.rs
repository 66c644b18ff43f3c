//! A cheap cycle counter for the forwarding loop's timers (DPDK's `rte_rdtsc` and
//! `rte_get_tsc_hz`): the TSC on x86-64, a monotonic clock in nanoseconds elsewhere.
//!
//! The loop reads it once per iteration, so it must cost a few cycles, not a
//! `clock_gettime` call. Its rate is measured once against [`Instant`].

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The counter now.
#[inline(always)]
pub fn now() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC has no preconditions on x86-64; it reads a counter.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

/// Counter ticks per second, measured the first time it is asked for (about 20 ms).
pub fn hz() -> u64 {
    static HZ: OnceLock<u64> = OnceLock::new();
    *HZ.get_or_init(|| {
        if cfg!(not(target_arch = "x86_64")) {
            return 1_000_000_000;
        }
        let (t0, c0) = (Instant::now(), now());
        std::thread::sleep(Duration::from_millis(20));
        let (c1, dt) = (now(), t0.elapsed());
        let ticks = c1.wrapping_sub(c0) as u128;
        ((ticks * 1_000_000_000) / dt.as_nanos().max(1)).max(1) as u64
    })
}

/// Ticks in `us` microseconds, rounded as DPDK's `drain_tsc`: `ceil(hz / 1e6) * us`.
pub fn ticks_per_us(us: u64) -> u64 {
    hz().div_ceil(1_000_000) * us
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_forward_at_a_plausible_rate() {
        let hz = hz();
        assert!((1_000_000..100_000_000_000).contains(&hz), "{hz}");
        let a = now();
        std::thread::sleep(Duration::from_millis(5));
        let ticks = now().wrapping_sub(a);
        assert!(ticks >= hz / 1000 * 4, "{ticks} ticks in 5 ms at {hz} Hz");
        assert!(ticks_per_us(100) >= hz / 10_000);
    }
}
