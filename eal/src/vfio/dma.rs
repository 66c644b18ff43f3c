//! DMA mappings: memory regions entered in the IOMMU at their IOVAs, so a device may
//! read and write them, and removed again on drop.

use std::fs;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use vfio_ioctls::{VfioContainer, VfioDevice};

use super::VfioError;
use crate::PciAddr;
use crate::memory::{Region, Segment};

/// IOVAs the IOMMU keeps for itself on x86: a device's write there is an MSI, not
/// memory. VFIO reports it as a hole in the container's IOVA ranges.
pub const MSI_IOVA_WINDOW: Range<u64> = 0xfee0_0000..0xfef0_0000;

/// A memory region's segments, mapped for DMA in a VFIO container at their IOVAs;
/// unmapped on drop. Made by [`VfioPciDevice::dma_map`](super::VfioPciDevice::dma_map).
///
/// Keeps the device it was made through open, so its container keeps its IOMMU until
/// the mapping is gone. Drop it before the region: the kernel keeps the pages pinned
/// (and reachable by the device) while they are mapped, even after `munmap`.
pub struct DmaMapping {
    container: Arc<VfioContainer>,
    segments: Vec<Segment>,
    /// Keeps a group in the container, so the IOMMU exists to unmap from; dropped last.
    _device: Arc<VfioDevice>,
}

impl DmaMapping {
    /// Maps every segment of `region` (VA to IOVA, read and write) in `container`;
    /// on failure, unmaps what it had mapped.
    pub(super) fn new(
        container: Arc<VfioContainer>,
        device: Arc<VfioDevice>,
        region: &Region,
    ) -> Result<Self, VfioError> {
        let mut mapping = Self {
            container,
            segments: Vec::with_capacity(region.segments().len()),
            _device: device,
        };
        for &segment in region.segments() {
            // SAFETY: the segment lies inside `region`'s live mapping. The ioctl only pins
            // its pages and enters them in the IOMMU; it reads and writes none of them.
            // After it, the device may access them, but only where a driver points it
            // (descriptors, through `Bar` writes), and `Region` exposes its memory solely
            // through raw pointers: code that makes references to it takes on, in its own
            // `unsafe`, not to hand the device memory it references.
            let mapped = unsafe {
                mapping.container.vfio_dma_map(
                    segment.iova,
                    segment.len,
                    std::ptr::without_provenance_mut(segment.va),
                )
            };
            if let Err(source) = mapped {
                return Err(VfioError::DmaMap {
                    iova: segment.iova,
                    len: segment.len,
                    hint: dma_map_hint(&source),
                    source,
                });
            }
            mapping.segments.push(segment);
        }
        Ok(mapping)
    }

    /// The mapped segments, in address order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }
}

impl Drop for DmaMapping {
    fn drop(&mut self) {
        for segment in &self.segments {
            if let Err(err) = self.container.vfio_dma_unmap(segment.iova, segment.len) {
                log::error!(
                    "cannot unmap IOVA range {:#x}+{:#x}: {err}",
                    segment.iova,
                    segment.len
                );
            }
        }
    }
}

impl std::fmt::Debug for DmaMapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DmaMapping")
            .field("segments", &self.segments)
            .finish_non_exhaustive()
    }
}

/// Why a map ioctl failed, in words, from its errno.
fn dma_map_hint(err: &vfio_ioctls::VfioError) -> &'static str {
    let vfio_ioctls::VfioError::IommuDmaMap(errno) = err else {
        return "";
    };
    match errno.errno() {
        libc::EEXIST => " (already mapped: map each region once per VFIO container)",
        libc::ENOMEM => {
            " (the locked-memory limit is too low for pinning: raise it with ulimit -l or run \
             as root)"
        }
        libc::ENOSPC => " (too many DMA mappings: use fewer, larger regions)",
        libc::EINVAL | libc::EFAULT => " (the range is not mapped memory, or not page-aligned)",
        _ => "",
    }
}

/// Checks that each segment's IOVA range avoids [`MSI_IOVA_WINDOW`] and, if the IOMMU's
/// address width is known, ends within it.
pub(super) fn check_iovas(
    addr: PciAddr,
    segments: &[Segment],
    width: Option<u32>,
) -> Result<(), VfioError> {
    for segment in segments {
        let (iova, len) = (segment.iova, segment.len);
        let too_wide = |width| VfioError::IovaTooWide {
            addr,
            iova,
            len,
            width,
        };
        let Some(end) = iova.checked_add(len as u64) else {
            return Err(too_wide(width.unwrap_or(64)));
        };
        if iova < MSI_IOVA_WINDOW.end && MSI_IOVA_WINDOW.start < end {
            return Err(VfioError::IovaReserved { iova, len });
        }
        if let Some(width) = width
            && width < 64
            && end > 1u64 << width
        {
            return Err(too_wide(width));
        }
    }
    Ok(())
}

/// The input address width of the Intel IOMMU translating for the device at `sysfs_path`:
/// its MGAW, capability register bits 21:16 plus one (VT-d 3.0, 11.4.2). `None` for
/// other IOMMUs, whose limits VFIO enforces with its own error.
pub(super) fn iommu_address_width(sysfs_path: &Path) -> Option<u32> {
    let cap = fs::read_to_string(sysfs_path.join("iommu/intel-iommu/cap")).ok()?;
    let cap = u64::from_str_radix(cap.trim(), 16).ok()?;
    Some(((cap >> 16) & 0x3f) as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(iova: u64, len: usize) -> Segment {
        Segment {
            va: iova as usize,
            iova,
            len,
        }
    }

    fn nic() -> PciAddr {
        "0000:00:03.0".parse().unwrap()
    }

    #[test]
    fn the_msi_window_is_refused() {
        let two_mb = 2 << 20;
        let ok = [seg(0x7f00_0000_0000, two_mb), seg(0xfec0_0000, two_mb)];
        check_iovas(nic(), &ok, Some(48)).unwrap();
        // Ends right before the window, starts right after it: fine.
        check_iovas(nic(), &[seg(0xfe00_0000, 0xe0_0000)], None).unwrap();
        check_iovas(nic(), &[seg(0xfef0_0000, 4096)], None).unwrap();
        for bad in [
            seg(0xfee0_0000, 4096),
            seg(0xfed0_0000, two_mb),
            seg(0xfeef_f000, 4096),
            seg(0x8000_0000, 1 << 30 << 1),
        ] {
            let err = check_iovas(nic(), &[ok[0], bad], Some(48)).unwrap_err();
            assert!(
                matches!(err, VfioError::IovaReserved { iova, .. } if iova == bad.iova),
                "{bad:?}: {err}"
            );
            assert!(err.to_string().contains("MSI window 0xfee00000-0xfeefffff"));
        }
    }

    #[test]
    fn iovas_past_the_iommu_width_are_refused() {
        let user_va = seg(0x7fff_f000_0000, 2 << 20);
        check_iovas(nic(), &[user_va], Some(48)).unwrap();
        check_iovas(nic(), &[user_va], None).unwrap();
        let err = check_iovas(nic(), &[user_va], Some(39)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "IOVA range 0x7ffff0000000+0x200000 is beyond the 39-bit address width of the \
             IOMMU of 0000:00:03.0: use --iova-mode=pa, or an IOMMU with a 48-bit width \
             (QEMU: -device intel-iommu,aw-bits=48)"
        );
        // Exactly up to the limit is fine.
        check_iovas(nic(), &[seg((1 << 39) - 4096, 4096)], Some(39)).unwrap();
        // A range that wraps around is beyond any width.
        let wraps = check_iovas(nic(), &[seg(u64::MAX - 4095, 8192)], None).unwrap_err();
        assert!(
            matches!(wraps, VfioError::IovaTooWide { width: 64, .. }),
            "{wraps}"
        );
    }

    #[test]
    fn the_width_comes_from_the_vtd_capability_register() {
        let dir = std::env::temp_dir().join(format!("burst-vtd-cap-{}", std::process::id()));
        let cap_dir = dir.join("iommu/intel-iommu");
        fs::create_dir_all(&cap_dir).unwrap();
        // QEMU's intel-iommu with aw-bits=48: MGAW field 47.
        fs::write(cap_dir.join("cap"), "d2008c222f0686\n").unwrap();
        assert_eq!(iommu_address_width(&dir), Some(48));
        fs::write(cap_dir.join("cap"), format!("{:x}\n", 38u64 << 16)).unwrap();
        assert_eq!(iommu_address_width(&dir), Some(39));
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(iommu_address_width(&dir), None);
    }

    #[test]
    fn map_failures_are_explained() {
        let err =
            |errno| vfio_ioctls::VfioError::IommuDmaMap(vmm_sys_util::errno::Error::new(errno));
        assert!(dma_map_hint(&err(libc::ENOMEM)).contains("ulimit -l"));
        assert!(dma_map_hint(&err(libc::EEXIST)).contains("already mapped"));
        assert_eq!(dma_map_hint(&err(libc::EIO)), "");
        assert_eq!(dma_map_hint(&vfio_ioctls::VfioError::GroupViable), "");
    }
}
