//! IPv4 headers (RFC 791 §3.1, DPDK `rte_ipv4_hdr`): version and IHL, DSCP/ECN, total
//! length, identification, flags and fragment offset, TTL, protocol, header checksum,
//! addresses, then options up to `IHL * 4` bytes.

use std::net::Ipv4Addr;

use crate::bytes::{get_u16, get_u32, set_u16, set_u32};
use crate::checksum;
use crate::error::{WireError, need};
use crate::ip::IpProto;

mod field {
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const TOTAL_LEN: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLAGS_FRAG: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
}

/// Length of a header without options (IHL 5).
pub const MIN_HEADER_LEN: usize = 20;

/// Don't Fragment flag in the flags/fragment-offset word.
const DF: u16 = 0x4000;
/// More Fragments flag.
const MF: u16 = 0x2000;
/// Fragment offset, in 8-byte units.
const OFFSET_MASK: u16 = 0x1fff;

/// A zero-copy view of an IPv4 packet: the header and, up to the total length, the payload.
#[derive(Debug, Clone)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps `buffer` without checking it; accessors panic if the buffer is shorter than
    /// the lengths the header declares. For building a packet.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps `buffer` if it holds a consistent IPv4 packet: version 4, IHL at least 5,
    /// `IHL * 4 <= total length <= buffer length` (the buffer may be longer, as with
    /// Ethernet padding). Every accessor then succeeds. The checksum is not verified:
    /// see [`Ipv4Packet::verify_checksum`].
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        need("IPv4", MIN_HEADER_LEN, b.len())?;
        let malformed = |field, value: usize, why| {
            Err(WireError::Malformed {
                header: "IPv4",
                field,
                value: value as u32,
                why,
            })
        };
        let version = b[field::VER_IHL] >> 4;
        if version != 4 {
            return malformed("version", version.into(), "must be 4");
        }
        let header_len = usize::from(b[field::VER_IHL] & 0x0f) * 4;
        if header_len < MIN_HEADER_LEN {
            return malformed("header length", header_len, "must be at least 20 (IHL 5)");
        }
        need("IPv4", header_len, b.len())?;
        let total_len = usize::from(get_u16(b, field::TOTAL_LEN));
        if total_len < header_len {
            return malformed("total length", total_len, "must cover the header");
        }
        need("IPv4", total_len, b.len())?;
        Ok(Ipv4Packet { buffer })
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The IP version (4).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// The header length in bytes (`IHL * 4`): 20 without options, up to 60.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// Type of service byte: DSCP (6 bits) and ECN (2 bits).
    #[inline]
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }

    /// Differentiated services code point (RFC 2474).
    #[inline]
    pub fn dscp(&self) -> u8 {
        self.tos() >> 2
    }

    /// Explicit congestion notification (RFC 3168).
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.tos() & 0x03
    }

    /// Total length of header and payload, in bytes.
    #[inline]
    pub fn total_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::TOTAL_LEN)
    }

    /// Identification, for reassembly.
    #[inline]
    pub fn ident(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::IDENT)
    }

    /// Don't Fragment flag.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        get_u16(self.buffer.as_ref(), field::FLAGS_FRAG) & DF != 0
    }

    /// More Fragments flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        get_u16(self.buffer.as_ref(), field::FLAGS_FRAG) & MF != 0
    }

    /// Fragment offset in bytes (the field counts 8-byte units).
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        (get_u16(self.buffer.as_ref(), field::FLAGS_FRAG) & OFFSET_MASK) << 3
    }

    /// A fragment of a larger datagram: More Fragments set or a non-zero offset (DPDK's
    /// `rte_ipv4_frag_pkt_is_fragmented`).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        get_u16(self.buffer.as_ref(), field::FLAGS_FRAG) & (MF | OFFSET_MASK) != 0
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// The payload's protocol.
    #[inline]
    pub fn protocol(&self) -> IpProto {
        IpProto(self.buffer.as_ref()[field::PROTOCOL])
    }

    /// The header checksum as stored.
    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(get_u32(self.buffer.as_ref(), field::SRC))
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(get_u32(self.buffer.as_ref(), field::DST))
    }

    /// Destination address as a host-order `u32`, the key of an [`crate::lpm::Lpm`] lookup.
    #[inline]
    pub fn dst_addr_u32(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::DST)
    }

    /// The options between the fixed header and [`Ipv4Packet::header_len`].
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[MIN_HEADER_LEN..self.header_len()]
    }

    /// The header, options included.
    #[inline]
    pub fn header(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.header_len()]
    }

    /// The payload: from the end of the header to the total length.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }

    /// The header checksum is correct: the header, checksum included, sums to `0xffff`.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::sum(self.header())) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets the version nibble.
    #[inline]
    pub fn set_version(&mut self, version: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (version << 4);
    }

    /// Sets the header length in bytes (a multiple of 4, 20 to 60; it is stored as
    /// `len / 4`).
    #[inline]
    pub fn set_header_len(&mut self, len: usize) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ((len / 4) as u8 & 0x0f);
    }

    /// Sets the type of service byte.
    #[inline]
    pub fn set_tos(&mut self, tos: u8) {
        self.buffer.as_mut()[field::TOS] = tos;
    }

    /// Sets the total length.
    #[inline]
    pub fn set_total_len(&mut self, len: u16) {
        set_u16(self.buffer.as_mut(), field::TOTAL_LEN, len);
    }

    /// Sets the identification.
    #[inline]
    pub fn set_ident(&mut self, ident: u16) {
        set_u16(self.buffer.as_mut(), field::IDENT, ident);
    }

    fn set_flags_frag(&mut self, mask: u16, value: u16) {
        let word = get_u16(self.buffer.as_ref(), field::FLAGS_FRAG);
        set_u16(
            self.buffer.as_mut(),
            field::FLAGS_FRAG,
            (word & !mask) | (value & mask),
        );
    }

    /// Sets the Don't Fragment flag.
    #[inline]
    pub fn set_dont_frag(&mut self, df: bool) {
        self.set_flags_frag(DF, if df { DF } else { 0 });
    }

    /// Sets the More Fragments flag.
    #[inline]
    pub fn set_more_frags(&mut self, mf: bool) {
        self.set_flags_frag(MF, if mf { MF } else { 0 });
    }

    /// Sets the fragment offset in bytes (a multiple of 8).
    #[inline]
    pub fn set_frag_offset(&mut self, offset: u16) {
        self.set_flags_frag(OFFSET_MASK, offset >> 3);
    }

    /// Sets the time to live.
    #[inline]
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    /// Sets the protocol.
    #[inline]
    pub fn set_protocol(&mut self, proto: IpProto) {
        self.buffer.as_mut()[field::PROTOCOL] = proto.0;
    }

    /// Stores a header checksum.
    #[inline]
    pub fn set_checksum(&mut self, check: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM, check);
    }

    /// Sets the source address.
    #[inline]
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        set_u32(self.buffer.as_mut(), field::SRC, addr.into());
    }

    /// Sets the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        set_u32(self.buffer.as_mut(), field::DST, addr.into());
    }

    /// Computes and stores the header checksum (over the header, options included).
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let check = checksum::checksum(self.header());
        self.set_checksum(check);
    }

    /// Decrements the TTL of a packet being forwarded and updates the checksum
    /// incrementally (RFC 1624), returning the new TTL. A TTL of 0 stays 0. RFC 1812 §5.3.1:
    /// a router drops a packet whose TTL is 0 or 1 on arrival instead of forwarding it.
    #[inline]
    pub fn decrement_ttl(&mut self) -> u8 {
        let b = self.buffer.as_ref();
        let ttl = b[field::TTL];
        if ttl == 0 {
            return 0;
        }
        let old = get_u16(b, field::TTL);
        let new = old - 0x0100;
        let check = checksum::update_u16(self.checksum(), old, new);
        let b = self.buffer.as_mut();
        b[field::TTL] = ttl - 1;
        set_u16(b, field::CHECKSUM, check);
        ttl - 1
    }

    /// Rewrites the source address (NAT) and updates the header checksum incrementally.
    /// A UDP/TCP checksum covers the address too: update it with
    /// [`checksum::update_u32`].
    #[inline]
    pub fn rewrite_src_addr(&mut self, addr: Ipv4Addr) {
        let old = get_u32(self.buffer.as_ref(), field::SRC);
        let check = checksum::update_u32(self.checksum(), old, addr.into());
        self.set_src_addr(addr);
        self.set_checksum(check);
    }

    /// Rewrites the destination address and updates the header checksum incrementally.
    #[inline]
    pub fn rewrite_dst_addr(&mut self, addr: Ipv4Addr) {
        let old = get_u32(self.buffer.as_ref(), field::DST);
        let check = checksum::update_u32(self.checksum(), old, addr.into());
        self.set_dst_addr(addr);
        self.set_checksum(check);
    }

    /// The options, writable.
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[MIN_HEADER_LEN..end]
    }

    /// The payload, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.header_len(), usize::from(self.total_len()));
        &mut self.buffer.as_mut()[start..end]
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The header of a captured IPv4/UDP packet (RFC 791 example as used on Wikipedia's
    /// "IPv4 header checksum" page): 192.168.0.1 -> 192.168.0.199, checksum 0xb861.
    pub(crate) const HEADER: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];

    fn packet_with(header: &[u8; 20]) -> Vec<u8> {
        let mut p = header.to_vec();
        p.resize(0x73, 0);
        p
    }

    #[test]
    fn captured_header_fields_and_checksum() {
        let buf = packet_with(&HEADER);
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!((p.version(), p.header_len(), p.total_len()), (4, 20, 0x73));
        assert!(p.dont_frag() && !p.more_frags() && !p.is_fragment());
        assert_eq!((p.ttl(), p.protocol()), (64, IpProto::UDP));
        assert_eq!(p.src_addr(), Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(192, 168, 0, 199));
        assert_eq!(p.dst_addr_u32(), 0xc0a8_00c7);
        assert_eq!(p.checksum(), 0xb861);
        assert!(p.verify_checksum());
        assert_eq!(p.payload().len(), 0x73 - 20);

        let mut buf2 = buf.clone();
        let mut q = Ipv4Packet::new_checked(&mut buf2[..]).unwrap();
        q.set_checksum(0);
        assert!(!q.verify_checksum());
        q.fill_checksum();
        assert_eq!(q.checksum(), 0xb861);
    }

    #[test]
    fn ttl_and_address_rewrites_keep_the_checksum_valid() {
        let mut buf = packet_with(&HEADER);
        let mut p = Ipv4Packet::new_checked(&mut buf[..]).unwrap();
        assert_eq!(p.decrement_ttl(), 63);
        assert!(p.verify_checksum());
        p.rewrite_src_addr(Ipv4Addr::new(203, 0, 113, 7));
        p.rewrite_dst_addr(Ipv4Addr::new(255, 255, 255, 255));
        assert!(p.verify_checksum());
        let check = p.checksum();
        p.fill_checksum();
        assert_eq!(check, p.checksum());
        p.set_ttl(1);
        p.fill_checksum();
        assert_eq!(p.decrement_ttl(), 0);
        assert_eq!(p.decrement_ttl(), 0);
        assert!(p.verify_checksum());
    }

    #[test]
    fn options_flags_and_fragments() {
        let mut buf = [0u8; 64];
        let mut p = Ipv4Packet::new_unchecked(&mut buf[..]);
        p.set_version(4);
        p.set_header_len(24);
        p.set_tos(0xb8 | 1);
        p.set_total_len(40);
        p.set_ident(0x1234);
        p.set_more_frags(true);
        p.set_frag_offset(1480);
        p.set_dont_frag(false);
        p.set_ttl(5);
        p.set_protocol(IpProto::TCP);
        p.options_mut().copy_from_slice(&[1, 1, 1, 0]);
        p.payload_mut().fill(0xee);
        p.fill_checksum();
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(
            (p.header_len(), p.options(), p.payload().len()),
            (24, &[1, 1, 1, 0][..], 16)
        );
        assert_eq!((p.dscp(), p.ecn(), p.ident()), (46, 1, 0x1234));
        assert!(p.more_frags() && !p.dont_frag() && p.is_fragment());
        assert_eq!(p.frag_offset(), 1480);
        assert!(p.verify_checksum());
    }

    #[test]
    fn rejects_inconsistent_lengths() {
        let buf = packet_with(&HEADER);
        let err = |b: &[u8]| Ipv4Packet::new_checked(b).unwrap_err();
        assert!(matches!(
            err(&buf[..19]),
            WireError::Truncated { need: 20, .. }
        ));
        assert!(matches!(
            err(&buf[..0x72]),
            WireError::Truncated { need: 0x73, .. }
        ));
        let mut b = buf.clone();
        b[0] = 0x65;
        assert!(matches!(
            err(&b),
            WireError::Malformed {
                field: "version",
                value: 6,
                ..
            }
        ));
        b[0] = 0x44;
        assert!(matches!(
            err(&b),
            WireError::Malformed {
                field: "header length",
                value: 16,
                ..
            }
        ));
        b[0] = 0x4f;
        b[2] = 0;
        b[3] = 40;
        assert!(matches!(
            err(&b),
            WireError::Malformed {
                field: "total length",
                value: 40,
                ..
            }
        ));
        assert!(matches!(
            err(&b[..50]),
            WireError::Truncated { need: 60, .. }
        ));
    }

    proptest! {
        #[test]
        fn fuzz_never_panics(mut bytes in proptest::collection::vec(any::<u8>(), 0..90), fix in any::<bool>()) {
            if fix && bytes.len() >= 4 {
                // Make plausible headers common: version 4 and a total length that fits.
                bytes[0] = 0x40 | (bytes[0] & 0x0f);
                let len = bytes.len() as u16;
                let total = len - u16::from(bytes[3]) % len;
                bytes[2..4].copy_from_slice(&total.to_be_bytes());
            }
            if let Ok(p) = Ipv4Packet::new_checked(&bytes[..]) {
                let _ = (p.version(), p.header_len(), p.tos(), p.dscp(), p.ecn(), p.total_len());
                let _ = (p.ident(), p.dont_frag(), p.more_frags(), p.frag_offset(), p.is_fragment());
                let _ = (p.ttl(), p.protocol(), p.checksum(), p.src_addr(), p.dst_addr());
                let _ = (p.options().len(), p.header().len(), p.payload().len(), p.verify_checksum());
                let mut copy = bytes.clone();
                let mut q = Ipv4Packet::new_checked(&mut copy[..]).unwrap();
                q.decrement_ttl();
                q.rewrite_dst_addr(Ipv4Addr::LOCALHOST);
                let _ = (q.options_mut().len(), q.payload_mut().len());
            }
        }
    }
}
