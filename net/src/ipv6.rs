//! IPv6 fixed headers (RFC 8200 §3, DPDK `rte_ipv6_hdr`): version, traffic class, flow
//! label, payload length, next header, hop limit and the two addresses. Extension headers
//! are part of the payload; [`crate::ptype`] skips them.

use std::net::Ipv6Addr;

use crate::bytes::{get_u16, get_u32, set_u16, set_u32};
use crate::error::{WireError, need};
use crate::ip::IpProto;

mod field {
    pub const VER_TC_FLOW: usize = 0;
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;

/// A zero-copy view of an IPv6 packet: the fixed header and, up to the payload length,
/// the payload.
#[derive(Debug, Clone)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps `buffer` without checking it; accessors panic if the buffer is shorter than
    /// the header and the payload length it declares. For building a packet.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wraps `buffer` if it holds version 6 and `40 + payload length <= buffer length`;
    /// every accessor then succeeds. (A zero payload length with a jumbo payload option,
    /// RFC 2675, is taken at face value: an empty payload.)
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        need("IPv6", HEADER_LEN, b.len())?;
        let version = b[field::VER_TC_FLOW] >> 4;
        if version != 6 {
            return Err(WireError::Malformed {
                header: "IPv6",
                field: "version",
                value: version.into(),
                why: "must be 6",
            });
        }
        need(
            "IPv6",
            HEADER_LEN + usize::from(get_u16(b, field::PAYLOAD_LEN)),
            b.len(),
        )?;
        Ok(Ipv6Packet { buffer })
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The IP version (6).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TC_FLOW] >> 4
    }

    /// Traffic class: DSCP and ECN, as IPv4's TOS.
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        (get_u32(self.buffer.as_ref(), field::VER_TC_FLOW) >> 20) as u8
    }

    /// Flow label (20 bits).
    #[inline]
    pub fn flow_label(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::VER_TC_FLOW) & 0x000f_ffff
    }

    /// Length of everything after the fixed header, extension headers included.
    #[inline]
    pub fn payload_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::PAYLOAD_LEN)
    }

    /// The first extension header's or the upper-layer protocol.
    #[inline]
    pub fn next_header(&self) -> IpProto {
        IpProto(self.buffer.as_ref()[field::NEXT_HEADER])
    }

    /// Hop limit, IPv6's TTL.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv6Addr {
        let b: [u8; 16] = self.buffer.as_ref()[field::SRC..field::SRC + 16]
            .try_into()
            .unwrap();
        Ipv6Addr::from(b)
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv6Addr {
        let b: [u8; 16] = self.buffer.as_ref()[field::DST..field::DST + 16]
            .try_into()
            .unwrap();
        Ipv6Addr::from(b)
    }

    /// The payload: the `payload_len` bytes after the fixed header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..HEADER_LEN + usize::from(self.payload_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Sets version 6, the traffic class and the flow label (its low 20 bits).
    #[inline]
    pub fn set_version_tc_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let word = (6 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0x000f_ffff);
        set_u32(self.buffer.as_mut(), field::VER_TC_FLOW, word);
    }

    /// Sets the payload length.
    #[inline]
    pub fn set_payload_len(&mut self, len: u16) {
        set_u16(self.buffer.as_mut(), field::PAYLOAD_LEN, len);
    }

    /// Sets the next header.
    #[inline]
    pub fn set_next_header(&mut self, next: IpProto) {
        self.buffer.as_mut()[field::NEXT_HEADER] = next.0;
    }

    /// Sets the hop limit.
    #[inline]
    pub fn set_hop_limit(&mut self, hops: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = hops;
    }

    /// Decrements the hop limit of a packet being forwarded (there is no header checksum)
    /// and returns it; 0 stays 0. A router drops a packet that arrives with 0 or 1.
    #[inline]
    pub fn decrement_hop_limit(&mut self) -> u8 {
        let hops = self.hop_limit().saturating_sub(1);
        self.set_hop_limit(hops);
        hops
    }

    /// Sets the source address.
    #[inline]
    pub fn set_src_addr(&mut self, addr: &Ipv6Addr) {
        self.buffer.as_mut()[field::SRC..field::SRC + 16].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, addr: &Ipv6Addr) {
        self.buffer.as_mut()[field::DST..field::DST + 16].copy_from_slice(&addr.octets());
    }

    /// The payload, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::UDP6;
    use proptest::prelude::*;

    #[test]
    fn captured_udp6_header() {
        let p = Ipv6Packet::new_checked(&UDP6[14..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!((p.traffic_class(), p.flow_label()), (0, 0xff03e));
        assert_eq!(
            (p.payload_len(), p.next_header(), p.hop_limit()),
            (16, IpProto::UDP, 64)
        );
        assert_eq!(p.src_addr(), "fd00:99::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.dst_addr(), "fd00:99::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.payload().len(), 16);
    }

    #[test]
    fn build_and_check() {
        let mut buf = [0u8; 48];
        let mut p = Ipv6Packet::new_unchecked(&mut buf[..]);
        p.set_version_tc_flow(0xb8, 0x12345);
        p.set_payload_len(8);
        p.set_next_header(IpProto::TCP);
        p.set_hop_limit(1);
        p.set_src_addr(&Ipv6Addr::LOCALHOST);
        p.set_dst_addr(&"2001:db8::9".parse().unwrap());
        p.payload_mut().fill(7);
        assert_eq!(p.decrement_hop_limit(), 0);
        assert_eq!(p.decrement_hop_limit(), 0);
        let p = Ipv6Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(
            (p.traffic_class(), p.flow_label(), p.next_header()),
            (0xb8, 0x12345, IpProto::TCP)
        );
        assert_eq!(p.payload(), &[7; 8]);
        assert!(matches!(
            Ipv6Packet::new_checked(&buf[..47]),
            Err(WireError::Truncated {
                need: 48,
                len: 47,
                ..
            })
        ));
        let mut v4 = buf;
        v4[0] = 0x45;
        assert!(matches!(
            Ipv6Packet::new_checked(&v4[..]),
            Err(WireError::Malformed { value: 4, .. })
        ));
    }

    proptest! {
        #[test]
        fn fuzz_never_panics(mut bytes in proptest::collection::vec(any::<u8>(), 0..80), fix in any::<bool>()) {
            if fix && bytes.len() >= 6 {
                bytes[0] = 0x60 | (bytes[0] & 0x0f);
                bytes[4] = 0;
                bytes[5] %= 41;
            }
            if let Ok(p) = Ipv6Packet::new_checked(&bytes[..]) {
                let _ = (p.version(), p.traffic_class(), p.flow_label(), p.payload_len());
                let _ = (p.next_header(), p.hop_limit(), p.src_addr(), p.dst_addr(), p.payload().len());
            }
        }
    }
}
