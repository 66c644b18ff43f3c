//! An exact-match table for flow keys such as the 5-tuple, l3fwd's EM mode, built as
//! DPDK's `rte_hash`: a bucketised cuckoo hash (Fan, Andersen and Kaminsky, "MemC3",
//! NSDI 2013). Each key hashes (CRC32C) to a primary bucket and an alternative one; a
//! bucket is one cache line of 8 slots, each the key's 32-bit hash and the index of its
//! entry in a separate key/value array. A lookup reads at most two buckets and usually
//! one entry. An insert that finds both buckets full moves keys to their alternative
//! buckets along the shortest path found by a breadth-first search.
//!
//! The hash is CRC32C over the key's 64-bit words: the SSE4.2 `crc32` instruction when
//! the CPU has it (checked once, at creation), else a table-driven software CRC32C that
//! gives the same values. [`ExactMatch::lookup_bulk`] hashes a burst, prefetches its
//! buckets, then its entries, then compares, so the cache misses of a burst overlap.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, Ipv6Addr};

use thiserror::Error;

use crate::ip::IpProto;
use crate::ipv4::Ipv4Packet;
use crate::ipv6::Ipv6Packet;
use crate::table;

/// A key of an [`ExactMatch`] table: compared with `==`, hashed over its 64-bit words.
pub trait EmKey: Copy + Eq {
    /// The words, e.g. `[u64; 2]`.
    type Words: AsRef<[u64]>;

    /// The key as 64-bit words, all of its bits in some word (equal keys, equal words).
    fn words(&self) -> Self::Words;
}

/// l3fwd's IPv4 5-tuple (`ipv4_5tuple`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Ipv4FiveTuple {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Source port (0 for protocols without ports).
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// IP protocol.
    pub proto: IpProto,
}

/// The TCP/UDP/SCTP ports at the start of an L4 header, or zeros.
#[inline]
fn ports(proto: IpProto, l4: &[u8]) -> (u16, u16) {
    match (proto, l4) {
        (IpProto::TCP | IpProto::UDP | IpProto::SCTP, [a, b, c, d, ..]) => {
            (u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*c, *d]))
        }
        _ => (0, 0),
    }
}

impl Ipv4FiveTuple {
    /// The 5-tuple of a packet: ports from a TCP, UDP or SCTP header that follows the IP
    /// header, zero otherwise (and in fragments after the first).
    #[inline]
    pub fn from_packet<T: AsRef<[u8]>>(ip: &Ipv4Packet<T>) -> Self {
        let proto = ip.protocol();
        let (src_port, dst_port) = ports(proto, ip.payload());
        Ipv4FiveTuple {
            src_addr: ip.src_addr(),
            dst_addr: ip.dst_addr(),
            src_port,
            dst_port,
            proto,
        }
    }
}

impl EmKey for Ipv4FiveTuple {
    type Words = [u64; 2];

    #[inline(always)]
    fn words(&self) -> [u64; 2] {
        let addrs = u64::from(u32::from(self.src_addr)) << 32 | u64::from(u32::from(self.dst_addr));
        let rest = u64::from(self.src_port) << 24
            | u64::from(self.dst_port) << 8
            | u64::from(self.proto.0);
        [addrs, rest]
    }
}

/// l3fwd's IPv6 5-tuple (`ipv6_5tuple`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Ipv6FiveTuple {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// Source port (0 for protocols without ports).
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// The upper-layer protocol.
    pub proto: IpProto,
}

impl Ipv6FiveTuple {
    /// The 5-tuple of a packet whose next header is the upper layer (as l3fwd, extension
    /// headers are not skipped: their packets get zero ports).
    #[inline]
    pub fn from_packet<T: AsRef<[u8]>>(ip: &Ipv6Packet<T>) -> Self {
        let proto = ip.next_header();
        let (src_port, dst_port) = ports(proto, ip.payload());
        Ipv6FiveTuple {
            src_addr: ip.src_addr(),
            dst_addr: ip.dst_addr(),
            src_port,
            dst_port,
            proto,
        }
    }
}

impl EmKey for Ipv6FiveTuple {
    type Words = [u64; 5];

    #[inline(always)]
    fn words(&self) -> [u64; 5] {
        let (s, d) = (u128::from(self.src_addr), u128::from(self.dst_addr));
        let rest = u64::from(self.src_port) << 24
            | u64::from(self.dst_port) << 8
            | u64::from(self.proto.0);
        [(s >> 64) as u64, s as u64, (d >> 64) as u64, d as u64, rest]
    }
}

/// CRC32C (Castagnoli, reflected polynomial 0x82f63b78) of one byte, for each byte.
const CRC32C_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// How keys are hashed, chosen once at creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Crc32c {
    /// SSE4.2 `crc32`; only constructed after the CPU was seen to have it.
    #[cfg(target_arch = "x86_64")]
    Sse42,
    /// A table lookup per byte.
    Software,
}

impl Crc32c {
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("sse4.2") {
            return Crc32c::Sse42;
        }
        Crc32c::Software
    }

    /// CRC32C of `words` (each little-endian, as the instruction reads them), starting
    /// from `seed`, without final inversion: a 32-bit hash.
    #[inline(always)]
    fn hash(self, seed: u32, words: &[u64]) -> u32 {
        match self {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Sse42` exists only when `detect` found SSE4.2 on this CPU.
            Crc32c::Sse42 => unsafe { crc32c_sse42(seed, words) },
            Crc32c::Software => crc32c_software(seed, words),
        }
    }
}

/// # Safety
/// The CPU must support SSE4.2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
#[inline]
unsafe fn crc32c_sse42(seed: u32, words: &[u64]) -> u32 {
    let mut crc = u64::from(seed);
    for &w in words {
        // Newer compilers consider this call safe inside an sse4.2 function.
        #[allow(unused_unsafe)]
        // SAFETY: this function is only called where SSE4.2 is available (its contract).
        let next = unsafe { std::arch::x86_64::_mm_crc32_u64(crc, w) };
        crc = next;
    }
    crc as u32
}

fn crc32c_software(seed: u32, words: &[u64]) -> u32 {
    let mut crc = seed;
    for w in words {
        for byte in w.to_le_bytes() {
            crc = (crc >> 8) ^ CRC32C_TABLE[usize::from(crc as u8 ^ byte)];
        }
    }
    crc
}

/// Hints the CPU to fetch the cache line at `p` (a no-op off x86-64).
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch is a hint that never faults, whatever the address; SSE is part of
    // the x86-64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Slots per bucket: with 32-bit hashes and indices, one 64-byte cache line.
const SLOTS: usize = 8;
/// A slot's entry index when it is empty.
const EMPTY: u32 = 0;
/// Buckets visited at most when searching a cuckoo path (DPDK: 1000-deep queue).
const MAX_BFS_BUCKETS: usize = 1024;
/// Keys per stage of a bulk lookup: DPDK's `RTE_HASH_LOOKUP_BULK_MAX`.
pub const BULK_MAX: usize = 32;

/// One cache line: each slot's key hash and entry index + 1 (0 when empty).
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Bucket {
    hashes: [u32; SLOTS],
    entries: [u32; SLOTS],
}

impl Bucket {
    /// Bit `i` set where slot `i` holds hash `h` (compiles to a vector compare).
    #[inline(always)]
    fn matches(&self, h: u32) -> u32 {
        let mut m = 0;
        for (i, &x) in self.hashes.iter().enumerate() {
            m |= u32::from(x == h) << i;
        }
        m
    }

    /// The first empty slot.
    #[inline]
    fn free_slot(&self) -> Option<usize> {
        self.entries.iter().position(|&e| e == EMPTY)
    }
}

/// Why an insert or creation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum EmError {
    /// A creation parameter is out of range.
    #[error("invalid exact-match table configuration: {0}")]
    Config(&'static str),
    /// Every entry is in use.
    #[error(
        "exact-match table full: all {capacity} entries are in use; create it with a larger capacity"
    )]
    Full {
        /// The capacity given at creation.
        capacity: usize,
    },
    /// The key's two buckets are full and no cuckoo path frees a slot (rare below ~90 %
    /// load).
    #[error(
        "no free slot for the key in the exact-match table ({len} of {capacity} entries used); create it with a larger capacity"
    )]
    NoSlot {
        /// Entries in use.
        len: usize,
        /// The capacity given at creation.
        capacity: usize,
    },
}

/// An exact-match table from keys `K` to values `V`, with a capacity fixed at creation.
pub struct ExactMatch<K: EmKey, V: Copy> {
    buckets: Box<[Bucket]>,
    bucket_mask: u32,
    /// Keys and values, indexed by a slot's entry index - 1.
    entries: Vec<(K, V)>,
    /// Indices + 1 of unused `entries`.
    free: Vec<u32>,
    capacity: usize,
    crc: Crc32c,
}

impl<K: EmKey, V: Copy> std::fmt::Debug for ExactMatch<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExactMatch")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .field("buckets", &self.buckets.len())
            .field("hash", &self.crc)
            .finish()
    }
}

/// The hash seed (l3fwd's `hash_func_init_val` is 0 too).
const SEED: u32 = 0;

impl<K: EmKey, V: Copy> ExactMatch<K, V> {
    /// An empty table for `capacity` keys (l3fwd: 4 Mi). Buckets are sized for at most
    /// 80 % load, a power of two: 64 bytes per 6.4 keys, plus the key/value array.
    pub fn new(capacity: usize) -> Result<Self, EmError> {
        if capacity == 0 || capacity >= u32::MAX as usize / 2 {
            return Err(EmError::Config("capacity must be between 1 and 2^31"));
        }
        let buckets = (capacity + capacity / 4)
            .div_ceil(SLOTS)
            .next_power_of_two();
        Ok(ExactMatch {
            buckets: table::filled(buckets, Bucket::default()),
            bucket_mask: (buckets - 1) as u32,
            entries: table::with_capacity(capacity),
            free: Vec::new(),
            capacity,
            crc: Crc32c::detect(),
        })
    }

    /// Keys in the table.
    pub fn len(&self) -> usize {
        self.entries.len() - self.free.len()
    }

    /// No keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity given at creation.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The hardware CRC32C instruction hashes keys (else the software table does).
    pub fn uses_hardware_crc(&self) -> bool {
        self.crc != Crc32c::Software
    }

    #[inline(always)]
    fn hash(&self, key: &K) -> u32 {
        self.crc.hash(SEED, key.words().as_ref())
    }

    /// The primary bucket of hash `h`.
    #[inline(always)]
    fn primary(&self, h: u32) -> usize {
        (h & self.bucket_mask) as usize
    }

    /// The other bucket of a key with hash `h` that is in bucket `b` (symmetric:
    /// `alt(alt(b)) == b`).
    #[inline(always)]
    fn alt(&self, b: usize, h: u32) -> usize {
        (b as u32 ^ (h.rotate_left(16) | 1)) as usize & self.bucket_mask as usize
    }

    /// The slot of `key` (hash `h`) in bucket `b`.
    #[inline(always)]
    fn find_in(&self, b: usize, h: u32, key: &K) -> Option<usize> {
        let bucket = &self.buckets[b];
        let mut m = bucket.matches(h);
        while m != 0 {
            let slot = m.trailing_zeros() as usize;
            let e = bucket.entries[slot];
            if e != EMPTY && self.entries[e as usize - 1].0 == *key {
                return Some(slot);
            }
            m &= m - 1;
        }
        None
    }

    /// The entry index + 1 of the first occupied slot of bucket `b` with hash `h`, or
    /// [`EMPTY`].
    #[inline(always)]
    fn first_match(&self, b: usize, h: u32) -> u32 {
        let bucket = &self.buckets[b];
        let mut m = bucket.matches(h);
        while m != 0 {
            let e = bucket.entries[m.trailing_zeros() as usize];
            if e != EMPTY {
                return e;
            }
            m &= m - 1;
        }
        EMPTY
    }

    /// The bucket and slot of `key`.
    #[inline(always)]
    fn find(&self, h: u32, key: &K) -> Option<(usize, usize)> {
        let b1 = self.primary(h);
        if let Some(slot) = self.find_in(b1, h, key) {
            return Some((b1, slot));
        }
        let b2 = self.alt(b1, h);
        self.find_in(b2, h, key).map(|slot| (b2, slot))
    }

    /// The value of `key`.
    #[inline]
    pub fn lookup(&self, key: &K) -> Option<V> {
        let (b, slot) = self.find(self.hash(key), key)?;
        Some(self.entries[self.buckets[b].entries[slot] as usize - 1].1)
    }

    /// Looks up every key of `keys` into `values` (same length), returning the number
    /// found (`rte_hash_lookup_bulk_data`). Works through [`BULK_MAX`] keys at a time:
    /// hash all and prefetch their primary buckets, then prefetch the entries whose hash
    /// matches (or the alternative buckets, then their entries), then compare keys.
    pub fn lookup_bulk(&self, keys: &[K], values: &mut [Option<V>]) -> usize {
        assert_eq!(keys.len(), values.len(), "one value slot per key");
        let mut found = 0;
        for (keys, values) in keys.chunks(BULK_MAX).zip(values.chunks_mut(BULK_MAX)) {
            found += self.lookup_burst(keys, values);
        }
        found
    }

    #[inline]
    fn lookup_burst(&self, keys: &[K], values: &mut [Option<V>]) -> usize {
        let n = keys.len();
        let mut hashes = [0u32; BULK_MAX];
        let mut buckets = [0usize; BULK_MAX];
        for i in 0..n {
            let h = self.hash(&keys[i]);
            let b = self.primary(h);
            hashes[i] = h;
            buckets[i] = b;
            prefetch(&self.buckets[b]);
        }
        // The first entry whose hash matches in the primary bucket; where there is none,
        // prefetch the alternative bucket and look there in a second pass (most keys
        // are in their primary bucket, so prefetching both up front costs more).
        let mut candidates = [EMPTY; BULK_MAX];
        let mut secondary = 0u32;
        for i in 0..n {
            let e = self.first_match(buckets[i], hashes[i]);
            if e != EMPTY {
                prefetch(&self.entries[e as usize - 1]);
            } else {
                buckets[i] = self.alt(buckets[i], hashes[i]);
                prefetch(&self.buckets[buckets[i]]);
                secondary |= 1 << i;
            }
            candidates[i] = e;
        }
        while secondary != 0 {
            let i = secondary.trailing_zeros() as usize;
            let e = self.first_match(buckets[i], hashes[i]);
            if e != EMPTY {
                prefetch(&self.entries[e as usize - 1]);
            }
            candidates[i] = e;
            secondary &= secondary - 1;
        }
        let mut found = 0;
        for i in 0..n {
            let e = candidates[i];
            values[i] = if e != EMPTY && self.entries[e as usize - 1].0 == keys[i] {
                Some(self.entries[e as usize - 1].1)
            } else if e == EMPTY {
                None
            } else {
                // Another key with the same hash came first: search properly.
                self.find(hashes[i], &keys[i])
                    .map(|(b, s)| self.entries[self.buckets[b].entries[s] as usize - 1].1)
            };
            found += usize::from(values[i].is_some());
        }
        found
    }

    /// Inserts `key -> value`, returning the value it replaces.
    pub fn insert(&mut self, key: K, value: V) -> Result<Option<V>, EmError> {
        let h = self.hash(&key);
        if let Some((b, slot)) = self.find(h, &key) {
            let e = self.buckets[b].entries[slot] as usize - 1;
            return Ok(Some(std::mem::replace(&mut self.entries[e].1, value)));
        }
        if self.len() == self.capacity {
            return Err(EmError::Full {
                capacity: self.capacity,
            });
        }
        let b1 = self.primary(h);
        let b2 = self.alt(b1, h);
        let (b, slot) = match (self.buckets[b1].free_slot(), self.buckets[b2].free_slot()) {
            (Some(slot), _) => (b1, slot),
            (None, Some(slot)) => (b2, slot),
            (None, None) => self.make_room(b1, b2).ok_or(EmError::NoSlot {
                len: self.len(),
                capacity: self.capacity,
            })?,
        };
        let e = match self.free.pop() {
            Some(e) => {
                self.entries[e as usize - 1] = (key, value);
                e
            }
            None => {
                self.entries.push((key, value));
                self.entries.len() as u32
            }
        };
        self.buckets[b].hashes[slot] = h;
        self.buckets[b].entries[slot] = e;
        Ok(None)
    }

    /// Frees a slot in bucket `b1` or `b2` (both full) by moving keys to their other
    /// buckets along the shortest cuckoo path (breadth-first, as `rte_hash`'s
    /// `rte_hash_cuckoo_make_space_mw`), returning the freed (bucket, slot).
    fn make_room(&mut self, b1: usize, b2: usize) -> Option<(usize, usize)> {
        // Each node: a bucket and how it was reached (parent node, slot in the parent
        // whose key moves into this bucket).
        let mut nodes: Vec<(usize, Option<(usize, usize)>)> = vec![(b1, None), (b2, None)];
        let mut queue: VecDeque<usize> = VecDeque::from([0, 1]);
        while let Some(n) = queue.pop_front() {
            let b = nodes[n].0;
            for slot in 0..SLOTS {
                let to = self.alt(b, self.buckets[b].hashes[slot]);
                if let Some(free) = self.buckets[to].free_slot() {
                    // Move keys along the path, from its end back to the first bucket.
                    let (mut to, mut to_slot, mut from, mut from_slot) = (to, free, n, slot);
                    loop {
                        let fb = nodes[from].0;
                        let (h, e) = (
                            self.buckets[fb].hashes[from_slot],
                            self.buckets[fb].entries[from_slot],
                        );
                        self.buckets[to].hashes[to_slot] = h;
                        self.buckets[to].entries[to_slot] = e;
                        match nodes[from].1 {
                            Some((parent, parent_slot)) => {
                                (to, to_slot, from, from_slot) =
                                    (fb, from_slot, parent, parent_slot);
                            }
                            None => {
                                self.buckets[fb].entries[from_slot] = EMPTY;
                                self.buckets[fb].hashes[from_slot] = 0;
                                return Some((fb, from_slot));
                            }
                        }
                    }
                }
                // A bucket twice on one path would move a key it no longer holds.
                if nodes.len() < MAX_BFS_BUCKETS && nodes.iter().all(|&(x, _)| x != to) {
                    nodes.push((to, Some((n, slot))));
                    queue.push_back(nodes.len() - 1);
                }
            }
        }
        None
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let (b, slot) = self.find(self.hash(key), key)?;
        let e = self.buckets[b].entries[slot];
        self.buckets[b].entries[slot] = EMPTY;
        self.buckets[b].hashes[slot] = 0;
        self.free.push(e);
        Some(self.entries[e as usize - 1].1)
    }

    /// Removes every key (`rte_hash_reset`).
    pub fn clear(&mut self) {
        self.buckets.fill(Bucket::default());
        self.entries.clear();
        self.free.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn software_crc32c_is_crc32c() {
        // The standard check value: CRC-32C of "123456789" with initial and final
        // inversion is 0xe3069283 (RFC 3720 appendix B.4 uses the same polynomial).
        let mut crc = !0u32;
        for &byte in b"123456789" {
            crc = (crc >> 8) ^ CRC32C_TABLE[usize::from(crc as u8 ^ byte)];
        }
        assert_eq!(!crc, 0xe306_9283);
    }

    #[cfg(target_arch = "x86_64")]
    proptest! {
        #[test]
        fn hardware_and_software_crc_agree(seed in any::<u32>(), words in proptest::collection::vec(any::<u64>(), 0..6)) {
            if Crc32c::detect() == Crc32c::Sse42 {
                prop_assert_eq!(Crc32c::Sse42.hash(seed, &words), crc32c_software(seed, &words));
            }
        }
    }

    fn tuple(i: u32) -> Ipv4FiveTuple {
        Ipv4FiveTuple {
            src_addr: Ipv4Addr::from(0x0a00_0000 | i),
            dst_addr: Ipv4Addr::from(0xc0a8_0000 ^ i.rotate_left(7)),
            src_port: i as u16,
            dst_port: 80,
            proto: IpProto::TCP,
        }
    }

    #[test]
    fn fills_to_capacity_then_reports_full() {
        let mut em: ExactMatch<Ipv4FiveTuple, u16> = ExactMatch::new(1000).unwrap();
        assert!(em.is_empty());
        for i in 0..1000 {
            assert_eq!(em.insert(tuple(i), i as u16), Ok(None));
        }
        assert_eq!(em.len(), 1000);
        assert_eq!(
            em.insert(tuple(1000), 0),
            Err(EmError::Full { capacity: 1000 })
        );
        assert_eq!(
            em.insert(tuple(5), 55),
            Ok(Some(5)),
            "updating needs no room"
        );
        let keys: Vec<_> = (0..1100).map(tuple).collect();
        let mut values = vec![None; keys.len()];
        assert_eq!(em.lookup_bulk(&keys, &mut values), 1000);
        for (i, v) in values.iter().enumerate() {
            let expect = (i < 1000).then_some(if i == 5 { 55 } else { i as u16 });
            assert_eq!(*v, expect, "key {i}");
        }
        assert_eq!(em.remove(&tuple(7)), Some(7));
        assert_eq!(em.remove(&tuple(7)), None);
        assert_eq!(
            em.insert(tuple(1000), 1),
            Ok(None),
            "a removed entry is reused"
        );
        em.clear();
        assert!(em.is_empty() && em.lookup(&tuple(1)).is_none());
        assert!(ExactMatch::<Ipv4FiveTuple, u8>::new(0).is_err());
    }

    #[test]
    fn five_tuples_from_packets() {
        use crate::testdata::{TCP4_SYN, UDP6};
        let ip = Ipv4Packet::new_checked(&TCP4_SYN[14..]).unwrap();
        let t = Ipv4FiveTuple::from_packet(&ip);
        assert_eq!(
            (t.src_port, t.dst_port, t.proto),
            (50000, 8080, IpProto::TCP)
        );
        assert_eq!(
            t.words(),
            [0x0a63_0001_0a63_0002, 50000 << 24 | 8080 << 8 | 6]
        );
        let ip = Ipv6Packet::new_checked(&UDP6[14..]).unwrap();
        let t = Ipv6FiveTuple::from_packet(&ip);
        assert_eq!(
            (t.src_port, t.dst_port, t.proto),
            (40001, 9001, IpProto::UDP)
        );
        let mut em = ExactMatch::new(4).unwrap();
        em.insert(t, 3u32).unwrap();
        assert_eq!(em.lookup(&t), Some(3));
        assert_eq!(em.lookup(&Ipv6FiveTuple { src_port: 1, ..t }), None);
    }

    /// Loads a 2^17-entry table to 100 %: the cuckoo moves must keep every key findable.
    #[test]
    fn full_load_with_cuckoo_moves() {
        let n = 1 << 17;
        let mut em: ExactMatch<Ipv4FiveTuple, u32> = ExactMatch::new(n).unwrap();
        for i in 0..n as u32 {
            em.insert(tuple(i.wrapping_mul(0x9e37_79b9)), i).unwrap();
        }
        for i in 0..n as u32 {
            assert_eq!(em.lookup(&tuple(i.wrapping_mul(0x9e37_79b9))), Some(i));
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u16),
        Remove(u8),
    }

    proptest! {
        #[test]
        fn matches_a_hashmap(ops in proptest::collection::vec(prop_oneof![
            3 => (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Op::Insert(k, v)),
            1 => any::<u8>().prop_map(Op::Remove),
        ], 1..300)) {
            // A small table, so it fills and buckets collide.
            let mut em: ExactMatch<Ipv4FiveTuple, u16> = ExactMatch::new(100).unwrap();
            let mut oracle: HashMap<Ipv4FiveTuple, u16> = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        let key = tuple(u32::from(k));
                        match em.insert(key, v) {
                            Ok(old) => prop_assert_eq!(old, oracle.insert(key, v)),
                            Err(EmError::Full { .. }) => prop_assert_eq!(oracle.len(), 100),
                            // A small table can run out of room in a key's two buckets
                            // before it is full (as rte_hash's -ENOSPC); the key must not
                            // have been there, and nothing may change.
                            Err(EmError::NoSlot { .. }) => prop_assert!(!oracle.contains_key(&key)),
                            Err(e) => prop_assert!(false, "{e}"),
                        }
                    }
                    Op::Remove(k) => {
                        let key = tuple(u32::from(k));
                        prop_assert_eq!(em.remove(&key), oracle.remove(&key));
                    }
                }
                prop_assert_eq!(em.len(), oracle.len());
            }
            let keys: Vec<_> = (0..=255).map(tuple).collect();
            let mut values = vec![None; keys.len()];
            let found = em.lookup_bulk(&keys, &mut values);
            prop_assert_eq!(found, oracle.len());
            for (key, value) in keys.iter().zip(&values) {
                prop_assert_eq!(*value, oracle.get(key).copied());
                prop_assert_eq!(em.lookup(key), oracle.get(key).copied());
            }
        }
    }
}
