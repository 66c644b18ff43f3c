//! [`Mbuf`]: an owned handle to a packet buffer (DPDK's `rte_mbuf`), possibly a chain of
//! segments, possibly sharing its bytes with clones.
//!
//! # Layout
//! Each mbuf of a [`PktPool`](crate::PktPool) is a [`MbufHeader`] (two cache lines)
//! followed by its buffer: headroom, then data room. The header's first line holds
//! everything the RX/TX and alloc/free fast paths touch; the second only what clones use.
//!
//! # Sharing
//! A clone is an *indirect* mbuf: a header of its own (offsets, lengths, metadata) that
//! points at the *direct* mbuf owning the buffer. The direct header's `refcnt` counts
//! the references to its buffer: its own chain's, plus one per attached clone. The bytes
//! are writable only through an mbuf whose buffer has `refcnt == 1`, so no two `&mut`
//! (nor a `&mut` and a `&`) ever reach the same bytes. When the direct mbuf is dropped
//! first, its header stays out of the pool until the last clone lets go of the buffer.
//!
//! # Freeing
//! Every field is reset when a header goes back to its pool, so an alloc is a pointer
//! copy. An unshared direct segment (`refcnt == 1`) is freed without an atomic RMW, as
//! DPDK's `rte_pktmbuf_prefree_seg` does.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use crate::pool::{CACHE_LINE, PoolInner, PoolRef, put_home};
use crate::ptrs::{Handle, ObjPtr, with_scratch};
use crate::{ChainError, Exhausted, MbufConfig, MbufError, PktPool};

/// The `port` of an mbuf no port has received (`RTE_MBUF_PORT_INVALID`).
pub const INVALID_PORT: u16 = u16::MAX;

/// `flags` bit: the header is a clone attached to `direct`'s buffer.
const INDIRECT: u16 = 1;

/// Bytes from a header to its buffer.
pub(crate) const HDR_SIZE: usize = size_of::<MbufHeader>();

/// The metadata of one mbuf segment, before its buffer (DPDK's `struct rte_mbuf`).
///
/// Opaque: reach it through [`Mbuf`]; drivers hold it as a pointer from
/// [`Mbuf::into_raw`]. Fields a header's own handle changes are `Cell`s; `refcnt`, which
/// clones on other threads change, is atomic; the rest never change after creation.
#[repr(C, align(64))]
pub struct MbufHeader {
    // First cache line: the fast path.
    /// IOVA of the buffer's first byte (of this header's own buffer).
    buf_iova: u64,
    /// Where the data starts in the buffer.
    data_off: Cell<u16>,
    /// References to this header's buffer (direct headers only; 1 when free).
    refcnt: AtomicU16,
    /// Segments in the chain (head only).
    nb_segs: Cell<u16>,
    port: Cell<u16>,
    ol_flags: Cell<u64>,
    packet_type: Cell<u32>,
    /// Bytes in the whole chain (head only).
    pkt_len: Cell<u32>,
    /// Bytes in this segment.
    data_len: Cell<u16>,
    vlan_tci: Cell<u16>,
    rss_hash: Cell<u32>,
    /// Size of this header's own buffer.
    buf_len: u16,
    /// `data_off` of a fresh mbuf.
    headroom: u16,
    /// [`INDIRECT`] or 0.
    flags: Cell<u16>,
    pool: *const PoolInner,
    next: Cell<*mut MbufHeader>,
    // Second cache line: clones.
    /// The direct header whose buffer an indirect one uses; null when direct.
    direct: Cell<*mut MbufHeader>,
}

const _: () = assert!(
    HDR_SIZE <= 2 * CACHE_LINE,
    "an mbuf header fits two cache lines"
);
const _: () = assert!(
    std::mem::offset_of!(MbufHeader, direct) >= CACHE_LINE
        && std::mem::offset_of!(MbufHeader, next) + size_of::<usize>() <= CACHE_LINE,
    "the fast-path fields fill the first cache line"
);

impl MbufHeader {
    /// A fresh header for a buffer of `buf_len` bytes at IOVA `buf_iova`.
    pub(crate) fn new(pool: *const PoolInner, buf_iova: u64, buf_len: u16, headroom: u16) -> Self {
        Self {
            buf_iova,
            data_off: Cell::new(headroom),
            refcnt: AtomicU16::new(1),
            nb_segs: Cell::new(1),
            port: Cell::new(INVALID_PORT),
            ol_flags: Cell::new(0),
            packet_type: Cell::new(0),
            pkt_len: Cell::new(0),
            data_len: Cell::new(0),
            vlan_tci: Cell::new(0),
            rss_hash: Cell::new(0),
            buf_len,
            headroom,
            flags: Cell::new(0),
            pool,
            next: Cell::new(std::ptr::null_mut()),
            direct: Cell::new(std::ptr::null_mut()),
        }
    }

    /// Back to the fresh state (DPDK's `rte_pktmbuf_reset`, done at free time here).
    /// `refcnt` is left to the caller: it is 1 whenever a header is freed.
    #[inline(always)]
    fn reset(&self) {
        self.data_off.set(self.headroom);
        self.nb_segs.set(1);
        self.port.set(INVALID_PORT);
        self.ol_flags.set(0);
        self.packet_type.set(0);
        self.pkt_len.set(0);
        self.data_len.set(0);
        self.vlan_tci.set(0);
        self.rss_hash.set(0);
        self.next.set(std::ptr::null_mut());
        if self.flags.get() != 0 {
            self.flags.set(0);
            self.direct.set(std::ptr::null_mut());
        }
    }

    /// Drops one reference to this direct header's buffer; true if it was the last (the
    /// count is then 1 again, its free state).
    #[inline(always)]
    fn put_ref(&self) -> bool {
        // Acquire: at 1 we are the only holder; this load synchronises with the other
        // holders' Release decrements, so their uses of the buffer happen before its
        // reuse. No RMW in this, the common case (DPDK's trick).
        if self.refcnt.load(Ordering::Acquire) == 1 {
            return true;
        }
        // AcqRel: Release hands our uses to whoever frees the buffer; Acquire, if that
        // is us, takes theirs.
        if self.refcnt.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.refcnt.store(1, Ordering::Relaxed);
            return true;
        }
        false
    }
}

/// A pointer to a live header: one of a chain an [`Mbuf`] owns, or the direct header
/// one of those references. The pool, hence the header, lives while it is out.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Seg(NonNull<MbufHeader>);

impl Seg {
    #[inline(always)]
    fn hdr<'a>(self) -> &'a MbufHeader {
        // SAFETY: a `Seg` names a live header (type invariant). Its handle's thread is
        // the only one to write its `Cell`s, and does not while it lends the header out;
        // another thread reads only the immutable fields and the atomic `refcnt` of a
        // direct header its clone references.
        unsafe { self.0.as_ref() }
    }

    /// The next segment of the chain.
    #[inline(always)]
    fn next(self) -> Option<Seg> {
        NonNull::new(self.hdr().next.get()).map(Seg)
    }

    /// The header owning the buffer this segment's data lives in.
    #[inline(always)]
    fn owner(self) -> Seg {
        let hdr = self.hdr();
        if hdr.flags.get() & INDIRECT == 0 {
            self
        } else {
            // SAFETY: an indirect header's `direct` is the live header it holds a
            // reference to.
            Seg(unsafe { NonNull::new_unchecked(hdr.direct.get()) })
        }
    }

    /// The buffer's first byte. Derived from the header pointer (which came from the
    /// region) so it may reach past the header.
    #[inline(always)]
    fn buf(self) -> *mut u8 {
        // SAFETY: a direct header's buffer follows it in the same pool slot.
        unsafe { self.owner().0.as_ptr().cast::<u8>().add(HDR_SIZE) }
    }

    #[inline(always)]
    fn buf_len(self) -> usize {
        self.owner().hdr().buf_len as usize
    }

    #[inline(always)]
    fn headroom(self) -> usize {
        self.hdr().data_off.get() as usize
    }

    #[inline(always)]
    fn tailroom(self) -> usize {
        let hdr = self.hdr();
        self.buf_len() - hdr.data_off.get() as usize - hdr.data_len.get() as usize
    }

    /// References to the buffer (this segment's and clones').
    #[inline(always)]
    fn refcnt(self) -> u16 {
        // Acquire: when it reads 1, the other holders' uses of the bytes happen before
        // ours (they released them with a Release decrement).
        self.owner().hdr().refcnt.load(Ordering::Acquire)
    }

    #[inline(always)]
    fn writable(self) -> Result<(), MbufError> {
        match self.refcnt() {
            1 => Ok(()),
            refcnt => Err(MbufError::Shared { refcnt }),
        }
    }

    /// `len` bytes of the buffer from `off`.
    ///
    /// # Safety
    /// `off + len <= buf_len`; the caller picks a lifetime within its hold on the buffer.
    #[inline(always)]
    unsafe fn bytes<'a>(self, off: usize, len: usize) -> &'a [u8] {
        // SAFETY: inside the buffer (caller); the bytes are initialised (the region is
        // zeroed at creation) and nobody writes them while they are shared.
        unsafe { std::slice::from_raw_parts(self.buf().add(off), len) }
    }

    /// As `bytes`, writable.
    ///
    /// # Safety
    /// As `bytes`, and the caller holds the only reference to the buffer
    /// (`writable`) exclusively for the lifetime.
    #[inline(always)]
    unsafe fn bytes_mut<'a>(self, off: usize, len: usize) -> &'a mut [u8] {
        // SAFETY: as in `bytes`; exclusive by the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.buf().add(off), len) }
    }

    /// The segment's data.
    ///
    /// # Safety
    /// As `bytes`, with the data range.
    #[inline(always)]
    unsafe fn data<'a>(self) -> &'a [u8] {
        let hdr = self.hdr();
        // SAFETY: data_off + data_len <= buf_len always holds.
        unsafe { self.bytes(hdr.data_off.get() as usize, hdr.data_len.get() as usize) }
    }

    /// The last segment of the chain starting here.
    fn last(self) -> Seg {
        let mut seg = self;
        while let Some(next) = seg.next() {
            seg = next;
        }
        seg
    }
}

/// An owned packet buffer, possibly a chain of segments: DPDK's `rte_mbuf`.
///
/// Take one from a [`PktPool`](crate::PktPool) or, on the fast path, an
/// [`MbufCache`](crate::MbufCache). Dropping it returns every segment to its pool; the
/// drop goes to the pool's ring, a CAS (plus two atomic adds on the pool's count), so
/// free bursts with [`MbufCache::free_bulk`](crate::MbufCache::free_bulk) instead.
///
/// Data methods work on the first segment ([`data`](Self::data), [`prepend`],
/// [`adj`](Self::adj)) or the last ([`append`], [`trim`](Self::trim)), as DPDK's;
/// [`read`](Self::read) and [`segments`](Self::segments) see the whole chain.
///
/// ```
/// use burst_eal::memory::{Memory, MemoryConfig};
/// use burst_mempool::{MbufConfig, PktPool};
///
/// let memory = Memory::new(MemoryConfig::no_huge())?;
/// let pool = PktPool::new(&memory, "rx", 511, MbufConfig::default())?;
/// let mut m = pool.alloc().expect("a fresh pool has mbufs");
/// m.append(4)?.copy_from_slice(b"data");
/// m.prepend(2)?.copy_from_slice(b"hd");
/// assert_eq!(m.data(), b"hddata");
/// let clone = m.try_clone()?;
/// assert!(m.data_mut().is_err(), "shared bytes are read-only");
/// drop(clone);
/// m.data_mut()?[0] = b'H';
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`prepend`]: Self::prepend
/// [`append`]: Self::append
#[repr(transparent)]
pub struct Mbuf(NonNull<MbufHeader>);

// SAFETY: an `Mbuf` owns its headers; what it shares with clones (the buffer's bytes,
// read-only while shared, and the atomic `refcnt`) is safe to reach from any thread,
// and its pool is thread-safe.
unsafe impl Send for Mbuf {}
// SAFETY: `&Mbuf` methods only read the headers and bytes, and `try_clone` changes only
// the atomic `refcnt` and headers it allocates.
unsafe impl Sync for Mbuf {}

// SAFETY: `repr(transparent)` over the header's address, which is what the pool holds.
unsafe impl Handle for Mbuf {
    unsafe fn from_obj(obj: ObjPtr) -> Self {
        Self(obj.0.cast())
    }
}

impl Mbuf {
    #[inline(always)]
    fn head(&self) -> Seg {
        Seg(self.0)
    }

    #[inline(always)]
    fn hdr(&self) -> &MbufHeader {
        self.head().hdr()
    }

    /// The first segment's data.
    #[inline]
    pub fn data(&self) -> &[u8] {
        // SAFETY: the handle holds the buffer for the borrow of `self`.
        unsafe { self.head().data() }
    }

    /// The first segment's data, writable; refused while the buffer is shared.
    #[inline]
    pub fn data_mut(&mut self) -> Result<&mut [u8], MbufError> {
        let head = self.head();
        head.writable()?;
        let hdr = head.hdr();
        // SAFETY: the buffer is ours alone (`writable`) for the borrow of `self`.
        Ok(unsafe { head.bytes_mut(hdr.data_off.get() as usize, hdr.data_len.get() as usize) })
    }

    /// Grows the data by `len` bytes at the front, into the headroom, and returns them
    /// to fill (`skb_push`, `rte_pktmbuf_prepend`).
    #[inline]
    pub fn prepend(&mut self, len: usize) -> Result<&mut [u8], MbufError> {
        let head = self.head();
        let have = head.headroom();
        if len > have {
            return Err(MbufError::NoHeadroom { need: len, have });
        }
        head.writable()?;
        let hdr = head.hdr();
        let off = have - len;
        hdr.data_off.set(off as u16);
        hdr.data_len.set(hdr.data_len.get() + len as u16);
        hdr.pkt_len.set(hdr.pkt_len.get() + len as u32);
        // SAFETY: inside the buffer (off + len = old data_off); ours alone.
        Ok(unsafe { head.bytes_mut(off, len) })
    }

    /// Grows the data by `len` bytes at the end of the last segment, into its tailroom,
    /// and returns them to fill (`skb_put`, `rte_pktmbuf_append`).
    #[inline]
    pub fn append(&mut self, len: usize) -> Result<&mut [u8], MbufError> {
        let last = self.head().last();
        let have = last.tailroom();
        if len > have {
            return Err(MbufError::NoTailroom { need: len, have });
        }
        last.writable()?;
        let hdr = last.hdr();
        let off = hdr.data_off.get() as usize + hdr.data_len.get() as usize;
        hdr.data_len.set(hdr.data_len.get() + len as u16);
        let head = self.hdr();
        head.pkt_len.set(head.pkt_len.get() + len as u32);
        // SAFETY: inside the buffer (len <= tailroom); ours alone.
        Ok(unsafe { last.bytes_mut(off, len) })
    }

    /// Drops `len` bytes from the front of the first segment (`skb_pull`,
    /// `rte_pktmbuf_adj`). Allowed on shared buffers: only this mbuf's view moves.
    #[inline]
    pub fn adj(&mut self, len: usize) -> Result<(), MbufError> {
        let hdr = self.hdr();
        let have = hdr.data_len.get() as usize;
        if len > have {
            return Err(MbufError::TooShort { need: len, have });
        }
        hdr.data_off.set(hdr.data_off.get() + len as u16);
        hdr.data_len.set((have - len) as u16);
        hdr.pkt_len.set(hdr.pkt_len.get() - len as u32);
        Ok(())
    }

    /// Drops `len` bytes from the end of the last segment (`skb_trim`,
    /// `rte_pktmbuf_trim`). Allowed on shared buffers.
    #[inline]
    pub fn trim(&mut self, len: usize) -> Result<(), MbufError> {
        let last = self.head().last().hdr();
        let have = last.data_len.get() as usize;
        if len > have {
            return Err(MbufError::TooShort { need: len, have });
        }
        last.data_len.set((have - len) as u16);
        let head = self.hdr();
        head.pkt_len.set(head.pkt_len.get() - len as u32);
        Ok(())
    }

    /// Moves the start of an empty mbuf `len` bytes on, growing its headroom
    /// (`skb_reserve`).
    pub fn reserve(&mut self, len: usize) -> Result<(), MbufError> {
        let head = self.head();
        let hdr = head.hdr();
        if hdr.pkt_len.get() != 0 {
            return Err(MbufError::NotEmpty {
                pkt_len: hdr.pkt_len.get() as usize,
            });
        }
        let have = head.tailroom();
        if len > have {
            return Err(MbufError::NoTailroom { need: len, have });
        }
        hdr.data_off.set(hdr.data_off.get() + len as u16);
        Ok(())
    }

    /// Free bytes before the data of the first segment.
    pub fn headroom(&self) -> usize {
        self.head().headroom()
    }

    /// Free bytes after the data of the last segment.
    pub fn tailroom(&self) -> usize {
        self.head().last().tailroom()
    }

    /// Bytes in the whole chain.
    #[inline]
    pub fn pkt_len(&self) -> u32 {
        self.hdr().pkt_len.get()
    }

    /// Bytes in the first segment.
    #[inline]
    pub fn data_len(&self) -> u16 {
        self.hdr().data_len.get()
    }

    /// Segments in the chain.
    #[inline]
    pub fn nb_segs(&self) -> u16 {
        self.hdr().nb_segs.get()
    }

    /// Size of the first segment's buffer (headroom + data room).
    pub fn buf_len(&self) -> u16 {
        self.head().buf_len() as u16
    }

    /// The pool this mbuf's header goes back to when freed (DPDK's `m->pool`), e.g.
    /// for a transmit queue to make a cache of it for its completed buffers.
    pub fn pool(&self) -> PktPool {
        let hdr = self.hdr();
        let config = MbufConfig {
            headroom: hdr.headroom,
            data_room: hdr.buf_len - hdr.headroom,
        };
        // SAFETY: this mbuf is out of its pool and held by `self` for the call.
        PktPool::from_ref(unsafe { PoolRef::guard(hdr.pool) }, config)
    }

    /// The input port, or [`INVALID_PORT`].
    #[inline]
    pub fn port(&self) -> u16 {
        self.hdr().port.get()
    }

    /// Sets the input port.
    #[inline]
    pub fn set_port(&mut self, port: u16) {
        self.hdr().port.set(port);
    }

    /// Offload flags (DPDK's `RTE_MBUF_F_*` bits), 0 when fresh.
    #[inline]
    pub fn ol_flags(&self) -> u64 {
        self.hdr().ol_flags.get()
    }

    /// Sets the offload flags.
    #[inline]
    pub fn set_ol_flags(&mut self, flags: u64) {
        self.hdr().ol_flags.set(flags);
    }

    /// Packet type (DPDK's `RTE_PTYPE_*` bits), 0 when unknown.
    #[inline]
    pub fn packet_type(&self) -> u32 {
        self.hdr().packet_type.get()
    }

    /// Sets the packet type.
    #[inline]
    pub fn set_packet_type(&mut self, packet_type: u32) {
        self.hdr().packet_type.set(packet_type);
    }

    /// The RSS hash the NIC computed.
    #[inline]
    pub fn rss_hash(&self) -> u32 {
        self.hdr().rss_hash.get()
    }

    /// Sets the RSS hash.
    #[inline]
    pub fn set_rss_hash(&mut self, hash: u32) {
        self.hdr().rss_hash.set(hash);
    }

    /// The VLAN tag control information (stripped tag, or tag to insert).
    #[inline]
    pub fn vlan_tci(&self) -> u16 {
        self.hdr().vlan_tci.get()
    }

    /// Sets the VLAN TCI.
    #[inline]
    pub fn set_vlan_tci(&mut self, tci: u16) {
        self.hdr().vlan_tci.set(tci);
    }

    /// IOVA of the first segment's buffer start, for a device.
    #[inline]
    pub fn buf_iova(&self) -> u64 {
        self.head().owner().hdr().buf_iova
    }

    /// IOVA of the first segment's data, for a device.
    #[inline]
    pub fn data_iova(&self) -> u64 {
        self.buf_iova() + self.hdr().data_off.get() as u64
    }

    /// References to the first segment's buffer: 1 when this mbuf has it alone.
    pub fn refcnt(&self) -> u16 {
        self.head().refcnt()
    }

    /// Whether the first segment is a clone of another mbuf's (DPDK's indirect mbuf).
    pub fn is_indirect(&self) -> bool {
        self.hdr().flags.get() & INDIRECT != 0
    }

    /// Appends `tail`'s segments to this chain (`rte_pktmbuf_chain`); gives `tail` back
    /// if the chain would exceed 65535 segments.
    pub fn chain(&mut self, tail: Mbuf) -> Result<(), ChainError> {
        let head = self.hdr();
        let segs = head.nb_segs.get() as usize + tail.nb_segs() as usize;
        if segs > u16::MAX as usize {
            return Err(ChainError(tail));
        }
        // Segments hold at most 65535 bytes each, so 65535 of them fit a u32.
        let pkt_len = head.pkt_len.get() + tail.pkt_len();
        let tail = ManuallyDrop::new(tail);
        self.head().last().hdr().next.set(tail.0.as_ptr());
        head.nb_segs.set(segs as u16);
        head.pkt_len.set(pkt_len);
        Ok(())
    }

    /// The data of each segment, in order.
    pub fn segments(&self) -> Segments<'_> {
        Segments {
            next: Some(self.head()),
            _mbuf: PhantomData,
        }
    }

    /// Copies `dst.len()` bytes of the packet from `offset` on, across segments
    /// (`rte_pktmbuf_read`).
    pub fn read(&self, offset: usize, dst: &mut [u8]) -> Result<(), MbufError> {
        let pkt_len = self.pkt_len() as usize;
        if offset
            .checked_add(dst.len())
            .is_none_or(|end| end > pkt_len)
        {
            return Err(MbufError::OutOfBounds {
                offset,
                len: dst.len(),
                pkt_len,
            });
        }
        let mut skip = offset;
        let mut dst = dst;
        for seg in self.segments() {
            if dst.is_empty() {
                break;
            }
            if skip >= seg.len() {
                skip -= seg.len();
                continue;
            }
            let n = (seg.len() - skip).min(dst.len());
            dst[..n].copy_from_slice(&seg[skip..skip + n]);
            dst = &mut dst[n..];
            skip = 0;
        }
        Ok(())
    }

    /// Copies the whole chain into the first segment and frees the others
    /// (`rte_pktmbuf_linearize`); needs the first buffer unshared and its tailroom.
    pub fn linearize(&mut self) -> Result<(), MbufError> {
        let head = self.head();
        let Some(rest) = head.next() else {
            return Ok(());
        };
        let hdr = head.hdr();
        let need = hdr.pkt_len.get() as usize - hdr.data_len.get() as usize;
        let have = head.tailroom();
        if need > have {
            return Err(MbufError::NoTailroom { need, have });
        }
        head.writable()?;
        let mut seg = Some(rest);
        while let Some(s) = seg {
            let end = hdr.data_off.get() as usize + hdr.data_len.get() as usize;
            // SAFETY: the head's buffer is ours alone, so no other segment's data (a
            // different buffer, or a clone of one) overlaps the copy; `need` fits.
            unsafe {
                let src = s.data();
                head.bytes_mut(end, src.len()).copy_from_slice(src);
                hdr.data_len.set(hdr.data_len.get() + src.len() as u16);
            }
            seg = s.next();
        }
        hdr.next.set(std::ptr::null_mut());
        hdr.nb_segs.set(1);
        drop(Mbuf(rest.0));
        Ok(())
    }

    /// A clone sharing this chain's bytes, with headers from this mbuf's pool
    /// (`rte_pktmbuf_clone`). While clones live, the bytes are read-only to all.
    pub fn try_clone(&self) -> Result<Mbuf, MbufError> {
        // SAFETY: the pool is alive while `self`, one of its mbufs, is out.
        let pool = unsafe { &*self.hdr().pool };
        self.clone_with(|| {
            let obj = pool.dequeue_one()?;
            // SAFETY: a free mbuf of the pool, now ours.
            Some(unsafe { Mbuf::from_obj(obj) })
        })
    }

    /// Clones with fresh headers from `alloc`: a chain of `nb_segs` of them is made,
    /// then each is attached to the buffer of the matching segment. On failure the
    /// partial clone is dropped, which detaches what was attached.
    pub(crate) fn clone_with(
        &self,
        mut alloc: impl FnMut() -> Option<Mbuf>,
    ) -> Result<Mbuf, MbufError> {
        let clone = alloc().ok_or(Exhausted)?;
        let mut last = clone.head();
        for _ in 1..self.nb_segs() {
            let seg = ManuallyDrop::new(alloc().ok_or(Exhausted)?);
            last.hdr().next.set(seg.0.as_ptr());
            last = seg.head();
        }
        let (mut src, mut dst) = (Some(self.head()), Some(clone.head()));
        while let (Some(s), Some(d)) = (src, dst) {
            let owner = s.owner();
            owner
                .hdr()
                .refcnt
                // Relaxed: we hold a reference already (as `Arc::clone`).
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_add(1))
                .map_err(|_| MbufError::RefcntOverflow)?;
            let (sh, dh) = (s.hdr(), d.hdr());
            dh.flags.set(INDIRECT);
            dh.direct.set(owner.0.as_ptr());
            dh.data_off.set(sh.data_off.get());
            dh.data_len.set(sh.data_len.get());
            (src, dst) = (s.next(), d.next());
        }
        let (s, d) = (self.hdr(), clone.hdr());
        d.nb_segs.set(s.nb_segs.get());
        d.pkt_len.set(s.pkt_len.get());
        d.port.set(s.port.get());
        d.ol_flags.set(s.ol_flags.get());
        d.packet_type.set(s.packet_type.get());
        d.rss_hash.set(s.rss_hash.get());
        d.vlan_tci.set(s.vlan_tci.get());
        Ok(clone)
    }

    /// Gives up the handle without freeing, for a driver to keep the mbuf in a DMA
    /// descriptor ring; [`from_raw`](Self::from_raw) takes it back.
    pub fn into_raw(self) -> NonNull<MbufHeader> {
        ManuallyDrop::new(self).0
    }

    /// Takes back an mbuf given up by [`into_raw`](Self::into_raw).
    ///
    /// # Safety
    /// `raw` must come from `into_raw` and be taken back once: it is the only handle.
    /// Bytes a device wrote meanwhile are fine; the header must be as `into_raw` left
    /// it.
    pub unsafe fn from_raw(raw: NonNull<MbufHeader>) -> Mbuf {
        Mbuf(raw)
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        with_scratch(|objs| {
            let mut home = Home::new(objs);
            // SAFETY: the handle owns its chain and gives it up here.
            unsafe { release_chain(self.0, |seg| home.send(seg)) };
            home.flush();
        });
    }
}

impl fmt::Debug for Mbuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mbuf")
            .field("pkt_len", &self.pkt_len())
            .field("nb_segs", &self.nb_segs())
            .field("data_len", &self.data_len())
            .field("headroom", &self.headroom())
            .field("refcnt", &self.refcnt())
            .field("indirect", &self.is_indirect())
            .field("port", &self.port())
            .finish_non_exhaustive()
    }
}

/// The data of each segment of an [`Mbuf`], from [`Mbuf::segments`].
pub struct Segments<'a> {
    next: Option<Seg>,
    _mbuf: PhantomData<&'a Mbuf>,
}

impl<'a> Iterator for Segments<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let seg = self.next?;
        self.next = seg.next();
        // SAFETY: the mbuf is borrowed for 'a, and with it its chain.
        Some(unsafe { seg.data() })
    }
}

/// Frees every mbuf of `mbufs`, leaving it empty, one ring operation per run of
/// segments of the same pool (`rte_pktmbuf_free_bulk` without a cache). With a cache,
/// [`MbufCache::free_bulk`](crate::MbufCache::free_bulk) is cheaper.
pub fn free_bulk(mbufs: &mut Vec<Mbuf>) {
    with_scratch(|objs| {
        let mut home = Home::new(objs);
        for m in mbufs.drain(..) {
            let m = ManuallyDrop::new(m);
            // SAFETY: the chain is given up: its handle is forgotten.
            unsafe { release_chain(m.0, |seg| home.send(seg)) };
        }
        home.flush();
    });
}

/// Frees a chain: drops each segment's reference to its buffer and passes every header
/// that became free, already reset, to `sink`.
///
/// # Safety
/// The caller owns the chain at `head` and gives it up.
#[inline(always)]
pub(crate) unsafe fn release_chain(
    head: NonNull<MbufHeader>,
    mut sink: impl FnMut(NonNull<MbufHeader>),
) {
    let mut seg = Seg(head);
    loop {
        let hdr = seg.hdr();
        let next = seg.next();
        // The common case: a direct segment with its buffer to itself. Acquire: see
        // `put_ref`.
        if hdr.flags.get() == 0 && hdr.refcnt.load(Ordering::Acquire) == 1 {
            hdr.reset();
            sink(seg.0);
        } else {
            release_shared(seg, &mut sink);
        }
        match next {
            Some(next) => seg = next,
            None => break,
        }
    }
}

/// `release_chain` for a clone's segment or a shared buffer's.
#[cold]
#[inline(never)]
fn release_shared(seg: Seg, sink: &mut impl FnMut(NonNull<MbufHeader>)) {
    let hdr = seg.hdr();
    if hdr.flags.get() & INDIRECT != 0 {
        let owner = seg.owner();
        if owner.hdr().put_ref() {
            owner.hdr().reset();
            sink(owner.0);
        }
        hdr.reset();
        sink(seg.0);
    } else if hdr.put_ref() {
        hdr.reset();
        sink(seg.0);
    }
}

/// The pool a freed header belongs to.
#[inline(always)]
pub(crate) fn pool_of(seg: NonNull<MbufHeader>) -> *const PoolInner {
    Seg(seg).hdr().pool
}

/// Gathers freed headers and returns them to their pools' rings, one enqueue per run of
/// the same pool.
pub(crate) struct Home<'a> {
    pool: *const PoolInner,
    objs: &'a mut Vec<ObjPtr>,
}

impl<'a> Home<'a> {
    pub(crate) fn new(objs: &'a mut Vec<ObjPtr>) -> Self {
        Self {
            pool: std::ptr::null(),
            objs,
        }
    }

    /// Takes a freed header (reset, given up by the caller).
    #[inline]
    pub(crate) fn send(&mut self, seg: NonNull<MbufHeader>) {
        let pool = pool_of(seg);
        if pool != self.pool {
            self.flush();
            self.pool = pool;
        }
        self.objs.push(ObjPtr(seg.cast()));
    }

    /// Returns what was gathered.
    pub(crate) fn flush(&mut self) {
        // SAFETY: `objs` holds freed headers of `pool` given up to us.
        unsafe { put_home(self.pool, self.objs) };
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use proptest::prelude::*;

    use super::*;
    use crate::testutil::{freed, memory, unique};
    use crate::{MbufConfig, PktPool};

    fn pool(size: usize) -> PktPool {
        PktPool::new(&memory(), &unique("pkt"), size, MbufConfig::default()).unwrap()
    }

    fn small_pool(size: usize, headroom: u16, data_room: u16) -> PktPool {
        let config = MbufConfig {
            headroom,
            data_room,
        };
        PktPool::new(&memory(), &unique("small"), size, config).unwrap()
    }

    fn assert_full(pool: &PktPool) {
        assert_eq!(pool.in_use(), 0, "{pool:?} leaks");
    }

    /// An mbuf holding `bytes`.
    fn packet(pool: &PktPool, bytes: &[u8]) -> Mbuf {
        let mut m = pool.alloc().unwrap();
        m.append(bytes.len()).unwrap().copy_from_slice(bytes);
        m
    }

    fn contents(m: &Mbuf) -> Vec<u8> {
        m.segments().flatten().copied().collect()
    }

    #[test]
    fn a_fresh_mbuf_is_empty_with_default_rooms() {
        let pool = pool(8);
        let m = pool.alloc().unwrap();
        assert_eq!((m.pkt_len(), m.data_len(), m.nb_segs()), (0, 0, 1));
        assert_eq!((m.headroom(), m.tailroom(), m.buf_len()), (128, 2048, 2176));
        assert_eq!(
            (m.port(), m.ol_flags(), m.packet_type()),
            (INVALID_PORT, 0, 0)
        );
        assert_eq!((m.rss_hash(), m.vlan_tci(), m.refcnt()), (0, 0, 1));
        assert!(!m.is_indirect());
        assert!(m.data().is_empty());
        assert_eq!(m.data_iova(), m.buf_iova() + 128);
        let hdr = m.0.as_ptr().addr();
        let base = pool.region().as_ptr().as_ptr().addr();
        assert_eq!(hdr % 64, 0, "cache-line aligned");
        assert_eq!(m.buf_iova(), pool.region().iova(hdr - base + HDR_SIZE));
        assert_eq!(m.data().as_ptr().addr(), hdr + HDR_SIZE + 128);
        drop(m);
        assert_full(&pool);
    }

    #[test]
    fn an_mbuf_knows_its_pool() {
        let pool = small_pool(8, 16, 64);
        let m = pool.alloc().unwrap();
        let home = m.pool();
        assert_eq!(home.name(), pool.name());
        assert_eq!(home.config(), pool.config());
        // A cache made from it takes this pool's mbufs home.
        let mut cache = home.cache(2).unwrap();
        let mut ms = vec![m];
        cache.free_bulk(&mut ms);
        drop((cache, home));
        assert_full(&pool);
        let name = pool.name().to_string();
        let m = pool.alloc().unwrap();
        let home = m.pool();
        drop(pool);
        drop(home);
        assert!(!freed(&name), "the mbuf is still out");
        drop(m);
        assert!(freed(&name));
    }

    #[test]
    fn push_and_pull_stop_exactly_at_the_edges() {
        let pool = small_pool(4, 16, 64);
        let mut m = pool.alloc().unwrap();
        assert_eq!(
            m.append(65),
            Err(MbufError::NoTailroom { need: 65, have: 64 })
        );
        assert_eq!(m.append(64).unwrap().len(), 64);
        assert_eq!(m.append(1), Err(MbufError::NoTailroom { need: 1, have: 0 }));
        assert_eq!(
            m.prepend(17),
            Err(MbufError::NoHeadroom { need: 17, have: 16 })
        );
        m.prepend(16).unwrap().fill(7);
        assert_eq!(
            m.prepend(1),
            Err(MbufError::NoHeadroom { need: 1, have: 0 })
        );
        assert_eq!(
            (m.pkt_len(), m.data_len(), m.headroom(), m.tailroom()),
            (80, 80, 0, 0)
        );
        assert_eq!(m.adj(81), Err(MbufError::TooShort { need: 81, have: 80 }));
        assert_eq!(m.trim(81), Err(MbufError::TooShort { need: 81, have: 80 }));
        m.adj(30).unwrap();
        m.trim(50).unwrap();
        assert_eq!((m.pkt_len(), m.headroom(), m.tailroom()), (0, 30, 50));
        assert_eq!(m.adj(1), Err(MbufError::TooShort { need: 1, have: 0 }));
        m.adj(0).unwrap();
        m.trim(0).unwrap();
        // reserve: only on an empty mbuf, only into the tailroom.
        assert_eq!(
            m.reserve(51),
            Err(MbufError::NoTailroom { need: 51, have: 50 })
        );
        m.reserve(50).unwrap();
        assert_eq!((m.headroom(), m.tailroom()), (80, 0));
        m.prepend(1).unwrap();
        assert_eq!(m.reserve(0), Err(MbufError::NotEmpty { pkt_len: 1 }));
        drop(m);

        let empty = small_pool(2, 0, 0);
        let mut m = empty.alloc().unwrap();
        assert_eq!((m.headroom(), m.tailroom()), (0, 0));
        assert!(m.append(0).unwrap().is_empty());
        assert_eq!(
            m.prepend(1),
            Err(MbufError::NoHeadroom { need: 1, have: 0 })
        );
        drop(m);
        assert_full(&pool);
        assert_full(&empty);
    }

    #[test]
    fn every_field_is_reset_on_free() {
        let pool = pool(32);
        let mut cache = pool.cache(16).unwrap();
        let mut m = cache.alloc().unwrap();
        let tail = packet(&pool, b"tail");
        m.append(10).unwrap();
        m.prepend(3).unwrap();
        m.set_port(3);
        m.set_ol_flags(0xff);
        m.set_packet_type(0x11);
        m.set_rss_hash(0xdead);
        m.set_vlan_tci(100);
        m.chain(tail).unwrap();
        let addr = m.0;
        cache.free(m);
        // The cache is LIFO: the two segments come back first.
        let mut again = Vec::new();
        cache.alloc_bulk(&mut again, 2).unwrap();
        assert!(again.iter().any(|m| m.0 == addr));
        for m in &again {
            assert_eq!((m.pkt_len(), m.data_len(), m.nb_segs()), (0, 0, 1));
            assert_eq!(
                (m.headroom(), m.port(), m.ol_flags()),
                (128, INVALID_PORT, 0)
            );
            assert_eq!((m.packet_type(), m.rss_hash(), m.vlan_tci()), (0, 0, 0));
            assert!(m.hdr().next.get().is_null());
        }
        cache.free_bulk(&mut again);
        drop(cache);
        assert_full(&pool);
    }

    #[test]
    fn clones_share_bytes_read_only_and_free_the_buffer_last() {
        let pool = pool(8);
        let mut m = packet(&pool, b"hello world");
        m.set_port(2);
        let mut c = m.try_clone().unwrap();
        assert!(c.is_indirect() && !m.is_indirect());
        assert_eq!((m.refcnt(), c.refcnt()), (2, 2));
        assert_eq!(c.data().as_ptr(), m.data().as_ptr(), "the same bytes");
        assert_eq!((c.data_iova(), c.buf_iova()), (m.data_iova(), m.buf_iova()));
        assert_eq!(
            (c.pkt_len(), c.port(), c.data()),
            (11, 2, &b"hello world"[..])
        );
        // No writes while shared, through either.
        for x in [&mut m, &mut c] {
            assert_eq!(x.data_mut(), Err(MbufError::Shared { refcnt: 2 }));
            assert_eq!(x.prepend(1), Err(MbufError::Shared { refcnt: 2 }));
            assert_eq!(x.append(1), Err(MbufError::Shared { refcnt: 2 }));
        }
        // Each view moves on its own.
        c.adj(6).unwrap();
        c.trim(1).unwrap();
        assert_eq!((c.data(), m.data()), (&b"worl"[..], &b"hello world"[..]));
        // A clone of a clone references the direct buffer.
        let cc = c.try_clone().unwrap();
        assert_eq!((m.refcnt(), cc.data()), (3, &b"worl"[..]));
        assert_eq!(pool.in_use(), 3);
        // The direct mbuf goes first: its buffer stays for the clones.
        drop(m);
        assert_eq!((c.refcnt(), pool.in_use()), (2, 3));
        drop(cc);
        assert_eq!(c.refcnt(), 1);
        // The last holder may write again, even an indirect one.
        c.data_mut().unwrap()[0] = b'W';
        assert_eq!(c.data(), b"Worl");
        drop(c);
        assert_full(&pool);
    }

    #[test]
    fn dropping_the_clone_first_makes_the_original_writable() {
        let pool = pool(4);
        let mut m = packet(&pool, b"abc");
        let c = m.try_clone().unwrap();
        drop(c);
        assert_eq!(m.refcnt(), 1);
        m.data_mut().unwrap()[0] = b'A';
        m.prepend(1).unwrap()[0] = b'>';
        assert_eq!(m.data(), b">Abc");
        drop(m);
        assert_full(&pool);
    }

    #[test]
    fn clones_of_chains_and_into_other_pools() {
        let (a, b) = (pool(8), pool(8));
        let mut m = packet(&a, b"one");
        m.chain(packet(&a, b"two")).unwrap();
        m.chain(packet(&b, b"three")).unwrap();
        let mut cache = b.cache(2).unwrap();
        let c = cache.clone_mbuf(&m).unwrap();
        assert_eq!((c.nb_segs(), c.pkt_len()), (3, 11));
        assert_eq!(contents(&c), b"onetwothree");
        assert_eq!(
            (a.in_use(), b.in_use()),
            (2, 4),
            "clone headers come from b"
        );
        let segs: Vec<_> = m.segments().map(<[u8]>::as_ptr).collect();
        let csegs: Vec<_> = c.segments().map(<[u8]>::as_ptr).collect();
        assert_eq!(segs, csegs);
        drop(m);
        assert_eq!(contents(&c), b"onetwothree");
        drop(c);
        drop(cache);
        assert_full(&a);
        assert_full(&b);
    }

    #[test]
    fn a_clone_fails_cleanly_when_the_pool_is_exhausted() {
        let pool = pool(3);
        let mut m = packet(&pool, b"x");
        m.chain(packet(&pool, b"y")).unwrap();
        assert_eq!(m.try_clone().unwrap_err(), MbufError::Exhausted(Exhausted));
        assert_eq!((m.refcnt(), pool.in_use()), (1, 2), "nothing kept");
        let one = m.try_clone();
        assert!(one.is_err());
        let mut rest = Vec::new();
        pool.alloc_bulk(&mut rest, 1).unwrap();
        assert!(m.try_clone().is_err());
        drop(rest);
        drop(m);
        assert_full(&pool);
    }

    #[test]
    fn chains_add_up_and_read_across_segments() {
        let pool = small_pool(16, 8, 8);
        let mut m = packet(&pool, b"abcdefgh");
        m.chain(packet(&pool, b"ijk")).unwrap();
        let mut tail = packet(&pool, b"lmnop");
        tail.chain(packet(&pool, b"qrstuvwx")).unwrap();
        m.chain(tail).unwrap();
        assert_eq!((m.nb_segs(), m.pkt_len(), m.data_len()), (4, 24, 8));
        assert_eq!(
            m.segments().collect::<Vec<_>>(),
            [&b"abcdefgh"[..], b"ijk", b"lmnop", b"qrstuvwx"]
        );
        let mut buf = [0; 10];
        m.read(6, &mut buf).unwrap();
        assert_eq!(&buf, b"ghijklmnop");
        m.read(14, &mut buf).unwrap();
        assert_eq!(&buf, b"opqrstuvwx");
        assert_eq!(
            m.read(15, &mut buf),
            Err(MbufError::OutOfBounds {
                offset: 15,
                len: 10,
                pkt_len: 24
            })
        );
        m.read(24, &mut []).unwrap();
        // append and trim work on the last segment, prepend and adj on the first.
        assert_eq!(m.tailroom(), 0);
        m.trim(3).unwrap();
        m.append(2).unwrap().copy_from_slice(b"VW");
        m.adj(2).unwrap();
        m.prepend(1).unwrap()[0] = b'>';
        assert_eq!(contents(&m), b">cdefghijklmnopqrstuVW");
        assert_eq!(m.pkt_len(), 22);
        assert_eq!(m.trim(8), Err(MbufError::TooShort { need: 8, have: 7 }));
        assert_eq!(pool.in_use(), 4);
        drop(m);
        assert_full(&pool);
    }

    #[test]
    fn linearize_copies_into_the_first_segment() {
        let pool = small_pool(8, 4, 16);
        let mut m = packet(&pool, b"0123");
        m.chain(packet(&pool, b"456789")).unwrap();
        m.chain(packet(&pool, b"abcdef")).unwrap();
        let clone = m.try_clone().unwrap();
        assert_eq!(m.linearize(), Err(MbufError::Shared { refcnt: 2 }));
        drop(clone);
        m.linearize().unwrap();
        assert_eq!((m.nb_segs(), m.data_len(), m.pkt_len()), (1, 16, 16));
        assert_eq!(m.data(), b"0123456789abcdef");
        assert_eq!(pool.in_use(), 1, "the other segments are freed");
        m.linearize().unwrap();
        m.chain(packet(&pool, b"!")).unwrap();
        assert_eq!(
            m.linearize(),
            Err(MbufError::NoTailroom { need: 1, have: 0 })
        );
        drop(m);
        assert_full(&pool);
    }

    #[test]
    fn a_chain_holds_at_most_65535_segments() {
        let pool = small_pool(u16::MAX as usize + 1, 0, 1);
        // Chained by halves, so each `chain` walks a short way.
        fn build(pool: &PktPool, n: usize) -> Mbuf {
            if n == 1 {
                return packet(pool, b"s");
            }
            let mut m = build(pool, n / 2);
            m.chain(build(pool, n - n / 2)).unwrap();
            m
        }
        let mut m = build(&pool, u16::MAX as usize);
        assert_eq!((m.nb_segs(), m.pkt_len()), (u16::MAX, u16::MAX as u32));
        let tail = pool.alloc().unwrap();
        let ChainError(tail) = m.chain(tail).unwrap_err();
        assert_eq!(tail.nb_segs(), 1);
        drop((m, tail));
        assert_full(&pool);
    }

    #[test]
    fn raw_round_trip_and_threads() {
        let pool = pool(64);
        let m = packet(&pool, b"descriptor");
        let iova = m.data_iova();
        let raw = m.into_raw();
        assert_eq!(pool.in_use(), 1);
        // SAFETY: `raw` came from `into_raw` just above and is taken back once.
        let m = unsafe { Mbuf::from_raw(raw) };
        assert_eq!((m.data(), m.data_iova()), (&b"descriptor"[..], iova));

        let (mut tx, mut rx) = burst_ring::spsc::<Mbuf>(64).unwrap();
        let mut burst = vec![m];
        for i in 0..31 {
            burst.push(packet(&pool, &[i]));
        }
        let clone = burst[0].try_clone().unwrap();
        assert_eq!(tx.enqueue_bulk(&mut burst).count, 32);
        std::thread::spawn(move || {
            let mut got = Vec::new();
            assert_eq!(rx.dequeue_bulk(&mut got, 32).count, 32);
            assert_eq!(got[0].data(), b"descriptor");
            free_bulk(&mut got);
        })
        .join()
        .unwrap();
        assert_eq!((clone.refcnt(), clone.data()), (1, &b"descriptor"[..]));
        drop(clone);
        assert_full(&pool);
    }

    #[test]
    fn free_bulk_sends_each_segment_to_its_pool() {
        let (a, b) = (pool(64), pool(64));
        let mut mbufs = Vec::new();
        for i in 0..20u8 {
            let pool = if i % 3 == 0 { &b } else { &a };
            let mut m = packet(pool, &[i]);
            if i % 4 == 0 {
                m.chain(packet(if i % 8 == 0 { &a } else { &b }, b"x"))
                    .unwrap();
            }
            mbufs.push(m);
        }
        let clone = mbufs[3].try_clone().unwrap();
        let mut cache = a.cache(8).unwrap();
        cache.free_bulk(&mut mbufs);
        assert!(mbufs.is_empty());
        assert_eq!(
            (a.in_use(), b.in_use()),
            (0, 2),
            "b keeps the clone and its buffer"
        );
        drop(clone);
        drop(cache);
        assert_full(&a);
        assert_full(&b);
    }

    #[test]
    fn the_pool_outlives_its_mbufs() {
        let name = unique("orphan-pkt");
        let pool = PktPool::new(&memory(), &name, 8, MbufConfig::default()).unwrap();
        let m = packet(&pool, b"still here");
        let c = m.try_clone().unwrap();
        drop(pool);
        drop(m);
        assert_eq!(c.data(), b"still here");
        assert!(!freed(&name));
        drop(c);
        assert!(freed(&name));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Prepend(usize),
        Append(usize),
        Adj(usize),
        Trim(usize),
        Reserve(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..40usize).prop_map(Op::Prepend),
            (0..40usize).prop_map(Op::Append),
            (0..40usize).prop_map(Op::Adj),
            (0..40usize).prop_map(Op::Trim),
            (0..40usize).prop_map(Op::Reserve),
        ]
    }

    proptest! {
        #[test]
        fn edits_match_a_byte_deque(headroom in 0u16..64, data_room in 0u16..128, ops in prop::collection::vec(op(), 0..100)) {
            let pool = small_pool(1, headroom, data_room);
            let mut m = pool.alloc().unwrap();
            let (mut head, mut model, mut tail) = (headroom as usize, VecDeque::new(), data_room as usize);
            let mut next = 0u8;
            let mut fill = |bytes: &mut [u8]| {
                for b in bytes {
                    *b = next;
                    next = next.wrapping_add(1);
                }
            };
            for op in ops {
                match op {
                    Op::Prepend(n) => match m.prepend(n) {
                        Ok(bytes) => {
                            prop_assert!(n <= head);
                            fill(bytes);
                            for &b in bytes.iter().rev() {
                                model.push_front(b);
                            }
                            head -= n;
                        }
                        Err(e) => prop_assert_eq!((e, n > head), (MbufError::NoHeadroom { need: n, have: head }, true)),
                    },
                    Op::Append(n) => match m.append(n) {
                        Ok(bytes) => {
                            prop_assert!(n <= tail);
                            fill(bytes);
                            model.extend(bytes.iter());
                            tail -= n;
                        }
                        Err(e) => prop_assert_eq!((e, n > tail), (MbufError::NoTailroom { need: n, have: tail }, true)),
                    },
                    Op::Adj(n) => match m.adj(n) {
                        Ok(()) => {
                            model.drain(..n);
                            head += n;
                        }
                        Err(e) => prop_assert_eq!(e, MbufError::TooShort { need: n, have: model.len() }),
                    },
                    Op::Trim(n) => match m.trim(n) {
                        Ok(()) => {
                            model.truncate(model.len() - n);
                            tail += n;
                        }
                        Err(e) => prop_assert_eq!(e, MbufError::TooShort { need: n, have: model.len() }),
                    },
                    Op::Reserve(n) => match m.reserve(n) {
                        Ok(()) => {
                            prop_assert!(model.is_empty() && n <= tail);
                            head += n;
                            tail -= n;
                        }
                        Err(MbufError::NotEmpty { pkt_len }) => prop_assert_eq!(pkt_len, model.len()),
                        Err(e) => prop_assert_eq!(e, MbufError::NoTailroom { need: n, have: tail }),
                    },
                }
                prop_assert_eq!(m.data(), model.make_contiguous());
                prop_assert_eq!((m.headroom(), m.tailroom()), (head, tail));
                prop_assert_eq!((m.pkt_len() as usize, m.data_len() as usize), (model.len(), model.len()));
            }
            drop(m);
            prop_assert!(pool.is_full());
        }
    }
}
