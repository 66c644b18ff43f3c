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
        return Some(
            "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)".into(),
        );
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

/// Builds a guest in `dir` with `binaries` in its /burst/bin.
fn build_guest(dir: &Path, binaries: &[&Path]) {
    let out = Command::new(repo().join("scripts/vm/build-initrd.sh"))
        .arg(dir)
        .args(binaries)
        .output()
        .expect("run build-initrd.sh");
    assert!(
        out.status.success(),
        "build-initrd.sh failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds the default guest once per test process, in the target directory.
fn guest() -> &'static Path {
    static GUEST: OnceLock<PathBuf> = OnceLock::new();
    GUEST.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm-guest");
        build_guest(&dir, &[]);
        dir
    })
}

/// Runs `cmd` in a fresh default guest with `nics`; returns (exit status, console).
fn run_guest(name: &str, cmd: &str, nics: &[&str]) -> (i32, String) {
    run_guest_in(guest(), name, cmd, nics)
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
    assert!(
        out.contains("0000:00:03.0   8086:10d3  020000 vfio-pci"),
        "{out}"
    );
    assert!(
        out.contains("0000:00:04.0   1af4:1041  020000 vfio-pci"),
        "{out}"
    );
    assert!(out.contains("IOMMU: enabled"), "{out}");
    assert!(out.contains("vfio-pci: loaded"), "{out}");
    // unbind: no kernel e1000e driver in the guest, so the device is left driverless.
    assert!(out.contains("0000:00:03.0 now on driver -"), "{out}");
    assert!(out.contains("0000:00:03.0   8086:10d3  020000 -"), "{out}");
    // bind again (short BDF form), then idempotent.
    assert!(
        out.contains("0000:00:03.0 (8086:10d3) bound to vfio-pci"),
        "{out}"
    );
    assert!(
        out.contains("0000:00:03.0 already bound to vfio-pci"),
        "{out}"
    );
    assert!(out.contains("'zz' is not a PCI address"), "{out}");
    assert!(out.contains("no PCI device 0000:00:1f.7"), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.trim() == "rc=1").count(),
        2,
        "{out}"
    );
    assert!(out.contains("HugePages_Total:      64"), "{out}");
}

/// Builds `example` of `package` (in this test's profile and target directory) and a
/// guest with it in /burst/bin.
fn guest_with_example(package: &str, example: &str) -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let target = tmp.parent().expect("CARGO_TARGET_TMPDIR is <target>/tmp");
    let release = !cfg!(debug_assertions);
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .current_dir(repo())
        .args(["build", "--quiet", "-p", package, "--example", example])
        .arg("--target-dir")
        .arg(target);
    if release {
        cargo.arg("--release");
    }
    let out = cargo.output().expect("run cargo build");
    assert!(
        out.status.success(),
        "cargo build --example {example} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let binary = target
        .join(if release { "release" } else { "debug" })
        .join("examples")
        .join(example);
    let dir = tmp.join(format!("vm-guest-{example}"));
    build_guest(&dir, &[&binary]);
    dir
}

/// Runs `cmd` in a fresh boot of the guest in `guest_dir` with `nics`; returns (exit
/// status, console output).
fn run_guest_in(guest_dir: &Path, name: &str, cmd: &str, nics: &[&str]) -> (i32, String) {
    let sockdir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("vm-{name}"));
    let out = Command::new(repo().join("scripts/vm/run-guest.sh"))
        .arg(guest_dir)
        .arg(&sockdir)
        .arg(cmd)
        .args(nics)
        .output()
        .expect("run run-guest.sh");
    let console =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), console)
}

/// eal::pci and eal::vfio on the guest's e1000e (0000:00:03.0) and virtio-net
/// (0000:00:04.0), through eal/examples/vfio_probe.rs: config space, BAR mappings and
/// register accesses (the e1000e's MAC from RAL0/RAH0, virtio's capabilities and
/// feature bits), DMA mapping of hugepage memory, MSI-X eventfds; then the errors for a
/// wrong BDF and for a device taken off vfio-pci.
#[test]
fn vfio_probe_in_guest() {
    if !require_vm() {
        return;
    }
    let guest = guest_with_example("burst-eal", "vfio_probe");
    let cmd = "vfio_probe -l 0 -a 0000:00:03.0 -a 0000:00:04.0; echo rc=$?
vfio_probe -l 0 -a 0000:00:1f.7; echo rc=$?
bind_vfio.sh unbind 0000:00:03.0
vfio_probe -l 0 -a 0000:00:03.0; echo rc=$?";
    let (status, out) = run_guest_in(&guest, "vfio-probe", cmd, &["e1000e", "virtio"]);
    assert_eq!(status, 0, "{out}");
    let rcs: Vec<_> = out.lines().filter(|l| l.starts_with("rc=")).collect();
    assert_eq!(rcs, ["rc=0", "rc=1", "rc=1"], "{out}");
    let line = |needle: &str| {
        out.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{out}"))
    };

    // Both devices: scanned on vfio-pci, IDs from config space, bus master on.
    line("vfio_probe: 0000:00:03.0 8086:10d3 class 020000 driver vfio-pci group");
    line("vfio_probe: 0000:00:04.0 1af4:1041 class 020000 driver vfio-pci group");
    line("0000:00:03.0: config space: vendor 8086 device 10d3");
    line("0000:00:04.0: config space: vendor 1af4 device 1041");
    assert!(
        line("0000:00:03.0: command").ends_with("bus master on"),
        "{out}"
    );
    assert!(
        line("0000:00:04.0: command").ends_with("bus master on"),
        "{out}"
    );
    assert!(
        line("0000:00:03.0: capabilities:").contains("0x11@"),
        "MSI-X: {out}"
    );

    // e1000e: BAR0 mapped; the MAC QEMU gave it, valid; a register write reads back.
    line("0000:00:03.0: BAR0: 0x20000 bytes, memory");
    line(
        "0000:00:03.0: e1000e MAC 52:54:00:12:34:50 (RAL0 0x12005452 RAH0 0x80005034, address valid 1)",
    );
    line("0000:00:03.0: e1000e RAL1 written 0x12345678, read 0x12345678");

    // virtio-net: its five structures, all but pci_cfg in one BAR; modern features.
    let common = line("0000:00:04.0: virtio cap common_cfg");
    let words: Vec<_> = common.split_whitespace().collect();
    let bar = words[words.iter().position(|w| *w == "bar").expect("bar") + 1];
    for cfg in ["notify_cfg", "isr_cfg", "device_cfg"] {
        let cap = line(&format!("virtio cap {cfg}"));
        assert!(cap.contains(&format!(": bar {bar} ")), "{cfg}: {out}");
    }
    assert!(
        line("virtio cap notify_cfg").contains("notify_off_multiplier"),
        "{out}"
    );
    line("0000:00:04.0: virtio cap pci_cfg");
    assert!(
        line("0000:00:04.0: virtio common_cfg:").contains("VERSION_1 yes, num_queues 3"),
        "{out}"
    );

    // DMA: the hugepage region mapped at IOVA = VA for each device; mapping it twice in
    // the one container is refused with the reason.
    for dev in ["0000:00:03.0", "0000:00:04.0"] {
        let mapped = line(&format!("{dev}: dma_map: iova"));
        assert!(mapped.ends_with(": ok"), "{out}");
        let iova = mapped.split_whitespace().nth(3).expect("iova");
        assert!(
            mapped.contains(&format!("(va {iova})")),
            "IOVA = VA: {mapped}"
        );
        assert!(
            line(&format!("{dev}: dma_map again:"))
                .contains("(already mapped: map each region once per VFIO container)"),
            "{out}"
        );
    }

    // MSI-X: two vectors enabled, each with its own eventfd.
    let msix = line("0000:00:03.0: msix: 2 of 5 vectors enabled, eventfds");
    assert_eq!(msix.matches("=anon_inode:[eventfd]").count(), 2, "{out}");
    let msix = line("0000:00:04.0: msix: 2 of");
    assert_eq!(msix.matches("=anon_inode:[eventfd]").count(), 2, "{out}");
    line("0000:00:03.0: done");
    line("0000:00:04.0: done");

    // Errors: a wrong BDF, and a device taken off vfio-pci.
    line("vfio_probe: error: no PCI device 0000:00:1f.7: wrong BDF?");
    line("0000:00:03.0 now on driver -");
    line(
        "vfio_probe: error: 0000:00:03.0 (8086:10d3) is not bound to vfio-pci (it has no driver): run scripts/bind_vfio.sh bind 0000:00:03.0",
    );
}
