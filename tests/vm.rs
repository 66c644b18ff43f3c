//! Tests in burst's QEMU test guest (scripts/vm): a q35 machine with a vIOMMU and
//! emulated e1000e and virtio-net NICs that bind to vfio-pci, booted under TCG.
//!
//! They need root (apt-get download, QEMU) and `qemu-system-x86_64`; without them each
//! test prints `skipped: <reason>` and passes, unless `BURST_REQUIRE_VM=1` (set by
//! `.ci/run`) makes that a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Why the guest cannot run here, if it cannot.
fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("the VM tests need root".into());
    }
    let qemu = Command::new("qemu-system-x86_64").arg("--version").output();
    if !qemu.is_ok_and(|o| o.status.success()) {
        return Some("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)".into());
    }
    None
}

/// Skips (or fails under `BURST_REQUIRE_VM=1`) when the guest cannot run.
fn require_vm() -> bool {
    match unavailable() {
        None => true,
        Some(reason) if std::env::var_os("BURST_REQUIRE_VM").is_some_and(|v| v == "1") => {
            panic!("BURST_REQUIRE_VM=1 but {reason}")
        }
        Some(reason) => {
            eprintln!("skipped: {reason}");
            false
        }
    }
}

/// Builds the guest once per test process, in the target directory.
fn guest() -> &'static Path {
    static GUEST: OnceLock<PathBuf> = OnceLock::new();
    GUEST.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm-guest");
        let out = Command::new(repo().join("scripts/vm/build-initrd.sh"))
            .arg(&dir)
            .output()
            .expect("run build-initrd.sh");
        assert!(
            out.status.success(),
            "build-initrd.sh failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// Runs `cmd` in a fresh guest with `nics`; returns (exit status, console output).
fn run_guest(name: &str, cmd: &str, nics: &[&str]) -> (i32, String) {
    let sockdir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("vm-{name}"));
    let out = Command::new(repo().join("scripts/vm/run-guest.sh"))
        .arg(guest())
        .arg(&sockdir)
        .arg(cmd)
        .args(nics)
        .output()
        .expect("run run-guest.sh");
    let console = String::from_utf8_lossy(&out.stdout).into_owned()
        + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), console)
}

/// scripts/bind_vfio.sh on real (emulated) PCI NICs behind an IOMMU: the guest's init
/// binds both with it; here it reports them, gives one back, binds it again, and
/// refuses bad input with a clear error and a non-zero status.
#[test]
fn bind_vfio_in_guest() {
    if !require_vm() {
        return;
    }
    let cmd = "set -x
bind_vfio.sh status
bind_vfio.sh unbind 0000:00:03.0
bind_vfio.sh status
bind_vfio.sh bind 00:03.0
bind_vfio.sh bind 0000:00:03.0
bind_vfio.sh bind zz; echo rc=$?
bind_vfio.sh bind 0000:00:1f.7; echo rc=$?
bind_vfio.sh hugepages 64; grep HugePages_Total /proc/meminfo
ls /dev/vfio";
    let (status, out) = run_guest("bind", cmd, &["e1000e", "virtio"]);
    assert_eq!(status, 0, "{out}");
    // init bound both NICs; each has its own IOMMU group.
    assert!(out.contains("0000:00:03.0   8086:10d3  020000 vfio-pci"), "{out}");
    assert!(out.contains("0000:00:04.0   1af4:1041  020000 vfio-pci"), "{out}");
    assert!(out.contains("IOMMU: enabled"), "{out}");
    assert!(out.contains("vfio-pci: loaded"), "{out}");
    // unbind: no kernel e1000e driver in the guest, so the device is left driverless.
    assert!(out.contains("0000:00:03.0 now on driver -"), "{out}");
    assert!(out.contains("0000:00:03.0   8086:10d3  020000 -"), "{out}");
    // bind again (short BDF form), then idempotent.
    assert!(out.contains("0000:00:03.0 (8086:10d3) bound to vfio-pci"), "{out}");
    assert!(out.contains("0000:00:03.0 already bound to vfio-pci"), "{out}");
    assert!(out.contains("'zz' is not a PCI address"), "{out}");
    assert!(out.contains("no PCI device 0000:00:1f.7"), "{out}");
    assert_eq!(out.lines().filter(|l| l.trim() == "rc=1").count(), 2, "{out}");
    assert!(out.contains("HugePages_Total:      64"), "{out}");
}
