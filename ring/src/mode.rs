//! Whether a ring side is single- or multi-threaded, chosen by type at creation.

/// Whether a ring side has one thread ([`Single`]) or several ([`Multi`]).
pub trait SyncMode: sealed::Sealed + Send + 'static {
    /// True for [`Single`].
    const SINGLE: bool;
}

/// One thread on this side: no CAS, no waiting (DPDK's `RING_F_SP_ENQ`/`SC_DEQ`).
#[derive(Debug)]
pub enum Single {}
/// Any number of threads on this side, each with a clone of the handle.
#[derive(Debug)]
pub enum Multi {}

impl SyncMode for Single {
    const SINGLE: bool = true;
}
impl SyncMode for Multi {
    const SINGLE: bool = false;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Single {}
    impl Sealed for super::Multi {}
}
