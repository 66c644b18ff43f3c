//! Helpers shared by the unit tests.

use std::sync::PoisonError;
use std::sync::atomic::{AtomicUsize, Ordering};

use burst_eal::memory::{Memory, MemoryConfig};

/// Ordinary-page memory, which every machine has.
pub(crate) fn memory() -> Memory {
    Memory::new(MemoryConfig::no_huge()).expect("--no-huge memory")
}

/// A pool name no other test uses.
pub(crate) fn unique(name: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{name}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Whether the pool named `name` has been freed.
pub(crate) fn freed(name: &str) -> bool {
    crate::pool::FREED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .any(|n| n == name)
}
