//! Ethernet II frames (IEEE 802.3 clause 3.2, DPDK `rte_ether_hdr`): destination and
//! source MAC addresses and an EtherType, then the payload.

use std::fmt;
use std::str::FromStr;

use crate::bytes::{get_u16, set_u16};
use crate::error::{WireError, need};

/// A 48-bit IEEE 802 MAC address, DPDK's `rte_ether_addr`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EtherAddr(pub [u8; 6]);

impl EtherAddr {
    /// `FF:FF:FF:FF:FF:FF`.
    pub const BROADCAST: EtherAddr = EtherAddr([0xff; 6]);
    /// `00:00:00:00:00:00`.
    pub const ZERO: EtherAddr = EtherAddr([0; 6]);

    /// The address as six bytes, first on the wire first.
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// All ones.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// The I/G bit (least significant bit of the first byte) is set: a group address,
    /// broadcast included.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// An individual (not group) address other than all zeros: one a NIC may own.
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast() && *self != Self::ZERO
    }

    /// The U/L bit is set: assigned locally rather than by the vendor's OUI.
    pub fn is_locally_administered(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
}

/// `XX:XX:XX:XX:XX:XX` in upper case, as DPDK's `RTE_ETHER_ADDR_PRT_FMT` prints it.
impl fmt::Display for EtherAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for EtherAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The text was not six `:`- or `-`-separated hex bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address {0:?}: expected six hex bytes like 02:00:00:00:00:01")]
pub struct ParseEtherAddrError(pub String);

/// Parses `XX:XX:XX:XX:XX:XX` (or with `-`), either case.
impl FromStr for EtherAddr {
    type Err = ParseEtherAddrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseEtherAddrError(s.to_owned());
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for byte in &mut out {
            let part = parts.next().ok_or_else(err)?;
            if part.is_empty() || part.len() > 2 {
                return Err(err());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| err())?;
        }
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(EtherAddr(out))
    }
}

/// The 16-bit EtherType naming the payload's protocol (IEEE registry; DPDK `RTE_ETHER_TYPE_*`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct EtherType(pub u16);

impl EtherType {
    /// Internet Protocol version 4.
    pub const IPV4: EtherType = EtherType(0x0800);
    /// Address Resolution Protocol.
    pub const ARP: EtherType = EtherType(0x0806);
    /// IEEE 802.1Q VLAN tag (customer tag).
    pub const VLAN: EtherType = EtherType(0x8100);
    /// IEEE 802.1ad service tag, the outer tag of QinQ.
    pub const QINQ: EtherType = EtherType(0x88a8);
    /// Internet Protocol version 6.
    pub const IPV6: EtherType = EtherType(0x86dd);
    /// Link Layer Discovery Protocol.
    pub const LLDP: EtherType = EtherType(0x88cc);
    /// IEEE 1588 Precision Time Protocol over Ethernet.
    pub const TIMESYNC: EtherType = EtherType(0x88f7);
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:04x}", self.0)
    }
}

mod field {
    pub const DST: usize = 0;
    pub const SRC: usize = 6;
    pub const ETHER_TYPE: usize = 12;
}

/// Length of the Ethernet II header: two addresses and the EtherType.
pub const HEADER_LEN: usize = 14;

/// A zero-copy view of an Ethernet II frame (without the FCS) over any byte buffer.
#[derive(Debug, Clone)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps `buffer` without checking it; accessors panic if it is shorter than
    /// [`HEADER_LEN`]. For building a frame in a buffer known to be large enough.
    pub const fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    /// Wraps `buffer` if it holds a whole Ethernet header; every accessor then succeeds.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        need("Ethernet", HEADER_LEN, buffer.as_ref().len())?;
        Ok(EthernetFrame { buffer })
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination MAC address.
    #[inline]
    pub fn dst_addr(&self) -> EtherAddr {
        let b = self.buffer.as_ref();
        EtherAddr(b[field::DST..field::DST + 6].try_into().unwrap())
    }

    /// Source MAC address.
    #[inline]
    pub fn src_addr(&self) -> EtherAddr {
        let b = self.buffer.as_ref();
        EtherAddr(b[field::SRC..field::SRC + 6].try_into().unwrap())
    }

    /// The EtherType (for a tagged frame, the tag's TPID: [`EtherType::VLAN`] or
    /// [`EtherType::QINQ`]).
    #[inline]
    pub fn ether_type(&self) -> EtherType {
        EtherType(get_u16(self.buffer.as_ref(), field::ETHER_TYPE))
    }

    /// Everything after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination MAC address.
    #[inline]
    pub fn set_dst_addr(&mut self, addr: EtherAddr) {
        self.buffer.as_mut()[field::DST..field::DST + 6].copy_from_slice(&addr.0);
    }

    /// Sets the source MAC address.
    #[inline]
    pub fn set_src_addr(&mut self, addr: EtherAddr) {
        self.buffer.as_mut()[field::SRC..field::SRC + 6].copy_from_slice(&addr.0);
    }

    /// Sets the EtherType.
    #[inline]
    pub fn set_ether_type(&mut self, ty: EtherType) {
        set_u16(self.buffer.as_mut(), field::ETHER_TYPE, ty.0);
    }

    /// Everything after the header, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn display_is_upper_case_and_parses_back() {
        let a = EtherAddr([0x02, 0xab, 0x00, 0x0c, 0xff, 0x1e]);
        assert_eq!(a.to_string(), "02:AB:00:0C:FF:1E");
        assert_eq!("02:ab:00:0c:ff:1e".parse::<EtherAddr>(), Ok(a));
        assert_eq!("02-AB-00-0C-FF-1E".parse::<EtherAddr>(), Ok(a));
        for bad in [
            "",
            "02:ab:00:0c:ff",
            "02:ab:00:0c:ff:1e:00",
            "02:ab:00:0c:ff:1g",
            "2:ab:00:0c:ff:123",
        ] {
            assert!(bad.parse::<EtherAddr>().is_err(), "{bad}");
        }
        assert!(EtherAddr::BROADCAST.is_broadcast() && EtherAddr::BROADCAST.is_multicast());
        assert!(a.is_unicast() && a.is_locally_administered());
        assert!(!EtherAddr::ZERO.is_unicast());
    }

    #[test]
    fn build_and_read_back() {
        let mut buf = [0u8; 64];
        let mut f = EthernetFrame::new_checked(&mut buf[..]).unwrap();
        f.set_dst_addr(EtherAddr::BROADCAST);
        f.set_src_addr(EtherAddr([2, 0, 0, 0, 0, 1]));
        f.set_ether_type(EtherType::ARP);
        f.payload_mut()[0] = 0x55;
        assert_eq!(
            &buf[..15],
            &[
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06, 0x55
            ]
        );
        let f = EthernetFrame::new_checked(&buf[..]).unwrap();
        assert_eq!(f.ether_type(), EtherType::ARP);
        assert_eq!(f.payload().len(), 50);
        assert_eq!(
            EthernetFrame::new_checked(&buf[..13]).unwrap_err(),
            WireError::Truncated {
                header: "Ethernet",
                need: 14,
                len: 13
            }
        );
    }

    proptest! {
        #[test]
        fn fuzz_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(f) = EthernetFrame::new_checked(&bytes[..]) {
                let _ = (f.dst_addr(), f.src_addr(), f.ether_type(), f.payload().len());
            }
        }
    }
}
