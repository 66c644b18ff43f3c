//! burst's environment abstraction layer (DPDK's EAL): hugepage memory and its
//! IO virtual addresses, for the layers above.

pub mod memory;
