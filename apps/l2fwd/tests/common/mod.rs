//! What the end-to-end tests share: frames crafted with `etherparse`, pcap files
//! written and read with `pcap-file` (neither is burst's code), and the `l2fwd` binary
//! run as a child process, stopped with SIGINT as a user would.

#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use etherparse::{ArpHardwareId, ArpOperation, ArpPacket, EtherType, PacketBuilder};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};

/// The path of the sample pcap shipped with the repository.
pub fn sample_pcap() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample.pcap")
}

const SRC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const DST: [u8; 6] = [0x52, 0x54, 0x00, 0xab, 0xcd, 0xef];
const BROADCAST: [u8; 6] = [0xff; 6];
const MULTICAST: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb];

/// The kinds of frame the tests send.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Udp4,
    Tcp4,
    VlanUdp4,
    Udp6,
    BroadcastUdp4,
    MulticastUdp4,
    Arp,
}

pub const KINDS: [Kind; 7] = [
    Kind::Udp4,
    Kind::Tcp4,
    Kind::VlanUdp4,
    Kind::Udp6,
    Kind::BroadcastUdp4,
    Kind::MulticastUdp4,
    Kind::Arp,
];

/// A frame of `kind`, `size` bytes long (no FCS; at least 60 as on the wire, and at
/// least its headers),
/// its payload stamped with `seq`.
pub fn frame(kind: Kind, size: usize, seq: u32) -> Vec<u8> {
    let ip4 = |dst_ip: [u8; 4]| {
        [
            10,
            0,
            (seq >> 8) as u8,
            seq as u8,
            dst_ip[0],
            dst_ip[1],
            dst_ip[2],
            dst_ip[3],
        ]
    };
    let builder = match kind {
        Kind::Arp => {
            let arp = ArpPacket::new(
                ArpHardwareId::ETHERNET,
                EtherType::IPV4,
                ArpOperation::REQUEST,
                &SRC,
                &[10, 0, 0, 1],
                &[0; 6],
                &[10, 0, (seq >> 8) as u8, seq as u8],
            )
            .expect("a valid ARP request");
            let b = PacketBuilder::ethernet2(SRC, BROADCAST).arp(arp);
            let mut out = Vec::with_capacity(size);
            b.write(&mut out).expect("write to a Vec");
            out.resize(size.max(60), 0);
            return out;
        }
        Kind::Udp4 | Kind::BroadcastUdp4 | Kind::MulticastUdp4 | Kind::Tcp4 => {
            let dst = match kind {
                Kind::BroadcastUdp4 => BROADCAST,
                Kind::MulticastUdp4 => MULTICAST,
                _ => DST,
            };
            let a = ip4([192, 168, 1, 2]);
            let eth = PacketBuilder::ethernet2(SRC, dst).ipv4(
                [a[0], a[1], a[2], a[3]],
                [a[4], a[5], a[6], a[7]],
                64,
            );
            if let Kind::Tcp4 = kind {
                Built::Tcp(
                    eth.tcp(40000 + (seq % 1000) as u16, 80, seq, 65535)
                        .ack(1)
                        .psh(),
                )
            } else {
                Built::Udp(eth.udp(5000 + (seq % 1000) as u16, 53))
            }
        }
        Kind::VlanUdp4 => Built::Udp(
            PacketBuilder::ethernet2(SRC, DST)
                .single_vlan(etherparse::VlanId::try_new(100 + (seq % 3900) as u16).unwrap())
                .ipv4([10, 1, 0, 1], [10, 1, 0, 2], 32)
                .udp(4789, 4789),
        ),
        Kind::Udp6 => {
            let mut src = [0u8; 16];
            src[..2].copy_from_slice(&[0xfd, 0x00]);
            src[14..].copy_from_slice(&(seq as u16).to_be_bytes());
            let mut dst = [0u8; 16];
            dst[..2].copy_from_slice(&[0xfd, 0x00]);
            dst[15] = 1;
            Built::Udp(
                PacketBuilder::ethernet2(SRC, DST)
                    .ipv6(src, dst, 64)
                    .udp(546, 547),
            )
        }
    };
    // At least the headers: an IPv6/UDP frame is 62 bytes before any payload.
    let len = size.max(60).max(builder.size(0));
    let payload_len = len - builder.size(0);
    let payload: Vec<u8> = (0..payload_len)
        .map(|i| (seq as usize).wrapping_mul(31).wrapping_add(i) as u8)
        .collect();
    let mut out = Vec::with_capacity(size);
    builder.write(&mut out, &payload).expect("write to a Vec");
    assert_eq!(out.len(), len);
    out
}

/// A built packet waiting for its payload: UDP or TCP.
enum Built {
    Udp(etherparse::PacketBuilderStep<etherparse::UdpHeader>),
    Tcp(etherparse::PacketBuilderStep<etherparse::TcpHeader>),
}

impl Built {
    fn size(&self, payload: usize) -> usize {
        match self {
            Self::Udp(b) => b.size(payload),
            Self::Tcp(b) => b.size(payload),
        }
    }

    fn write(
        self,
        out: &mut Vec<u8>,
        payload: &[u8],
    ) -> Result<(), etherparse::err::packet::BuildWriteError> {
        match self {
            Self::Udp(b) => b.write(out, payload),
            Self::Tcp(b) => b.write(out, payload),
        }
    }
}

/// The frames of `data/sample.pcap`: one of each kind, 60 to 1514 bytes.
pub fn sample_frames() -> Vec<Vec<u8>> {
    let sizes = [60, 98, 128, 342, 60, 590, 1514];
    KINDS
        .iter()
        .zip(sizes)
        .enumerate()
        .map(|(i, (&kind, size))| frame(kind, size, i as u32))
        .collect()
}

/// `n` frames of every kind, sizes from 60 to 1514, the sequence number in each.
pub fn test_frames(n: usize, seed: u32) -> Vec<Vec<u8>> {
    const SIZES: [usize; 14] = [
        60, 61, 64, 65, 100, 128, 255, 256, 511, 512, 1000, 1023, 1500, 1514,
    ];
    (0..n)
        .map(|i| {
            let kind = KINDS[i % KINDS.len()];
            let size = SIZES[(i * 5 + seed as usize) % SIZES.len()];
            frame(kind, size, seed.wrapping_mul(1000).wrapping_add(i as u32))
        })
        .collect()
}

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
        let dir = std::env::temp_dir().join(format!("l2fwd-test-{name}-{}", std::process::id()));
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
        format!("l2fwd-test-{name}-{}", std::process::id()),
    ]
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
            "l2fwd panicked:\n{}",
            self.stderr
        );
        assert!(self.status.success(), "l2fwd failed: {self:#?}");
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

/// Runs l2fwd to completion (for runs that fail at start-up).
pub fn run(args: &[String]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_l2fwd"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run l2fwd");
    Output {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A running l2fwd, its output collected as it comes.
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
        let mut child = Command::new(env!("CARGO_BIN_EXE_l2fwd"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start l2fwd");
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

    /// Waits until `done(stdout)` holds, l2fwd exits, or `timeout` passes; returns
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

    /// Sends `signal` and waits (at most 30 s) for l2fwd to exit.
    pub fn stop(mut self, signal: i32) -> Output {
        // SAFETY: kill(2) on our own child's pid, with a valid signal number.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for l2fwd") {
                break status;
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!(
                    "l2fwd did not exit within 30 s of signal {signal}:\n{}",
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

/// Checks that `out` is `sent`, frame for frame and in order, with MACs rewritten for
/// TX port `tx_port` with MAC `tx_mac` (`Some`), or untouched (`None`); every frame is
/// parsed by etherparse, and what it finds beyond the MACs must be the same.
pub fn assert_forwarded(sent: &[Vec<u8>], out: &[Vec<u8>], rewrite: Option<(u16, [u8; 6])>) {
    assert_eq!(out.len(), sent.len(), "frames out vs frames in");
    for (i, (s, o)) in sent.iter().zip(out).enumerate() {
        assert_eq!(o.len(), s.len(), "frame {i}: length");
        let ps = etherparse::SlicedPacket::from_ethernet(s)
            .unwrap_or_else(|e| panic!("frame {i} sent: {e}"));
        let po = etherparse::SlicedPacket::from_ethernet(o)
            .unwrap_or_else(|e| panic!("frame {i} out: {e}"));
        let (
            Some(etherparse::LinkSlice::Ethernet2(es)),
            Some(etherparse::LinkSlice::Ethernet2(eo)),
        ) = (&ps.link, &po.link)
        else {
            panic!("frame {i}: not Ethernet II");
        };
        match rewrite {
            Some((port, mac)) => {
                assert_eq!(
                    eo.destination(),
                    [2, 0, 0, 0, 0, port as u8],
                    "frame {i}: dst"
                );
                assert_eq!(eo.source(), mac, "frame {i}: src");
            }
            None => {
                assert_eq!(eo.destination(), es.destination(), "frame {i}: dst");
                assert_eq!(eo.source(), es.source(), "frame {i}: src");
            }
        }
        assert_eq!(eo.ether_type(), es.ether_type(), "frame {i}: ether type");
        assert_eq!(po.link_exts, ps.link_exts, "frame {i}: VLAN");
        assert_eq!(po.net, ps.net, "frame {i}: network layer");
        assert_eq!(po.transport, ps.transport, "frame {i}: transport layer");
        assert_eq!(o[12..], s[12..], "frame {i}: bytes after the MACs");
    }
}
