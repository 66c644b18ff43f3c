//! A mapped region of memory and the IOVA segments a device uses to reach it.

use std::ptr::NonNull;

use memmap2::MmapRaw;

use super::{IovaMode, MemoryError, pagemap};

/// A run of memory contiguous both virtually and in IOVA space: what one DMA mapping or
/// one descriptor address range can cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Virtual address of the first byte.
    pub va: usize,
    /// IO virtual address of the first byte, as a device sees it.
    pub iova: u64,
    /// Length in bytes, a multiple of the region's page size.
    pub len: usize,
}

/// One mapped, page-aligned, zeroed region; unmapped on drop.
///
/// The region hands out a raw pointer rather than slices because devices write to it
/// behind the compiler's back: layers above decide how its bytes are shared.
#[derive(Debug)]
pub struct Region {
    map: MmapRaw,
    page_size: usize,
    hugepage: bool,
    /// In address order, covering the whole region.
    segments: Vec<Segment>,
}

#[expect(
    clippy::len_without_is_empty,
    reason = "a region is never empty: Memory::alloc refuses zero bytes"
)]
impl Region {
    /// Wraps a fresh, populated mapping of `page_size` pages and works out its IOVAs.
    pub(super) fn new(
        map: MmapRaw,
        page_size: usize,
        hugepage: bool,
        iova_mode: IovaMode,
    ) -> Result<Self, MemoryError> {
        let (va, len) = (map.as_ptr().addr(), map.len());
        let segments = match iova_mode {
            IovaMode::Va => vec![Segment {
                va,
                iova: va as u64,
                len,
            }],
            IovaMode::Pa => pagemap::phys_segments(va, len, page_size)?,
        };
        Ok(Self {
            map,
            page_size,
            hugepage,
            segments,
        })
    }

    /// The first byte; aligned to [`page_size`](Self::page_size).
    pub fn as_ptr(&self) -> NonNull<u8> {
        NonNull::new(self.map.as_mut_ptr()).expect("the kernel never maps address 0")
    }

    /// Length in bytes, a multiple of the page size.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Size of the pages backing the region.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// Whether the region is backed by hugepages (not `--no-huge`).
    pub fn is_hugepage(&self) -> bool {
        self.hugepage
    }

    /// The region's IOVA-contiguous runs, in address order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The IOVA of the byte at `offset`.
    ///
    /// # Panics
    /// If `offset >= self.len()`.
    pub fn iova(&self, offset: usize) -> u64 {
        assert!(
            offset < self.len(),
            "offset {offset} is outside the region of {} bytes",
            self.len()
        );
        let va = self.map.as_ptr().addr() + offset;
        let segment = self.segments[self.segments.partition_point(|s| s.va + s.len <= va)];
        segment.iova + (va - segment.va) as u64
    }
}

#[cfg(test)]
mod tests {
    use memmap2::MmapOptions;

    use super::super::base_page_size;
    use super::*;

    #[test]
    fn iova_is_looked_up_in_the_segment_holding_the_offset() {
        let page = base_page_size();
        let map = MmapRaw::from(MmapOptions::new().len(3 * page).map_anon().unwrap());
        let mut region = Region::new(map, page, false, IovaMode::Va).unwrap();
        let va = region.as_ptr().as_ptr().addr();
        region.segments = vec![
            Segment {
                va,
                iova: 0x9000_0000,
                len: 2 * page,
            },
            Segment {
                va: va + 2 * page,
                iova: 0x1000_0000,
                len: page,
            },
        ];
        let page = page as u64;
        assert_eq!(region.iova(0), 0x9000_0000);
        assert_eq!(
            region.iova(2 * page as usize - 1),
            0x9000_0000 + 2 * page - 1
        );
        assert_eq!(region.iova(2 * page as usize), 0x1000_0000);
        assert_eq!(region.iova(3 * page as usize - 1), 0x1000_0000 + page - 1);
    }
}
