//! Split virtqueues, as the virtio 1.1 specification (virtio-v1.1-cs01) §2.6 lays
//! them out: a descriptor table (§2.6.5), the driver's available ring (§2.6.6) and the
//! device's used ring (§2.6.8), in memory both sides reach, little-endian.
//!
//! `Vring` is one queue's three parts in DMA memory, reached only with volatile loads
//! and stores at indices reduced modulo the queue size: the device writes the used ring
//! behind the compiler's back, so no reference to the memory is ever made. Neither
//! `VIRTIO_F_EVENT_IDX` nor indirect descriptors are negotiated, so the rings have no
//! `used_event`/`avail_event` words and notifications are suppressed with the flags
//! alone (§2.6.7, §2.6.10).

use std::ptr::NonNull;
use std::sync::Arc;

/// A descriptor: a buffer the device reads, or writes if [`VIRTQ_DESC_F_WRITE`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VirtqDesc {
    /// IOVA of the buffer.
    pub addr: u64,
    /// Its length in bytes.
    pub len: u32,
    /// `VIRTQ_DESC_F_*`.
    pub flags: u16,
    /// The next descriptor of the chain, if [`VIRTQ_DESC_F_NEXT`].
    pub next: u16,
}

/// Descriptor flag: the chain goes on at `next`.
pub const VIRTQ_DESC_F_NEXT: u16 = 1;
/// Descriptor flag: the device writes the buffer (otherwise it reads it).
pub const VIRTQ_DESC_F_WRITE: u16 = 2;

/// An entry of the used ring: the head of a chain the device is done with.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VirtqUsedElem {
    /// The chain's head descriptor.
    pub id: u32,
    /// Bytes the device wrote into the chain's buffers.
    pub len: u32,
}

/// Available ring flag: the driver wants no interrupt when buffers are used.
pub const VIRTQ_AVAIL_F_NO_INTERRUPT: u16 = 1;
/// Used ring flag: the device wants no notification when buffers are made available.
pub const VIRTQ_USED_F_NO_NOTIFY: u16 = 1;

/// Largest queue the driver sets up (the spec allows 32768; QEMU offers up to 1024).
pub const MAX_QUEUE_SIZE: u16 = 4096;

/// Where each part of a queue lies in its slot of the ring memory, for a queue of up
/// to [`MAX_QUEUE_SIZE`] entries: the descriptor table (16-byte aligned), the available
/// ring (2-byte aligned), the used ring (4-byte aligned; page-aligned here as legacy
/// devices wanted), then 16 bytes for the driver's own use.
pub const DESC_OFFSET: usize = 0;
/// The available ring: `flags`, `idx`, then `ring[size]` (u16 each).
pub const AVAIL_OFFSET: usize = DESC_OFFSET + 16 * MAX_QUEUE_SIZE as usize;
/// The used ring: `flags`, `idx` (u16), then `ring[size]` of [`VirtqUsedElem`].
pub const USED_OFFSET: usize = page_align(AVAIL_OFFSET + 4 + 2 * MAX_QUEUE_SIZE as usize);
/// 16 bytes after the used ring for the driver (the TX queue's zero header).
pub const EXTRA_OFFSET: usize = page_align(USED_OFFSET + 4 + 8 * MAX_QUEUE_SIZE as usize);
/// Bytes of one queue's slot.
pub const QUEUE_BYTES: usize = page_align(EXTRA_OFFSET + 16);

const fn page_align(n: usize) -> usize {
    n.next_multiple_of(4096)
}

/// The byte offsets in the avail and used rings' headers.
const RING_FLAGS: usize = 0;
const RING_IDX: usize = 2;
const RING_ENTRIES: usize = 4;

/// One split virtqueue of `size` entries in DMA memory.
pub(super) struct Vring {
    base: NonNull<u8>,
    iova: u64,
    size: u16,
    /// Keeps the memory mapped (and mapped for DMA) while the ring exists.
    _owner: Arc<dyn Send + Sync>,
}

// SAFETY: the ring is plain memory reached through raw pointers; which thread may touch
// it is decided by the Mutex around the queue that holds it.
unsafe impl Send for Vring {}

impl Vring {
    /// The queue of `size` entries (a power of two, at most [`MAX_QUEUE_SIZE`]) in the
    /// [`QUEUE_BYTES`] at `base`, whose IOVA is `iova`.
    ///
    /// # Safety
    /// `base` must be page-aligned and point to [`QUEUE_BYTES`] bytes, IOVA-contiguous
    /// from `iova`, that `owner` keeps mapped and that nothing but this ring and the
    /// device it is given to accesses.
    pub(super) unsafe fn new(
        base: NonNull<u8>,
        iova: u64,
        size: u16,
        owner: Arc<dyn Send + Sync>,
    ) -> Self {
        assert!(
            size.is_power_of_two() && size <= MAX_QUEUE_SIZE,
            "virtqueue size {size}"
        );
        Self {
            base,
            iova,
            size,
            _owner: owner,
        }
    }

    /// Entries in the queue.
    #[inline(always)]
    pub(super) fn size(&self) -> u16 {
        self.size
    }

    /// IOVAs of the descriptor table, available ring and used ring.
    pub(super) fn iovas(&self) -> (u64, u64, u64) {
        (
            self.iova + DESC_OFFSET as u64,
            self.iova + AVAIL_OFFSET as u64,
            self.iova + USED_OFFSET as u64,
        )
    }

    /// The IOVA of the 16 bytes at [`EXTRA_OFFSET`].
    pub(super) fn extra_iova(&self) -> u64 {
        self.iova + EXTRA_OFFSET as u64
    }

    /// The address of a `T` at byte `offset` of the slot.
    ///
    /// # Safety
    /// `offset + size_of::<T>() <= QUEUE_BYTES`, aligned for `T`.
    #[inline(always)]
    unsafe fn ptr<T>(&self, offset: usize) -> *mut T {
        // SAFETY: inside the slot (caller), which `new`'s caller vouched for.
        unsafe { self.base.as_ptr().add(offset).cast() }
    }

    /// Zeroes the queue's memory; the device must not be using it (reset, or the queue
    /// not enabled yet).
    pub(super) fn clear(&mut self) {
        // SAFETY: the whole slot, ours alone while the device does not use the queue
        // (caller); raw bytes, no reference made.
        unsafe { std::ptr::write_bytes(self.base.as_ptr(), 0, EXTRA_OFFSET) }
    }

    /// Writes descriptor `i` (reduced modulo the size).
    #[inline(always)]
    pub(super) fn set_desc(&self, i: u16, desc: VirtqDesc) {
        let i = usize::from(i & (self.size - 1));
        // SAFETY: entry i < size <= MAX_QUEUE_SIZE of the 16-byte-aligned table.
        unsafe {
            self.ptr::<VirtqDesc>(DESC_OFFSET + 16 * i)
                .write_volatile(desc)
        }
    }

    /// Puts chain head `id` in the available ring at `idx` (reduced modulo the size).
    #[inline(always)]
    pub(super) fn set_avail(&self, idx: u16, id: u16) {
        let i = usize::from(idx & (self.size - 1));
        // SAFETY: entry i < size of the 2-byte-aligned avail ring.
        unsafe {
            self.ptr::<u16>(AVAIL_OFFSET + RING_ENTRIES + 2 * i)
                .write_volatile(id)
        }
    }

    /// Publishes the available ring's `idx`: entries before it are the device's.
    /// Order the entries and descriptors before it with a Release fence.
    #[inline(always)]
    pub(super) fn set_avail_idx(&self, idx: u16) {
        // SAFETY: the idx word of the avail ring header.
        unsafe { self.ptr::<u16>(AVAIL_OFFSET + RING_IDX).write_volatile(idx) }
    }

    /// Sets the available ring's flags.
    pub(super) fn set_avail_flags(&self, flags: u16) {
        // SAFETY: the flags word of the avail ring header.
        unsafe {
            self.ptr::<u16>(AVAIL_OFFSET + RING_FLAGS)
                .write_volatile(flags)
        }
    }

    /// The used ring's `idx`: the device has used the chains before it.
    #[inline(always)]
    pub(super) fn used_idx(&self) -> u16 {
        // SAFETY: the idx word of the 4-byte-aligned used ring header.
        unsafe { self.ptr::<u16>(USED_OFFSET + RING_IDX).read_volatile() }
    }

    /// The used ring's flags.
    #[inline(always)]
    pub(super) fn used_flags(&self) -> u16 {
        // SAFETY: the flags word of the used ring header.
        unsafe { self.ptr::<u16>(USED_OFFSET + RING_FLAGS).read_volatile() }
    }

    /// The used ring's entry at `idx` (reduced modulo the size).
    #[inline(always)]
    pub(super) fn used_elem(&self, idx: u16) -> VirtqUsedElem {
        let i = usize::from(idx & (self.size - 1));
        // SAFETY: entry i < size of the used ring, 4-byte aligned (its header is 4 bytes).
        unsafe {
            self.ptr::<VirtqUsedElem>(USED_OFFSET + RING_ENTRIES + 8 * i)
                .read_volatile()
        }
    }

    /// Plays the device in tests: reads descriptor `i`.
    #[cfg(test)]
    pub(super) fn desc(&self, i: u16) -> VirtqDesc {
        let i = usize::from(i & (self.size - 1));
        // SAFETY: as in `set_desc`.
        unsafe { self.ptr::<VirtqDesc>(DESC_OFFSET + 16 * i).read_volatile() }
    }

    /// Plays the device in tests: the available ring's idx and entry at `idx`.
    #[cfg(test)]
    pub(super) fn avail(&self, idx: u16) -> (u16, u16) {
        let i = usize::from(idx & (self.size - 1));
        // SAFETY: as in `set_avail` and `set_avail_idx`.
        unsafe {
            (
                self.ptr::<u16>(AVAIL_OFFSET + RING_IDX).read_volatile(),
                self.ptr::<u16>(AVAIL_OFFSET + RING_ENTRIES + 2 * i)
                    .read_volatile(),
            )
        }
    }

    /// Plays the device in tests: writes used entry `idx` and then the used idx.
    #[cfg(test)]
    pub(super) fn push_used(&self, idx: u16, elem: VirtqUsedElem) {
        let i = usize::from(idx & (self.size - 1));
        // SAFETY: as in `used_elem` and `used_idx`.
        unsafe {
            self.ptr::<VirtqUsedElem>(USED_OFFSET + RING_ENTRIES + 8 * i)
                .write_volatile(elem);
            self.ptr::<u16>(USED_OFFSET + RING_IDX)
                .write_volatile(idx.wrapping_add(1));
        }
    }

    /// Plays the device in tests: sets the used ring's flags.
    #[cfg(test)]
    pub(super) fn set_used_flags(&self, flags: u16) {
        // SAFETY: as in `used_flags`.
        unsafe {
            self.ptr::<u16>(USED_OFFSET + RING_FLAGS)
                .write_volatile(flags)
        }
    }
}

const _: () = assert!(size_of::<VirtqDesc>() == 16 && size_of::<VirtqUsedElem>() == 8);
const _: () = assert!(
    std::mem::offset_of!(VirtqDesc, len) == 8
        && std::mem::offset_of!(VirtqDesc, flags) == 12
        && std::mem::offset_of!(VirtqDesc, next) == 14
);
const _: () = assert!(AVAIL_OFFSET % 16 == 0 && USED_OFFSET % 4096 == 0);
