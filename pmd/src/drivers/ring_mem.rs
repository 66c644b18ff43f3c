//! The memory a VFIO device's descriptor rings live in: one region of EAL memory, cut
//! in equal slots (one per ring), each IOVA-contiguous, mapped for the device's DMA.

use std::ptr::NonNull;

use burst_eal::Eal;
use burst_eal::memory::Region;
use burst_eal::vfio::{DmaMapping, VfioPciDevice};

use crate::ethdev::EthError;
use crate::pci::device_error;

/// A device's ring memory, mapped for its DMA while this lives.
pub(crate) struct RingMem {
    /// Dropped first: unmapped before the memory goes.
    _mapping: DmaMapping,
    region: Region,
    slots: usize,
    slot_len: usize,
}

impl RingMem {
    /// `slots` slots of `slot_len` bytes (a multiple of 4 KiB) for the device
    /// `name`'s rings, called `rings` in errors (e.g. "descriptor rings"), whose memory
    /// is called `memory` (e.g. "descriptor ring memory").
    ///
    /// # Panics
    /// If `slot_len` is not a multiple of 4 KiB.
    pub(crate) fn new(
        eal: &Eal,
        dev: &VfioPciDevice,
        name: &str,
        (slots, slot_len): (usize, usize),
        rings: &str,
        memory: &str,
    ) -> Result<Self, EthError> {
        assert!(slot_len % 4096 == 0, "ring slots of {slot_len} bytes");
        let region = eal
            .memory()
            .alloc(slots * slot_len)
            .map_err(|err| device_error(name, &format!("allocate {rings}"), err))?;
        for offset in (0..slots).map(|i| i * slot_len) {
            if region.iova(offset + slot_len - 1) != region.iova(offset) + slot_len as u64 - 1 {
                return Err(EthError::Devargs {
                    dev: name.to_string(),
                    msg: format!("{memory} is not IOVA-contiguous: use hugepages"),
                });
            }
        }
        let mapping = dev
            .dma_map(&region)
            .map_err(|err| device_error(name, &format!("map {rings} for DMA"), err))?;
        Ok(Self {
            _mapping: mapping,
            region,
            slots,
            slot_len,
        })
    }

    /// Slot `i`'s first byte, 4 KiB-aligned, and its IOVA.
    ///
    /// # Panics
    /// If there is no slot `i`.
    pub(crate) fn slot(&self, i: usize) -> (NonNull<u8>, u64) {
        assert!(i < self.slots, "ring slot {i} of {}", self.slots);
        let offset = i * self.slot_len;
        // SAFETY: slot `i` exists (checked), so `offset` is inside the region; the region
        // is page-aligned and `slot_len` a multiple of 4 KiB, so the slot is 4 KiB-aligned.
        let ptr = unsafe { self.region.as_ptr().add(offset) };
        (ptr, self.region.iova(offset))
    }
}
