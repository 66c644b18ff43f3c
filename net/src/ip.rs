//! IP protocol numbers (IANA "Assigned Internet Protocol Numbers"): IPv4's protocol field
//! and IPv6's next header field share them.

use std::fmt;

/// An IP protocol / IPv6 next-header number (DPDK uses the libc `IPPROTO_*` values).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct IpProto(pub u8);

impl IpProto {
    /// IPv6 hop-by-hop options extension header.
    pub const HOPOPTS: IpProto = IpProto(0);
    /// Internet Control Message Protocol (v4).
    pub const ICMP: IpProto = IpProto(1);
    /// Internet Group Management Protocol.
    pub const IGMP: IpProto = IpProto(2);
    /// IPv4 in IP encapsulation.
    pub const IPIP: IpProto = IpProto(4);
    /// Transmission Control Protocol.
    pub const TCP: IpProto = IpProto(6);
    /// User Datagram Protocol.
    pub const UDP: IpProto = IpProto(17);
    /// IPv6 in IP encapsulation.
    pub const IPV6: IpProto = IpProto(41);
    /// IPv6 routing extension header.
    pub const ROUTING: IpProto = IpProto(43);
    /// IPv6 fragment extension header.
    pub const FRAGMENT: IpProto = IpProto(44);
    /// Generic Routing Encapsulation.
    pub const GRE: IpProto = IpProto(47);
    /// IPsec Encapsulating Security Payload.
    pub const ESP: IpProto = IpProto(50);
    /// IPsec Authentication Header.
    pub const AH: IpProto = IpProto(51);
    /// ICMP for IPv6.
    pub const ICMPV6: IpProto = IpProto(58);
    /// IPv6 "no next header".
    pub const NONE: IpProto = IpProto(59);
    /// IPv6 destination options extension header.
    pub const DSTOPTS: IpProto = IpProto(60);
    /// Stream Control Transmission Protocol.
    pub const SCTP: IpProto = IpProto(132);
}

impl fmt::Display for IpProto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}
