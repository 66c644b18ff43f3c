//! virtio over PCI, the modern (1.x) interface, as the Virtual I/O Device (VIRTIO)
//! Version 1.1 specification (OASIS, virtio-v1.1-cs01) lays it out: §2.1 (device
//! status), §4.1.4 (the vendor-specific capabilities that locate each configuration
//! structure in a BAR), §4.1.4.3 (common configuration), §4.1.4.4 (notifications) and
//! §6 (feature bits of every device type).
//!
//! The structures are windows of the device's memory BARs; [`Window`] reads and writes
//! their fields at offsets checked against the structure's length, so a device that
//! advertises a short structure makes the driver panic rather than touch another one.

use std::sync::Arc;
use std::time::Duration;

use burst_eal::pci::PciCapability;
use burst_eal::vfio::{Bar, VfioError, VfioPciDevice};

use crate::drivers::wait_for;

/// `cfg_type` of `struct virtio_pci_cap`: common configuration.
pub const VIRTIO_PCI_CAP_COMMON_CFG: u8 = 1;
/// `cfg_type`: notifications.
pub const VIRTIO_PCI_CAP_NOTIFY_CFG: u8 = 2;
/// `cfg_type`: ISR status.
pub const VIRTIO_PCI_CAP_ISR_CFG: u8 = 3;
/// `cfg_type`: device-specific configuration.
pub const VIRTIO_PCI_CAP_DEVICE_CFG: u8 = 4;
/// `cfg_type`: PCI configuration access (a window through config space; not used).
pub const VIRTIO_PCI_CAP_PCI_CFG: u8 = 5;

/// Offsets in `struct virtio_pci_cap` (§4.1.4) from the capability's start.
const CAP_CFG_TYPE: u16 = 3;
const CAP_BAR: u16 = 4;
const CAP_OFFSET: u16 = 8;
const CAP_LENGTH: u16 = 12;
/// `cap_len` of a `struct virtio_pci_cap`, and of a `struct virtio_pci_notify_cap`,
/// which adds `notify_off_multiplier` at offset 16.
const CAP_LEN: u8 = 16;
const NOTIFY_CAP_LEN: u8 = 20;
const CAP_NOTIFY_OFF_MULTIPLIER: u16 = 16;

/// Fields of `struct virtio_pci_common_cfg` (§4.1.4.3), as offsets.
pub const DEVICE_FEATURE_SELECT: usize = 0x00;
/// Device features, 32 bits at a time (the half chosen by `device_feature_select`).
pub const DEVICE_FEATURE: usize = 0x04;
/// Which half of the driver features `driver_feature` shows.
pub const DRIVER_FEATURE_SELECT: usize = 0x08;
/// Driver (accepted) features, 32 bits at a time.
pub const DRIVER_FEATURE: usize = 0x0c;
/// MSI-X vector for configuration changes.
pub const MSIX_CONFIG: usize = 0x10;
/// Virtqueues the device has.
pub const NUM_QUEUES: usize = 0x12;
/// Device status (§2.1).
pub const DEVICE_STATUS: usize = 0x14;
/// Changes whenever the device configuration changes.
pub const CONFIG_GENERATION: usize = 0x15;
/// Which virtqueue the `queue_*` fields show.
pub const QUEUE_SELECT: usize = 0x16;
/// Size of the selected virtqueue: the device's maximum, until the driver writes less.
pub const QUEUE_SIZE: usize = 0x18;
/// MSI-X vector of the selected virtqueue.
pub const QUEUE_MSIX_VECTOR: usize = 0x1a;
/// Whether the selected virtqueue is enabled.
pub const QUEUE_ENABLE: usize = 0x1c;
/// The selected virtqueue's notification offset, in `notify_off_multiplier` units.
pub const QUEUE_NOTIFY_OFF: usize = 0x1e;
/// IOVA of the selected virtqueue's descriptor table (64 bits).
pub const QUEUE_DESC: usize = 0x20;
/// IOVA of its driver area, the available ring (64 bits).
pub const QUEUE_DRIVER: usize = 0x28;
/// IOVA of its device area, the used ring (64 bits).
pub const QUEUE_DEVICE: usize = 0x30;
/// Bytes of the common configuration this driver uses.
const COMMON_CFG_LEN: usize = 0x38;

/// Device status bit: the guest found the device.
pub const ACKNOWLEDGE: u8 = 1;
/// Device status bit: the guest knows how to drive it.
pub const DRIVER: u8 = 2;
/// Device status bit: the driver is ready; the device is live.
pub const DRIVER_OK: u8 = 4;
/// Device status bit: feature negotiation is complete (the device clears it if it
/// refuses the features written).
pub const FEATURES_OK: u8 = 8;
/// Device status bit: the device hit an error and needs a reset.
pub const DEVICE_NEEDS_RESET: u8 = 64;
/// Device status bit: the driver gave up on the device.
pub const FAILED: u8 = 128;

/// Feature bit 32: the device follows virtio 1.x (not legacy 0.9.5).
pub const VIRTIO_F_VERSION_1: u64 = 1 << 32;
/// Feature bit 33: the device's DMA goes through the platform's IOMMU, so descriptors
/// carry IOVAs (QEMU: `iommu_platform=on`).
pub const VIRTIO_F_ACCESS_PLATFORM: u64 = 1 << 33;

/// An MSI-X vector field's "no vector" value.
pub const VIRTIO_MSI_NO_VECTOR: u16 = 0xffff;

/// How long a reset may take the device.
const RESET_TIMEOUT: Duration = Duration::from_millis(500);

/// One vendor-specific capability of a virtio device (`struct virtio_pci_cap`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VirtioCap {
    /// Which structure: `VIRTIO_PCI_CAP_*`.
    pub cfg_type: u8,
    /// The BAR holding it.
    pub bar: u8,
    /// Where it starts in the BAR.
    pub offset: u32,
    /// Its length in bytes.
    pub length: u32,
    /// For the notification structure, the multiplier of `queue_notify_off`; 0 else.
    pub notify_off_multiplier: u32,
}

/// Reads the virtio capabilities among `caps` (the device's PCI capability list) from
/// configuration space through `read`, which fills a buffer at an offset. Capabilities
/// too short for their type are skipped, as the spec asks of unknown ones.
pub fn virtio_caps<E>(
    caps: &[PciCapability],
    mut read: impl FnMut(u16, &mut [u8]) -> Result<(), E>,
) -> Result<Vec<VirtioCap>, E> {
    let mut found = Vec::new();
    for cap in caps.iter().filter(|c| c.id == PciCapability::VENDOR) {
        let at = u16::from(cap.offset);
        let mut raw = [0u8; NOTIFY_CAP_LEN as usize];
        read(at, &mut raw[..CAP_LEN as usize])?;
        let cap_len = raw[2];
        let cfg_type = raw[CAP_CFG_TYPE as usize];
        let u32_at = |raw: &[u8], off: u16| {
            let off = off as usize;
            u32::from_le_bytes(raw[off..off + 4].try_into().expect("4 bytes"))
        };
        let notify = cfg_type == VIRTIO_PCI_CAP_NOTIFY_CFG;
        if cap_len < CAP_LEN || (notify && cap_len < NOTIFY_CAP_LEN) {
            continue;
        }
        let notify_off_multiplier = if notify {
            read(at + CAP_LEN as u16, &mut raw[CAP_LEN as usize..])?;
            u32_at(&raw, CAP_NOTIFY_OFF_MULTIPLIER)
        } else {
            0
        };
        found.push(VirtioCap {
            cfg_type,
            bar: raw[CAP_BAR as usize],
            offset: u32_at(&raw, CAP_OFFSET),
            length: u32_at(&raw, CAP_LENGTH),
            notify_off_multiplier,
        });
    }
    Ok(found)
}

/// A configuration structure: `len` bytes at `offset` of a mapped BAR.
#[derive(Clone)]
pub struct Window {
    bar: Arc<Bar>,
    offset: usize,
    len: usize,
}

impl Window {
    /// The BAR offset of a `size`-byte field at `at`.
    ///
    /// # Panics
    /// If the field is not inside the structure.
    fn at(&self, at: usize, size: usize) -> usize {
        assert!(
            at + size <= self.len,
            "virtio structure access of {size} bytes at {at:#x} is past its end ({:#x} bytes)",
            self.len
        );
        self.offset + at
    }

    /// The byte at `at`.
    pub fn read8(&self, at: usize) -> u8 {
        self.bar.read8(self.at(at, 1))
    }

    /// The little-endian 16-bit field at `at`.
    pub fn read16(&self, at: usize) -> u16 {
        self.bar.read16(self.at(at, 2))
    }

    /// The little-endian 32-bit field at `at`.
    pub fn read32(&self, at: usize) -> u32 {
        self.bar.read32(self.at(at, 4))
    }

    /// Writes the byte at `at`.
    pub fn write8(&self, at: usize, v: u8) {
        self.bar.write8(self.at(at, 1), v);
    }

    /// Writes the 16-bit field at `at`.
    pub fn write16(&self, at: usize, v: u16) {
        self.bar.write16(self.at(at, 2), v);
    }

    /// Writes the 32-bit field at `at`.
    pub fn write32(&self, at: usize, v: u32) {
        self.bar.write32(self.at(at, 4), v);
    }

    /// Writes a 64-bit field as two 32-bit halves, low first, as §4.1.3.1 allows
    /// drivers to (not every device takes 64-bit accesses).
    pub fn write64(&self, at: usize, v: u64) {
        self.write32(at, v as u32);
        self.write32(at + 4, (v >> 32) as u32);
    }
}

/// Why the virtio structures could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CapError {
    /// A required structure is not advertised.
    #[error(
        "no virtio {0} capability: is this a modern (virtio 1.x) device? (QEMU: disable-legacy=on)"
    )]
    Missing(&'static str),
    /// A structure does not fit its BAR, or is too short.
    #[error(
        "the virtio {what} structure ({len:#x} bytes at {offset:#x} of BAR {bar}) does not \
         fit the BAR ({bar_len:#x} bytes) or is shorter than {need:#x} bytes"
    )]
    BadWindow {
        /// Which structure.
        what: &'static str,
        /// Its BAR.
        bar: u8,
        /// Its offset.
        offset: u32,
        /// Its length.
        len: u32,
        /// The BAR's length.
        bar_len: usize,
        /// The least length the driver needs.
        need: usize,
    },
    /// VFIO failed to read configuration space or map a BAR.
    #[error(transparent)]
    Vfio(#[from] VfioError),
}

/// The structures the driver uses, each in its mapped BAR.
pub struct Structures {
    /// Common configuration.
    pub common: CommonCfg,
    /// The notification structure.
    pub notify: Window,
    /// Multiplier of each queue's `queue_notify_off`.
    pub notify_off_multiplier: u32,
    /// The device-specific configuration.
    pub device: Window,
}

/// Finds the common, notification and device configuration structures of `dev` (the
/// first of each type, as §4.1.4 asks), checks they fit their BARs, and maps the BARs
/// they use, each once. The ISR structure is not used: the queues are polled with
/// interrupts suppressed, and the link is read from the device configuration.
pub fn map_structures(dev: &VfioPciDevice, device_cfg_len: usize) -> Result<Structures, CapError> {
    let caps = virtio_caps(&dev.capabilities()?, |at, buf| dev.read_config(at, buf))?;
    for cap in &caps {
        log::debug!("{}: virtio capability {cap:?}", dev.addr());
    }
    let mut bars: Vec<Arc<Bar>> = Vec::new();
    let mut window = |cfg_type: u8, what: &'static str, need: usize| {
        let cap = caps
            .iter()
            .find(|c| c.cfg_type == cfg_type && c.bar < 6)
            .ok_or(CapError::Missing(what))?;
        let bar = match bars.iter().find(|b| b.index() == cap.bar) {
            Some(bar) => Arc::clone(bar),
            None => {
                let bar = Arc::new(dev.bar(cap.bar)?);
                bars.push(Arc::clone(&bar));
                bar
            }
        };
        let (offset, len) = (cap.offset as usize, cap.length as usize);
        if len < need || offset.checked_add(len).is_none_or(|end| end > bar.len()) {
            return Err(CapError::BadWindow {
                what,
                bar: cap.bar,
                offset: cap.offset,
                len: cap.length,
                bar_len: bar.len(),
                need,
            });
        }
        Ok((Window { bar, offset, len }, cap.notify_off_multiplier))
    };
    let (common, _) = window(VIRTIO_PCI_CAP_COMMON_CFG, "common_cfg", COMMON_CFG_LEN)?;
    let (notify, notify_off_multiplier) = window(VIRTIO_PCI_CAP_NOTIFY_CFG, "notify_cfg", 2)?;
    let (device, _) = window(VIRTIO_PCI_CAP_DEVICE_CFG, "device_cfg", device_cfg_len)?;
    Ok(Structures {
        common: CommonCfg(common),
        notify,
        notify_off_multiplier,
        device,
    })
}

/// The common configuration structure (§4.1.4.3): features, status, virtqueues.
pub struct CommonCfg(Window);

impl CommonCfg {
    /// The device status.
    pub fn status(&self) -> u8 {
        self.0.read8(DEVICE_STATUS)
    }

    /// Sets `bits` in the device status, keeping those set.
    pub fn add_status(&self, bits: u8) {
        self.0.write8(DEVICE_STATUS, self.status() | bits);
    }

    /// Resets the device (status 0) and waits until it reads back 0, as §4.1.4.3.2
    /// requires before the device is used again: then it neither reads nor writes the
    /// virtqueues any more. Whether it did in time.
    pub fn reset(&self) -> bool {
        self.0.write8(DEVICE_STATUS, 0);
        wait_for(RESET_TIMEOUT, || self.status() == 0)
    }

    /// The 64 feature bits the device offers.
    pub fn device_features(&self) -> u64 {
        self.0.write32(DEVICE_FEATURE_SELECT, 0);
        let low = self.0.read32(DEVICE_FEATURE);
        self.0.write32(DEVICE_FEATURE_SELECT, 1);
        let high = self.0.read32(DEVICE_FEATURE);
        u64::from(high) << 32 | u64::from(low)
    }

    /// Writes the features the driver accepts.
    pub fn set_driver_features(&self, features: u64) {
        self.0.write32(DRIVER_FEATURE_SELECT, 0);
        self.0.write32(DRIVER_FEATURE, features as u32);
        self.0.write32(DRIVER_FEATURE_SELECT, 1);
        self.0.write32(DRIVER_FEATURE, (features >> 32) as u32);
    }

    /// The device's virtqueue count.
    pub fn num_queues(&self) -> u16 {
        self.0.read16(NUM_QUEUES)
    }

    /// The configuration generation, to read the device configuration consistently.
    pub fn config_generation(&self) -> u8 {
        self.0.read8(CONFIG_GENERATION)
    }

    /// Turns configuration-change interrupts off: the driver polls.
    pub fn disable_config_vector(&self) {
        self.0.write16(MSIX_CONFIG, VIRTIO_MSI_NO_VECTOR);
    }

    /// Selects virtqueue `queue` for the `queue_*` accessors.
    pub fn select_queue(&self, queue: u16) {
        self.0.write16(QUEUE_SELECT, queue);
    }

    /// The selected virtqueue's size (its maximum until set; 0 if it does not exist).
    pub fn queue_size(&self) -> u16 {
        self.0.read16(QUEUE_SIZE)
    }

    /// The selected virtqueue's notification offset.
    pub fn queue_notify_off(&self) -> u16 {
        self.0.read16(QUEUE_NOTIFY_OFF)
    }

    /// Sets up the selected virtqueue: `size` entries, rings at the given IOVAs, no
    /// interrupt vector; then enables it. Must precede `DRIVER_OK`.
    pub fn enable_queue(&self, size: u16, desc: u64, driver: u64, device: u64) {
        self.0.write16(QUEUE_SIZE, size);
        self.0.write16(QUEUE_MSIX_VECTOR, VIRTIO_MSI_NO_VECTOR);
        self.0.write64(QUEUE_DESC, desc);
        self.0.write64(QUEUE_DRIVER, driver);
        self.0.write64(QUEUE_DEVICE, device);
        self.0.write16(QUEUE_ENABLE, 1);
    }
}

/// Where the driver tells the device that a virtqueue has new buffers: a 16-bit write of
/// the queue's index at `notify.offset + queue_notify_off * notify_off_multiplier`
/// (§4.1.4.4).
#[derive(Clone)]
pub struct Notifier {
    bar: Arc<Bar>,
    at: usize,
    queue: u16,
}

impl Notifier {
    /// The notifier of virtqueue `queue`, whose `queue_notify_off` is `notify_off`;
    /// `None` if the address is outside the notification structure.
    pub fn new(notify: &Window, multiplier: u32, queue: u16, notify_off: u16) -> Option<Self> {
        let at = usize::from(notify_off).checked_mul(multiplier as usize)?;
        (at.checked_add(2)? <= notify.len).then(|| Self {
            bar: Arc::clone(&notify.bar),
            at: notify.offset + at,
            queue,
        })
    }

    /// Notifies the device: one MMIO write.
    #[inline(always)]
    pub fn notify(&self) {
        self.bar.write16(self.at, self.queue);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A virtio-net-pci capability list like QEMU's (modern only), as config space
    /// bytes, with a truncated notification capability at the end.
    fn config_space() -> (Vec<u8>, Vec<PciCapability>) {
        let mut cfg = vec![0u8; 256];
        let mut caps = Vec::new();
        // (offset, cap_len, cfg_type, bar, bar offset, length, notify_off_multiplier)
        let list: [(u8, u8, u8, u8, u32, u32, u32); 6] = [
            (0x40, 16, VIRTIO_PCI_CAP_COMMON_CFG, 4, 0x0000, 0x1000, 0),
            (0x54, 16, VIRTIO_PCI_CAP_ISR_CFG, 4, 0x1000, 0x1000, 0),
            (0x68, 20, VIRTIO_PCI_CAP_NOTIFY_CFG, 4, 0x3000, 0x1000, 4),
            (0x80, 16, VIRTIO_PCI_CAP_DEVICE_CFG, 4, 0x2000, 0x1000, 0),
            (0x94, 20, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0, 0),
            (0xac, 16, VIRTIO_PCI_CAP_NOTIFY_CFG, 4, 0x3000, 0x1000, 0),
        ];
        for (at, len, cfg_type, bar, offset, length, multiplier) in list {
            let a = usize::from(at);
            cfg[a] = PciCapability::VENDOR;
            cfg[a + 2] = len;
            cfg[a + 3] = cfg_type;
            cfg[a + 4] = bar;
            cfg[a + 8..a + 12].copy_from_slice(&offset.to_le_bytes());
            cfg[a + 12..a + 16].copy_from_slice(&length.to_le_bytes());
            if len == 20 {
                cfg[a + 16..a + 20].copy_from_slice(&multiplier.to_le_bytes());
            }
            caps.push(PciCapability {
                id: PciCapability::VENDOR,
                offset: at,
            });
        }
        caps.push(PciCapability {
            id: PciCapability::MSIX,
            offset: 0xc0,
        });
        (cfg, caps)
    }

    #[test]
    fn capabilities_are_read_from_config_space() {
        let (cfg, caps) = config_space();
        let found = virtio_caps(&caps, |at, buf: &mut [u8]| {
            let at = at as usize;
            buf.copy_from_slice(&cfg[at..at + buf.len()]);
            Ok::<_, ()>(())
        })
        .unwrap();
        assert_eq!(found.len(), 5, "the truncated one is skipped: {found:?}");
        let notify = found.iter().find(|c| c.cfg_type == 2).unwrap();
        assert_eq!(
            *notify,
            VirtioCap {
                cfg_type: VIRTIO_PCI_CAP_NOTIFY_CFG,
                bar: 4,
                offset: 0x3000,
                length: 0x1000,
                notify_off_multiplier: 4,
            }
        );
        let common = found.iter().find(|c| c.cfg_type == 1).unwrap();
        assert_eq!((common.bar, common.offset, common.length), (4, 0, 0x1000));
        assert_eq!(common.notify_off_multiplier, 0);
    }
}
