//! ARP for IPv4 over Ethernet (RFC 826, DPDK `rte_arp_hdr`): the only ARP a packet
//! framework on Ethernet needs, so the view fixes the hardware and protocol types and
//! rejects any other.

use std::net::Ipv4Addr;

use crate::bytes::{get_u16, get_u32, set_u16, set_u32};
use crate::error::{WireError, need};
use crate::ether::{EtherAddr, EtherType};

mod field {
    pub const HTYPE: usize = 0;
    pub const PTYPE: usize = 2;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: usize = 6;
    pub const SHA: usize = 8;
    pub const SPA: usize = 14;
    pub const THA: usize = 18;
    pub const TPA: usize = 24;
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;

/// Hardware type of Ethernet (RFC 826 `ares_hrd$Ethernet`).
pub const HTYPE_ETHERNET: u16 = 1;

/// The ARP operation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ArpOp(pub u16);

impl ArpOp {
    /// Who has the target protocol address?
    pub const REQUEST: ArpOp = ArpOp(1);
    /// The sender hardware address has the sender protocol address.
    pub const REPLY: ArpOp = ArpOp(2);
}

/// A zero-copy view of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wraps `buffer` without checking it; accessors panic if it is shorter than
    /// [`PACKET_LEN`]. For building a packet: set the hardware/protocol fields with
    /// [`ArpPacket::set_ethernet_ipv4`].
    pub const fn new_unchecked(buffer: T) -> Self {
        ArpPacket { buffer }
    }

    /// Wraps `buffer` if it holds a whole ARP packet for IPv4 over Ethernet (hardware
    /// type 1, protocol type 0x0800, lengths 6 and 4); every accessor then succeeds.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        need("ARP", PACKET_LEN, b.len())?;
        let malformed = |field, value: u32, why| {
            Err(WireError::Malformed {
                header: "ARP",
                field,
                value,
                why,
            })
        };
        let htype = get_u16(b, field::HTYPE);
        if htype != HTYPE_ETHERNET {
            return malformed("hardware type", htype.into(), "must be 1 (Ethernet)");
        }
        let ptype = get_u16(b, field::PTYPE);
        if ptype != EtherType::IPV4.0 {
            return malformed("protocol type", ptype.into(), "must be 0x0800 (IPv4)");
        }
        if b[field::HLEN] != 6 {
            return malformed("hardware length", b[field::HLEN].into(), "must be 6");
        }
        if b[field::PLEN] != 4 {
            return malformed("protocol length", b[field::PLEN].into(), "must be 4");
        }
        Ok(ArpPacket { buffer })
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Hardware type (1 for Ethernet).
    pub fn hardware_type(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::HTYPE)
    }

    /// Protocol type (0x0800 for IPv4).
    pub fn protocol_type(&self) -> EtherType {
        EtherType(get_u16(self.buffer.as_ref(), field::PTYPE))
    }

    /// The operation: request or reply.
    pub fn operation(&self) -> ArpOp {
        ArpOp(get_u16(self.buffer.as_ref(), field::OPER))
    }

    /// Sender hardware address.
    pub fn sender_hardware_addr(&self) -> EtherAddr {
        EtherAddr(
            self.buffer.as_ref()[field::SHA..field::SHA + 6]
                .try_into()
                .unwrap(),
        )
    }

    /// Sender protocol address.
    pub fn sender_protocol_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(get_u32(self.buffer.as_ref(), field::SPA))
    }

    /// Target hardware address (zero in a request).
    pub fn target_hardware_addr(&self) -> EtherAddr {
        EtherAddr(
            self.buffer.as_ref()[field::THA..field::THA + 6]
                .try_into()
                .unwrap(),
        )
    }

    /// Target protocol address.
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(get_u32(self.buffer.as_ref(), field::TPA))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Sets hardware type 1, protocol type 0x0800 and lengths 6 and 4.
    pub fn set_ethernet_ipv4(&mut self) {
        let b = self.buffer.as_mut();
        set_u16(b, field::HTYPE, HTYPE_ETHERNET);
        set_u16(b, field::PTYPE, EtherType::IPV4.0);
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
    }

    /// Sets the operation.
    pub fn set_operation(&mut self, op: ArpOp) {
        set_u16(self.buffer.as_mut(), field::OPER, op.0);
    }

    /// Sets the sender hardware address.
    pub fn set_sender_hardware_addr(&mut self, addr: EtherAddr) {
        self.buffer.as_mut()[field::SHA..field::SHA + 6].copy_from_slice(&addr.0);
    }

    /// Sets the sender protocol address.
    pub fn set_sender_protocol_addr(&mut self, addr: Ipv4Addr) {
        set_u32(self.buffer.as_mut(), field::SPA, addr.into());
    }

    /// Sets the target hardware address.
    pub fn set_target_hardware_addr(&mut self, addr: EtherAddr) {
        self.buffer.as_mut()[field::THA..field::THA + 6].copy_from_slice(&addr.0);
    }

    /// Sets the target protocol address.
    pub fn set_target_protocol_addr(&mut self, addr: Ipv4Addr) {
        set_u32(self.buffer.as_mut(), field::TPA, addr.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A request captured on a LAN: who has 10.0.0.1? tell 10.0.0.2.
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 10, 0,
        0, 2, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1,
    ];

    #[test]
    fn parse_and_build_a_request() {
        let p = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(p.hardware_type(), 1);
        assert_eq!(p.protocol_type(), EtherType::IPV4);
        assert_eq!(p.operation(), ArpOp::REQUEST);
        assert_eq!(p.sender_hardware_addr().to_string(), "52:54:00:12:34:56");
        assert_eq!(p.sender_protocol_addr(), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(p.target_hardware_addr(), EtherAddr::ZERO);
        assert_eq!(p.target_protocol_addr(), Ipv4Addr::new(10, 0, 0, 1));

        let mut buf = [0u8; 28];
        let mut q = ArpPacket::new_unchecked(&mut buf[..]);
        q.set_ethernet_ipv4();
        q.set_operation(ArpOp::REQUEST);
        q.set_sender_hardware_addr(p.sender_hardware_addr());
        q.set_sender_protocol_addr(p.sender_protocol_addr());
        q.set_target_hardware_addr(EtherAddr::ZERO);
        q.set_target_protocol_addr(p.target_protocol_addr());
        assert_eq!(buf, REQUEST);
    }

    #[test]
    fn rejects_other_link_or_protocol() {
        let mut b = REQUEST;
        b[1] = 6;
        assert!(matches!(
            ArpPacket::new_checked(&b[..]),
            Err(WireError::Malformed {
                field: "hardware type",
                value: 6,
                ..
            })
        ));
        let mut b = REQUEST;
        b[5] = 16;
        assert!(ArpPacket::new_checked(&b[..]).is_err());
        assert!(ArpPacket::new_checked(&REQUEST[..27]).is_err());
    }

    proptest! {
        #[test]
        fn fuzz_never_panics(mut bytes in proptest::collection::vec(any::<u8>(), 0..40), fix in any::<bool>()) {
            if fix && bytes.len() >= 6 {
                bytes[..6].copy_from_slice(&REQUEST[..6]);
            }
            if let Ok(p) = ArpPacket::new_checked(&bytes[..]) {
                let _ = (p.hardware_type(), p.protocol_type(), p.operation());
                let _ = (p.sender_hardware_addr(), p.sender_protocol_addr());
                let _ = (p.target_hardware_addr(), p.target_protocol_addr());
            }
        }
    }
}
