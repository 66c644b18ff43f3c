//! What l3fwd's end-to-end tests share: frames built with `etherparse` (not burst's
//! code), each with the output port it must leave by or a drop; the check of what came
//! out, against checksums computed here and parsed by `etherparse`; and l2fwd's
//! harness (pcap files, the binary as a child process).

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use etherparse::{IpHeaders, NetSlice, PacketBuilder, PacketBuilderStep, SlicedPacket};

#[path = "../../../l2fwd/tests/common/harness.rs"]
mod harness;
pub use harness::*;

/// The binary under test, for [`harness`].
const BIN: &str = env!("CARGO_BIN_EXE_l3fwd");
/// Its name, in scratch paths and messages.
const APP: &str = "l3fwd";

/// Long enough for a busy 2-CPU machine running other tests.
pub const TIMEOUT: Duration = Duration::from_secs(60);

const SRC_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const DST_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xab, 0xcd, 0xef];

/// Where a frame must go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Out of this port, TTL/hop limit one less, MACs rewritten.
    Port(u16),
    /// Dropped and counted.
    Drop,
}

/// A test frame and its fate.
#[derive(Clone, Debug)]
pub struct Case {
    pub what: String,
    pub frame: Vec<u8>,
    pub expect: Expect,
}

pub fn case(what: impl Into<String>, frame: Vec<u8>, expect: Expect) -> Case {
    Case {
        what: what.into(),
        frame,
        expect,
    }
}

/// L4 of a test frame.
#[derive(Clone, Copy, Debug)]
pub enum L4 {
    Udp(u16, u16),
    Tcp(u16, u16),
}

/// The frame of `ip` carrying `l4` and `payload`, padded to 60 bytes.
fn finish(ip: PacketBuilderStep<IpHeaders>, l4: L4, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match l4 {
        L4::Udp(s, d) => ip.udp(s, d).write(&mut out, payload),
        L4::Tcp(s, d) => ip.tcp(s, d, 1, 1000).write(&mut out, payload),
    }
    .expect("write to a Vec");
    if out.len() < 60 {
        out.resize(60, 0);
    }
    out
}

/// An IPv4 frame `src -> dst` with `ttl`, `l4`, a payload stamped with `seq`, padded to
/// at least 60 bytes.
pub fn ipv4(src: [u8; 4], dst: [u8; 4], ttl: u8, l4: L4, seq: u32) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(SRC_MAC, DST_MAC).ipv4(src, dst, ttl);
    finish(b, l4, &payload(seq))
}

/// An IPv6 frame `src -> dst` with `hops`, `l4`, a payload stamped with `seq`.
pub fn ipv6(src: &str, dst: &str, hops: u8, l4: L4, seq: u32) -> Vec<u8> {
    let (s, d): (std::net::Ipv6Addr, std::net::Ipv6Addr) =
        (src.parse().unwrap(), dst.parse().unwrap());
    let b = PacketBuilder::ethernet2(SRC_MAC, DST_MAC).ipv6(s.octets(), d.octets(), hops);
    finish(b, l4, &payload(seq))
}

fn payload(seq: u32) -> Vec<u8> {
    let mut p = b"l3fwd test ".to_vec();
    p.extend(seq.to_be_bytes());
    p
}

/// An ARP request frame (non-IP).
pub fn arp(seq: u32) -> Vec<u8> {
    let arp = etherparse::ArpPacket::new(
        etherparse::ArpHardwareId::ETHERNET,
        etherparse::EtherType::IPV4,
        etherparse::ArpOperation::REQUEST,
        &SRC_MAC,
        &[10, 0, 0, 1],
        &[0; 6],
        &seq.to_be_bytes(),
    )
    .unwrap();
    let mut out = Vec::new();
    PacketBuilder::ethernet2(SRC_MAC, [0xff; 6])
        .arp(arp)
        .write(&mut out)
        .unwrap();
    out.resize(60, 0);
    out
}

/// RFC 1071's checksum of `data` (computed here, not by burst).
pub fn inet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Recomputes the IPv4 header checksum of a frame (after the test broke a field on
/// purpose, so that only that field is wrong).
pub fn fix_ipv4_checksum(frame: &mut [u8]) {
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    frame[24..26].copy_from_slice(&[0, 0]);
    let c = inet_checksum(&frame[14..14 + ihl]);
    frame[24..26].copy_from_slice(&c.to_be_bytes());
}

/// The frame `f` as it must leave by `port` whose MAC is `port_mac`: MACs rewritten
/// (destination `dest`), TTL or hop limit one less, IPv4 checksum recomputed.
pub fn forwarded(f: &[u8], dest: [u8; 6], port_mac: [u8; 6]) -> Vec<u8> {
    let mut o = f.to_vec();
    o[..6].copy_from_slice(&dest);
    o[6..12].copy_from_slice(&port_mac);
    match u16::from_be_bytes([o[12], o[13]]) {
        0x0800 => {
            o[22] -= 1;
            fix_ipv4_checksum(&mut o);
        }
        0x86dd => o[21] -= 1,
        other => panic!("ether type {other:#x} is not forwarded"),
    }
    o
}

/// The MAC l3fwd printed for `port` (" Address:02:70:63:61:70:00, ").
pub fn port_mac(stdout: &str, port: u16) -> [u8; 6] {
    // The address follows the port's "Initializing" line, maybe on a later line.
    let key = format!("Initializing port {port} ... ");
    let (_, from) = stdout
        .split_once(&key)
        .unwrap_or_else(|| panic!("no init line for port {port}:\n{stdout}"));
    let text = from.split(" Address:").nth(1).expect("an Address: field");
    let bytes: Vec<u8> = text[..17]
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).expect("hex MAC byte"))
        .collect();
    bytes.try_into().unwrap()
}

/// Checks the frames out of one port: `out` must be, in order, the `cases` expected
/// there, forwarded; each parsed by etherparse with a correct IPv4 header checksum and
/// the TTL/hop limit one below what was sent.
pub fn assert_port_output(
    port: u16,
    cases: &[Case],
    out: &[Vec<u8>],
    dest: [u8; 6],
    port_mac: [u8; 6],
) {
    let expected: Vec<&Case> = cases
        .iter()
        .filter(|c| c.expect == Expect::Port(port))
        .collect();
    let whats: Vec<&str> = expected.iter().map(|c| c.what.as_str()).collect();
    assert_eq!(
        out.len(),
        expected.len(),
        "port {port}: frames out vs expected ({whats:?})"
    );
    for (o, c) in out.iter().zip(&expected) {
        let sent = SlicedPacket::from_ethernet(&c.frame).unwrap();
        let got = SlicedPacket::from_ethernet(o)
            .unwrap_or_else(|e| panic!("port {port}, {}: etherparse: {e}", c.what));
        let Some(etherparse::LinkSlice::Ethernet2(eth)) = &got.link else {
            panic!("port {port}, {}: not Ethernet II", c.what);
        };
        assert_eq!(eth.destination(), dest, "port {port}, {}: dst MAC", c.what);
        assert_eq!(eth.source(), port_mac, "port {port}, {}: src MAC", c.what);
        match (&sent.net, &got.net) {
            (Some(NetSlice::Ipv4(s)), Some(NetSlice::Ipv4(g))) => {
                let (s, g) = (s.header(), g.header());
                assert_eq!(g.ttl(), s.ttl() - 1, "{}: TTL", c.what);
                let h = g.to_header();
                assert_eq!(
                    h.header_checksum,
                    h.calc_header_checksum(),
                    "{}: IPv4 checksum",
                    c.what
                );
            }
            (Some(NetSlice::Ipv6(s)), Some(NetSlice::Ipv6(g))) => {
                assert_eq!(
                    g.header().hop_limit(),
                    s.header().hop_limit() - 1,
                    "{}: hop limit",
                    c.what
                );
            }
            other => panic!("port {port}, {}: not IP in and out: {other:?}", c.what),
        }
        assert_eq!(got.transport, sent.transport, "{}: L4", c.what);
        assert_eq!(*o, forwarded(&c.frame, dest, port_mac), "{}: bytes", c.what);
    }
}

/// Checks the output pcap `out<port>.pcap` in `dir` of each port below `nb_ports`
/// against `cases` ([`assert_port_output`]), the ports' MACs read from `stdout`,
/// destination MACs the default ones.
pub fn assert_outputs(dir: &Scratch, nb_ports: u16, cases: &[Case], stdout: &str) {
    for port in 0..nb_ports {
        let got = read_pcap(&dir.path(&format!("out{port}.pcap")));
        let mac = port_mac(stdout, port);
        assert_port_output(port, cases, &got, dest_of(port), mac);
    }
}

/// Fails unless `stdout` contains every one of `lines`.
pub fn assert_lines(stdout: &str, lines: &[&str]) {
    for line in lines {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }
}

/// The default destination MAC of `port`.
pub fn dest_of(port: u16) -> [u8; 6] {
    [2, 0, 0, 0, 0, port as u8]
}

/// Runs l3fwd until its statistics show every one of `n` packets received and then
/// sent or dropped, stops it with SIGINT, and checks the exit and the final counts:
/// `forwarded` sent, `n - forwarded` dropped.
pub fn forward(args: &[String], n: u64, forwarded: u64) -> Output {
    let mut l3fwd = Running::start(args);
    let done = l3fwd.wait_for(TIMEOUT, |out| {
        let total = |what| last_total_of(out, what).unwrap_or(0);
        total("received") == n && total("sent") + total("dropped") == n
    });
    let out = l3fwd.stop(libc::SIGINT);
    assert!(done, "{n} packets were not all handled in time: {out:#?}");
    out.assert_clean_exit();
    assert_eq!(out.last_total("received"), Some(n), "{}", out.stdout);
    assert_eq!(out.last_total("sent"), Some(forwarded), "{}", out.stdout);
    assert_eq!(
        out.last_total("dropped"),
        Some(n - forwarded),
        "{}",
        out.stdout
    );
    out
}

/// The last aggregate "Total packets <what>:" value in `text`.
pub fn last_total_of(text: &str, what: &str) -> Option<u64> {
    let key = format!("Total packets {what}:");
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|v| v.trim().parse().ok())
}

/// Writes a rule file and returns its path as a string.
pub fn rule_file(dir: &Scratch, name: &str, text: &str) -> String {
    let p = dir.path(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// `nb` pcap ports in `dir`: port 0 receives `in.pcap`, each port `p` sends to
/// `out<p>.pcap`.
pub fn pcap_ports(dir: &Scratch, nb: u16) -> Vec<String> {
    (0..nb)
        .map(|p| {
            let rx = (p == 0).then(|| dir.path("in.pcap"));
            pcap_vdev(p, rx.as_deref(), &[&dir.path(&format!("out{p}.pcap"))])
        })
        .collect()
}

/// The application options of `line` (split at spaces), then `more`.
pub fn app<'a>(line: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    line.split_whitespace()
        .chain(more.iter().copied())
        .collect()
}

/// `net_pcapN,rx_pcap=...,tx_pcap=...` with the files that exist in `rx`/`tx`.
pub fn pcap_vdev(n: u16, rx: Option<&Path>, tx: &[&Path]) -> String {
    let mut v = format!("net_pcap{n}");
    if let Some(rx) = rx {
        v += &format!(",rx_pcap={}", rx.display());
    }
    for t in tx {
        v += &format!(",tx_pcap={}", t.display());
    }
    v
}
