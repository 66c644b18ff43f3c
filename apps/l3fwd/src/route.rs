//! The routing decision for one packet: DPDK 22.11 l3fwd's `lpm_get_dst_port`,
//! `em_get_dst_port` and `rfc1812_process`, on burst-net's header views.
//!
//! What a packet gets, in order:
//! 1. Ethernet type IPv4 or IPv6, or it is dropped (non-IP).
//! 2. IPv4: RFC 1812 §5.2.2's checks, as DPDK (version 4, IHL >= 5, total length >= 20),
//!    and more: the header and the total length must fit in the frame, and the header
//!    checksum must be right (DPDK leaves that to the NIC's checksum offload, which
//!    burst's ports do not have). IPv6: version 6, header and payload length within the
//!    frame. A packet that fails is dropped.
//! 3. TTL (hop limit) 0 or 1 on arrival: dropped, as RFC 1812 §5.3.1 asks of a router
//!    (DPDK forwards it with TTL 0, or 255 after wrapping; it does not touch the IPv6 hop
//!    limit).
//! 4. The lookup: LPM on the destination address, or EM on the 5-tuple; a miss sends the
//!    packet back out of its input port, as DPDK.
//! 5. The TTL (hop limit) is decremented, the IPv4 checksum updated by RFC 1624 (DPDK's
//!    `++checksum` is RFC 1141's, off by one when the sum wraps), and the Ethernet
//!    header rewritten: destination `02:00:00:00:00:<port>` (or `--eth-dest`), source
//!    the output port's MAC.
//!
//! Where DPDK differs by lookup method, burst does the same in both: VLAN-tagged and
//! other non-IP frames are dropped (DPDK's LPM path sends them back out unchanged but for
//! the MACs); IP packets that are neither TCP nor UDP are looked up in EM mode with zero
//! ports (DPDK drops or returns them depending on its code path), so they miss unless a
//! rule says otherwise; IPv4 options are skipped to find the ports (DPDK reads them
//! at a fixed offset).

use std::sync::Arc;

use burst_net::em::{ExactMatch, Ipv4FiveTuple, Ipv6FiveTuple};
use burst_net::ether::{EtherType, HEADER_LEN as ETHER_LEN};
use burst_net::ipv4::Ipv4Packet;
use burst_net::ipv6::Ipv6Packet;
use burst_net::lpm::Lpm;
use burst_net::lpm6::Lpm6;

use crate::args::MAX_ETHPORTS;

/// The output port of a packet to drop (DPDK's `BAD_PORT`).
pub const BAD_PORT: u16 = u16::MAX;

/// Exact-match flows per table (DPDK's `L3FWD_HASH_ENTRIES`, 4 Mi).
pub const HASH_ENTRIES: usize = 4 << 20;

/// The lookup tables, built once, then shared read-only by every lcore. Their next hops
/// are enabled ports only: rules to other ports are left out when the tables are built.
pub enum Tables {
    /// Longest-prefix match on the destination address.
    Lpm {
        /// IPv4 routes.
        v4: Lpm,
        /// IPv6 routes.
        v6: Lpm6,
    },
    /// Exact match on the 5-tuple: one family's table only, as DPDK (`--ipv6` picks
    /// it); the other family's packets all miss.
    Em {
        /// IPv4 flows, without `--ipv6`.
        v4: Option<ExactMatch<Ipv4FiveTuple, u16>>,
        /// IPv6 flows, with `--ipv6`.
        v6: Option<ExactMatch<Ipv6FiveTuple, u16>>,
    },
}

impl Tables {
    /// The output port of an IPv4 packet, `None` on a miss.
    #[inline(always)]
    fn lookup_v4(&self, ip: &Ipv4Packet<&mut [u8]>) -> Option<u16> {
        match self {
            Self::Lpm { v4, .. } => v4.lookup(ip.dst_addr_u32()).map(|hop| hop as u16),
            Self::Em { v4, .. } => v4.as_ref()?.lookup(&Ipv4FiveTuple::from_packet(ip)),
        }
    }

    /// The output port of an IPv6 packet, `None` on a miss.
    #[inline(always)]
    fn lookup_v6(&self, ip: &Ipv6Packet<&mut [u8]>) -> Option<u16> {
        match self {
            Self::Lpm { v6, .. } => v6.lookup(ip.dst_addr()).map(|hop| hop as u16),
            Self::Em { v6, .. } => v6.as_ref()?.lookup(&Ipv6FiveTuple::from_packet(ip)),
        }
    }
}

/// The Ethernet header written on packets sent out of `port`: destination
/// `dst` (DPDK's `dest_eth_addr`), source the port's MAC.
pub fn eth_header(dst: [u8; 6], src: [u8; 6]) -> [u8; 12] {
    let mut hdr = [0u8; 12];
    hdr[..6].copy_from_slice(&dst);
    hdr[6..].copy_from_slice(&src);
    hdr
}

/// DPDK's default destination MAC of `port`: `02:00:00:00:00:<port>`.
pub fn default_dest(port: u16) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, port as u8]
}

/// Routes packets: the tables and the Ethernet header of every output port.
pub struct Router {
    tables: Arc<Tables>,
    /// By output port: the 12 bytes written over the frame's MACs.
    eth: [[u8; 12]; MAX_ETHPORTS],
}

impl Router {
    /// A router over `tables`, writing `eth[port]` over the MACs of packets sent on
    /// `port` (see [`eth_header`]).
    pub fn new(tables: Arc<Tables>, eth: [[u8; 12]; MAX_ETHPORTS]) -> Self {
        Self { tables, eth }
    }

    /// Routes the frame `frame` (its first segment) received on `in_port`, rewriting it
    /// in place to go out: returns the output port, or [`BAD_PORT`] to drop it (left
    /// as it was). See the module's documentation for the steps.
    #[inline]
    pub fn route(&self, frame: &mut [u8], in_port: u16) -> u16 {
        let Some((eth, l3)) = frame.split_first_chunk_mut::<ETHER_LEN>() else {
            return BAD_PORT;
        };
        let ether_type = EtherType(u16::from_be_bytes([eth[12], eth[13]]));
        let out = if ether_type == EtherType::IPV4 {
            self.route_v4(l3, in_port)
        } else if ether_type == EtherType::IPV6 {
            self.route_v6(l3, in_port)
        } else {
            BAD_PORT
        };
        if let Some(hdr) = self.eth.get(usize::from(out)) {
            eth[..12].copy_from_slice(hdr);
        }
        out
    }

    #[inline(always)]
    fn route_v4(&self, l3: &mut [u8], in_port: u16) -> u16 {
        let Ok(mut ip) = Ipv4Packet::new_checked(l3) else {
            return BAD_PORT;
        };
        if ip.ttl() <= 1 || !checksum_ok(&ip) {
            return BAD_PORT;
        }
        let out = self.tables.lookup_v4(&ip).unwrap_or(in_port);
        ip.decrement_ttl();
        out
    }

    #[inline(always)]
    fn route_v6(&self, l3: &mut [u8], in_port: u16) -> u16 {
        let Ok(mut ip) = Ipv6Packet::new_checked(l3) else {
            return BAD_PORT;
        };
        if ip.hop_limit() <= 1 {
            return BAD_PORT;
        }
        let out = self.tables.lookup_v6(&ip).unwrap_or(in_port);
        ip.decrement_hop_limit();
        out
    }
}

/// [`Ipv4Packet::verify_checksum`], unrolled for the usual 20-byte header: the
/// one's complement sum of its five 32-bit words (in memory order: the sum's bytes come
/// out swapped on a little-endian CPU, and `0xffff` reads the same either way).
#[inline(always)]
fn checksum_ok(ip: &Ipv4Packet<&mut [u8]>) -> bool {
    let Ok(h) = <&[u8; 20]>::try_from(ip.header()) else {
        return ip.verify_checksum();
    };
    let word = |i: usize| u64::from(u32::from_ne_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
    let mut sum = word(0) + word(4) + word(8) + word(12) + word(16);
    sum = (sum & 0xffff_ffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum == 0xffff
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use burst_net::ip::IpProto;

    use super::*;

    /// An IPv4/UDP frame to `dst` with `ttl`, checksum filled, 64 bytes.
    fn udp4(dst: [u8; 4], ttl: u8) -> Vec<u8> {
        let mut f = vec![0u8; 64];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14..34].copy_from_slice(&[
            0x45, 0, 0, 46, 0, 1, 0, 0, ttl, 17, 0, 0, 198, 18, 1, 1, dst[0], dst[1], dst[2],
            dst[3],
        ]);
        f[34..38].copy_from_slice(&[0, 9, 0, 9]);
        Ipv4Packet::new_checked(&mut f[14..])
            .unwrap()
            .fill_checksum();
        f
    }

    fn udp6(dst: Ipv6Addr, hops: u8) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 40 + 8];
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        f[14] = 0x60;
        f[18..20].copy_from_slice(&8u16.to_be_bytes());
        f[20] = 17;
        f[21] = hops;
        f[38..54].copy_from_slice(&dst.octets());
        f
    }

    fn lpm_tables() -> Tables {
        let mut v4 = Lpm::new(16, 16).unwrap();
        v4.add(u32::from(Ipv4Addr::new(198, 18, 1, 0)), 24, 1)
            .unwrap();
        let mut v6 = Lpm6::new(16, 16).unwrap();
        v6.add("2001:200:0:1::".parse().unwrap(), 64, 1).unwrap();
        Tables::Lpm { v4, v6 }
    }

    fn eth() -> [[u8; 12]; MAX_ETHPORTS] {
        std::array::from_fn(|p| eth_header(default_dest(p as u16), [2, 0x70, 0, 0, 0, p as u8]))
    }

    #[test]
    fn routes_decrements_and_rewrites() {
        let r = Router::new(Arc::new(lpm_tables()), eth());
        let mut f = udp4([198, 18, 1, 7], 64);
        assert_eq!(r.route(&mut f, 0), 1);
        assert_eq!(&f[..12], &eth()[1]);
        let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
        assert_eq!(ip.ttl(), 63);
        assert!(ip.verify_checksum());
        // A miss goes back out of the input port.
        let mut f = udp4([10, 0, 0, 1], 2);
        assert_eq!(r.route(&mut f, 3), 3);
        assert_eq!(&f[..6], &[2, 0, 0, 0, 0, 3]);
        let mut f = udp6("2001:200:0:1::5".parse().unwrap(), 9);
        assert_eq!(r.route(&mut f, 0), 1);
        assert_eq!(f[21], 8);
        let mut f = udp6("2001:db8::5".parse().unwrap(), 9);
        assert_eq!(r.route(&mut f, 2), 2);
    }

    #[test]
    fn drops_what_a_router_must_not_forward() {
        let r = Router::new(Arc::new(lpm_tables()), eth());
        let mut bad = Vec::new();
        bad.push(udp4([198, 18, 1, 7], 1)); // TTL 1
        bad.push(udp4([198, 18, 1, 7], 0)); // TTL 0
        let mut f = udp4([198, 18, 1, 7], 64);
        f[24] ^= 1; // checksum
        bad.push(f);
        let mut f = udp4([198, 18, 1, 7], 64);
        f[14] = 0x44; // IHL 4
        bad.push(f);
        let mut f = udp4([198, 18, 1, 7], 64);
        f[14] = 0x55; // version 5
        bad.push(f);
        let mut f = udp4([198, 18, 1, 7], 64);
        f[16..18].copy_from_slice(&19u16.to_be_bytes()); // total length < 20
        bad.push(f);
        let mut f = udp4([198, 18, 1, 7], 64);
        f[16..18].copy_from_slice(&51u16.to_be_bytes()); // beyond the frame
        bad.push(f);
        bad.push(udp4([198, 18, 1, 7], 64)[..30].to_vec()); // truncated header
        bad.push(udp6("2001:200:0:1::5".parse().unwrap(), 1)); // hop limit 1
        let mut f = udp6("2001:200:0:1::5".parse().unwrap(), 9);
        f[19] = 9; // payload length beyond the frame
        bad.push(f);
        let mut arp = udp4([198, 18, 1, 7], 64);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        bad.push(arp);
        let mut vlan = udp4([198, 18, 1, 7], 64);
        vlan[12..14].copy_from_slice(&[0x81, 0x00]);
        bad.push(vlan);
        bad.push(vec![0u8; 10]); // runt
        for (i, f) in bad.iter_mut().enumerate() {
            let before = f.clone();
            assert_eq!(r.route(f, 0), BAD_PORT, "frame {i}");
            assert_eq!(*f, before, "frame {i} is left as it was");
        }
    }

    #[test]
    fn exact_match_on_the_five_tuple() {
        let mut v4 = ExactMatch::new(64).unwrap();
        let key = Ipv4FiveTuple {
            src_addr: Ipv4Addr::new(198, 18, 1, 1),
            dst_addr: Ipv4Addr::new(198, 18, 1, 7),
            src_port: 9,
            dst_port: 9,
            proto: IpProto::UDP,
        };
        v4.insert(key, 2).unwrap();
        let tables = Tables::Em {
            v4: Some(v4),
            v6: None,
        };
        let r = Router::new(Arc::new(tables), eth());
        assert_eq!(r.route(&mut udp4([198, 18, 1, 7], 64), 0), 2);
        assert_eq!(r.route(&mut udp4([198, 18, 1, 8], 64), 0), 0);
        assert_eq!(
            r.route(&mut udp6("2001:200:0:1::5".parse().unwrap(), 9), 1),
            1
        );
    }
}
