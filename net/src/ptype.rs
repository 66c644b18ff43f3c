//! Packet types: DPDK's `RTE_PTYPE_*` bits (`rte_mbuf_ptype.h`, the same values, so an
//! mbuf's `packet_type` means the same whether a NIC or software filled it) and a software
//! parser of the outer L2/L3/L4 headers, DPDK's `rte_net_get_ptype` as l3fwd's
//! `--parse-ptype` uses it for NICs that do not report packet types.
//!
//! Differences from `rte_net_get_ptype`, all towards what NICs report: ARP, LLDP and
//! IEEE 1588 frames get their L2 type, ICMP and ICMPv6 get [`L4_ICMP`], a UDP header
//! that does not fit drops the L4 type as a short TCP header does, and tunnels are not
//! parsed (no inner types).

use burst_mempool::Mbuf;

use crate::bytes::get_u16;
use crate::ether::{self, EtherType};
use crate::ip::IpProto;
use crate::{ipv6, tcp, udp, vlan};

/// Unknown packet type.
pub const UNKNOWN: u32 = 0x0000_0000;
/// Ethernet.
pub const L2_ETHER: u32 = 0x0000_0001;
/// Ethernet carrying IEEE 1588 (PTP).
pub const L2_ETHER_TIMESYNC: u32 = 0x0000_0002;
/// Ethernet carrying ARP.
pub const L2_ETHER_ARP: u32 = 0x0000_0003;
/// Ethernet carrying LLDP.
pub const L2_ETHER_LLDP: u32 = 0x0000_0004;
/// Ethernet carrying NSH.
pub const L2_ETHER_NSH: u32 = 0x0000_0005;
/// Ethernet with one VLAN tag.
pub const L2_ETHER_VLAN: u32 = 0x0000_0006;
/// Ethernet with two VLAN tags (QinQ).
pub const L2_ETHER_QINQ: u32 = 0x0000_0007;
/// PPPoE.
pub const L2_ETHER_PPPOE: u32 = 0x0000_0008;
/// FCoE.
pub const L2_ETHER_FCOE: u32 = 0x0000_0009;
/// MPLS.
pub const L2_ETHER_MPLS: u32 = 0x0000_000a;
/// The L2 bits.
pub const L2_MASK: u32 = 0x0000_000f;
/// IPv4 without options.
pub const L3_IPV4: u32 = 0x0000_0010;
/// IPv4 with options.
pub const L3_IPV4_EXT: u32 = 0x0000_0030;
/// IPv6 without extension headers.
pub const L3_IPV6: u32 = 0x0000_0040;
/// IPv4, options unknown.
pub const L3_IPV4_EXT_UNKNOWN: u32 = 0x0000_0090;
/// IPv6 with extension headers.
pub const L3_IPV6_EXT: u32 = 0x0000_00c0;
/// IPv6, extension headers unknown.
pub const L3_IPV6_EXT_UNKNOWN: u32 = 0x0000_00e0;
/// The L3 bits.
pub const L3_MASK: u32 = 0x0000_00f0;
/// TCP.
pub const L4_TCP: u32 = 0x0000_0100;
/// UDP.
pub const L4_UDP: u32 = 0x0000_0200;
/// An IP fragment (the L4 header is only in the first one).
pub const L4_FRAG: u32 = 0x0000_0300;
/// SCTP.
pub const L4_SCTP: u32 = 0x0000_0400;
/// ICMP or ICMPv6.
pub const L4_ICMP: u32 = 0x0000_0500;
/// Not a fragment, and none of the other L4 types.
pub const L4_NONFRAG: u32 = 0x0000_0600;
/// IGMP.
pub const L4_IGMP: u32 = 0x0000_0700;
/// The L4 bits.
pub const L4_MASK: u32 = 0x0000_0f00;
/// IP in IP tunnel.
pub const TUNNEL_IP: u32 = 0x0000_1000;
/// GRE tunnel.
pub const TUNNEL_GRE: u32 = 0x0000_2000;
/// VXLAN tunnel.
pub const TUNNEL_VXLAN: u32 = 0x0000_3000;
/// NVGRE tunnel.
pub const TUNNEL_NVGRE: u32 = 0x0000_4000;
/// GENEVE tunnel.
pub const TUNNEL_GENEVE: u32 = 0x0000_5000;
/// Teredo, VXLAN or GRE with an inner Ethernet header.
pub const TUNNEL_GRENAT: u32 = 0x0000_6000;
/// GTP-C.
pub const TUNNEL_GTPC: u32 = 0x0000_7000;
/// GTP-U.
pub const TUNNEL_GTPU: u32 = 0x0000_8000;
/// ESP.
pub const TUNNEL_ESP: u32 = 0x0000_9000;
/// L2TP.
pub const TUNNEL_L2TP: u32 = 0x0000_a000;
/// VXLAN-GPE.
pub const TUNNEL_VXLAN_GPE: u32 = 0x0000_b000;
/// MPLS in GRE.
pub const TUNNEL_MPLS_IN_GRE: u32 = 0x0000_c000;
/// MPLS in UDP.
pub const TUNNEL_MPLS_IN_UDP: u32 = 0x0000_d000;
/// The tunnel bits.
pub const TUNNEL_MASK: u32 = 0x0000_f000;
/// Inner Ethernet.
pub const INNER_L2_ETHER: u32 = 0x0001_0000;
/// Inner Ethernet with a VLAN tag.
pub const INNER_L2_ETHER_VLAN: u32 = 0x0002_0000;
/// Inner Ethernet with QinQ.
pub const INNER_L2_ETHER_QINQ: u32 = 0x0003_0000;
/// The inner L2 bits.
pub const INNER_L2_MASK: u32 = 0x000f_0000;
/// Inner IPv4 without options.
pub const INNER_L3_IPV4: u32 = 0x0010_0000;
/// Inner IPv4 with options.
pub const INNER_L3_IPV4_EXT: u32 = 0x0020_0000;
/// Inner IPv6 without extension headers.
pub const INNER_L3_IPV6: u32 = 0x0030_0000;
/// Inner IPv4, options unknown.
pub const INNER_L3_IPV4_EXT_UNKNOWN: u32 = 0x0040_0000;
/// Inner IPv6 with extension headers.
pub const INNER_L3_IPV6_EXT: u32 = 0x0050_0000;
/// Inner IPv6, extension headers unknown.
pub const INNER_L3_IPV6_EXT_UNKNOWN: u32 = 0x0060_0000;
/// The inner L3 bits.
pub const INNER_L3_MASK: u32 = 0x00f0_0000;
/// Inner TCP.
pub const INNER_L4_TCP: u32 = 0x0100_0000;
/// Inner UDP.
pub const INNER_L4_UDP: u32 = 0x0200_0000;
/// Inner IP fragment.
pub const INNER_L4_FRAG: u32 = 0x0300_0000;
/// Inner SCTP.
pub const INNER_L4_SCTP: u32 = 0x0400_0000;
/// Inner ICMP.
pub const INNER_L4_ICMP: u32 = 0x0500_0000;
/// Inner non-fragment, other L4.
pub const INNER_L4_NONFRAG: u32 = 0x0600_0000;
/// The inner L4 bits.
pub const INNER_L4_MASK: u32 = 0x0f00_0000;
/// Every defined bit.
pub const ALL_MASK: u32 = 0x0fff_ffff;

/// The L3 type is IPv4 of any kind (DPDK's `RTE_ETH_IS_IPV4_HDR`).
#[inline]
pub const fn is_ipv4(ptype: u32) -> bool {
    ptype & L3_IPV4 != 0
}

/// The L3 type is IPv6 of any kind (DPDK's `RTE_ETH_IS_IPV6_HDR`).
#[inline]
pub const fn is_ipv6(ptype: u32) -> bool {
    ptype & L3_IPV6 != 0
}

/// Header lengths found while parsing, DPDK's `rte_net_hdr_lens`: what a TX offload or
/// a forwarding app needs to find each layer.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct HeaderLens {
    /// Ethernet header and VLAN tags.
    pub l2_len: u16,
    /// IP header with options or extension headers.
    pub l3_len: u16,
    /// TCP header with options, or the UDP / SCTP header; 0 for others and fragments.
    pub l4_len: u16,
}

/// Extension headers skipped at most, as DPDK's `rte_net_skip_ip6_ext`.
const MAX_IPV6_EXT_HEADERS: usize = 5;

/// The packet type of an Ethernet frame and its header lengths, parsing as far as the
/// bytes allow (a truncated layer is left out, so the type only names headers present).
pub fn get_ptype(frame: &[u8]) -> (u32, HeaderLens) {
    let mut lens = HeaderLens::default();
    if frame.len() < ether::HEADER_LEN {
        return (UNKNOWN, lens);
    }
    let mut proto = EtherType(get_u16(frame, 12));
    let mut off = ether::HEADER_LEN;
    let mut ptype = L2_ETHER;
    match proto {
        EtherType::IPV4 | EtherType::IPV6 => {}
        EtherType::VLAN | EtherType::QINQ => {
            let tags = if proto == EtherType::VLAN { 1 } else { 2 };
            ptype = if tags == 1 {
                L2_ETHER_VLAN
            } else {
                L2_ETHER_QINQ
            };
            let end = off + tags * vlan::HEADER_LEN;
            if frame.len() < end {
                lens.l2_len = off as u16;
                return (ptype, lens);
            }
            proto = EtherType(get_u16(frame, end - 2));
            off = end;
        }
        EtherType::ARP => ptype = L2_ETHER_ARP,
        EtherType::LLDP => ptype = L2_ETHER_LLDP,
        EtherType::TIMESYNC => ptype = L2_ETHER_TIMESYNC,
        _ => {}
    }
    lens.l2_len = off as u16;
    let l3 = &frame[off..];
    let (l3_type, l3_len, next) = match proto {
        EtherType::IPV4 => match parse_ipv4(l3) {
            Some(found) => found,
            None => return (ptype, lens),
        },
        EtherType::IPV6 => match parse_ipv6(l3) {
            Some(found) => found,
            None => return (ptype, lens),
        },
        _ => return (ptype, lens),
    };
    ptype |= l3_type;
    lens.l3_len = l3_len as u16;
    let l4_proto = match next {
        Next::Proto(proto) => proto,
        Next::Fragment => return (ptype | L4_FRAG, lens),
        Next::Unknown => return (ptype, lens),
    };
    let l4 = &l3[l3_len.min(l3.len())..];
    let (l4_type, l4_len) = match l4_proto {
        IpProto::TCP if l4.len() >= tcp::MIN_HEADER_LEN => (L4_TCP, usize::from(l4[12] >> 4) * 4),
        IpProto::UDP if l4.len() >= udp::HEADER_LEN => (L4_UDP, udp::HEADER_LEN),
        IpProto::SCTP if l4.len() >= SCTP_HEADER_LEN => (L4_SCTP, SCTP_HEADER_LEN),
        IpProto::ICMP | IpProto::ICMPV6 => (L4_ICMP, 0),
        _ => (0, 0),
    };
    lens.l4_len = l4_len as u16;
    (ptype | l4_type, lens)
}

/// What follows the L3 header(s).
enum Next {
    /// An upper-layer protocol.
    Proto(IpProto),
    /// A fragment: the upper-layer header may not be here.
    Fragment,
    /// Extension headers were truncated or too many to skip.
    Unknown,
}

/// The SCTP common header.
const SCTP_HEADER_LEN: usize = 12;

/// An IPv4 header's L3 type, length and what follows; `None` if it is not a plausible
/// IPv4 header (short, not version 4, IHL below 5).
#[inline]
fn parse_ipv4(l3: &[u8]) -> Option<(u32, usize, Next)> {
    if l3.len() < crate::ipv4::MIN_HEADER_LEN {
        return None;
    }
    let l3_type = match l3[0] {
        0x45 => L3_IPV4,
        0x46..=0x4f => L3_IPV4_EXT,
        _ => return None,
    };
    let len = usize::from(l3[0] & 0x0f) * 4;
    // More Fragments or a fragment offset.
    let next = if get_u16(l3, 6) & 0x3fff != 0 {
        Next::Fragment
    } else {
        Next::Proto(IpProto(l3[9]))
    };
    Some((l3_type, len, next))
}

/// An IPv6 header's L3 type, length with extension headers, and what follows; `None` if
/// the fixed header is short or not version 6.
#[inline]
fn parse_ipv6(l3: &[u8]) -> Option<(u32, usize, Next)> {
    if l3.len() < ipv6::HEADER_LEN || l3[0] >> 4 != 6 {
        return None;
    }
    let mut proto = IpProto(l3[6]);
    let mut off = ipv6::HEADER_LEN;
    if !is_ipv6_ext(proto) {
        return Some((L3_IPV6, off, Next::Proto(proto)));
    }
    for _ in 0..MAX_IPV6_EXT_HEADERS {
        let next = match proto {
            IpProto::HOPOPTS | IpProto::ROUTING | IpProto::DSTOPTS => {
                let Some(ext) = l3.get(off..off + 2) else {
                    break;
                };
                proto = IpProto(ext[0]);
                off += (usize::from(ext[1]) + 1) * 8;
                continue;
            }
            IpProto::FRAGMENT if off + 2 <= l3.len() => {
                off += 8;
                Next::Fragment
            }
            IpProto::FRAGMENT => break,
            _ => Next::Proto(proto),
        };
        return Some((L3_IPV6_EXT, off, next));
    }
    Some((L3_IPV6_EXT, ipv6::HEADER_LEN, Next::Unknown))
}

/// IPv6 extension headers that make the L3 type [`L3_IPV6_EXT`].
#[inline]
fn is_ipv6_ext(proto: IpProto) -> bool {
    matches!(
        proto,
        IpProto::HOPOPTS
            | IpProto::ROUTING
            | IpProto::FRAGMENT
            | IpProto::ESP
            | IpProto::AH
            | IpProto::DSTOPTS
    )
}

/// Parses the first segment of `m` and stores the packet type in it (l3fwd's
/// `--parse-ptype` RX callback), returning the type.
#[inline]
pub fn set_mbuf_ptype(m: &mut Mbuf) -> u32 {
    let (ptype, _) = get_ptype(m.data());
    m.set_packet_type(ptype);
    ptype
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{MLD6, TCP4_SYN, UDP4, UDP6};
    use proptest::prelude::*;

    fn lens(l2: u16, l3: u16, l4: u16) -> HeaderLens {
        HeaderLens {
            l2_len: l2,
            l3_len: l3,
            l4_len: l4,
        }
    }

    #[test]
    fn captured_frames() {
        assert_eq!(
            get_ptype(&UDP4),
            (L2_ETHER | L3_IPV4 | L4_UDP, lens(14, 20, 8))
        );
        assert_eq!(
            get_ptype(&TCP4_SYN),
            (L2_ETHER | L3_IPV4 | L4_TCP, lens(14, 20, 40))
        );
        assert_eq!(
            get_ptype(&UDP6),
            (L2_ETHER | L3_IPV6 | L4_UDP, lens(14, 40, 8))
        );
        // Hop-by-hop options (8 bytes) then ICMPv6.
        assert_eq!(
            get_ptype(&MLD6),
            (L2_ETHER | L3_IPV6_EXT | L4_ICMP, lens(14, 48, 0))
        );
        assert!(is_ipv4(L3_IPV4_EXT) && is_ipv4(L3_IPV4_EXT_UNKNOWN) && !is_ipv4(L3_IPV6));
        assert!(is_ipv6(L3_IPV6_EXT) && !is_ipv6(L3_IPV4_EXT));
    }

    /// `frame` with a VLAN (or two QinQ) tags inserted after the MAC addresses.
    fn tagged(frame: &[u8], tpids: &[u16]) -> Vec<u8> {
        let mut out = frame[..12].to_vec();
        for &tpid in tpids {
            out.extend_from_slice(&tpid.to_be_bytes());
            out.extend_from_slice(&[0x00, 0x64]);
        }
        out.extend_from_slice(&frame[12..]);
        out
    }

    #[test]
    fn vlan_and_qinq() {
        let v = tagged(&UDP4, &[0x8100]);
        assert_eq!(
            get_ptype(&v),
            (L2_ETHER_VLAN | L3_IPV4 | L4_UDP, lens(18, 20, 8))
        );
        let q = tagged(&TCP4_SYN, &[0x88a8, 0x8100]);
        assert_eq!(
            get_ptype(&q),
            (L2_ETHER_QINQ | L3_IPV4 | L4_TCP, lens(22, 20, 40))
        );
        assert_eq!(get_ptype(&q[..20]), (L2_ETHER_QINQ, lens(14, 0, 0)));
    }

    #[test]
    fn ipv4_options_fragments_and_truncation() {
        // IHL 6: 4 bytes of options before the UDP header.
        let mut f = UDP4[..34].to_vec();
        f[14] = 0x46;
        f.extend_from_slice(&[1, 1, 1, 0]);
        f.extend_from_slice(&UDP4[34..]);
        assert_eq!(
            get_ptype(&f),
            (L2_ETHER | L3_IPV4_EXT | L4_UDP, lens(14, 24, 8))
        );
        // More fragments, then a non-zero offset: L4_FRAG with no L4 length.
        let mut g = UDP4;
        g[20] = 0x20;
        assert_eq!(
            get_ptype(&g),
            (L2_ETHER | L3_IPV4 | L4_FRAG, lens(14, 20, 0))
        );
        g[20] = 0x40;
        g[21] = 0x01;
        assert_eq!(get_ptype(&g).0, L2_ETHER | L3_IPV4 | L4_FRAG);
        // A TCP header cut short loses the L4 type; IPv4 cut short loses L3.
        assert_eq!(get_ptype(&TCP4_SYN[..50]).0, L2_ETHER | L3_IPV4);
        assert_eq!(get_ptype(&UDP4[..33]), (L2_ETHER, lens(14, 0, 0)));
        assert_eq!(get_ptype(&UDP4[..13]), (UNKNOWN, lens(0, 0, 0)));
        let mut bad = UDP4;
        bad[14] = 0x44;
        assert_eq!(get_ptype(&bad).0, L2_ETHER);
    }

    #[test]
    fn ipv6_fragment_and_other_l2() {
        // Fragment header (next header 44) in front of UDP.
        let mut f = UDP6[..54].to_vec();
        f[20] = 44;
        f.extend_from_slice(&[17, 0, 0, 1, 0, 0, 0, 1]);
        f.extend_from_slice(&UDP6[54..]);
        assert_eq!(
            get_ptype(&f),
            (L2_ETHER | L3_IPV6_EXT | L4_FRAG, lens(14, 48, 0))
        );
        let mut arp = [0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(get_ptype(&arp).0, L2_ETHER_ARP);
        arp[12..14].copy_from_slice(&[0x88, 0xcc]);
        assert_eq!(get_ptype(&arp).0, L2_ETHER_LLDP);
        arp[12..14].copy_from_slice(&[0x88, 0xf7]);
        assert_eq!(get_ptype(&arp).0, L2_ETHER_TIMESYNC);
        arp[12..14].copy_from_slice(&[0x12, 0x34]);
        assert_eq!(get_ptype(&arp).0, L2_ETHER);
    }

    #[test]
    fn sets_the_mbuf_packet_type() {
        use burst_eal::memory::{Memory, MemoryConfig};
        use burst_mempool::{MbufConfig, PktPool};
        let memory = Memory::new(MemoryConfig::no_huge()).unwrap();
        let pool = PktPool::new(&memory, "ptype", 7, MbufConfig::default()).unwrap();
        let mut m = pool.alloc().unwrap();
        m.append(UDP6.len()).unwrap().copy_from_slice(&UDP6);
        assert_eq!(set_mbuf_ptype(&mut m), L2_ETHER | L3_IPV6 | L4_UDP);
        assert_eq!(m.packet_type(), L2_ETHER | L3_IPV6 | L4_UDP);
    }

    proptest! {
        #[test]
        fn fuzz_never_panics(mut bytes in proptest::collection::vec(any::<u8>(), 0..120), kind in 0u8..5) {
            if bytes.len() >= 16 {
                let tpid: [u8; 2] = match kind {
                    0 => [0x08, 0x00],
                    1 => [0x86, 0xdd],
                    2 => [0x81, 0x00],
                    3 => [0x88, 0xa8],
                    _ => [bytes[12], bytes[13]],
                };
                bytes[12..14].copy_from_slice(&tpid);
                if kind == 1 {
                    bytes[14] = 0x60;
                }
            }
            let (ptype, lens) = get_ptype(&bytes);
            prop_assert_eq!(ptype & !(L2_MASK | L3_MASK | L4_MASK), 0);
            prop_assert!(usize::from(lens.l2_len) <= bytes.len());
        }
    }
}
