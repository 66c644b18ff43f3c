//! burst: a DPDK-style user-space poll-mode packet framework.
//!
//! This facade re-exports the layers so an application needs one dependency:
//! [`eal`] (options, lcores, hugepage memory, PCI, VFIO), [`ring`] (lock-free rings),
//! [`mempool`] (object pools and packet buffers), [`pmd`] (ports and their drivers)
//! and [`net`] (protocol headers and routing tables).

pub use burst_eal as eal;
pub use burst_mempool as mempool;
pub use burst_net as net;
pub use burst_pmd as pmd;
pub use burst_ring as ring;
