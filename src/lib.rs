//! burst: a DPDK-style user-space poll-mode packet framework.
//!
//! This facade re-exports the layers so an application needs one dependency:
//! [`eal`] (environment: memory, lcores) and [`ring`] (lock-free rings)
//! [`mempool`] (object pools and packet buffers).

pub use burst_eal as eal;
pub use burst_ring as ring;
