//! What the end-to-end tests of l2fwd and l3fwd share (`#[path]`-included by both):
//! pcap files written and read with `pcap-file` (not burst's code), and the application
//! binary run as a child process, stopped with SIGINT as a user would. The including
//! module defines `BIN` (the binary's path) and `APP` (its name).

#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};

use super::{APP, BIN};

/// A little-endian, microsecond pcap of `frames` (timestamps 1 ms apart from a fixed
/// date, so the file is the same every time).
pub fn pcap_bytes(frames: &[Vec<u8>]) -> Vec<u8> {
    let header = PcapHeader {
        endianness: Endianness::Little,
        ts_resolution: TsResolution::MicroSecond,
        datalink: DataLink::ETHERNET,
        snaplen: 65535,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(Vec::new(), header).expect("pcap header");
    for (i, f) in frames.iter().enumerate() {
        let ts = Duration::from_secs(1_700_000_000) + Duration::from_millis(i as u64);
        w.write_packet(&PcapPacket::new(ts, f.len() as u32, f))
            .expect("pcap record");
    }
    w.into_writer()
}

pub fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    std::fs::write(path, pcap_bytes(frames)).expect("write a pcap file");
}

/// Every frame of the pcap at `path`.
pub fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let file = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut r = PcapReader::new(file).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut frames = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(p.orig_len as usize, p.data.len(), "a truncated record");
        frames.push(p.data.into_owned());
    }
    frames
}

/// A scratch directory for one test, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{APP}-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        Self(dir)
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The EAL options every test passes: no hugepages, its own file prefix.
pub fn eal_args(name: &str) -> Vec<String> {
    vec![
        "--no-huge".into(),
        "--file-prefix".into(),
        format!("{APP}-test-{name}-{}", std::process::id()),
    ]
}

/// The arguments of a run: `-l lcores`, the test's EAL options ([`eal_args`]), a
/// `--vdev` for each of `vdevs`, `--`, then `app`.
pub fn args(name: &str, lcores: &str, vdevs: &[String], app: &[&str]) -> Vec<String> {
    let mut a = vec!["-l".to_string(), lcores.to_string()];
    a.extend(eal_args(name));
    for v in vdevs {
        a.push("--vdev".into());
        a.push(v.clone());
    }
    a.push("--".into());
    a.extend(app.iter().map(|s| s.to_string()));
    a
}

/// A finished run: exit status and everything printed.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Fails unless the run ended well: exit 0, no panic, every mbuf back, "Bye...".
    pub fn assert_clean_exit(&self) {
        assert!(
            !self.stderr.contains("panicked"),
            "{APP} panicked:\n{}",
            self.stderr
        );
        assert!(self.status.success(), "{APP} failed: {self:#?}");
        assert!(
            self.stderr.contains(l2fwd::POOL_FULL_MSG),
            "no '{}' line: {self:#?}",
            l2fwd::POOL_FULL_MSG
        );
        assert!(self.stdout.ends_with("Bye...\n"), "{self:#?}");
    }

    /// The last aggregate "Total packets <what>:" value printed.
    pub fn last_total(&self, what: &str) -> Option<u64> {
        last_total(&self.stdout, what)
    }
}

fn last_total(text: &str, what: &str) -> Option<u64> {
    let key = format!("Total packets {what}:");
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|v| v.trim().parse().ok())
}

/// Runs the application to completion (for runs that fail at start-up).
pub fn run(args: &[String]) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run the application");
    Output {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A running application, its output collected as it comes.
pub struct Running {
    child: Child,
    stdout: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    stderr: Arc<Mutex<String>>,
}

fn collect(src: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut r = BufReader::new(src);
        let mut line = String::new();
        while r.read_line(&mut line).is_ok_and(|n| n > 0) {
            into.lock().unwrap().push_str(&line);
            line.clear();
        }
    })
}

impl Running {
    pub fn start(args: &[String]) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the application");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            collect(child.stdout.take().unwrap(), stdout.clone()),
            collect(child.stderr.take().unwrap(), stderr.clone()),
        ];
        Self {
            child,
            stdout,
            readers,
            stderr,
        }
    }

    /// Waits until `done(stdout)` holds, it exits, or `timeout` passes; returns
    /// whether `done` held.
    pub fn wait_for(&mut self, timeout: Duration, done: impl Fn(&str) -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if done(&self.stdout.lock().unwrap()) {
                return true;
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                return done(&self.stdout.lock().unwrap());
            }
            thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Waits until the statistics say `what` ("sent", "received") reached `n`.
    pub fn wait_for_total(&mut self, what: &str, n: u64, timeout: Duration) -> bool {
        self.wait_for(timeout, |out| last_total(out, what).is_some_and(|v| v >= n))
    }

    /// Sends `signal` and waits (at most 30 s) for it to exit.
    pub fn stop(mut self, signal: i32) -> Output {
        // SAFETY: kill(2) on our own child's pid, with a valid signal number.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for the application") {
                break status;
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!(
                    "{APP} did not exit within 30 s of signal {signal}:\n{}",
                    self.stdout.lock().unwrap()
                );
            }
            thread::sleep(Duration::from_millis(10));
        };
        for r in self.readers.drain(..) {
            r.join().unwrap();
        }
        Output {
            status,
            stdout: std::mem::take(&mut self.stdout.lock().unwrap()),
            stderr: std::mem::take(&mut self.stderr.lock().unwrap()),
        }
    }
}

/// The MAC l2fwd printed for `port` ("Port 1, MAC address: 02:70:63:61:70:01").
pub fn port_mac(stdout: &str, port: u16) -> [u8; 6] {
    let key = format!("Port {port}, MAC address: ");
    let text = stdout
        .lines()
        .find_map(|l| l.strip_prefix(&key))
        .unwrap_or_else(|| panic!("no MAC line for port {port}:\n{stdout}"));
    let bytes: Vec<u8> = text
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).expect("hex MAC byte"))
        .collect();
    bytes.try_into().expect("6 MAC bytes")
}
