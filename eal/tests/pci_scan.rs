//! `pci::PciBus::scan_allowed` with a real `Eal`: the `-a`/`-b`/`--no-pci` options
//! applied to a fake sysfs tree, the way a driver registry probes.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use burst_eal::pci::{PciBus, PciError};
use burst_eal::{CpuSet, Eal};

/// A fake sysfs with the test guest's two NICs (e1000e on vfio-pci, virtio-net on no
/// driver; each in an IOMMU group) and a host bridge; removed on drop.
struct FakeSysfs(PathBuf);

impl FakeSysfs {
    fn new(name: &str) -> Self {
        let root =
            std::env::temp_dir().join(format!("burst-pci-scan-{name}-{}", std::process::id()));
        let devices = root.join("bus/pci/devices");
        for (bdf, vendor, device, class, driver) in [
            ("0000:00:00.0", "0x8086", "0x29c0", "0x060000", None),
            (
                "0000:00:03.0",
                "0x8086",
                "0x10d3",
                "0x020000",
                Some("vfio-pci"),
            ),
            ("0000:00:04.0", "0x1af4", "0x1041", "0x020000", None),
        ] {
            let dir = devices.join(bdf);
            fs::create_dir_all(&dir).unwrap();
            for (attr, value) in [("vendor", vendor), ("device", device), ("class", class)] {
                fs::write(dir.join(attr), format!("{value}\n")).unwrap();
            }
            if let Some(driver) = driver {
                let drv = root.join("bus/pci/drivers").join(driver);
                fs::create_dir_all(&drv).unwrap();
                symlink(&drv, dir.join("driver")).unwrap();
            }
            // Behind an IOMMU, as in the guest: each NIC in a group of its own.
            if class == "0x020000" {
                let group = root.join("kernel/iommu_groups").join(&bdf[9..10]);
                fs::create_dir_all(group.join("devices")).unwrap();
                symlink(&group, dir.join("iommu_group")).unwrap();
            }
        }
        Self(root)
    }

    fn bus(&self) -> PciBus {
        PciBus::with_sysfs(&self.0)
    }
}

impl Drop for FakeSysfs {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// An EAL with one lcore on a CPU this thread may use, ordinary pages, and `extra`.
fn eal(extra: &[&str]) -> Eal {
    let cpu = CpuSet::of_current_thread().unwrap().iter().next().unwrap();
    let lcores = format!("--lcores=0@{cpu}");
    let args = ["test", "--no-huge", "--log-level=err", &lcores]
        .into_iter()
        .chain(extra.iter().copied());
    Eal::init(args).unwrap().0
}

fn addrs(found: &[burst_eal::pci::AllowedDevice]) -> Vec<String> {
    found.iter().map(|d| d.device.addr.to_string()).collect()
}

#[test]
fn allow_block_and_no_pci_select_devices() {
    let sysfs = FakeSysfs::new("select");
    let bus = sysfs.bus();

    let all = bus.scan_allowed(&eal(&[])).unwrap();
    assert_eq!(
        addrs(&all),
        ["0000:00:00.0", "0000:00:03.0", "0000:00:04.0"]
    );

    let blocked = bus.scan_allowed(&eal(&["-b", "00:00.0"])).unwrap();
    assert_eq!(addrs(&blocked), ["0000:00:03.0", "0000:00:04.0"]);

    let allowed = bus
        .scan_allowed(&eal(&["-a", "0000:00:04.0,rxq=2", "-a", "0000:00:03.0"]))
        .unwrap();
    assert_eq!(addrs(&allowed), ["0000:00:04.0", "0000:00:03.0"]);
    assert_eq!(allowed[0].args, [("rxq".to_owned(), "2".to_owned())]);
    assert!(allowed[1].args.is_empty());

    assert!(bus.scan_allowed(&eal(&["--no-pci"])).unwrap().is_empty());
}

#[test]
fn selected_devices_must_exist_and_be_on_vfio_pci() {
    let sysfs = FakeSysfs::new("checks");
    let bus = sysfs.bus();
    let err = bus.scan_allowed(&eal(&["-a", "0000:00:1f.7"])).unwrap_err();
    assert!(matches!(err, PciError::NoSuchDevice { .. }), "{err}");
    assert!(err.to_string().contains("wrong BDF?"), "{err}");

    let found = bus
        .scan_allowed(&eal(&["-a", "00:03.0", "-a", "00:04.0"]))
        .unwrap();
    found[0].device.require_vfio_pci().unwrap();
    assert_eq!(
        found[1].device.require_vfio_pci().unwrap_err().to_string(),
        "0000:00:04.0 (1af4:1041) is not bound to vfio-pci (it has no driver): run \
         scripts/bind_vfio.sh bind 0000:00:04.0"
    );
}

#[test]
fn the_running_system_scans() {
    // Whatever this machine has (possibly nothing, in a container), the scan succeeds
    // and finds each device at the address its directory is named after.
    if !Path::new("/sys/bus/pci/devices").exists() {
        eprintln!("skipped: no /sys/bus/pci/devices");
        return;
    }
    for device in burst_eal::pci::scan().unwrap() {
        assert!(device.sysfs_path.ends_with(device.addr.to_string()));
    }
}
