//! burst's network layer: zero-copy protocol views, checksums, software packet-type
//! parsing, and the lookup tables of a router (DPDK's `lib/net`, `rte_lpm`, `rte_lpm6`
//! and `rte_hash` as l3fwd uses them).
//!
//! - Views in the style of smoltcp's `wire`: a `Packet<T: AsRef<[u8]>>` wraps a buffer,
//!   `new_checked` rejects one too short or inconsistent for its header with a
//!   [`WireError`] (after which no accessor panics), getters and setters convert from and
//!   to network byte order, and `payload()`/`payload_mut()` give the next layer:
//!   [`ether`], [`vlan`], [`arp`], [`ipv4`], [`ipv6`], [`udp`], [`tcp`].
//! - [`checksum`]: RFC 1071 sums, the UDP/TCP pseudo-headers, RFC 1624 updates.
//! - [`ptype`]: DPDK's `RTE_PTYPE_*` bits and a parser that computes them.
//! - [`lpm`] (IPv4 DIR-24-8) and [`lpm6`] (IPv6, 24-bit first level then 8-bit levels):
//!   longest-prefix-match routing tables; [`em`]: an exact-match table for flow keys
//!   such as the 5-tuple, a bucketised cuckoo hash with CRC32C.
//!
//! ```
//! use burst_net::{ether::EthernetFrame, ipv4::Ipv4Packet, lpm::Lpm, ptype};
//!
//! let mut lpm = Lpm::new(1024, 256)?;
//! lpm.add(u32::from(std::net::Ipv4Addr::new(10, 0, 0, 0)), 8, 1)?;
//!
//! let mut frame = [0u8; 60];
//! frame[12..14].copy_from_slice(&[0x08, 0x00]);
//! frame[14..34].copy_from_slice(&[
//!     0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 192, 168, 0, 1, 10, 1, 2, 3,
//! ]);
//! // An IPv4/UDP frame: 14 + 20 + 8 bytes, padded to 60.
//! let (ty, lens) = ptype::get_ptype(&frame);
//! assert_eq!(ty, ptype::L2_ETHER | ptype::L3_IPV4 | ptype::L4_UDP);
//! assert_eq!((lens.l2_len, lens.l3_len, lens.l4_len), (14, 20, 8));
//! let mut eth = EthernetFrame::new_checked(&mut frame[..])?;
//! let mut ip = Ipv4Packet::new_checked(eth.payload_mut())?;
//! ip.fill_checksum();
//! assert_eq!(lpm.lookup(ip.dst_addr_u32()), Some(1));
//! assert_eq!(ip.decrement_ttl(), 63);
//! assert!(ip.verify_checksum());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bytes;
mod error;
mod table;
#[cfg(test)]
mod testdata;

pub mod arp;
pub mod checksum;
pub mod em;
pub mod ether;
pub mod ip;
pub mod ipv4;
pub mod ipv6;
pub mod lpm;
pub mod lpm6;
pub mod ptype;
pub mod tcp;
pub mod udp;
pub mod vlan;

pub use error::WireError;
