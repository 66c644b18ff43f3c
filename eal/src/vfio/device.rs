//! One PCI function opened with VFIO.

use std::any::Any;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use memmap2::MmapOptions;
use vfio_bindings::bindings::vfio::{
    VFIO_BASE, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_REGION_INFO_FLAG_MMAP,
    VFIO_TYPE,
};
use vfio_ioctls::{VfioDevice, VfioOps};

use super::dma::{self, DmaMapping};
use super::{Bar, MsixVectors, Vfio, VfioError};
use crate::PciAddr;
use crate::memory::Region;
use crate::pci::{self, PciCapability, PciDevice, VFIO_PCI_DRIVER};

/// VFIO_DEVICE_RESET, `_IO(VFIO_TYPE, VFIO_BASE + 11)` in `linux/vfio.h`.
const VFIO_DEVICE_RESET: libc::Ioctl = ((VFIO_TYPE as u32) << 8 | (VFIO_BASE + 11)) as libc::Ioctl;

/// The command register in configuration space, and its enable bits (PCI 3.0, 6.2.2).
const COMMAND: u16 = 0x04;
const COMMAND_MEMORY: u16 = 1 << 1;
const COMMAND_MASTER: u16 = 1 << 2;

/// How many BARs a type 0 (endpoint) header has.
const BARS: u8 = 6;

/// What VFIO reports about one BAR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarInfo {
    /// Which BAR, 0 to 5.
    pub index: u8,
    /// Its size in bytes.
    pub len: u64,
    /// Whether it can be mapped with [`VfioPciDevice::bar`] (memory BARs can; I/O port
    /// BARs cannot).
    pub mappable: bool,
}

/// A PCI function taken from the kernel with VFIO: its configuration space, BARs, DMA
/// mappings and interrupts. Its device file stays open until it and every [`Bar`],
/// [`DmaMapping`] and [`MsixVectors`] made from it are dropped; then its group leaves
/// the container, once no other device of the group is open.
pub struct VfioPciDevice {
    /// A duplicate of the device's file, for configuration space and ioctls; closed
    /// before `device` is released.
    file: File,
    device: Arc<VfioDevice>,
    vfio: Vfio,
    pci: PciDevice,
    config_offset: u64,
    config_size: u64,
}

impl VfioPciDevice {
    /// Opens `pci` through `vfio`: joins its IOMMU group to the container (opening the
    /// group the first time one of its devices is opened) and gets the device file.
    ///
    /// The device must have an IOMMU group and be bound to `vfio-pci`, and so must every
    /// other device in its group (or be on no driver); the error says what to fix.
    pub fn open(vfio: &Vfio, pci: &PciDevice) -> Result<Self, VfioError> {
        let addr = pci.addr;
        let group = openable(pci)?;
        if !Path::new(&format!("/dev/vfio/{group}")).exists() {
            return Err(VfioError::GroupMissing { addr, group });
        }
        let ops: Arc<dyn VfioOps> = vfio.container.clone();
        let device = VfioDevice::new(&pci.sysfs_path, ops, false)
            .map_err(|source| open_error(pci, group, source))?;
        // SAFETY: `device` owns this descriptor and keeps it open while it is borrowed
        // here, only to duplicate it.
        let fd = unsafe { BorrowedFd::borrow_raw(device.as_raw_fd()) };
        let file = File::from(fd.try_clone_to_owned().map_err(|_| VfioError::Open {
            addr,
            source: vfio_ioctls::VfioError::VfioDeviceDupFd,
        })?);
        let config_index = VFIO_PCI_CONFIG_REGION_INDEX;
        Ok(Self {
            file,
            config_offset: device.get_region_offset(config_index),
            config_size: device.get_region_size(config_index),
            device: Arc::new(device),
            vfio: vfio.clone(),
            pci: pci.clone(),
        })
    }

    /// The device as the PCI scan found it.
    pub fn pci(&self) -> &PciDevice {
        &self.pci
    }

    /// Its address.
    pub fn addr(&self) -> PciAddr {
        self.pci.addr
    }

    /// Reads `buf.len()` bytes of configuration space at `offset`.
    pub fn read_config(&self, offset: u16, buf: &mut [u8]) -> Result<(), VfioError> {
        let at = self.config_at(offset, buf.len())?;
        self.file
            .read_exact_at(buf, at)
            .map_err(|source| self.config_error(offset, source))
    }

    /// Writes `buf` to configuration space at `offset`. VFIO filters what reaches the
    /// device: BAR addresses, the MSI-X capability and the like stay under its control.
    pub fn write_config(&self, offset: u16, buf: &[u8]) -> Result<(), VfioError> {
        let at = self.config_at(offset, buf.len())?;
        self.file
            .write_all_at(buf, at)
            .map_err(|source| self.config_error(offset, source))
    }

    /// The configuration byte at `offset`.
    pub fn config_read_u8(&self, offset: u16) -> Result<u8, VfioError> {
        let mut buf = [0; 1];
        self.read_config(offset, &mut buf)?;
        Ok(buf[0])
    }

    /// The little-endian configuration word at `offset`.
    pub fn config_read_u16(&self, offset: u16) -> Result<u16, VfioError> {
        let mut buf = [0; 2];
        self.read_config(offset, &mut buf)?;
        Ok(u16::from_le_bytes(buf))
    }

    /// The little-endian configuration dword at `offset`.
    pub fn config_read_u32(&self, offset: u16) -> Result<u32, VfioError> {
        let mut buf = [0; 4];
        self.read_config(offset, &mut buf)?;
        Ok(u32::from_le_bytes(buf))
    }

    /// Writes the configuration word at `offset`, little-endian.
    pub fn config_write_u16(&self, offset: u16, value: u16) -> Result<(), VfioError> {
        self.write_config(offset, &value.to_le_bytes())
    }

    /// Writes the configuration dword at `offset`, little-endian.
    pub fn config_write_u32(&self, offset: u16, value: u32) -> Result<(), VfioError> {
        self.write_config(offset, &value.to_le_bytes())
    }

    /// The file offset of `len` bytes at `offset` in the configuration region, if they
    /// fit in it.
    fn config_at(&self, offset: u16, len: usize) -> Result<u64, VfioError> {
        let end = u64::from(offset) + len as u64;
        if end > self.config_size {
            return Err(VfioError::ConfigRange {
                addr: self.addr(),
                offset,
                len,
                size: self.config_size,
            });
        }
        Ok(self.config_offset + u64::from(offset))
    }

    fn config_error(&self, offset: u16, source: io::Error) -> VfioError {
        VfioError::Config {
            addr: self.addr(),
            offset,
            source,
        }
    }

    /// Sets `bits` in the command register, if not all set already.
    fn set_command_bits(&self, bits: u16) -> Result<(), VfioError> {
        let command = self.config_read_u16(COMMAND)?;
        if command & bits != bits {
            self.config_write_u16(COMMAND, command | bits)?;
        }
        Ok(())
    }

    /// Lets the device master the bus (command register bit 2), which it needs to DMA,
    /// and answer memory accesses (bit 1).
    pub fn enable_bus_master(&self) -> Result<(), VfioError> {
        self.set_command_bits(COMMAND_MASTER | COMMAND_MEMORY)
    }

    /// Resets the device (VFIO_DEVICE_RESET: a function-level, power-management or bus
    /// reset, whichever the device and its slot allow), as DPDK does before using one.
    /// VFIO restores the configuration space it manages afterwards.
    pub fn reset(&self) -> Result<(), VfioError> {
        // SAFETY: the descriptor is an open VFIO device file and VFIO_DEVICE_RESET takes
        // no argument.
        let rc = unsafe { libc::ioctl(self.file.as_raw_fd(), VFIO_DEVICE_RESET) };
        if rc == 0 {
            return Ok(());
        }
        let source = io::Error::last_os_error();
        // vfio-pci answers EINVAL when it found no way to reset the device.
        if source.raw_os_error() == Some(libc::EINVAL) {
            return Err(VfioError::ResetUnsupported { addr: self.addr() });
        }
        Err(VfioError::Reset {
            addr: self.addr(),
            source,
        })
    }

    /// The device's capability list (PCI's, in the first 256 bytes of configuration
    /// space), in list order.
    pub fn capabilities(&self) -> Result<Vec<PciCapability>, VfioError> {
        pci::capabilities(|offset| self.config_read_u8(offset))
    }

    /// What VFIO says about BAR `index`; `None` if the device does not implement it.
    ///
    /// # Panics
    /// If `index` is 6 or more.
    pub fn bar_info(&self, index: u8) -> Option<BarInfo> {
        assert!(index < BARS, "BAR {index} does not exist: BARs are 0 to 5");
        let len = self.device.get_region_size(index.into());
        (len != 0).then(|| BarInfo {
            index,
            len,
            mappable: self.device.get_region_flags(index.into()) & VFIO_REGION_INFO_FLAG_MMAP != 0,
        })
    }

    /// Maps memory BAR `index` (0 to 5) whole, after enabling the device's memory space
    /// (without it, VFIO makes accesses to the mapping fault).
    pub fn bar(&self, index: u8) -> Result<Bar, VfioError> {
        let addr = self.addr();
        if index >= BARS {
            return Err(VfioError::NoBar { addr, index });
        }
        let info = self
            .bar_info(index)
            .ok_or(VfioError::NoBar { addr, index })?;
        if !info.mappable {
            return Err(VfioError::BarNotMappable { addr, index });
        }
        let map_error = |source| VfioError::BarMap {
            addr,
            index,
            source,
        };
        let len = usize::try_from(info.len).expect("burst targets 64-bit machines");
        self.set_command_bits(COMMAND_MEMORY)?;
        let map = MmapOptions::new()
            .offset(self.device.get_region_offset(index.into()))
            .len(len)
            .map_raw(&*self.device)
            .map_err(map_error)?;
        let device: Arc<dyn Any + Send + Sync> = self.device.clone();
        Ok(Bar::new(map, index, device))
    }

    /// Maps every segment of `region` for DMA at its IOVA, after checking that none
    /// overlaps [`MSI_IOVA_WINDOW`](super::MSI_IOVA_WINDOW) or lies beyond the IOMMU's
    /// address width. The mapping is the container's: every device opened through the
    /// same [`Vfio`] can then reach the region (as with DPDK's `rte_dev_dma_map`), so
    /// map a region once per container. Unmapped when the [`DmaMapping`] drops.
    pub fn dma_map(&self, region: &Region) -> Result<DmaMapping, VfioError> {
        let width = dma::iommu_address_width(&self.pci.sysfs_path);
        dma::check_iovas(self.addr(), region.segments(), width)?;
        DmaMapping::new(self.vfio.container.clone(), self.device.clone(), region)
    }

    /// How many MSI-X vectors the device has (0 without MSI-X).
    pub fn msix_vector_count(&self) -> u32 {
        self.device
            .get_irq_info(VFIO_PCI_MSIX_IRQ_INDEX)
            .map_or(0, |irq| irq.count)
    }

    /// Enables MSI-X vectors `0..count`, each signalling its own eventfd (for an
    /// rx-interrupt mode); disabled when the [`MsixVectors`] drops.
    pub fn enable_msix(&self, count: u32) -> Result<MsixVectors, VfioError> {
        let addr = self.addr();
        let max = self.msix_vector_count();
        if max == 0 {
            return Err(VfioError::NoMsix { addr });
        }
        if count == 0 || count > max {
            return Err(VfioError::MsixVectors {
                addr,
                asked: count,
                max,
            });
        }
        MsixVectors::enable(self.device.clone(), addr, count)
    }
}

impl fmt::Debug for VfioPciDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VfioPciDevice")
            .field("pci", &self.pci)
            .field("fd", &self.file.as_raw_fd())
            .finish_non_exhaustive()
    }
}

/// The IOMMU group of `pci`, if it has one and is bound to vfio-pci, as VFIO needs.
fn openable(pci: &PciDevice) -> Result<u32, VfioError> {
    let group = pci
        .iommu_group
        .ok_or(VfioError::NoIommuGroup { addr: pci.addr })?;
    pci.require_vfio_pci()?;
    Ok(group)
}

/// Explains why `vfio-ioctls` could not open `pci` in IOMMU group `group`.
fn open_error(pci: &PciDevice, group: u32, source: vfio_ioctls::VfioError) -> VfioError {
    let addr = pci.addr;
    match source {
        vfio_ioctls::VfioError::OpenGroup(io, _) => match io.kind() {
            io::ErrorKind::NotFound => VfioError::GroupMissing { addr, group },
            io::ErrorKind::ResourceBusy => VfioError::GroupBusy { addr, group },
            _ => VfioError::GroupOpen {
                addr,
                group,
                source: io,
            },
        },
        vfio_ioctls::VfioError::GroupViable => {
            let members = pci.iommu_group_devices().unwrap_or_default();
            VfioError::GroupNotViable {
                addr,
                group,
                offenders: not_viable(&members),
            }
        }
        source => VfioError::Open { addr, source },
    }
}

/// The devices of a group that keep it from being viable, as `0000:00:1f.2 on ahci, ...`:
/// those on a driver other than vfio-pci or pci-stub, bridges aside (VFIO allows those).
fn not_viable(members: &[PciDevice]) -> String {
    let offenders: Vec<_> = members
        .iter()
        .filter(|dev| !dev.is_bridge())
        .filter_map(|dev| {
            let driver = dev.driver.as_deref()?;
            (driver != VFIO_PCI_DRIVER && driver != "pci-stub")
                .then(|| format!("{} on {driver}", dev.addr))
        })
        .collect();
    if offenders.is_empty() {
        "the kernel reports a device in it on a host driver".to_owned()
    } else {
        offenders.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn dev(addr: &str, class: u32, driver: Option<&str>) -> PciDevice {
        PciDevice {
            addr: addr.parse().unwrap(),
            vendor_id: 0x8086,
            device_id: 0x1521,
            class,
            numa_node: None,
            driver: driver.map(str::to_owned),
            iommu_group: Some(7),
            sysfs_path: PathBuf::from("/nonexistent"),
        }
    }

    #[test]
    fn reset_request_matches_linux() {
        // VFIO_DEVICE_RESET is 0x3b6f (';' << 8 | 111) in linux/vfio.h.
        assert_eq!(VFIO_DEVICE_RESET, 0x3b6f);
    }

    #[test]
    fn viability_names_devices_on_host_drivers() {
        let group = [
            dev("0000:00:1c.0", 0x060400, Some("pcieport")),
            dev("0000:01:00.0", 0x020000, Some("vfio-pci")),
            dev("0000:01:00.1", 0x020000, Some("igb")),
            dev("0000:01:00.2", 0x020000, None),
            dev("0000:01:00.3", 0x020000, Some("pci-stub")),
            dev("0000:01:00.4", 0x010601, Some("ahci")),
        ];
        assert_eq!(
            not_viable(&group),
            "0000:01:00.1 on igb, 0000:01:00.4 on ahci"
        );
        assert_eq!(
            not_viable(&group[..2]),
            "the kernel reports a device in it on a host driver"
        );
        let err = open_error(&group[1], 7, vfio_ioctls::VfioError::GroupViable);
        // The fake device has no sysfs group directory: the kernel's word stands.
        assert!(
            err.to_string().starts_with(
                "IOMMU group 7 of 0000:01:00.0 is not viable: every device in it must be \
                 bound to vfio-pci or to no driver, but the kernel reports"
            ),
            "{err}"
        );
    }

    #[test]
    fn group_open_failures_are_told_apart() {
        let nic = dev("0000:00:03.0", 0x020000, Some("vfio-pci"));
        let open = |kind: io::ErrorKind| {
            open_error(
                &nic,
                3,
                vfio_ioctls::VfioError::OpenGroup(kind.into(), "3".into()),
            )
        };
        assert!(matches!(
            open(io::ErrorKind::NotFound),
            VfioError::GroupMissing { group: 3, .. }
        ));
        let busy = open(io::ErrorKind::ResourceBusy);
        assert!(
            busy.to_string().contains("in use by another process"),
            "{busy}"
        );
        let denied = open(io::ErrorKind::PermissionDenied);
        assert!(denied.to_string().contains("run as root"), "{denied}");
    }

    #[test]
    fn devices_need_a_group_and_vfio_pci() {
        let mut nic = dev("0000:00:03.0", 0x020000, Some("vfio-pci"));
        assert_eq!(openable(&nic).unwrap(), 7);
        nic.iommu_group = None;
        assert_eq!(
            openable(&nic).unwrap_err().to_string(),
            "no IOMMU group for 0000:00:03.0: enable the IOMMU (intel_iommu=on or \
             amd_iommu=on on the kernel command line, VT-d or AMD-Vi in the firmware), or \
             check the BDF"
        );
        let unbound = dev("0000:00:03.0", 0x020000, Some("e1000e"));
        let err = openable(&unbound).unwrap_err();
        assert!(matches!(err, VfioError::Pci(_)), "{err}");
        assert!(
            err.to_string()
                .ends_with("(its driver is e1000e): run scripts/bind_vfio.sh bind 0000:00:03.0"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_vfio_module_is_named() {
        // On a host without VFIO (as this one may be) the container says what to load.
        if Path::new(super::super::CONTAINER_PATH).exists() {
            return;
        }
        let err = Vfio::open().unwrap_err();
        assert!(matches!(err, VfioError::NoVfio), "{err}");
        assert!(
            err.to_string()
                .starts_with("/dev/vfio/vfio missing: modprobe vfio-pci"),
            "{err}"
        );
    }

    #[test]
    fn handles_cross_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Vfio>();
        assert_send_sync::<VfioPciDevice>();
        assert_send_sync::<DmaMapping>();
        assert_send_sync::<MsixVectors>();
    }
}
