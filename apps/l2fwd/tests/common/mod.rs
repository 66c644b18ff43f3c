//! What the end-to-end tests share: frames crafted with `etherparse`, the checks on
//! what came out, and (in `harness`, shared with l3fwd's tests) pcap files and the
//! `l2fwd` binary run as a child process.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use etherparse::{ArpHardwareId, ArpOperation, ArpPacket, EtherType, PacketBuilder};

mod harness;
pub use harness::*;

/// The binary under test, for [`harness`].
const BIN: &str = env!("CARGO_BIN_EXE_l2fwd");
/// Its name, in scratch paths and messages.
const APP: &str = "l2fwd";

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
