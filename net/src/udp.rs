//! UDP datagrams (RFC 768, DPDK `rte_udp_hdr`): ports, length and a checksum over an IP
//! pseudo-header, the header and the data.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::bytes::{get_u16, set_u16};
use crate::checksum;
use crate::error::{WireError, need};
use crate::ip::IpProto;

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
}

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

/// A zero-copy view of a UDP datagram: header and, up to the length field, data.
#[derive(Debug, Clone)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wraps `buffer` without checking it; accessors panic if the buffer is shorter than
    /// the length field says. For building a datagram.
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }

    /// Wraps `buffer` if `8 <= length <= buffer length`; every accessor then succeeds.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        need("UDP", HEADER_LEN, b.len())?;
        let len = usize::from(get_u16(b, field::LENGTH));
        if len < HEADER_LEN {
            return Err(WireError::Malformed {
                header: "UDP",
                field: "length",
                value: len as u32,
                why: "must be at least 8",
            });
        }
        need("UDP", len, b.len())?;
        Ok(UdpPacket { buffer })
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// Length of header and data.
    #[inline]
    pub fn len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// The length field is zero (only possible on a view from `new_unchecked`).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The checksum as stored; 0 over IPv4 means "none computed".
    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The data after the header, up to the length field.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }

    fn datagram(&self) -> &[u8] {
        &self.buffer.as_ref()[..usize::from(self.len())]
    }

    /// The checksum is correct for an IPv4 datagram from `src` to `dst`, or absent (0).
    #[inline]
    pub fn verify_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        self.checksum() == 0 || {
            let pseudo = checksum::ipv4_pseudo_header_sum(src, dst, IpProto::UDP, self.len());
            checksum::fold(pseudo + checksum::sum(self.datagram())) == 0xffff
        }
    }

    /// The checksum is correct for an IPv6 datagram (where it is mandatory, RFC 8200 §8.1).
    #[inline]
    pub fn verify_checksum_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let pseudo = checksum::ipv6_pseudo_header_sum(src, dst, IpProto::UDP, self.len().into());
        self.checksum() != 0 && checksum::fold(pseudo + checksum::sum(self.datagram())) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    /// Sets the source port.
    #[inline]
    pub fn set_src_port(&mut self, port: u16) {
        set_u16(self.buffer.as_mut(), field::SRC_PORT, port);
    }

    /// Sets the destination port.
    #[inline]
    pub fn set_dst_port(&mut self, port: u16) {
        set_u16(self.buffer.as_mut(), field::DST_PORT, port);
    }

    /// Sets the length field.
    #[inline]
    pub fn set_len(&mut self, len: u16) {
        set_u16(self.buffer.as_mut(), field::LENGTH, len);
    }

    /// Stores a checksum.
    #[inline]
    pub fn set_checksum(&mut self, check: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM, check);
    }

    fn fill(&mut self, pseudo: u32) {
        self.set_checksum(0);
        let check = checksum::l4_checksum(pseudo, self.datagram());
        // RFC 768: a computed 0 is sent as all ones; 0 means "no checksum".
        self.set_checksum(if check == 0 { 0xffff } else { check });
    }

    /// Computes and stores the checksum for an IPv4 datagram from `src` to `dst`.
    #[inline]
    pub fn fill_checksum_v4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.fill(checksum::ipv4_pseudo_header_sum(
            src,
            dst,
            IpProto::UDP,
            self.len(),
        ));
    }

    /// Computes and stores the checksum for an IPv6 datagram from `src` to `dst`.
    #[inline]
    pub fn fill_checksum_v6(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        self.fill(checksum::ipv6_pseudo_header_sum(
            src,
            dst,
            IpProto::UDP,
            self.len().into(),
        ));
    }

    /// The data, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipv4::Ipv4Packet;
    use crate::ipv6::Ipv6Packet;
    use crate::testdata::{UDP4, UDP6};
    use proptest::prelude::*;

    #[test]
    fn captured_udp4_checksum() {
        let ip = Ipv4Packet::new_checked(&UDP4[14..]).unwrap();
        assert_eq!(ip.checksum(), 0x2670);
        assert!(ip.verify_checksum());
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let udp = UdpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(
            (udp.src_port(), udp.dst_port(), udp.len()),
            (40000, 9000, 21)
        );
        assert_eq!(udp.payload(), b"hello, burst!");
        assert_eq!(udp.checksum(), 0xbd4b);
        assert!(udp.verify_checksum_v4(src, dst));
        assert!(!udp.verify_checksum_v4(dst, Ipv4Addr::LOCALHOST));

        let mut copy = ip.payload().to_vec();
        let mut u = UdpPacket::new_checked(&mut copy[..]).unwrap();
        u.set_checksum(0);
        assert!(
            u.verify_checksum_v4(src, dst),
            "0 means no checksum over IPv4"
        );
        u.fill_checksum_v4(src, dst);
        assert_eq!(u.checksum(), 0xbd4b);
    }

    #[test]
    fn captured_udp6_checksum() {
        let ip = Ipv6Packet::new_checked(&UDP6[14..]).unwrap();
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let udp = UdpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(
            (udp.src_port(), udp.dst_port(), udp.checksum()),
            (40001, 9001, 0x85ed)
        );
        assert_eq!(udp.payload(), b"burst v6");
        assert!(udp.verify_checksum_v6(&src, &dst));
        let mut copy = ip.payload().to_vec();
        let mut u = UdpPacket::new_checked(&mut copy[..]).unwrap();
        u.set_checksum(0);
        assert!(!u.verify_checksum_v6(&src, &dst), "mandatory over IPv6");
        u.fill_checksum_v6(&src, &dst);
        assert_eq!(u.checksum(), 0x85ed);
    }

    #[test]
    fn a_zero_sum_is_sent_as_all_ones() {
        // Search the source port that makes the checksum compute to zero.
        let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let mut buf = [0u8; 8];
        let mut u = UdpPacket::new_unchecked(&mut buf[..]);
        u.set_len(8);
        u.set_dst_port(53);
        u.set_src_port(0);
        u.fill_checksum_v4(src, dst);
        let zero_port = u.checksum();
        u.set_src_port(zero_port);
        u.fill_checksum_v4(src, dst);
        assert_eq!(u.checksum(), 0xffff);
        assert!(u.verify_checksum_v4(src, dst));
        assert!(u.payload_mut().is_empty() && !u.is_empty());
    }

    #[test]
    fn rejects_bad_lengths() {
        let mut b = [0u8; 12];
        b[5] = 7;
        assert!(matches!(
            UdpPacket::new_checked(&b[..]),
            Err(WireError::Malformed { value: 7, .. })
        ));
        b[5] = 13;
        assert!(matches!(
            UdpPacket::new_checked(&b[..]),
            Err(WireError::Truncated { need: 13, .. })
        ));
        b[5] = 12;
        assert_eq!(UdpPacket::new_checked(&b[..]).unwrap().payload().len(), 4);
        assert!(UdpPacket::new_checked(&b[..7]).is_err());
    }

    proptest! {
        #[test]
        fn fuzz_never_panics(mut bytes in proptest::collection::vec(any::<u8>(), 0..40), fix in any::<bool>()) {
            if fix && bytes.len() >= 8 {
                bytes[4] = 0;
                bytes[5] = bytes.len() as u8 - bytes[5] % 8;
            }
            if let Ok(u) = UdpPacket::new_checked(&bytes[..]) {
                let _ = (u.src_port(), u.dst_port(), u.len(), u.checksum(), u.payload().len());
                let _ = u.verify_checksum_v4(Ipv4Addr::LOCALHOST, Ipv4Addr::BROADCAST);
                let _ = u.verify_checksum_v6(&Ipv6Addr::LOCALHOST, &Ipv6Addr::UNSPECIFIED);
            }
        }
    }
}
