//! What can go wrong creating a pool, taking objects from it, or editing an mbuf; each
//! message says what to do.

use burst_eal::memory::MemoryError;

use crate::{CACHE_MAX_SIZE, MAX_OBJECTS, Mbuf};

/// A pool could not be created, or a cache for it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MempoolError {
    /// The memory for the objects could not be reserved.
    #[error("cannot reserve the pool's memory: {0}")]
    Memory(#[from] MemoryError),

    /// Zero objects, or more than the free ring can hold.
    #[error("a mempool holds 1 to {MAX_OBJECTS} objects, not {size}")]
    BadSize {
        /// The number of objects asked for.
        size: usize,
    },

    /// Zero-byte objects, or objects so large the pool's size overflows.
    #[error(
        "cannot make {size} objects of {elt_size} bytes: objects take 1 byte or more, and the pool must fit in memory"
    )]
    BadEltSize {
        /// The number of objects asked for.
        size: usize,
        /// The object size asked for.
        elt_size: usize,
    },

    /// Headroom plus data room does not fit an mbuf's 16-bit lengths.
    #[error(
        "headroom {headroom} + data room {data_room} exceeds 65535 bytes (mbuf lengths are 16-bit): chain segments for larger packets"
    )]
    BufTooLarge {
        /// The headroom asked for.
        headroom: u16,
        /// The data room asked for.
        data_room: u16,
    },

    /// The region's IOVA-contiguous runs are too short to hold whole objects.
    #[error(
        "objects of {stride} bytes do not fit in the memory's IOVA-contiguous segments: use IOVA-as-VA, larger hugepages, or smaller objects"
    )]
    NotContiguous {
        /// Bytes per object, headers included.
        stride: usize,
    },

    /// The cache is larger than DPDK allows, or would hold most of the pool.
    #[error(
        "a cache of {size} objects is too large: at most {CACHE_MAX_SIZE}, and its flush threshold (1.5 × size) may not exceed the pool's {pool_size} objects"
    )]
    BadCacheSize {
        /// The cache size asked for.
        size: usize,
        /// The objects in the pool.
        pool_size: usize,
    },
}

/// A get or alloc found fewer free objects than asked for; nothing was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "mempool exhausted: fewer free objects than asked for in this cache and the pool's ring (other lcores' caches are not searched); free some first, or create the pool larger"
)]
pub struct Exhausted;

/// An mbuf operation that would leave its buffer, or write to a shared one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MbufError {
    /// `prepend` asked for more bytes than the headroom has.
    #[error(
        "cannot prepend {need} bytes: {have} bytes of headroom; create the pool with more headroom or prepend a segment"
    )]
    NoHeadroom {
        /// Bytes asked for.
        need: usize,
        /// Headroom of the first segment.
        have: usize,
    },

    /// `append` or `reserve` asked for more bytes than the tailroom has.
    #[error(
        "cannot take {need} bytes of tailroom: {have} left in the last segment; chain another segment"
    )]
    NoTailroom {
        /// Bytes asked for.
        need: usize,
        /// Tailroom of the last segment.
        have: usize,
    },

    /// `adj` or `trim` asked to remove more bytes than the segment holds.
    #[error(
        "cannot remove {need} bytes: the segment holds {have} (adj works on the first segment, trim on the last)"
    )]
    TooShort {
        /// Bytes asked for.
        need: usize,
        /// Data in the segment.
        have: usize,
    },

    /// The buffer is shared with clones, so its bytes may not be written.
    #[error(
        "the buffer is shared with {refcnt} mbufs (clones): drop the clones, or copy the packet before writing to it"
    )]
    Shared {
        /// How many mbufs reference the buffer.
        refcnt: u16,
    },

    /// `reserve` on an mbuf that already holds data.
    #[error("reserve moves the start of an empty mbuf: this one holds {pkt_len} bytes")]
    NotEmpty {
        /// Bytes in the packet.
        pkt_len: usize,
    },

    /// `read` past the end of the packet.
    #[error("cannot read {len} bytes at offset {offset}: the packet has {pkt_len}")]
    OutOfBounds {
        /// Where the read starts.
        offset: usize,
        /// Bytes asked for.
        len: usize,
        /// Bytes in the packet.
        pkt_len: usize,
    },

    /// A clone needs more references to a buffer than its 16-bit count holds.
    #[error("a buffer is shared by 65535 mbufs already: copy the packet instead of cloning")]
    RefcntOverflow,

    /// A clone found no free mbuf for its headers.
    #[error(transparent)]
    Exhausted(#[from] Exhausted),
}

/// `chain` would make more than 65535 segments; the tail is handed back.
#[derive(Debug, thiserror::Error)]
#[error("chaining would make more than 65535 segments: linearize or send the packet in pieces")]
pub struct ChainError(
    /// The mbuf that was not chained.
    pub Mbuf,
);
