//! The PCI bus as Linux shows it in sysfs (DPDK's PCI bus scan, `drivers/bus/pci/linux`).
//!
//! [`scan`] lists every device under `/sys/bus/pci/devices` with its IDs, class, NUMA
//! node, kernel driver and IOMMU group; [`scan_allowed`] keeps those the EAL's
//! `-a`/`-b`/`--no-pci` options select, with their driver arguments. A user-space driver
//! can only take a device that is bound to `vfio-pci`: [`PciDevice::require_vfio_pci`]
//! says how to bind one that is not.
//!
//! [`PciBus::with_sysfs`] reads another sysfs root, so tests can scan a fake tree.
//! [`PciCapability`] and [`capabilities`] walk a device's capability list in its
//! configuration space, however that space is read (VFIO's config region, a test array).

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::{Eal, PciAddr, PciDevargs};

/// The kernel driver a device must be bound to for burst's VFIO drivers.
pub const VFIO_PCI_DRIVER: &str = "vfio-pci";

/// Where sysfs is mounted on a running system.
const SYSFS: &str = "/sys";

/// A PCI function as sysfs describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PciDevice {
    /// Its address, e.g. `0000:00:03.0`.
    pub addr: PciAddr,
    /// The vendor ID (`8086` for Intel, `1af4` for virtio).
    pub vendor_id: u16,
    /// The device ID (`10d3` for the 82574L that QEMU's e1000e emulates).
    pub device_id: u16,
    /// Base class, subclass and programming interface, e.g. `0x020000` (Ethernet).
    pub class: u32,
    /// The NUMA node the device is attached to, if the platform says.
    pub numa_node: Option<u32>,
    /// The kernel driver bound to it (`vfio-pci`, `e1000e`, ...), if any.
    pub driver: Option<String>,
    /// Its IOMMU group; `None` without an enabled IOMMU.
    pub iommu_group: Option<u32>,
    /// Its directory in sysfs: what VFIO opens the device by.
    pub sysfs_path: PathBuf,
}

/// Why a scan or a lookup failed; each message says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PciError {
    /// A sysfs file or directory could not be read.
    #[error("cannot read {}: {source} (is sysfs mounted at /sys?)", path.display())]
    Sysfs { path: PathBuf, source: io::Error },

    /// A sysfs attribute does not hold what the kernel writes there.
    #[error("unexpected contents {value:?} in {}", path.display())]
    BadAttribute { path: PathBuf, value: String },

    /// No device has this address.
    #[error(
        "no PCI device {addr}: wrong BDF? (scripts/bind_vfio.sh status lists the network \
         devices, lspci -D all of them)"
    )]
    NoSuchDevice { addr: PciAddr },

    /// The device is bound to another driver, or to none.
    #[error(
        "{addr} ({vendor_id:04x}:{device_id:04x}) is not bound to vfio-pci ({}): run \
         scripts/bind_vfio.sh bind {addr}",
        match driver {
            Some(driver) => format!("its driver is {driver}"),
            None => "it has no driver".to_owned(),
        }
    )]
    NotBoundToVfio {
        addr: PciAddr,
        vendor_id: u16,
        device_id: u16,
        driver: Option<String>,
    },

    /// The device is in no IOMMU group, so vfio-pci cannot take it: binding would not
    /// help.
    #[error(
        "{addr} ({vendor_id:04x}:{device_id:04x}) is in no IOMMU group: enable the IOMMU \
         (intel_iommu=on or amd_iommu=on on the kernel command line, VT-d or AMD-Vi in the \
         firmware), then run scripts/bind_vfio.sh bind {addr}"
    )]
    NoIommuGroup {
        addr: PciAddr,
        vendor_id: u16,
        device_id: u16,
    },
}

/// A device the EAL's options select for probing, with the driver arguments from `-a`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AllowedDevice {
    /// The device.
    pub device: PciDevice,
    /// `key=value` pairs given after its address with `-a` (empty if none).
    pub args: Vec<(String, String)>,
}

/// The PCI devices of one sysfs tree: `/sys` by default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PciBus {
    sysfs: PathBuf,
}

impl Default for PciBus {
    /// The running system's bus, under `/sys`.
    fn default() -> Self {
        Self::with_sysfs(SYSFS)
    }
}

impl PciBus {
    /// The bus of the sysfs mounted at `root` (a fake tree in tests).
    pub fn with_sysfs(root: impl Into<PathBuf>) -> Self {
        Self { sysfs: root.into() }
    }

    fn devices_dir(&self) -> PathBuf {
        self.sysfs.join("bus/pci/devices")
    }

    /// Every PCI device, sorted by address.
    pub fn scan(&self) -> Result<Vec<PciDevice>, PciError> {
        let dir = self.devices_dir();
        let entries = fs::read_dir(&dir).map_err(|source| PciError::Sysfs {
            path: dir.clone(),
            source,
        })?;
        let mut devices = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| PciError::Sysfs {
                path: dir.clone(),
                source,
            })?;
            let name = entry.file_name();
            let Some(addr) = name.to_str().and_then(|name| name.parse::<PciAddr>().ok()) else {
                log::debug!(
                    "skipping {:?} in {}: not a PCI address",
                    name,
                    dir.display()
                );
                continue;
            };
            devices.push(read_device(addr, entry.path())?);
        }
        devices.sort_by_key(|device| device.addr);
        Ok(devices)
    }

    /// The device at `addr`.
    pub fn device(&self, addr: PciAddr) -> Result<PciDevice, PciError> {
        let path = self.devices_dir().join(addr.to_string());
        if !path.exists() {
            return Err(PciError::NoSuchDevice { addr });
        }
        read_device(addr, path)
    }

    /// The devices `eal`'s options select (DPDK's bus scan with its devargs): with `-a`,
    /// exactly those, in command-line order, each of which must exist; otherwise every
    /// device but the `-b` ones, by address; none with `--no-pci`.
    pub fn scan_allowed(&self, eal: &Eal) -> Result<Vec<AllowedDevice>, PciError> {
        if eal.no_pci() {
            return Ok(Vec::new());
        }
        select(self.scan()?, eal.pci_allow_list(), |addr| {
            eal.pci_allowed(addr)
        })
    }
}

/// [`PciBus::scan`] of the running system.
pub fn scan() -> Result<Vec<PciDevice>, PciError> {
    PciBus::default().scan()
}

/// [`PciBus::scan_allowed`] of the running system.
pub fn scan_allowed(eal: &Eal) -> Result<Vec<AllowedDevice>, PciError> {
    PciBus::default().scan_allowed(eal)
}

/// Picks from `devices` what the allow list names (in its order), or, without one, what
/// `allowed` lets through.
fn select<'a>(
    devices: Vec<PciDevice>,
    allow_list: &[PciDevargs],
    allowed: impl Fn(PciAddr) -> Option<&'a [(String, String)]>,
) -> Result<Vec<AllowedDevice>, PciError> {
    if allow_list.is_empty() {
        return Ok(devices
            .into_iter()
            .filter_map(|device| {
                let args = allowed(device.addr)?.to_vec();
                Some(AllowedDevice { device, args })
            })
            .collect());
    }
    allow_list
        .iter()
        .map(|wanted| {
            let device = devices
                .iter()
                .find(|device| device.addr == wanted.addr())
                .ok_or(PciError::NoSuchDevice {
                    addr: wanted.addr(),
                })?;
            Ok(AllowedDevice {
                device: device.clone(),
                args: wanted.args().to_vec(),
            })
        })
        .collect()
}

impl PciDevice {
    /// Fails, saying what to do, unless the device is bound to `vfio-pci`: enable the
    /// IOMMU first if the device is in no IOMMU group (vfio-pci needs one), else bind it.
    pub fn require_vfio_pci(&self) -> Result<(), PciError> {
        if self.driver.as_deref() == Some(VFIO_PCI_DRIVER) {
            return Ok(());
        }
        if self.iommu_group.is_none() {
            return Err(PciError::NoIommuGroup {
                addr: self.addr,
                vendor_id: self.vendor_id,
                device_id: self.device_id,
            });
        }
        Err(PciError::NotBoundToVfio {
            addr: self.addr,
            vendor_id: self.vendor_id,
            device_id: self.device_id,
            driver: self.driver.clone(),
        })
    }

    /// Whether the device is a PCI-to-PCI bridge (class 06:04), which may share an IOMMU
    /// group with devices behind it whatever driver it has.
    pub fn is_bridge(&self) -> bool {
        self.class >> 8 == 0x0604
    }

    /// The PCI devices in the same IOMMU group, this one included, by address (empty
    /// without a group).
    pub fn iommu_group_devices(&self) -> Result<Vec<PciDevice>, PciError> {
        if self.iommu_group.is_none() {
            return Ok(Vec::new());
        }
        let dir = self.sysfs_path.join("iommu_group/devices");
        let entries = fs::read_dir(&dir).map_err(|source| PciError::Sysfs {
            path: dir.clone(),
            source,
        })?;
        let mut devices = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| PciError::Sysfs {
                path: dir.clone(),
                source,
            })?;
            // Groups may hold non-PCI devices too; only PCI ones have addresses.
            if let Some(addr) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                devices.push(read_device(addr, entry.path())?);
            }
        }
        devices.sort_by_key(|device| device.addr);
        Ok(devices)
    }
}

impl fmt::Display for PciDevice {
    /// `0000:00:03.0 8086:10d3 class 020000 driver vfio-pci group 3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:04x}:{:04x} class {:06x} driver {}",
            self.addr,
            self.vendor_id,
            self.device_id,
            self.class,
            self.driver.as_deref().unwrap_or("-")
        )?;
        match self.iommu_group {
            Some(group) => write!(f, " group {group}"),
            None => write!(f, " group -"),
        }
    }
}

/// Reads the device whose sysfs directory is `dir`.
fn read_device(addr: PciAddr, dir: PathBuf) -> Result<PciDevice, PciError> {
    let hex = |name: &str, max: u32| -> Result<u32, PciError> {
        let path = dir.join(name);
        let text = read_attr(&path)?;
        text.strip_prefix("0x")
            .and_then(|digits| u32::from_str_radix(digits, 16).ok())
            .filter(|&value| value <= max)
            .ok_or(PciError::BadAttribute { path, value: text })
    };
    let id = |name| hex(name, 0xffff).map(|v| v as u16);
    let numa_path = dir.join("numa_node");
    let numa_node = match read_attr(&numa_path) {
        Ok(text) => match text.parse::<i32>() {
            // The kernel writes -1 when the platform does not say.
            Ok(node) => u32::try_from(node).ok(),
            Err(_) => {
                return Err(PciError::BadAttribute {
                    path: numa_path,
                    value: text,
                });
            }
        },
        // Kernels without NUMA support have no such file.
        Err(_) if !numa_path.exists() => None,
        Err(err) => return Err(err),
    };
    let link_name = |name: &str| {
        let target = fs::read_link(dir.join(name)).ok()?;
        Some(target.file_name()?.to_str()?.to_owned())
    };
    let iommu_group = match link_name("iommu_group") {
        Some(name) => Some(name.parse().map_err(|_| PciError::BadAttribute {
            path: dir.join("iommu_group"),
            value: name,
        })?),
        None => None,
    };
    Ok(PciDevice {
        addr,
        vendor_id: id("vendor")?,
        device_id: id("device")?,
        class: hex("class", 0xff_ffff)?,
        numa_node,
        driver: link_name("driver"),
        iommu_group,
        sysfs_path: dir,
    })
}

/// A sysfs attribute's value without the trailing newline.
fn read_attr(path: &Path) -> Result<String, PciError> {
    fs::read_to_string(path)
        .map(|text| text.trim_end().to_owned())
        .map_err(|source| PciError::Sysfs {
            path: path.to_owned(),
            source,
        })
}

/// One entry of a device's capability list (PCI Local Bus 3.0, 6.7), in the first 256
/// bytes of its configuration space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciCapability {
    /// The capability ID: one of the constants on this type, or another.
    pub id: u8,
    /// Where its structure starts in configuration space.
    pub offset: u8,
}

impl PciCapability {
    /// Power management.
    pub const PM: u8 = 0x01;
    /// MSI.
    pub const MSI: u8 = 0x05;
    /// Vendor-specific (virtio's configuration structures are these).
    pub const VENDOR: u8 = 0x09;
    /// PCI Express.
    pub const EXP: u8 = 0x10;
    /// MSI-X.
    pub const MSIX: u8 = 0x11;
}

/// The status register, whose bit 4 says a capability list exists.
const STATUS: u16 = 0x06;
const STATUS_CAP_LIST: u8 = 1 << 4;
/// The pointer to the first capability.
const CAPABILITY_LIST: u16 = 0x34;
/// A list longer than fits in the 192 bytes after the header is a loop.
const MAX_CAPABILITIES: usize = 48;

/// Walks the capability list of a configuration space that `read8` reads byte by byte,
/// in list order. A malformed list (pointing into the header, or looping) ends the walk.
pub fn capabilities<E>(
    mut read8: impl FnMut(u16) -> Result<u8, E>,
) -> Result<Vec<PciCapability>, E> {
    let mut caps = Vec::new();
    if read8(STATUS)? & STATUS_CAP_LIST == 0 {
        return Ok(caps);
    }
    // The bottom two bits of a pointer are reserved.
    let mut offset = read8(CAPABILITY_LIST)? & !3;
    while offset >= 0x40 && caps.len() < MAX_CAPABILITIES {
        caps.push(PciCapability {
            id: read8(offset.into())?,
            offset,
        });
        offset = read8(u16::from(offset) + 1)? & !3;
    }
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A fake sysfs tree in a temporary directory, removed on drop.
    struct FakeSysfs {
        root: PathBuf,
    }

    impl FakeSysfs {
        fn new() -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let root = std::env::temp_dir().join(format!(
                "burst-pci-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            fs::create_dir_all(root.join("bus/pci/devices")).unwrap();
            Self { root }
        }

        /// Adds a device as the kernel lays it out: attributes, and `driver` and
        /// `iommu_group` links to the driver's and group's directories.
        fn add(
            &self,
            bdf: &str,
            ids: (&str, &str, &str),
            numa: Option<&str>,
            driver: Option<&str>,
            group: Option<u32>,
        ) -> PathBuf {
            let dir = self.root.join("bus/pci/devices").join(bdf);
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join("vendor"), format!("{}\n", ids.0)).unwrap();
            fs::write(dir.join("device"), format!("{}\n", ids.1)).unwrap();
            fs::write(dir.join("class"), format!("{}\n", ids.2)).unwrap();
            if let Some(numa) = numa {
                fs::write(dir.join("numa_node"), format!("{numa}\n")).unwrap();
            }
            if let Some(driver) = driver {
                let drv = self.root.join("bus/pci/drivers").join(driver);
                fs::create_dir_all(&drv).unwrap();
                symlink(&drv, dir.join("driver")).unwrap();
            }
            if let Some(group) = group {
                let grp = self
                    .root
                    .join(format!("kernel/iommu_groups/{group}/devices"));
                fs::create_dir_all(&grp).unwrap();
                symlink(&dir, grp.join(bdf)).unwrap();
                symlink(grp.parent().unwrap(), dir.join("iommu_group")).unwrap();
            }
            dir
        }

        fn bus(&self) -> PciBus {
            PciBus::with_sysfs(&self.root)
        }
    }

    impl Drop for FakeSysfs {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.root);
        }
    }

    fn addr(text: &str) -> PciAddr {
        text.parse().unwrap()
    }

    /// The guest's two NICs, a host bridge without a driver or group, and an entry
    /// that is not a PCI address.
    fn guest_like() -> FakeSysfs {
        let sysfs = FakeSysfs::new();
        sysfs.add(
            "0000:00:04.0",
            ("0x1af4", "0x1041", "0x020000"),
            Some("-1"),
            Some("vfio-pci"),
            Some(4),
        );
        sysfs.add(
            "0000:00:03.0",
            ("0x8086", "0x10d3", "0x020000"),
            Some("0"),
            Some("vfio-pci"),
            Some(3),
        );
        sysfs.add(
            "0000:00:00.0",
            ("0x8086", "0x29c0", "0x060000"),
            None,
            None,
            None,
        );
        fs::create_dir_all(sysfs.root.join("bus/pci/devices/not-a-bdf")).unwrap();
        sysfs
    }

    #[test]
    fn scan_reads_ids_driver_group_and_numa_node() {
        let sysfs = guest_like();
        let devices = sysfs.bus().scan().unwrap();
        let addrs: Vec<_> = devices.iter().map(|d| d.addr.to_string()).collect();
        assert_eq!(addrs, ["0000:00:00.0", "0000:00:03.0", "0000:00:04.0"]);

        let e1000e = &devices[1];
        assert_eq!((e1000e.vendor_id, e1000e.device_id), (0x8086, 0x10d3));
        assert_eq!(e1000e.class, 0x020000);
        assert_eq!(e1000e.numa_node, Some(0));
        assert_eq!(e1000e.driver.as_deref(), Some("vfio-pci"));
        assert_eq!(e1000e.iommu_group, Some(3));
        assert_eq!(
            e1000e.sysfs_path,
            sysfs.root.join("bus/pci/devices/0000:00:03.0")
        );
        assert_eq!(
            e1000e.to_string(),
            "0000:00:03.0 8086:10d3 class 020000 driver vfio-pci group 3"
        );
        assert!(e1000e.require_vfio_pci().is_ok());

        assert_eq!(devices[2].numa_node, None, "-1 means unknown");
        let bridge = &devices[0];
        assert_eq!((bridge.driver.as_ref(), bridge.iommu_group), (None, None));
        assert_eq!(bridge.numa_node, None);
        assert!(!bridge.is_bridge(), "a host bridge is 06:00");

        assert_eq!(sysfs.bus().device(addr("00:04.0")).unwrap(), devices[2]);
    }

    #[test]
    fn unknown_addresses_and_missing_sysfs_are_errors() {
        let sysfs = guest_like();
        let err = sysfs.bus().device(addr("0000:00:1f.7")).unwrap_err();
        assert!(matches!(err, PciError::NoSuchDevice { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "no PCI device 0000:00:1f.7: wrong BDF? (scripts/bind_vfio.sh status lists the \
             network devices, lspci -D all of them)"
        );

        let err = PciBus::with_sysfs(sysfs.root.join("nowhere"))
            .scan()
            .unwrap_err();
        assert!(matches!(err, PciError::Sysfs { .. }), "{err}");
        assert!(err.to_string().contains("is sysfs mounted"), "{err}");
    }

    #[test]
    fn malformed_attributes_are_errors() {
        let sysfs = FakeSysfs::new();
        sysfs.add(
            "0000:00:05.0",
            ("8086", "0x10d3", "0x020000"),
            None,
            None,
            None,
        );
        let err = sysfs.bus().scan().unwrap_err();
        assert!(
            matches!(&err, PciError::BadAttribute { value, .. } if value == "8086"),
            "{err}"
        );
        let sysfs = FakeSysfs::new();
        sysfs.add(
            "0000:00:05.0",
            ("0x8086", "0x10d3", "0x020000"),
            Some("zero"),
            None,
            None,
        );
        assert!(matches!(
            sysfs.bus().scan(),
            Err(PciError::BadAttribute { .. })
        ));
    }

    #[test]
    fn unbound_devices_are_told_how_to_bind() {
        let sysfs = FakeSysfs::new();
        sysfs.add(
            "0000:00:03.0",
            ("0x8086", "0x10d3", "0x020000"),
            None,
            Some("e1000e"),
            Some(3),
        );
        sysfs.add(
            "0000:00:04.0",
            ("0x1af4", "0x1041", "0x020000"),
            None,
            None,
            Some(4),
        );
        let devices = sysfs.bus().scan().unwrap();
        assert_eq!(
            devices[0].require_vfio_pci().unwrap_err().to_string(),
            "0000:00:03.0 (8086:10d3) is not bound to vfio-pci (its driver is e1000e): run \
             scripts/bind_vfio.sh bind 0000:00:03.0"
        );
        assert_eq!(
            devices[1].require_vfio_pci().unwrap_err().to_string(),
            "0000:00:04.0 (1af4:1041) is not bound to vfio-pci (it has no driver): run \
             scripts/bind_vfio.sh bind 0000:00:04.0"
        );
    }

    #[test]
    fn devices_without_an_iommu_group_are_told_to_enable_it() {
        let sysfs = FakeSysfs::new();
        sysfs.add(
            "0000:00:03.0",
            ("0x8086", "0x10d3", "0x020000"),
            None,
            None,
            None,
        );
        let devices = sysfs.bus().scan().unwrap();
        assert_eq!(
            devices[0].require_vfio_pci().unwrap_err().to_string(),
            "0000:00:03.0 (8086:10d3) is in no IOMMU group: enable the IOMMU (intel_iommu=on \
             or amd_iommu=on on the kernel command line, VT-d or AMD-Vi in the firmware), then \
             run scripts/bind_vfio.sh bind 0000:00:03.0"
        );
    }

    #[test]
    fn iommu_group_members_are_listed() {
        let sysfs = FakeSysfs::new();
        let nic = sysfs.add(
            "0000:01:00.0",
            ("0x8086", "0x1521", "0x020000"),
            None,
            Some("vfio-pci"),
            Some(7),
        );
        sysfs.add(
            "0000:01:00.1",
            ("0x8086", "0x1521", "0x020000"),
            None,
            Some("igb"),
            Some(7),
        );
        sysfs.add(
            "0000:00:1c.0",
            ("0x8086", "0xa110", "0x060400"),
            None,
            Some("pcieport"),
            Some(7),
        );
        let group = sysfs.root.join("kernel/iommu_groups/7/devices");
        fs::create_dir_all(group.join("not-pci")).unwrap();
        let nic = read_device(addr("0000:01:00.0"), nic).unwrap();
        let members = nic.iommu_group_devices().unwrap();
        let summary: Vec<_> = members
            .iter()
            .map(|d| (d.addr.to_string(), d.driver.clone().unwrap(), d.is_bridge()))
            .collect();
        assert_eq!(
            summary,
            [
                ("0000:00:1c.0".to_owned(), "pcieport".to_owned(), true),
                ("0000:01:00.0".to_owned(), "vfio-pci".to_owned(), false),
                ("0000:01:00.1".to_owned(), "igb".to_owned(), false),
            ]
        );
        let lone = guest_like();
        let bridge = lone.bus().device(addr("0000:00:00.0")).unwrap();
        assert!(bridge.iommu_group_devices().unwrap().is_empty());
    }

    #[test]
    fn selection_follows_allow_and_block_lists() {
        let sysfs = guest_like();
        let devices = sysfs.bus().scan().unwrap();
        let picked = |list: &[&str], allowed: &dyn Fn(PciAddr) -> bool| {
            let list: Vec<_> = list.iter().map(|a| PciDevargs::parse(a).unwrap()).collect();
            select(devices.clone(), &list, |a| allowed(a).then_some(&[][..])).map(|found| {
                found
                    .into_iter()
                    .map(|d| (d.device.addr.to_string(), d.args))
                    .collect::<Vec<_>>()
            })
        };
        // No allow list: everything not blocked.
        let blocked = addr("0000:00:03.0");
        let all = picked(&[], &|a| a != blocked).unwrap();
        let names: Vec<_> = all.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(names, ["0000:00:00.0", "0000:00:04.0"]);
        // An allow list: its devices in its order, with their arguments.
        let some = picked(&["00:04.0,rxq=2", "0000:00:03.0"], &|_| false).unwrap();
        assert_eq!(
            some,
            [
                (
                    "0000:00:04.0".to_owned(),
                    vec![("rxq".to_owned(), "2".to_owned())]
                ),
                ("0000:00:03.0".to_owned(), vec![]),
            ]
        );
        let missing = addr("0000:00:1f.7");
        let err = picked(&["0000:00:1f.7"], &|_| true).unwrap_err();
        assert!(matches!(err, PciError::NoSuchDevice { addr: a } if a == missing));
    }

    #[test]
    fn capability_lists_are_walked_and_loops_stop() {
        let mut config = [0u8; 256];
        config[STATUS as usize] = STATUS_CAP_LIST;
        config[CAPABILITY_LIST as usize] = 0x98 | 0b11; // reserved bits set
        config[0x98] = PciCapability::MSIX;
        config[0x99] = 0x84;
        config[0x84] = PciCapability::VENDOR;
        config[0x85] = 0x70;
        config[0x70] = PciCapability::EXP;
        config[0x71] = 0;
        let read = |cfg: [u8; 256]| move |off: u16| Ok::<_, ()>(cfg[usize::from(off)]);
        assert_eq!(
            capabilities(read(config)).unwrap(),
            [
                PciCapability {
                    id: PciCapability::MSIX,
                    offset: 0x98
                },
                PciCapability {
                    id: PciCapability::VENDOR,
                    offset: 0x84
                },
                PciCapability {
                    id: PciCapability::EXP,
                    offset: 0x70
                },
            ]
        );

        config[0x71] = 0x98; // back to the first: a loop
        assert_eq!(capabilities(read(config)).unwrap().len(), MAX_CAPABILITIES);

        config[STATUS as usize] = 0;
        assert!(capabilities(read(config)).unwrap().is_empty());

        let failing = |_| Err::<u8, &str>("gone");
        assert_eq!(capabilities(failing), Err("gone"));
    }
}
