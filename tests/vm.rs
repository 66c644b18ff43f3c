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

/// A guest being run by run-guest.sh; dropping it before the guest ends kills the
/// script and every process it started (QEMU runs under `timeout`, in a process group
/// of its own), found by walking /proc from the script's pid.
struct GuestGroup(std::process::Child);

impl Drop for GuestGroup {
    fn drop(&mut self) {
        if !matches!(self.0.try_wait(), Ok(None)) {
            return;
        }
        let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
                // pid (comm) state ppid ...: comm may hold spaces, not ')'.
                let (pid, rest) = stat.split_once(" (")?;
                let ppid = rest.rsplit_once(") ")?.1.split(' ').nth(1)?;
                Some((pid.parse().ok()?, ppid.parse().ok()?))
            })
            .collect();
        let mut tree = vec![self.0.id()];
        let mut i = 0;
        while i < tree.len() {
            let parent = tree[i];
            tree.extend(parents.iter().filter(|p| p.1 == parent).map(|p| p.0));
            i += 1;
        }
        for pid in tree {
            // SAFETY: kill has no memory preconditions; each pid is this test's child
            // or one of its descendants.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
        let _ = self.0.wait();
    }
}

/// A frame from the host to the guest's e1000e: to its MAC, from a locally administered
/// one, EtherType 0x88b5 (local experimental), "BRST", the sequence number, then bytes
/// following from it; 60 to 1514 bytes long depending on the sequence number.
fn e1000e_frame(seq: u32) -> Vec<u8> {
    let len = 60 + (seq as usize * 97) % 1455;
    let mut f = vec![
        0x52, 0x54, 0x00, 0x12, 0x34, 0x50, 0x02, 0, 0, 0, 0, 0x99, 0x88, 0xb5,
    ];
    f.extend_from_slice(b"BRST");
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend((f.len()..len).map(|i| (seq as usize + i) as u8));
    f
}

/// Sends frames `seqs` to the guest through `sock` (at most `window` unanswered at a
/// time) and checks that each comes back exactly once, rewritten by l2fwd's rule
/// (destination 02:00:00:00:00:00, source the port's MAC), the rest unchanged.
fn e1000e_exchange(
    sock: &std::os::unix::net::UnixDatagram,
    to: &Path,
    seqs: std::ops::Range<u32>,
    window: u32,
) -> Result<(), String> {
    use std::time::{Duration, Instant};
    let n = seqs.len();
    let mut seen = vec![false; n];
    let (mut next, mut got) = (seqs.start, 0usize);
    let mut progress = Instant::now();
    let mut buf = vec![0; 2048];
    while got < n {
        while next < seqs.end && (next - seqs.start) as usize - got < window as usize {
            match sock.send_to(&e1000e_frame(next), to) {
                Ok(_) => next += 1,
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(err) => panic!("send to {}: {err}", to.display()),
            }
        }
        match sock.recv(&mut buf) {
            Ok(len) => {
                let reply = &buf[..len];
                assert!(
                    len >= 22 && &reply[14..18] == b"BRST",
                    "stray frame {reply:02x?}"
                );
                let seq = u32::from_be_bytes(reply[18..22].try_into().unwrap());
                assert!(seqs.contains(&seq), "frame {seq} outside {seqs:?}");
                let sent = e1000e_frame(seq);
                assert_eq!(&reply[..6], [2, 0, 0, 0, 0, 0], "destination of {seq}");
                assert_eq!(
                    &reply[6..12],
                    [0x52, 0x54, 0, 0x12, 0x34, 0x50],
                    "source of {seq}"
                );
                assert!(
                    reply[12..] == sent[12..],
                    "frame {seq} changed: {len} bytes back"
                );
                let slot = &mut seen[(seq - seqs.start) as usize];
                assert!(!*slot, "frame {seq} came back twice");
                *slot = true;
                got += 1;
                progress = Instant::now();
            }
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if progress.elapsed() > Duration::from_secs(30) {
                    let missing: Vec<_> = (seqs.start..next)
                        .filter(|s| !seen[(s - seqs.start) as usize])
                        .take(10)
                        .collect();
                    return Err(format!(
                        "no frame back for 30 s: {got} of {n} back, {} sent; missing \
                         {missing:?}...",
                        next - seqs.start
                    ));
                }
            }
            Err(err) => panic!("receive: {err}"),
        }
    }
    Ok(())
}

/// burst's e1000e PMD (pmd/src/drivers/e1000e) on QEMU's 82574L in the guest, through
/// pmd/examples/e1000e_loop.rs: the host sends 1000 frames of 60 to 1514 bytes through
/// the NIC's wire, the guest forwards each back with l2fwd's MAC rewrite, and the host
/// checks every one comes back exactly once; the port is stopped (every mbuf back in
/// its pool), started again and forwards 300 more. Then the errors for a wrong BDF and
/// for a device taken off vfio-pci.
#[test]
fn e1000e_forwards_in_guest() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::net::UnixDatagram;
    use std::process::Stdio;
    use std::sync::mpsc;
    use std::time::Duration;

    if !require_vm() {
        return;
    }
    let guest = guest_with_example("burst-pmd", "e1000e_loop");
    let sockdir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm-e1000e");
    std::fs::create_dir_all(&sockdir).unwrap();
    let host = sockdir.join("0.host");
    let _ = std::fs::remove_file(&host);
    let sock = UnixDatagram::bind(&host).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    sock.set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let cmd = "e1000e_loop -l 0 -a 0000:00:1f.7 -- --phases 1; echo rc=$?
e1000e_loop -l 0 -a 0000:00:03.0 -- --phases 1000,300; echo rc=$?
bind_vfio.sh unbind 0000:00:03.0
e1000e_loop -l 0 -a 0000:00:03.0 -- --phases 1; echo rc=$?";
    let mut child = Command::new(repo().join("scripts/vm/run-guest.sh"));
    child
        .arg(&guest)
        .arg(&sockdir)
        .arg(cmd)
        .arg("e1000e")
        .env("GUEST_TIMEOUT", "240")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = GuestGroup(child.spawn().expect("run run-guest.sh"));
    let stdout = child.0.stdout.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut console = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap_or_default();
            console.push_str(&line);
            console.push('\n');
            let _ = lines_tx.send(line);
        }
        console
    });
    let wait_for = |needle: &str| loop {
        match lines.recv_timeout(Duration::from_secs(180)) {
            Ok(line) if line.contains(needle) => return Ok(()),
            Ok(_) => {}
            Err(err) => return Err(format!("no line with {needle:?} from the guest: {err}")),
        }
    };
    let qemu = sockdir.join("0.qemu");
    let exchanged = (|| {
        wait_for("phase 0: ready for 1000 packets")?;
        e1000e_exchange(&sock, &qemu, 0..1000, 64)?;
        wait_for("phase 1: ready for 300 packets")?;
        e1000e_exchange(&sock, &qemu, 1000..1300, 64)
    })();
    if let Err(err) = exchanged {
        drop(child);
        panic!("{err}; the guest's console:\n{}", reader.join().unwrap());
    }
    let status = child.0.wait().unwrap();
    let out = reader.join().unwrap();
    assert!(status.success(), "{out}");
    let rcs: Vec<_> = out.lines().filter(|l| l.starts_with("rc=")).collect();
    assert_eq!(rcs, ["rc=1", "rc=0", "rc=1"], "{out}");
    let line = |needle: &str| {
        out.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{out}"))
    };
    line("e1000e_loop: error: PCI bus: scan: no PCI device 0000:00:1f.7: wrong BDF?");
    line("e1000e_loop: port 0: 0000:00:03.0 MAC 52:54:00:12:34:50 driver net_e1000e");
    line("e1000e_loop: link: Link up at 1 Gbps FDX Autoneg");
    // Each phase: every packet in and out, no error; the device counted them too; every
    // mbuf back in the pool at stop. Counters run on across the restart.
    let bytes = |seqs: std::ops::Range<u32>| -> usize { seqs.map(|s| e1000e_frame(s).len()).sum() };
    line(&format!(
        "phase 0: stats ipackets=1000 opackets=1000 ibytes={0} obytes={0} ",
        bytes(0..1000)
    ));
    assert!(line("phase 0: stats").ends_with("ierrors=0 oerrors=0 imissed=0 rx_nombuf=0"));
    line("phase 0: xstats rx_total_packets=1000 tx_total_packets=1000");
    line("phase 0: stopped, mempool full: yes (4095/4095 free)");
    line(&format!(
        "phase 1: stats ipackets=1300 opackets=1300 ibytes={0} obytes={0} ",
        bytes(0..1300)
    ));
    line("phase 1: xstats rx_total_packets=1300 tx_total_packets=1300");
    line("phase 1: stopped, mempool full: yes (4095/4095 free)");
    line("0000:00:03.0 now on driver -");
    line(
        "e1000e_loop: error: 0000:00:03.0: net_e1000e: 0000:00:03.0 (8086:10d3) is not bound to \
         vfio-pci (it has no driver): run scripts/bind_vfio.sh bind 0000:00:03.0",
    );
}
