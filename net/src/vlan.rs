//! IEEE 802.1Q VLAN tags (DPDK `rte_vlan_hdr`): the 4 bytes after an Ethernet header whose
//! EtherType is [`EtherType::VLAN`] (or [`EtherType::QINQ`] for the outer tag of 802.1ad
//! QinQ): the tag control information (PCP, DEI, VLAN ID), then the inner EtherType.

use crate::bytes::{get_u16, set_u16};
use crate::error::{WireError, need};
use crate::ether::EtherType;

mod field {
    pub const TCI: usize = 0;
    pub const ETHER_TYPE: usize = 2;
}

/// Length of one VLAN tag after the outer EtherType.
pub const HEADER_LEN: usize = 4;

/// A zero-copy view of one VLAN tag and what follows it.
#[derive(Debug, Clone)]
pub struct VlanHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VlanHeader<T> {
    /// Wraps `buffer` without checking it; accessors panic if it is shorter than
    /// [`HEADER_LEN`].
    pub const fn new_unchecked(buffer: T) -> Self {
        VlanHeader { buffer }
    }

    /// Wraps `buffer` if it holds a whole tag; every accessor then succeeds.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        need("VLAN", HEADER_LEN, buffer.as_ref().len())?;
        Ok(VlanHeader { buffer })
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Tag control information: PCP (3 bits), DEI (1 bit), VLAN ID (12 bits); what an
    /// mbuf's `vlan_tci` holds after VLAN stripping.
    #[inline]
    pub fn tci(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::TCI)
    }

    /// Priority code point (802.1p class of service), 0-7.
    #[inline]
    pub fn pcp(&self) -> u8 {
        (self.tci() >> 13) as u8
    }

    /// Drop eligible indicator.
    #[inline]
    pub fn dei(&self) -> bool {
        self.tci() & 0x1000 != 0
    }

    /// VLAN identifier, 0-4095 (0: priority tag only, 4095: reserved).
    #[inline]
    pub fn vlan_id(&self) -> u16 {
        self.tci() & 0x0fff
    }

    /// The EtherType of what follows the tag (another tag for QinQ).
    #[inline]
    pub fn ether_type(&self) -> EtherType {
        EtherType(get_u16(self.buffer.as_ref(), field::ETHER_TYPE))
    }

    /// Everything after the tag.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VlanHeader<T> {
    /// Sets the whole tag control information.
    #[inline]
    pub fn set_tci(&mut self, tci: u16) {
        set_u16(self.buffer.as_mut(), field::TCI, tci);
    }

    /// Sets the priority code point (the low 3 bits of `pcp`).
    #[inline]
    pub fn set_pcp(&mut self, pcp: u8) {
        let tci = (self.tci() & 0x1fff) | (u16::from(pcp & 7) << 13);
        self.set_tci(tci);
    }

    /// Sets the drop eligible indicator.
    #[inline]
    pub fn set_dei(&mut self, dei: bool) {
        let tci = (self.tci() & !0x1000) | (u16::from(dei) << 12);
        self.set_tci(tci);
    }

    /// Sets the VLAN identifier (the low 12 bits of `id`).
    #[inline]
    pub fn set_vlan_id(&mut self, id: u16) {
        let tci = (self.tci() & 0xf000) | (id & 0x0fff);
        self.set_tci(tci);
    }

    /// Sets the inner EtherType.
    #[inline]
    pub fn set_ether_type(&mut self, ty: EtherType) {
        set_u16(self.buffer.as_mut(), field::ETHER_TYPE, ty.0);
    }

    /// Everything after the tag, writable.
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
    fn fields_pack_into_the_tci() {
        let mut buf = [0u8; 6];
        let mut v = VlanHeader::new_checked(&mut buf[..]).unwrap();
        v.set_vlan_id(0x123);
        v.set_pcp(5);
        v.set_dei(true);
        v.set_ether_type(EtherType::IPV4);
        assert_eq!(v.tci(), 0xb123);
        assert_eq!((v.pcp(), v.dei(), v.vlan_id()), (5, true, 0x123));
        v.set_dei(false);
        v.set_vlan_id(0xffff);
        assert_eq!(v.tci(), 0xafff);
        assert_eq!(&buf[..4], &[0xaf, 0xff, 0x08, 0x00]);
        assert!(VlanHeader::new_checked(&buf[..3]).is_err());
    }

    proptest! {
        #[test]
        fn fuzz_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            if let Ok(v) = VlanHeader::new_checked(&bytes[..]) {
                let _ = (v.tci(), v.pcp(), v.dei(), v.vlan_id(), v.ether_type(), v.payload().len());
            }
        }
    }
}
