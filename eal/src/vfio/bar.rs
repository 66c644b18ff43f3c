//! A device's memory BAR mapped into the process: its registers, read and written with
//! volatile accesses.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use memmap2::MmapRaw;

/// A memory BAR (base address register region) of a device, mapped with `mmap` from its
/// VFIO device file: device registers, not memory.
///
/// Every access is a single volatile load or store of the given width, so the compiler
/// neither merges, splits, reorders (with other volatile accesses) nor drops it, and the
/// device sees exactly the accesses the driver wrote. Offsets are checked: an access
/// that is misaligned or does not fit in the BAR panics, as a slice index out of bounds
/// does.
///
/// Accesses are safe: they reach only this mapping, which is device memory that no Rust
/// reference covers. What the device does in response (e.g. DMA) is confined by the
/// IOMMU to memory mapped with [`VfioPciDevice::dma_map`](super::VfioPciDevice::dma_map).
/// The mapping keeps the device open; it is unmapped on drop.
pub struct Bar {
    map: MmapRaw,
    index: u8,
    /// Keeps the VFIO device file open while the mapping exists; dropped after `map`.
    _device: Arc<dyn Any + Send + Sync>,
}

#[expect(
    clippy::len_without_is_empty,
    reason = "a BAR is never empty: an unimplemented one is not mapped"
)]
impl Bar {
    /// Wraps `map`, the mapping of BAR `index`, kept valid by `device`.
    pub(super) fn new(map: MmapRaw, index: u8, device: Arc<dyn Any + Send + Sync>) -> Self {
        Self {
            map,
            index,
            _device: device,
        }
    }

    /// Which BAR this is, 0 to 5.
    pub fn index(&self) -> u8 {
        self.index
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The address of a `T` at `offset`, after checking that it lies in the BAR and is
    /// aligned to its size.
    fn at<T>(&self, offset: usize) -> *mut T {
        let size = size_of::<T>();
        assert!(
            offset
                .checked_add(size)
                .is_some_and(|end| end <= self.len()),
            "BAR {} access of {size} bytes at {offset:#x} is past its end ({:#x} bytes)",
            self.index,
            self.len()
        );
        assert!(
            offset % size == 0,
            "BAR {} access of {size} bytes at {offset:#x} is misaligned",
            self.index
        );
        // The mapping is page-aligned, so `offset % size == 0` aligns the address too.
        self.map.as_mut_ptr().wrapping_add(offset).cast()
    }

    /// Reads the byte register at `offset`.
    ///
    /// # Panics
    /// If the register does not fit in the BAR.
    pub fn read8(&self, offset: usize) -> u8 {
        // SAFETY: `at` checked that the byte lies inside the mapping, which lives as long
        // as `self`; device memory is read with a volatile load and never referenced.
        unsafe { self.at::<u8>(offset).read_volatile() }
    }

    /// Reads the 16-bit register at `offset`.
    ///
    /// # Panics
    /// If `offset` is not a multiple of 2 or the register does not fit in the BAR.
    pub fn read16(&self, offset: usize) -> u16 {
        // SAFETY: `at` checked bounds and alignment inside the live mapping; the load is
        // volatile and no reference to device memory exists.
        unsafe { self.at::<u16>(offset).read_volatile() }
    }

    /// Reads the 32-bit register at `offset`.
    ///
    /// # Panics
    /// If `offset` is not a multiple of 4 or the register does not fit in the BAR.
    pub fn read32(&self, offset: usize) -> u32 {
        // SAFETY: `at` checked bounds and alignment inside the live mapping; the load is
        // volatile and no reference to device memory exists.
        unsafe { self.at::<u32>(offset).read_volatile() }
    }

    /// Reads the 64-bit register at `offset` with one 64-bit load (not every device
    /// accepts those: many want two 32-bit halves).
    ///
    /// # Panics
    /// If `offset` is not a multiple of 8 or the register does not fit in the BAR.
    pub fn read64(&self, offset: usize) -> u64 {
        // SAFETY: `at` checked bounds and alignment inside the live mapping; the load is
        // volatile and no reference to device memory exists.
        unsafe { self.at::<u64>(offset).read_volatile() }
    }

    /// Writes the byte register at `offset`.
    ///
    /// # Panics
    /// If the register does not fit in the BAR.
    pub fn write8(&self, offset: usize, value: u8) {
        // SAFETY: `at` checked that the byte lies inside the writable mapping, which lives
        // as long as `self`; the store is volatile and no reference to it exists.
        unsafe { self.at::<u8>(offset).write_volatile(value) }
    }

    /// Writes the 16-bit register at `offset`.
    ///
    /// # Panics
    /// If `offset` is not a multiple of 2 or the register does not fit in the BAR.
    pub fn write16(&self, offset: usize, value: u16) {
        // SAFETY: `at` checked bounds and alignment inside the live, writable mapping; the
        // store is volatile and no reference to device memory exists.
        unsafe { self.at::<u16>(offset).write_volatile(value) }
    }

    /// Writes the 32-bit register at `offset`.
    ///
    /// # Panics
    /// If `offset` is not a multiple of 4 or the register does not fit in the BAR.
    pub fn write32(&self, offset: usize, value: u32) {
        // SAFETY: `at` checked bounds and alignment inside the live, writable mapping; the
        // store is volatile and no reference to device memory exists.
        unsafe { self.at::<u32>(offset).write_volatile(value) }
    }

    /// Writes the 64-bit register at `offset` with one 64-bit store.
    ///
    /// # Panics
    /// If `offset` is not a multiple of 8 or the register does not fit in the BAR.
    pub fn write64(&self, offset: usize, value: u64) {
        // SAFETY: `at` checked bounds and alignment inside the live, writable mapping; the
        // store is volatile and no reference to device memory exists.
        unsafe { self.at::<u64>(offset).write_volatile(value) }
    }
}

impl fmt::Debug for Bar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bar")
            .field("index", &self.index)
            .field("addr", &self.map.as_ptr())
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use memmap2::MmapOptions;

    use super::*;

    /// A "BAR" of ordinary anonymous memory: the checks and the accesses are the same.
    fn fake_bar(len: usize) -> Bar {
        let map = MmapRaw::from(MmapOptions::new().len(len).map_anon().unwrap());
        Bar::new(map, 2, Arc::new(()))
    }

    #[test]
    fn accesses_of_every_width_reach_the_mapping() {
        let bar = fake_bar(4096);
        assert_eq!((bar.index(), bar.len()), (2, 4096));
        bar.write32(0x10, 0xdead_beef);
        assert_eq!(bar.read32(0x10), 0xdead_beef);
        assert_eq!(bar.read16(0x12), 0xdead, "little-endian halves");
        assert_eq!(bar.read8(0x10), 0xef);
        bar.write16(0x10, 0x1234);
        bar.write8(0x13, 0x56);
        assert_eq!(bar.read32(0x10), 0x5600_1234 | 0x00ad_0000);
        bar.write64(0xff8, u64::MAX - 1);
        assert_eq!(bar.read64(0xff8), u64::MAX - 1);
        assert_eq!(bar.read32(0xffc), u32::MAX);
        assert!(format!("{bar:?}").contains("index: 2"));
    }

    #[test]
    #[should_panic(expected = "BAR 2 access of 4 bytes at 0x1000 is past its end (0x1000 bytes)")]
    fn reads_past_the_end_panic() {
        fake_bar(4096).read32(0x1000);
    }

    #[test]
    #[should_panic(expected = "past its end")]
    fn straddling_the_end_panics() {
        fake_bar(4096).write64(0xffc, 0);
    }

    #[test]
    #[should_panic(expected = "past its end")]
    fn overflowing_offsets_panic() {
        fake_bar(4096).read16(usize::MAX);
    }

    #[test]
    #[should_panic(expected = "BAR 2 access of 4 bytes at 0x6 is misaligned")]
    fn misaligned_accesses_panic() {
        fake_bar(4096).write32(6, 0);
    }

    #[test]
    fn bars_cross_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Bar>();
    }
}
