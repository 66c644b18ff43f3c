//! The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of
//! 16-bit big-endian words, as IPv4, UDP, TCP and ICMP use it; the pseudo-headers UDP and
//! TCP add for IPv4 (RFC 768, RFC 9293 §3.1) and IPv6 (RFC 8200 §8.1); and the
//! incremental update of RFC 1624 for a router that rewrites a field (TTL, an address).
//!
//! Sums are carried as `u32` in the "big-endian word" domain: [`sum`] returns a value of
//! at most `0xffff`, partial sums add with `+` (up to 65 535 of them), and [`finish`]
//! folds and complements. [`sum`] reads the data as 32-bit native-endian words into a
//! 64-bit accumulator (four bytes per add, which the compiler vectorises) and swaps
//! bytes once at the end: RFC 1071 §2(B), the sum is byte-order independent.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::ip::IpProto;

/// Folds a 64-bit ones' complement accumulator to 16 bits (end-around carry).
#[inline(always)]
fn fold64(mut acc: u64) -> u16 {
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    acc as u16
}

/// Folds a `u32` partial sum to 16 bits with end-around carry: the ones' complement sum.
#[inline(always)]
pub fn fold(sum: u32) -> u16 {
    fold64(u64::from(sum))
}

/// The checksum from a partial sum: fold, then complement.
#[inline(always)]
pub fn finish(sum: u32) -> u16 {
    !fold(sum)
}

/// The ones' complement sum of `data` as 16-bit big-endian words, an odd last byte padded
/// with zero (RFC 1071 §4.1), returned folded (`<= 0xffff`) so partial sums can be added.
///
/// `data` must start at an even offset of the checksummed message for sums of several
/// pieces to add up.
#[inline]
pub fn sum(data: &[u8]) -> u32 {
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    }
    let mut tail = [0u8; 4];
    let rest = words.remainder();
    tail[..rest.len()].copy_from_slice(rest);
    acc += u64::from(u32::from_ne_bytes(tail));
    // The folded sum is in native byte order; its bytes in memory are the big-endian sum.
    u32::from(u16::from_be_bytes(fold64(acc).to_ne_bytes()))
}

/// The Internet checksum of `data` (whose checksum field, if any, is zero): the value to
/// store big-endian in the checksum field.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    finish(sum(data))
}

/// The IPv4 pseudo-header's sum: source, destination, zero + protocol, and the upper-layer
/// length (the UDP length or TCP header + data).
#[inline]
pub fn ipv4_pseudo_header_sum(src: Ipv4Addr, dst: Ipv4Addr, proto: IpProto, len: u16) -> u32 {
    let (s, d) = (u32::from(src), u32::from(dst));
    (s >> 16) + (s & 0xffff) + (d >> 16) + (d & 0xffff) + u32::from(proto.0) + u32::from(len)
}

/// The IPv6 pseudo-header's sum: source, destination, the 32-bit upper-layer length, zero
/// and the next header (the upper-layer protocol, after any extension headers).
#[inline]
pub fn ipv6_pseudo_header_sum(
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    next_header: IpProto,
    len: u32,
) -> u32 {
    let addrs: u32 = src
        .segments()
        .iter()
        .chain(dst.segments().iter())
        .map(|&w| u32::from(w))
        .sum();
    addrs + (len >> 16) + (len & 0xffff) + u32::from(next_header.0)
}

/// A UDP or TCP checksum: `pseudo` (from [`ipv4_pseudo_header_sum`] or
/// [`ipv6_pseudo_header_sum`]) plus `segment`, the header with a zero checksum field and
/// the data. UDP stores a result of 0 as `0xffff` (RFC 768), which the UDP view does.
#[inline]
pub fn l4_checksum(pseudo: u32, segment: &[u8]) -> u16 {
    finish(pseudo + sum(segment))
}

/// Updates checksum `check` for a 16-bit field that changed from `old` to `new`, without
/// touching the rest of the message: RFC 1624 eqn. 3, `HC' = ~(~HC + ~m + m')`, which
/// (unlike eqn. 2 of RFC 1141) gives the same value as a full recomputation, never a
/// checksum of `0xffff` where the full one is `0x0000`.
#[inline]
pub fn update_u16(check: u16, old: u16, new: u16) -> u16 {
    finish(u32::from(!check) + u32::from(!old) + u32::from(new))
}

/// [`update_u16`] for a 32-bit field (an IPv4 address) at an even offset.
#[inline]
pub fn update_u32(check: u16, old: u32, new: u32) -> u16 {
    let (old_hi, old_lo) = ((old >> 16) as u16, old as u16);
    let (new_hi, new_lo) = ((new >> 16) as u16, new as u16);
    finish(
        u32::from(!check)
            + u32::from(!old_hi)
            + u32::from(!old_lo)
            + u32::from(new_hi)
            + u32::from(new_lo),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The obvious algorithm, word by word, for comparison.
    fn naive_sum(data: &[u8]) -> u16 {
        let mut acc: u32 = 0;
        for pair in data.chunks(2) {
            let hi = u32::from(pair[0]) << 8;
            let lo = pair.get(1).map_or(0, |&b| u32::from(b));
            acc += hi | lo;
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&data), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
        // An odd length pads the last byte on the right.
        assert_eq!(sum(&data[..7]), u32::from(naive_sum(&data[..7])));
        assert_eq!(sum(&[]), 0);
        assert_eq!(checksum(&[0xff, 0xff]), 0);
    }

    #[test]
    fn pseudo_headers_match_their_byte_layout() {
        let (s4, d4) = (Ipv4Addr::new(192, 168, 1, 2), Ipv4Addr::new(10, 0, 0, 255));
        let mut ph = Vec::new();
        ph.extend_from_slice(&s4.octets());
        ph.extend_from_slice(&d4.octets());
        ph.extend_from_slice(&[0, 17, 0x12, 0x34]);
        assert_eq!(
            fold(ipv4_pseudo_header_sum(s4, d4, IpProto::UDP, 0x1234)),
            naive_sum(&ph)
        );

        let s6: Ipv6Addr = "2001:db8::1:ffff".parse().unwrap();
        let d6: Ipv6Addr = "fe80::abcd:1234:ffff:0".parse().unwrap();
        let mut ph = Vec::new();
        ph.extend_from_slice(&s6.octets());
        ph.extend_from_slice(&d6.octets());
        ph.extend_from_slice(&0x0001_2345u32.to_be_bytes());
        ph.extend_from_slice(&[0, 0, 0, 6]);
        assert_eq!(
            fold(ipv6_pseudo_header_sum(&s6, &d6, IpProto::TCP, 0x1_2345)),
            naive_sum(&ph)
        );
    }

    /// A 20-byte IPv4 header with its checksum filled in.
    fn header(mut h: [u8; 20]) -> [u8; 20] {
        h[0] = 0x45;
        h[10] = 0;
        h[11] = 0;
        let c = checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h
    }

    fn check_update(mut h: [u8; 20], word: usize, new: u16) {
        let old = u16::from_be_bytes([h[2 * word], h[2 * word + 1]]);
        let check = u16::from_be_bytes([h[10], h[11]]);
        h[2 * word..2 * word + 2].copy_from_slice(&new.to_be_bytes());
        let incremental = update_u16(check, old, new);
        h[10] = 0;
        h[11] = 0;
        assert_eq!(
            incremental,
            checksum(&h),
            "word {word}: {old:#06x} -> {new:#06x}"
        );
    }

    #[test]
    fn rfc1624_edge_cases() {
        // A header whose checksum is 0x0000 (its other words sum to 0xffff): choose the
        // identification field to get there, then change fields to and from 0x0000/0xffff.
        let mut h = header([0; 20]);
        h[12..20].copy_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        h[8] = 64;
        h[9] = 17;
        h[4] = 0;
        h[5] = 0;
        let id = checksum(&{
            let mut z = h;
            z[10] = 0;
            z[11] = 0;
            z
        });
        h[4..6].copy_from_slice(&id.to_be_bytes());
        let h = header(h);
        assert_eq!(&h[10..12], &[0, 0]);
        for word in [2, 3, 4, 6, 7, 8, 9] {
            for new in [0x0000, 0xffff, 0x0001, 0xfffe] {
                check_update(h, word, new);
            }
        }
        // A field that is 0xffff changed to 0x0000 and back.
        let mut g = h;
        g[4..6].copy_from_slice(&[0xff, 0xff]);
        let g = header(g);
        check_update(g, 2, 0x0000);
        check_update(
            header({
                let mut z = g;
                z[4] = 0;
                z[5] = 0;
                z
            }),
            2,
            0xffff,
        );
    }

    proptest! {
        #[test]
        fn sum_matches_naive(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(sum(&data), u32::from(naive_sum(&data)));
        }

        #[test]
        fn sums_of_even_pieces_add(data in proptest::collection::vec(any::<u8>(), 0..300), cut in 0usize..150) {
            let cut = (2 * cut).min(data.len() & !1);
            prop_assert_eq!(fold(sum(&data[..cut]) + sum(&data[cut..])), fold(sum(&data)));
        }

        #[test]
        fn incremental_update_equals_recompute(
            h in any::<[u8; 20]>(),
            word in 1usize..10,
            new in prop_oneof![Just(0u16), Just(0xffff), any::<u16>()],
        ) {
            prop_assume!(word != 5);
            check_update(header(h), word, new);
        }

        #[test]
        fn incremental_u32_equals_recompute(h in any::<[u8; 20]>(), which in 0usize..2, new in any::<u32>()) {
            let mut h = header(h);
            let at = 12 + 4 * which;
            let old = u32::from_be_bytes(h[at..at + 4].try_into().unwrap());
            let check = u16::from_be_bytes([h[10], h[11]]);
            h[at..at + 4].copy_from_slice(&new.to_be_bytes());
            let incremental = update_u32(check, old, new);
            h[10] = 0;
            h[11] = 0;
            prop_assert_eq!(incremental, checksum(&h));
        }
    }
}
