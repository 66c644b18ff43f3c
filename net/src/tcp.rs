//! TCP segments (RFC 9293 §3.1, DPDK `rte_tcp_hdr`): ports, sequence and acknowledgment
//! numbers, data offset, flags, window, checksum, urgent pointer, options. TCP has no
//! length field: the segment is the whole buffer, i.e. the IP payload.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::bytes::{get_u16, get_u32, set_u16, set_u32};
use crate::checksum;
use crate::error::{WireError, need};
use crate::ip::IpProto;

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    pub const ACK: usize = 8;
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
}

/// Length of a header without options (data offset 5).
pub const MIN_HEADER_LEN: usize = 20;

/// The control bits of byte 13 (DPDK's `tcp_flags`, `RTE_TCP_*_FLAG`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from the sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// Synchronise sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// Push function.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// The acknowledgment field is significant.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// The urgent pointer is significant.
    pub const URG: TcpFlags = TcpFlags(0x20);
    /// ECN echo (RFC 3168).
    pub const ECE: TcpFlags = TcpFlags(0x40);
    /// Congestion window reduced (RFC 3168).
    pub const CWR: TcpFlags = TcpFlags(0x80);

    /// Every flag of `other` is set in `self`.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;

    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

/// A zero-copy view of a TCP segment.
#[derive(Debug, Clone)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps `buffer` without checking it; accessors panic if it is shorter than the data
    /// offset says. For building a segment.
    pub const fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Wraps `buffer` if it holds a header whose data offset is at least 5 and fits;
    /// every accessor then succeeds.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        need("TCP", MIN_HEADER_LEN, b.len())?;
        let header_len = usize::from(b[field::DATA_OFF] >> 4) * 4;
        if header_len < MIN_HEADER_LEN {
            return Err(WireError::Malformed {
                header: "TCP",
                field: "data offset",
                value: (header_len / 4) as u32,
                why: "must be at least 5",
            });
        }
        need("TCP", header_len, b.len())?;
        Ok(TcpPacket { buffer })
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

    /// Sequence number.
    #[inline]
    pub fn seq_number(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::SEQ)
    }

    /// Acknowledgment number.
    #[inline]
    pub fn ack_number(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::ACK)
    }

    /// Header length in bytes (data offset * 4): 20 without options, up to 60.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::DATA_OFF] >> 4) * 4
    }

    /// The control flags.
    #[inline]
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.buffer.as_ref()[field::FLAGS])
    }

    /// Receive window.
    #[inline]
    pub fn window(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::WINDOW)
    }

    /// The checksum as stored.
    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Urgent pointer.
    #[inline]
    pub fn urgent(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::URGENT)
    }

    /// The options between the fixed header and the data offset.
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[MIN_HEADER_LEN..self.header_len()]
    }

    /// The data after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// The checksum is correct for a segment carried by IPv4 from `src` to `dst`.
    #[inline]
    pub fn verify_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let seg = self.buffer.as_ref();
        let pseudo = checksum::ipv4_pseudo_header_sum(src, dst, IpProto::TCP, seg.len() as u16);
        checksum::fold(pseudo + checksum::sum(seg)) == 0xffff
    }

    /// The checksum is correct for a segment carried by IPv6 from `src` to `dst`.
    #[inline]
    pub fn verify_checksum_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let seg = self.buffer.as_ref();
        let pseudo = checksum::ipv6_pseudo_header_sum(src, dst, IpProto::TCP, seg.len() as u32);
        checksum::fold(pseudo + checksum::sum(seg)) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
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

    /// Sets the sequence number.
    #[inline]
    pub fn set_seq_number(&mut self, seq: u32) {
        set_u32(self.buffer.as_mut(), field::SEQ, seq);
    }

    /// Sets the acknowledgment number.
    #[inline]
    pub fn set_ack_number(&mut self, ack: u32) {
        set_u32(self.buffer.as_mut(), field::ACK, ack);
    }

    /// Sets the header length in bytes (a multiple of 4, 20 to 60), clearing the
    /// reserved bits.
    #[inline]
    pub fn set_header_len(&mut self, len: usize) {
        self.buffer.as_mut()[field::DATA_OFF] = ((len / 4) as u8) << 4;
    }

    /// Sets the control flags.
    #[inline]
    pub fn set_flags(&mut self, flags: TcpFlags) {
        self.buffer.as_mut()[field::FLAGS] = flags.0;
    }

    /// Sets the receive window.
    #[inline]
    pub fn set_window(&mut self, window: u16) {
        set_u16(self.buffer.as_mut(), field::WINDOW, window);
    }

    /// Stores a checksum.
    #[inline]
    pub fn set_checksum(&mut self, check: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM, check);
    }

    /// Sets the urgent pointer.
    #[inline]
    pub fn set_urgent(&mut self, urgent: u16) {
        set_u16(self.buffer.as_mut(), field::URGENT, urgent);
    }

    /// Computes and stores the checksum for a segment carried by IPv4.
    #[inline]
    pub fn fill_checksum_v4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let seg = self.buffer.as_ref();
        let pseudo = checksum::ipv4_pseudo_header_sum(src, dst, IpProto::TCP, seg.len() as u16);
        let check = checksum::l4_checksum(pseudo, seg);
        self.set_checksum(check);
    }

    /// Computes and stores the checksum for a segment carried by IPv6.
    #[inline]
    pub fn fill_checksum_v6(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        self.set_checksum(0);
        let seg = self.buffer.as_ref();
        let pseudo = checksum::ipv6_pseudo_header_sum(src, dst, IpProto::TCP, seg.len() as u32);
        let check = checksum::l4_checksum(pseudo, seg);
        self.set_checksum(check);
    }

    /// The options, writable.
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[MIN_HEADER_LEN..end]
    }

    /// The data, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        &mut self.buffer.as_mut()[start..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipv4::Ipv4Packet;
    use crate::testdata::TCP4_SYN;
    use proptest::prelude::*;

    #[test]
    fn captured_syn() {
        let ip = Ipv4Packet::new_checked(&TCP4_SYN[14..]).unwrap();
        assert_eq!(ip.checksum(), 0x6e0f);
        assert!(ip.verify_checksum());
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!((tcp.src_port(), tcp.dst_port()), (50000, 8080));
        assert_eq!((tcp.seq_number(), tcp.ack_number()), (0x03d1_0dcb, 0));
        assert_eq!(
            (tcp.header_len(), tcp.flags(), tcp.window()),
            (40, TcpFlags::SYN, 0xfaf0)
        );
        assert!(!tcp.flags().contains(TcpFlags::SYN | TcpFlags::ACK));
        assert_eq!((tcp.checksum(), tcp.urgent()), (0xab92, 0));
        assert_eq!(&tcp.options()[..4], &[2, 4, 0x05, 0xb4], "MSS 1460");
        assert!(tcp.payload().is_empty());
        assert!(tcp.verify_checksum_v4(src, dst));

        let mut copy = ip.payload().to_vec();
        let mut t = TcpPacket::new_checked(&mut copy[..]).unwrap();
        t.set_checksum(0);
        assert!(!t.verify_checksum_v4(src, dst));
        t.fill_checksum_v4(src, dst);
        assert_eq!(t.checksum(), 0xab92);
    }

    #[test]
    fn build_over_ipv6() {
        let (src, dst) = (
            Ipv6Addr::LOCALHOST,
            "2001:db8::1".parse::<Ipv6Addr>().unwrap(),
        );
        let mut buf = [0u8; 29];
        let mut t = TcpPacket::new_unchecked(&mut buf[..]);
        t.set_src_port(443);
        t.set_dst_port(1234);
        t.set_seq_number(1);
        t.set_ack_number(2);
        t.set_header_len(24);
        t.set_flags(TcpFlags::PSH | TcpFlags::ACK);
        t.set_window(512);
        t.set_urgent(0);
        t.options_mut().copy_from_slice(&[1, 1, 1, 0]);
        t.payload_mut().copy_from_slice(b"hello");
        t.fill_checksum_v6(&src, &dst);
        let t = TcpPacket::new_checked(&buf[..]).unwrap();
        assert!(t.verify_checksum_v6(&src, &dst));
        assert_eq!(
            (t.payload(), t.flags().contains(TcpFlags::ACK)),
            (&b"hello"[..], true)
        );
        let mut bad = buf;
        bad[12] = 0x40;
        assert!(matches!(
            TcpPacket::new_checked(&bad[..]),
            Err(WireError::Malformed { value: 4, .. })
        ));
        bad[12] = 0x80;
        assert!(matches!(
            TcpPacket::new_checked(&bad[..]),
            Err(WireError::Truncated { need: 32, .. })
        ));
    }

    proptest! {
        #[test]
        fn fuzz_never_panics(mut bytes in proptest::collection::vec(any::<u8>(), 0..70), fix in any::<bool>()) {
            if fix && bytes.len() >= 20 {
                bytes[12] = ((bytes.len().min(60) / 4) as u8) << 4;
            }
            if let Ok(t) = TcpPacket::new_checked(&bytes[..]) {
                let _ = (t.src_port(), t.dst_port(), t.seq_number(), t.ack_number(), t.header_len());
                let _ = (t.flags(), t.window(), t.checksum(), t.urgent(), t.options().len(), t.payload().len());
                let _ = t.verify_checksum_v4(Ipv4Addr::LOCALHOST, Ipv4Addr::BROADCAST);
                let _ = t.verify_checksum_v6(&Ipv6Addr::LOCALHOST, &Ipv6Addr::UNSPECIFIED);
            }
        }
    }
}
