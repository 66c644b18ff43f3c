//! What can go wrong taking a device with VFIO; each message says what to do.

use std::io;

use crate::PciAddr;
use crate::pci::PciError;

/// An error from [`Vfio`](super::Vfio), [`VfioPciDevice`](super::VfioPciDevice) or
/// what they hand out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VfioError {
    /// Reading the device from sysfs failed, or it is not bound to `vfio-pci`.
    #[error(transparent)]
    Pci(#[from] PciError),

    /// The VFIO modules are not loaded.
    #[error(
        "/dev/vfio/vfio missing: modprobe vfio-pci (scripts/bind_vfio.sh bind loads it when \
         binding a device)"
    )]
    NoVfio,

    /// `/dev/vfio/vfio` exists but cannot be opened or used.
    #[error("cannot use the VFIO container /dev/vfio/vfio: {0} (run as root)")]
    Container(#[source] vfio_ioctls::VfioError),

    /// The kernel's VFIO offers no type1 IOMMU backend.
    #[error(
        "VFIO offers no type1 IOMMU: modprobe vfio_iommu_type1, and check that the IOMMU is \
         enabled (intel_iommu=on or amd_iommu=on)"
    )]
    NoType1Iommu,

    /// The device is in no IOMMU group: there is no IOMMU, or it is off.
    #[error(
        "no IOMMU group for {addr}: enable the IOMMU (intel_iommu=on or amd_iommu=on on the \
         kernel command line, VT-d or AMD-Vi in the firmware), or check the BDF"
    )]
    NoIommuGroup { addr: PciAddr },

    /// The group's character device is missing although the device is on vfio-pci.
    #[error(
        "/dev/vfio/{group} missing for {addr}: rebind it (scripts/bind_vfio.sh unbind {addr}, \
         then bind {addr}) and check that devtmpfs is mounted on /dev"
    )]
    GroupMissing { addr: PciAddr, group: u32 },

    /// Another process (or container) holds the group.
    #[error(
        "IOMMU group {group} of {addr} is in use by another process or VFIO container: stop \
         it (another burst or DPDK application, a VM) first"
    )]
    GroupBusy { addr: PciAddr, group: u32 },

    /// The group's character device cannot be opened for another reason.
    #[error("cannot open /dev/vfio/{group} for {addr}: {source} (run as root)")]
    GroupOpen {
        addr: PciAddr,
        group: u32,
        source: io::Error,
    },

    /// Some device in the group is on a host driver, so VFIO will not hand any of them out.
    #[error(
        "IOMMU group {group} of {addr} is not viable: every device in it must be bound to \
         vfio-pci or to no driver, but {offenders}: run scripts/bind_vfio.sh bind for each \
         (see /sys/kernel/iommu_groups/{group}/devices)"
    )]
    GroupNotViable {
        addr: PciAddr,
        group: u32,
        /// The devices on other drivers, as `0000:00:1f.2 on ahci, ...`.
        offenders: String,
    },

    /// Another VFIO step of opening the device failed.
    #[error("cannot open {addr} with VFIO: {source}")]
    Open {
        addr: PciAddr,
        source: vfio_ioctls::VfioError,
    },

    /// Reading or writing the configuration space failed.
    #[error("cannot access the configuration space of {addr} at {offset:#x}: {source}")]
    Config {
        addr: PciAddr,
        offset: u16,
        source: io::Error,
    },

    /// An access past the end of the configuration space.
    #[error(
        "configuration space access of {len} bytes at {offset:#x} is past the {size} bytes of \
         {addr}"
    )]
    ConfigRange {
        addr: PciAddr,
        offset: u16,
        len: usize,
        size: u64,
    },

    /// The BAR does not exist on this device.
    #[error("{addr} has no BAR {index} (BARs 0 to 5 exist only where the device implements them)")]
    NoBar { addr: PciAddr, index: u8 },

    /// The BAR exists but VFIO does not let it be mapped (an I/O port BAR, say).
    #[error("BAR {index} of {addr} cannot be memory-mapped (an I/O port BAR?): use a memory BAR")]
    BarNotMappable { addr: PciAddr, index: u8 },

    /// mmap of the BAR failed.
    #[error(
        "cannot map BAR {index} of {addr}: {source} (a kernel without interrupt remapping \
         refuses BARs that hold the MSI-X table)"
    )]
    BarMap {
        addr: PciAddr,
        index: u8,
        source: io::Error,
    },

    /// The device offers no function, slot or bus reset.
    #[error("{addr} cannot be reset: it offers no function-level, power-management or bus reset")]
    ResetUnsupported { addr: PciAddr },

    /// VFIO_DEVICE_RESET failed.
    #[error("resetting {addr} failed: {source}")]
    Reset { addr: PciAddr, source: io::Error },

    /// A segment's IOVA range overlaps the window the IOMMU keeps for MSI writes.
    #[error(
        "IOVA range {iova:#x}+{len:#x} overlaps the MSI window 0xfee00000-0xfeefffff, which \
         the IOMMU reserves: allocate the memory elsewhere (IOVA-as-VA memory is never \
         there unless mapped at a fixed address)"
    )]
    IovaReserved { iova: u64, len: usize },

    /// A segment's IOVA range ends past what the IOMMU can translate.
    #[error(
        "IOVA range {iova:#x}+{len:#x} is beyond the {width}-bit address width of the IOMMU \
         of {addr}: use --iova-mode=pa, or an IOMMU with a 48-bit width (QEMU: \
         -device intel-iommu,aw-bits=48)"
    )]
    IovaTooWide {
        addr: PciAddr,
        iova: u64,
        len: usize,
        width: u32,
    },

    /// VFIO_IOMMU_MAP_DMA failed.
    #[error("cannot map IOVA range {iova:#x}+{len:#x} for DMA: {source}{hint}")]
    DmaMap {
        iova: u64,
        len: usize,
        source: vfio_ioctls::VfioError,
        /// What to do about it, from the errno (may be empty).
        hint: &'static str,
    },

    /// The device has no MSI-X capability.
    #[error("{addr} has no MSI-X: use polling mode")]
    NoMsix { addr: PciAddr },

    /// More MSI-X vectors asked for than the device has.
    #[error("{addr} has {max} MSI-X vectors, {asked} were asked for: ask for 1 to {max}")]
    MsixVectors { addr: PciAddr, asked: u32, max: u32 },

    /// An eventfd could not be created.
    #[error("cannot create an eventfd for MSI-X: {0} (too many open files? raise ulimit -n)")]
    Eventfd(#[source] io::Error),

    /// VFIO_DEVICE_SET_IRQS failed.
    #[error(
        "cannot enable {vectors} MSI-X vectors on {addr}: {source} (without interrupt \
         remapping, load vfio_iommu_type1 with allow_unsafe_interrupts=1)"
    )]
    MsixEnable {
        addr: PciAddr,
        vectors: u32,
        source: vfio_ioctls::VfioError,
    },
}
