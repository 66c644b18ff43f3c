//! The PCI side of port probing on any machine (the e1000e itself runs in the QEMU
//! guest: tests/vm.rs, `e1000e_forwards_in_guest`): ports are numbered PCI first, then
//! `--vdev`s; a wrong BDF is a clear error; a device no driver claims is skipped.

use std::fs;

use burst_eal::{CpuSet, Eal};
use burst_pmd::{EthError, Port, pci, probe_all};

/// An EAL with one lcore on a CPU this thread may use, ordinary pages, and `extra`.
fn eal(extra: &[&str]) -> Eal {
    let cpu = CpuSet::of_current_thread().unwrap().iter().next().unwrap();
    let lcores = format!("--lcores=0@{cpu}");
    let args = ["e1000e-test", "--no-huge", "--log-level=err", &lcores]
        .into_iter()
        .chain(extra.iter().copied());
    Eal::init(args)
        .unwrap_or_else(|err| panic!("Eal::init: {err}"))
        .0
}

fn names(ports: &[Port]) -> Vec<(u16, String)> {
    ports
        .iter()
        .map(|p| (p.id(), p.name().to_string()))
        .collect()
}

#[test]
fn vdevs_follow_the_pci_ports() {
    let eal = eal(&["--no-pci", "--vdev", "net_null0", "--vdev", "net_ring0"]);
    let ports = probe_all(&eal).unwrap();
    assert_eq!(
        names(&ports),
        [(0, "net_null0".to_string()), (1, "net_ring0".to_string())]
    );
    assert!(pci::probe(&eal, 5).unwrap().is_empty(), "--no-pci");
}

#[test]
fn a_wrong_bdf_is_a_clear_error() {
    let eal = eal(&["-a", "0000:ff:1f.7", "--vdev", "net_null0"]);
    let err = probe_all(&eal).unwrap_err();
    assert!(matches!(err, EthError::Io { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("PCI bus: scan: no PCI device 0000:ff:1f.7: wrong BDF?"),
        "{msg}"
    );
}

/// A PCI device of this machine that no burst driver claims, if there is one.
fn unclaimed_device() -> Option<String> {
    let mut entries: Vec<_> = fs::read_dir("/sys/bus/pci/devices")
        .ok()?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    entries.into_iter().find_map(|e| {
        let id = |f: &str| {
            let text = fs::read_to_string(e.path().join(f)).ok()?;
            u16::from_str_radix(text.trim().trim_start_matches("0x"), 16).ok()
        };
        pci::driver_for(id("vendor")?, id("device")?)
            .is_none()
            .then(|| e.file_name().to_string_lossy().into_owned())
    })
}

#[test]
fn devices_no_driver_claims_are_skipped() {
    let Some(bdf) = unclaimed_device() else {
        eprintln!("skipped: no PCI device on this machine");
        return;
    };
    let eal = eal(&["-a", &bdf, "--vdev", "net_null0"]);
    let ports = probe_all(&eal).unwrap();
    assert_eq!(
        names(&ports),
        [(0, "net_null0".to_string())],
        "{bdf} skipped"
    );
}

#[test]
fn the_registry_knows_the_82574() {
    let e1000e = pci::driver_for(0x8086, 0x10d3).unwrap();
    assert_eq!(e1000e.name, "net_e1000e");
    assert!(pci::DRIVERS.iter().any(|d| d.name == e1000e.name));
}
