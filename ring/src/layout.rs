//! Which cache lines a ring's heads and tails share, chosen by type at creation for
//! how the ring is used. Only placement differs: the protocol is the same.

/// Where each side's tail sits: on a line of its own ([`Apart`], the default) or
/// beside its head ([`Together`], DPDK's layout).
pub trait LineLayout: sealed::Sealed + Send + Sync + 'static {
    /// True for [`Together`].
    const TOGETHER: bool;
}

/// Each head on a line of its own, each tail on another: for rings whose producers
/// and consumers are different threads (a pipeline stage's queue). The consumers poll
/// the producers' tail, not their head, so a producer's CAS on the head finds the line
/// still in its own cache (2-core MP/MC bulk 8: 1.3-1.4 of DPDK's speed, against
/// 0.95 with [`Together`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Apart;

/// Each side's head and tail on one line, as DPDK's: for rings whose every thread both
/// enqueues and dequeues (a mempool's free objects). There each thread takes every
/// line in turn anyway, and an operation moves two lines between the cores instead of
/// three (two cores sharing a cache-less pool, one object at a time: 0.92 of DPDK's
/// speed [`Apart`], 1.0 [`Together`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Together;

impl LineLayout for Apart {
    const TOGETHER: bool = false;
}
impl LineLayout for Together {
    const TOGETHER: bool = true;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Apart {}
    impl Sealed for super::Together {}
}
