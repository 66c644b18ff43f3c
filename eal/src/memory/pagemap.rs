//! Physical addresses from `/proc/self/pagemap` (DPDK's `rte_mem_virt2phy`): the IOVAs
//! of IOVA-as-PA mode, with physically contiguous pages merged into segments.
//!
//! The kernel reports page frame numbers only to `CAP_SYS_ADMIN`; anyone else reads 0.

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::{MemoryError, Segment, base_page_size};

const PAGEMAP: &str = "/proc/self/pagemap";
/// Bit 63 of an entry: the page is present in RAM.
const PRESENT: u64 = 1 << 63;
/// Bits 0–54 of an entry: the page frame number.
const PFN_MASK: u64 = (1 << 55) - 1;

/// An open view of this process's page table.
struct Pagemap {
    file: File,
    base_page: usize,
}

impl Pagemap {
    fn open() -> Result<Self, MemoryError> {
        let file = File::open(PAGEMAP).map_err(io_error)?;
        Ok(Self {
            file,
            base_page: base_page_size(),
        })
    }

    /// The physical address of the byte at `va`, which must be resident.
    fn phys_addr(&self, va: usize) -> Result<u64, MemoryError> {
        let mut entry = [0u8; 8];
        let index = (va / self.base_page) as u64;
        self.file
            .read_exact_at(&mut entry, index * 8)
            .map_err(io_error)?;
        match pfn(u64::from_ne_bytes(entry)) {
            None => Err(MemoryError::NotResident { va }),
            Some(0) => Err(MemoryError::PhysAddrUnavailable),
            Some(pfn) => Ok(pfn * self.base_page as u64 + (va % self.base_page) as u64),
        }
    }
}

/// Checks that this process may read physical addresses, on the page of a stack variable
/// (resident because it is in use).
pub(super) fn check_phys_addrs() -> Result<(), MemoryError> {
    let probe = std::hint::black_box(0u8);
    Pagemap::open()?
        .phys_addr(std::ptr::from_ref(&probe).addr())
        .map(drop)
}

/// The IOVA-as-PA segments of the resident mapping `va..va + len` made of `page_size` pages.
pub(super) fn phys_segments(
    va: usize,
    len: usize,
    page_size: usize,
) -> Result<Vec<Segment>, MemoryError> {
    let pagemap = Pagemap::open()?;
    let pages = (va..va + len)
        .step_by(page_size)
        .map(|page| Ok((page, pagemap.phys_addr(page)?)))
        .collect::<Result<Vec<_>, MemoryError>>()?;
    Ok(merge(pages, page_size))
}

/// The page frame number in a pagemap entry, or `None` if the page is not present.
fn pfn(entry: u64) -> Option<u64> {
    (entry & PRESENT != 0).then_some(entry & PFN_MASK)
}

/// Joins `(va, iova)` pages, in address order, into segments wherever the next page
/// follows on both virtually and in IOVA space.
fn merge(pages: impl IntoIterator<Item = (usize, u64)>, page_size: usize) -> Vec<Segment> {
    let mut segments: Vec<Segment> = Vec::new();
    for (va, iova) in pages {
        match segments.last_mut() {
            Some(last) if last.va + last.len == va && last.iova + last.len as u64 == iova => {
                last.len += page_size;
            }
            _ => segments.push(Segment {
                va,
                iova,
                len: page_size,
            }),
        }
    }
    segments
}

fn io_error(source: std::io::Error) -> MemoryError {
    MemoryError::Io {
        action: "cannot read",
        path: PAGEMAP.into(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HUGE: usize = 2 << 20;

    #[test]
    fn entries_decode_to_frame_numbers() {
        assert_eq!(pfn(PRESENT | 0x1234), Some(0x1234));
        assert_eq!(
            pfn(PRESENT | 1 << 55 | 1 << 61 | 0x99),
            Some(0x99),
            "flag bits are not part of the PFN"
        );
        assert_eq!(pfn(PRESENT), Some(0), "unprivileged readers see PFN 0");
        assert_eq!(pfn(0x1234), None, "not present");
    }

    #[test]
    fn contiguous_pages_merge_into_segments() {
        let va = 0x7f00_0000_0000;
        let pages = [
            (va, 0x1_0000_0000),
            (va + HUGE, 0x1_0020_0000),
            (va + 2 * HUGE, 0x2_0000_0000),
            (va + 3 * HUGE, 0x1_0040_0000),
            (va + 4 * HUGE, 0x1_0060_0000),
        ];
        let segments = merge(pages, HUGE);
        assert_eq!(
            segments,
            [
                Segment {
                    va,
                    iova: 0x1_0000_0000,
                    len: 2 * HUGE
                },
                Segment {
                    va: va + 2 * HUGE,
                    iova: 0x2_0000_0000,
                    len: HUGE
                },
                Segment {
                    va: va + 3 * HUGE,
                    iova: 0x1_0040_0000,
                    len: 2 * HUGE
                },
            ]
        );
        assert!(merge([], HUGE).is_empty());
    }

    #[test]
    fn descending_physical_pages_do_not_merge() {
        let pages = [(0x20_0000, 0x60_0000), (0x40_0000, 0x40_0000)];
        assert_eq!(merge(pages, HUGE).len(), 2);
    }
}
