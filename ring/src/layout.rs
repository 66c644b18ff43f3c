//! Which cache lines a ring's heads and tails share, chosen by type at creation for
//! how the ring is used. Only placement differs: the protocol is the same.

use crate::headtail::{ApartLines, Lines, TogetherLines};

/// Where the heads and tails sit: each head and each tail on a line of its own
/// ([`Apart`], the default), or all four on one line ([`Together`]).
pub trait LineLayout: sealed::Sealed + Send + Sync + 'static {
    /// True for [`Together`].
    const TOGETHER: bool;
    /// The ring's storage for them.
    #[doc(hidden)]
    type Lines: Lines;
}

/// Each head on a line of its own, each tail on another: for rings whose producers
/// and consumers are different threads (a pipeline stage's queue). The consumers poll
/// the producers' tail, not their head, so a producer's CAS on the head finds the line
/// still in its own cache (2-core MP/MC bulk 8: 1.3-1.4 of DPDK's speed, against
/// 0.95 with DPDK's layout, each side's head and tail on one line).
#[derive(Clone, Copy, Debug, Default)]
pub struct Apart;

/// Both sides' heads and tails on one line: for rings whose every thread both
/// enqueues and dequeues (a mempool's free objects), where a thread's get and its put
/// then find the line it just used. With DPDK's layout, one line per side, a get+put
/// moves two such lines between the cores instead of one (two cores sharing a
/// cache-less pool, against DPDK's mempool in the same loop: one object at a time 1.07
/// -> 1.29 of its speed, 32 at a time 0.89 -> 1.13; [`Apart`] was 0.92 at one object).
/// For a queue between different threads it is the worst choice: both sides' CASes
/// would fight over the one line.
#[derive(Clone, Copy, Debug, Default)]
pub struct Together;

impl LineLayout for Apart {
    const TOGETHER: bool = false;
    type Lines = ApartLines;
}
impl LineLayout for Together {
    const TOGETHER: bool = true;
    type Lines = TogetherLines;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Apart {}
    impl Sealed for super::Together {}
}
