//! IPv4 longest-prefix match with DPDK's DIR-24-8 (`rte_lpm`, after Gupta, Lin and
//! McKeown, "Routing lookups in hardware at memory access speeds", 1998).
//!
//! The first 24 bits of an address index `tbl24` (2^24 entries, 64 MiB); an entry holds
//! the next hop of the longest rule of depth <= 24 covering that /24, or, when a rule
//! longer than /24 falls inside it, the index of a 256-entry `tbl8` group indexed by the
//! last byte. A lookup is one load, or two for addresses under a > /24 rule.
//!
//! Entries are packed in 32 bits as DPDK's `rte_lpm_tbl_entry` (little-endian bit
//! fields): next hop or group index in bits 0-23, `valid` bit 24, `valid_group` (here:
//! "extended", points to a tbl8 group) bit 25, rule depth bits 26-31. Each entry also
//! records the depth of the rule that wrote it, so adding a rule overwrites only entries
//! of shorter rules, and deleting one restores the next covering rule (as
//! `rte_lpm_delete` does: the covering rule is re-exposed).
//!
//! Unlike DPDK, which rejects depth 0, depth 0 is a default route (`0.0.0.0/0`): it
//! matches every address no longer rule covers. Rules are kept in one hash map per depth
//! (DPDK scans a sorted array), so adding and deleting cost the entries they touch.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use thiserror::Error;

use crate::table;

/// Longest prefix length.
pub const MAX_DEPTH: u8 = 32;
/// Largest next hop: 24 bits, as in DPDK.
pub const MAX_NEXT_HOP: u32 = (1 << 24) - 1;
/// Most tbl8 groups: the group index shares the 24-bit next-hop field.
pub const MAX_TBL8_GROUPS: u32 = 1 << 24;

/// Entries in tbl24: one per /24.
const TBL24_ENTRIES: usize = 1 << 24;
/// Entries in one tbl8 group: one per last address byte.
const TBL8_GROUP_ENTRIES: usize = 256;
/// Depths up to this are held in tbl24 alone.
const TBL24_DEPTH: u8 = 24;

/// Next hop or group index.
const NEXT_HOP_MASK: u32 = 0x00ff_ffff;
/// The entry holds a rule (DPDK's `RTE_LPM_LOOKUP_SUCCESS`).
const VALID: u32 = 1 << 24;
/// A tbl24 entry that points to a tbl8 group.
const EXT: u32 = 1 << 25;
/// Both, as a tbl24 entry of a group (DPDK's `RTE_LPM_VALID_EXT_ENTRY_BITMASK`).
const VALID_EXT: u32 = VALID | EXT;
/// Where the depth is.
const DEPTH_SHIFT: u32 = 26;

/// A table entry for a rule of `depth` to `next_hop`.
#[inline]
const fn rule_entry(next_hop: u32, depth: u8) -> u32 {
    next_hop | VALID | ((depth as u32) << DEPTH_SHIFT)
}

/// The depth of the rule that wrote `entry` (0 for an empty one).
#[inline]
const fn entry_depth(entry: u32) -> u8 {
    (entry >> DEPTH_SHIFT) as u8
}

/// The network mask of a prefix of `depth` bits.
#[inline]
const fn depth_mask(depth: u8) -> u32 {
    match u32::MAX.checked_shl(32 - depth as u32) {
        Some(mask) => mask,
        None => 0,
    }
}

/// Why an LPM operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum LpmError {
    /// A parameter given at creation is out of range.
    #[error("invalid LPM configuration: {0}")]
    Config(&'static str),
    /// The prefix length is longer than the address.
    #[error("depth {depth} is out of range 0..={max}")]
    Depth {
        /// The depth given.
        depth: u8,
        /// The longest allowed.
        max: u8,
    },
    /// The next hop does not fit in an entry.
    #[error("next hop {next_hop} does not fit: the largest is {max}")]
    NextHop {
        /// The next hop given.
        next_hop: u32,
        /// The largest allowed.
        max: u32,
    },
    /// The table holds `max_rules` rules already.
    #[error("LPM full: {max_rules} rules; create it with a larger max_rules")]
    RulesFull {
        /// The capacity given at creation.
        max_rules: u32,
    },
    /// Every tbl8 group is in use, so no more rule can be longer than the first level.
    #[error("all {groups} tbl8 groups are in use; create the LPM with more tbl8 groups")]
    Tbl8Full {
        /// The number of groups given at creation.
        groups: u32,
    },
    /// There is no rule with this prefix and depth.
    #[error("no rule {prefix}/{depth}")]
    NotFound {
        /// The (masked) prefix.
        prefix: IpAddr,
        /// Its depth.
        depth: u8,
    },
}

/// An IPv4 longest-prefix-match table: rules `prefix/depth -> next hop` (24-bit next
/// hops), looked up with one or two memory loads per address.
pub struct Lpm {
    tbl24: Box<[u32; TBL24_ENTRIES]>,
    tbl8: Box<[u32]>,
    /// Free tbl8 group indices, a stack.
    free_groups: Vec<u32>,
    /// `rules[depth]`: masked prefix -> next hop.
    rules: Vec<HashMap<u32, u32>>,
    len: u32,
    max_rules: u32,
    groups: u32,
}

impl std::fmt::Debug for Lpm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lpm")
            .field("rules", &self.len)
            .field("max_rules", &self.max_rules)
            .field(
                "tbl8_groups_used",
                &(self.groups as usize - self.free_groups.len()),
            )
            .field("tbl8_groups", &self.groups)
            .finish()
    }
}

impl Lpm {
    /// An empty table for up to `max_rules` rules, of which those longer than /24 may
    /// cover at most `number_tbl8s` distinct /24s (DPDK's `rte_lpm_config`). Memory:
    /// 64 MiB for tbl24 plus 1 KiB per tbl8 group, mapped as it is first written.
    pub fn new(max_rules: u32, number_tbl8s: u32) -> Result<Self, LpmError> {
        if max_rules == 0 {
            return Err(LpmError::Config("max_rules must be at least 1"));
        }
        if number_tbl8s > MAX_TBL8_GROUPS {
            return Err(LpmError::Config("number_tbl8s must be at most 2^24"));
        }
        let tbl24 = table::zeroed(TBL24_ENTRIES)
            .try_into()
            .expect("tbl24 has 2^24 entries");
        Ok(Lpm {
            tbl24,
            tbl8: table::zeroed(number_tbl8s as usize * TBL8_GROUP_ENTRIES),
            free_groups: (0..number_tbl8s).rev().collect(),
            rules: vec![HashMap::new(); usize::from(MAX_DEPTH) + 1],
            len: 0,
            max_rules,
            groups: number_tbl8s,
        })
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// No rules.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds the rule `ip/depth -> next_hop` (bits of `ip` past `depth` are ignored), or
    /// changes the next hop of an existing one. `ip` is host order: `u32::from(Ipv4Addr)`.
    pub fn add(&mut self, ip: u32, depth: u8, next_hop: u32) -> Result<(), LpmError> {
        check_depth(depth)?;
        if next_hop > MAX_NEXT_HOP {
            return Err(LpmError::NextHop {
                next_hop,
                max: MAX_NEXT_HOP,
            });
        }
        let prefix = ip & depth_mask(depth);
        let rules = &mut self.rules[usize::from(depth)];
        let new_rule = match rules.get(&prefix) {
            Some(&old) if old == next_hop => return Ok(()),
            Some(_) => false,
            None if self.len == self.max_rules => {
                return Err(LpmError::RulesFull {
                    max_rules: self.max_rules,
                });
            }
            None => true,
        };
        if depth <= TBL24_DEPTH {
            self.add_small(prefix, depth, next_hop);
        } else {
            self.add_big(prefix, depth, next_hop)?;
        }
        self.rules[usize::from(depth)].insert(prefix, next_hop);
        self.len += u32::from(new_rule);
        Ok(())
    }

    /// Writes a rule of depth <= 24 over every tbl24 entry (and tbl8 entry below them)
    /// its range covers that holds no longer rule.
    fn add_small(&mut self, prefix: u32, depth: u8, next_hop: u32) {
        let new = rule_entry(next_hop, depth);
        let first = (prefix >> 8) as usize;
        let count = 1usize << (TBL24_DEPTH - depth);
        for i in first..first + count {
            let entry = self.tbl24[i];
            if entry & EXT == 0 {
                if entry & VALID == 0 || entry_depth(entry) <= depth {
                    self.tbl24[i] = new;
                }
            } else {
                let group = group_range(entry);
                overwrite_shorter(&mut self.tbl8[group], depth, new);
            }
        }
    }

    /// Writes a rule longer than /24 into the tbl8 group of its /24, creating the group
    /// (filled with the /24's current entry) if there is none.
    fn add_big(&mut self, prefix: u32, depth: u8, next_hop: u32) -> Result<(), LpmError> {
        let i24 = (prefix >> 8) as usize;
        let entry = self.tbl24[i24];
        let group = if entry & EXT != 0 {
            entry & NEXT_HOP_MASK
        } else {
            let group = self.free_groups.pop().ok_or(LpmError::Tbl8Full {
                groups: self.groups,
            })?;
            let start = group as usize * TBL8_GROUP_ENTRIES;
            self.tbl8[start..start + TBL8_GROUP_ENTRIES].fill(entry);
            self.tbl24[i24] = group | VALID_EXT;
            group
        };
        let first = group as usize * TBL8_GROUP_ENTRIES + (prefix & 0xff) as usize;
        let count = 1usize << (MAX_DEPTH - depth);
        overwrite_shorter(
            &mut self.tbl8[first..first + count],
            depth,
            rule_entry(next_hop, depth),
        );
        Ok(())
    }

    /// The next hop of rule `ip/depth`, if there is one (`rte_lpm_is_rule_present`).
    pub fn rule(&self, ip: u32, depth: u8) -> Option<u32> {
        let rules = self.rules.get(usize::from(depth))?;
        rules.get(&(ip & depth_mask(depth))).copied()
    }

    /// Deletes rule `ip/depth`; addresses it covered now match the longest rule that
    /// covers it, if any.
    pub fn delete(&mut self, ip: u32, depth: u8) -> Result<(), LpmError> {
        check_depth(depth)?;
        let prefix = ip & depth_mask(depth);
        if self.rules[usize::from(depth)].remove(&prefix).is_none() {
            return Err(LpmError::NotFound {
                prefix: Ipv4Addr::from(prefix).into(),
                depth,
            });
        }
        self.len -= 1;
        // The covering rule takes the deleted rule's entries; with none, they empty.
        let replacement = (0..depth)
            .rev()
            .find_map(|d| self.rule(prefix, d).map(|next_hop| rule_entry(next_hop, d)))
            .unwrap_or(0);
        if depth <= TBL24_DEPTH {
            let first = (prefix >> 8) as usize;
            let count = 1usize << (TBL24_DEPTH - depth);
            for i in first..first + count {
                let entry = self.tbl24[i];
                if entry & EXT == 0 {
                    if entry_depth(entry) <= depth {
                        self.tbl24[i] = replacement;
                    }
                } else {
                    let group = group_range(entry);
                    overwrite_shorter(&mut self.tbl8[group], depth, replacement);
                }
            }
        } else {
            self.delete_big(prefix, depth, replacement);
        }
        Ok(())
    }

    /// Replaces a > /24 rule's tbl8 entries and frees the group once no rule longer than
    /// /24 is left in it: its entries are then all the /24's entry, which moves back to
    /// tbl24.
    fn delete_big(&mut self, prefix: u32, depth: u8, replacement: u32) {
        let i24 = (prefix >> 8) as usize;
        let group_entry = self.tbl24[i24];
        debug_assert_eq!(
            group_entry & VALID_EXT,
            VALID_EXT,
            "a > /24 rule has a tbl8 group"
        );
        let group = group_range(group_entry);
        let first = group.start + (prefix & 0xff) as usize;
        let count = 1usize << (MAX_DEPTH - depth);
        overwrite_shorter(&mut self.tbl8[first..first + count], depth, replacement);
        let entries = &self.tbl8[group.clone()];
        if entries.iter().all(|&e| entry_depth(e) <= TBL24_DEPTH) {
            self.tbl24[i24] = entries[0];
            self.free_groups.push(group_entry & NEXT_HOP_MASK);
        }
    }

    /// Deletes every rule (`rte_lpm_delete_all`).
    pub fn delete_all(&mut self) {
        self.tbl24.fill(0);
        self.tbl8.fill(0);
        self.free_groups = (0..self.groups).rev().collect();
        self.rules.iter_mut().for_each(HashMap::clear);
        self.len = 0;
    }

    /// The next hop of the longest rule matching `ip` (host order), `rte_lpm_lookup`.
    #[inline]
    pub fn lookup(&self, ip: u32) -> Option<u32> {
        next_hop(self.resolve(ip))
    }

    /// The final entry for `ip`: its tbl24 entry, or the tbl8 entry that one points to.
    ///
    /// `ip >> 8` is below 2^24, the length of the `tbl24` array, so that index needs no
    /// bounds check. A tbl24 entry has `EXT` only together with `VALID` (a group entry is
    /// `group | VALID_EXT`), so testing `EXT` alone is DPDK's
    /// `RTE_LPM_VALID_EXT_ENTRY_BITMASK` test in one instruction fewer. The tbl8 branch is
    /// rare (only /24s holding a rule longer than /24 have a group, at most one per tbl8
    /// group: 2048 of the 2^24 in DPDK's perf table) and so well predicted.
    #[inline(always)]
    fn resolve(&self, ip: u32) -> u32 {
        let entry = self.tbl24[(ip >> 8) as usize];
        if entry & EXT != 0 {
            let index = ((entry & NEXT_HOP_MASK) as usize) << 8 | (ip & 0xff) as usize;
            self.tbl8[index]
        } else {
            entry
        }
    }

    /// [`Lpm::lookup`] of `N` addresses (4, 8, 32, a burst), DPDK's
    /// `rte_lpm_lookup_bulk`.
    ///
    /// One pass, as DPDK's, resolving each address into a plain `u32` array, and only then
    /// turning the entries into `Option`s: the tbl24 loads of different addresses do not
    /// depend on each other, so the core overlaps their cache misses across its whole
    /// out-of-order window, and nothing that waits on a loaded entry (a branch, a
    /// two-word `Option` store) sits between them. On the `lpm` bench's table (1M routes,
    /// random addresses; best of 1500 timings on a 2-CPU EPYC guest), building the
    /// `Option`s in the loop, or resolving 8 addresses at a time as before, made a burst
    /// of 32 take 11 ns a lookup instead of 6.5; loading all the tbl24 entries in a first
    /// pass (8.4 ns), or prefetching them first (7.0 ns), was no faster than this.
    #[inline]
    pub fn lookup_bulk<const N: usize>(&self, ips: &[u32; N]) -> [Option<u32>; N] {
        let mut entries = [0u32; N];
        for (e, &ip) in entries.iter_mut().zip(ips) {
            *e = self.resolve(ip);
        }
        entries.map(next_hop)
    }

    /// Four lookups at once, DPDK's `rte_lpm_lookupx4`: the next hop of each address, or
    /// `default` where no rule matches.
    #[inline]
    pub fn lookupx4(&self, ips: [u32; 4], default: u32) -> [u32; 4] {
        ips.map(|ip| self.resolve(ip)).map(|e| {
            if e & VALID != 0 {
                e & NEXT_HOP_MASK
            } else {
                default
            }
        })
    }
}

/// The next hop in a final entry, if it holds a rule.
#[inline(always)]
fn next_hop(entry: u32) -> Option<u32> {
    if entry & VALID != 0 {
        Some(entry & NEXT_HOP_MASK)
    } else {
        None
    }
}

/// `Err` unless `depth <= 32`.
fn check_depth(depth: u8) -> Result<(), LpmError> {
    if depth > MAX_DEPTH {
        Err(LpmError::Depth {
            depth,
            max: MAX_DEPTH,
        })
    } else {
        Ok(())
    }
}

/// The tbl8 index range of the group a tbl24 entry points to.
#[inline]
fn group_range(entry: u32) -> std::ops::Range<usize> {
    let start = (entry & NEXT_HOP_MASK) as usize * TBL8_GROUP_ENTRIES;
    start..start + TBL8_GROUP_ENTRIES
}

/// Sets to `new` every entry written by a rule no longer than `depth` (empty ones too):
/// entries of longer rules stay.
#[inline]
fn overwrite_shorter(entries: &mut [u32], depth: u8, new: u32) {
    for e in entries {
        if *e & VALID == 0 || entry_depth(*e) <= depth {
            *e = new;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// The obvious longest-prefix match: try each depth from the longest.
    #[derive(Default)]
    struct Oracle(BTreeMap<(u8, u32), u32>);

    impl Oracle {
        fn add(&mut self, ip: u32, depth: u8, nh: u32) {
            self.0.insert((depth, ip & depth_mask(depth)), nh);
        }
        fn delete(&mut self, ip: u32, depth: u8) -> bool {
            self.0.remove(&(depth, ip & depth_mask(depth))).is_some()
        }
        fn lookup(&self, ip: u32) -> Option<u32> {
            (0..=MAX_DEPTH)
                .rev()
                .find_map(|d| self.0.get(&(d, ip & depth_mask(d))).copied())
        }
    }

    fn ip(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().unwrap())
    }

    #[test]
    fn entry_layout_is_dpdks() {
        assert_eq!(rule_entry(0xabcdef, 32), 0x81ab_cdef);
        assert_eq!(VALID_EXT, 0x0300_0000);
        assert_eq!(entry_depth(rule_entry(5, 25)), 25);
        assert_eq!(
            (depth_mask(0), depth_mask(1), depth_mask(24), depth_mask(32)),
            (0, 1 << 31, 0xffff_ff00, !0)
        );
    }

    #[test]
    fn nested_rules_and_covering_rule_on_delete() {
        let mut lpm = Lpm::new(16, 4).unwrap();
        assert_eq!(lpm.lookup(ip("10.1.2.3")), None);
        lpm.add(ip("0.0.0.0"), 0, 1).unwrap();
        lpm.add(ip("10.0.0.0"), 8, 2).unwrap();
        lpm.add(ip("10.1.2.0"), 24, 3).unwrap();
        lpm.add(ip("10.1.2.128"), 25, 4).unwrap();
        lpm.add(ip("10.1.2.3"), 32, 5).unwrap();
        assert_eq!(lpm.len(), 5);
        let probe = ["10.1.2.3", "10.1.2.4", "10.1.2.200", "10.1.3.1", "11.0.0.1"].map(ip);
        assert_eq!(probe.map(|a| lpm.lookup(a)), [5, 3, 4, 2, 1].map(Some));
        assert_eq!(
            lpm.lookupx4([probe[0], probe[1], probe[2], probe[3]], 99),
            [5, 3, 4, 2]
        );
        assert_eq!(lpm.rule(ip("10.1.2.255"), 24), Some(3));

        lpm.delete(ip("10.1.2.0"), 24).unwrap();
        assert_eq!(probe.map(|a| lpm.lookup(a)), [5, 2, 4, 2, 1].map(Some));
        lpm.delete(ip("10.0.0.0"), 8).unwrap();
        assert_eq!(probe.map(|a| lpm.lookup(a)), [5, 1, 4, 1, 1].map(Some));
        lpm.delete(ip("0.0.0.0"), 0).unwrap();
        assert_eq!(
            probe.map(|a| lpm.lookup(a)),
            [Some(5), None, Some(4), None, None]
        );
        lpm.delete(ip("10.1.2.3"), 32).unwrap();
        lpm.delete(ip("10.1.2.128"), 25).unwrap();
        assert!(lpm.is_empty());
        assert_eq!(lpm.free_groups.len(), 4, "the tbl8 group is freed");
        assert_eq!(lpm.lookupx4([probe[0], 0, !0, 7], 99), [99; 4]);
        assert_eq!(
            lpm.delete(ip("10.1.2.3"), 32),
            Err(LpmError::NotFound {
                prefix: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
                depth: 32
            })
        );
    }

    #[test]
    fn update_limits_and_errors() {
        let mut lpm = Lpm::new(2, 1).unwrap();
        lpm.add(ip("192.168.0.0"), 16, 1).unwrap();
        lpm.add(ip("192.168.77.1"), 16, 2).unwrap();
        assert_eq!((lpm.len(), lpm.lookup(ip("192.168.1.1"))), (1, Some(2)));
        lpm.add(ip("192.168.0.1"), 32, 3).unwrap();
        assert_eq!(
            lpm.add(ip("192.168.0.2"), 32, 3),
            Err(LpmError::RulesFull { max_rules: 2 })
        );
        lpm.add(ip("192.168.0.1"), 32, 4).unwrap();
        assert_eq!(lpm.lookup(ip("192.168.0.1")), Some(4));
        lpm.delete(ip("192.168.0.0"), 16).unwrap();
        assert_eq!(
            lpm.add(ip("10.0.0.1"), 32, 3),
            Err(LpmError::Tbl8Full { groups: 1 })
        );
        assert_eq!(lpm.len(), 1, "a failed add leaves no rule behind");
        assert_eq!(lpm.lookup(ip("10.0.0.1")), None);
        assert_eq!(
            lpm.add(0, 33, 1),
            Err(LpmError::Depth { depth: 33, max: 32 })
        );
        assert_eq!(
            lpm.add(0, 8, 1 << 24),
            Err(LpmError::NextHop {
                next_hop: 1 << 24,
                max: MAX_NEXT_HOP
            })
        );
        assert!(Lpm::new(0, 1).is_err() && Lpm::new(1, MAX_TBL8_GROUPS + 1).is_err());
        lpm.delete_all();
        assert!(lpm.is_empty() && lpm.lookup(ip("192.168.0.1")).is_none());
        lpm.add(ip("10.0.0.1"), 32, 3).unwrap();
        assert_eq!(
            lpm.lookup_bulk(&[ip("10.0.0.1"), ip("10.0.0.2")]),
            [Some(3), None]
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(u32, u8, u32),
        Delete(usize),
    }

    /// Addresses from a few /16s so rules overlap and share tbl8 groups.
    fn addr() -> impl Strategy<Value = u32> {
        (0u32..4, any::<u16>())
            .prop_map(|(net, host)| (0x0a00_0000 + (net << 16)) | u32::from(host))
    }

    fn depth() -> impl Strategy<Value = u8> {
        prop_oneof![
            Just(0u8),
            Just(1),
            Just(24),
            Just(25),
            Just(32),
            0u8..=32,
            14u8..=30
        ]
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        proptest::collection::vec(
            prop_oneof![
                3 => (addr(), depth(), 0u32..1000).prop_map(|(a, d, h)| Op::Add(a, d, h)),
                1 => any::<usize>().prop_map(Op::Delete),
            ],
            1..60,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn matches_the_oracle(ops in ops(), probes in proptest::collection::vec(addr(), 64)) {
            let mut lpm = Lpm::new(1000, 64).unwrap();
            let mut oracle = Oracle::default();
            let mut added: Vec<(u32, u8)> = Vec::new();
            for op in ops {
                match op {
                    Op::Add(a, d, h) => {
                        lpm.add(a, d, h).unwrap();
                        oracle.add(a, d, h);
                        added.push((a, d));
                    }
                    Op::Delete(i) if !added.is_empty() => {
                        let (a, d) = added[i % added.len()];
                        prop_assert_eq!(lpm.delete(a, d).is_ok(), oracle.delete(a, d));
                    }
                    Op::Delete(_) => {}
                }
                prop_assert_eq!(lpm.len(), oracle.0.len());
            }
            // Probe random addresses and the edges of every rule.
            let mut all = probes;
            for &(a, d) in &added {
                let m = depth_mask(d);
                all.extend([a & m, (a & m) | !m, (a & m).wrapping_sub(1), ((a & m) | !m).wrapping_add(1)]);
            }
            for chunk in all.chunks_exact(8) {
                let chunk: &[u32; 8] = chunk.try_into().unwrap();
                let expect = chunk.map(|a| oracle.lookup(a));
                prop_assert_eq!(lpm.lookup_bulk(chunk), expect);
                prop_assert_eq!(chunk.map(|a| lpm.lookup(a)), expect);
                let x4 = lpm.lookupx4(chunk[..4].try_into().unwrap(), u32::MAX);
                prop_assert_eq!(x4, [0, 1, 2, 3].map(|i| expect[i].unwrap_or(u32::MAX)));
            }
            // Deleting what is left empties the table and frees every group.
            for (a, d) in added {
                let _ = lpm.delete(a, d);
            }
            prop_assert!(lpm.is_empty());
            prop_assert_eq!(lpm.free_groups.len(), 64);
        }
    }

    /// A 64-bit xorshift, for tests that need many numbers fast.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// Routes per depth 1..=32 in the table `lpm_perf_autotest` builds, whose
    /// distribution DPDK took from a real router's table: most routes are /16-/24, 4 %
    /// are longer than /24, a few hundred /8 or shorter.
    const DEPTH_COUNTS: [u32; 32] = [
        0, 0, 1, 0, 3, 2, 4, 200, 37, 55, 97, 381, 775, 2104, 3712, 69319, 12983, 23667, 69068,
        62354, 48531, 72355, 85427, 583898, 2654, 5650, 6467, 7127, 12936, 5999, 13, 982,
    ];

    /// One million routes to random prefixes with [`DEPTH_COUNTS`] depths, checked
    /// against per-depth hash maps, then all deleted. Run it in release mode (~5 s).
    #[test]
    fn a_million_routes() {
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        let total: u32 = DEPTH_COUNTS.iter().sum();
        let mut lpm = Lpm::new(1 << 21, 1 << 16).unwrap();
        let mut routes = Vec::with_capacity(1 << 20);
        let mut by_depth: Vec<HashMap<u32, u32>> = vec![HashMap::new(); 33];
        while routes.len() < 1_000_000 {
            let r = rng.next();
            let mut pick = (r % u64::from(total)) as u32;
            let mut depth = 1;
            while pick >= DEPTH_COUNTS[usize::from(depth) - 1] {
                pick -= DEPTH_COUNTS[usize::from(depth) - 1];
                depth += 1;
            }
            let ip = (r >> 32) as u32 & depth_mask(depth);
            let hop = (r >> 8) as u32 & MAX_NEXT_HOP;
            if by_depth[usize::from(depth)].insert(ip, hop).is_none() {
                routes.push((ip, depth));
            }
            lpm.add(ip, depth, hop).unwrap();
        }
        assert_eq!(lpm.len(), routes.len());
        let oracle = |a: u32| {
            (0..=32u8)
                .rev()
                .find_map(|d| by_depth[usize::from(d)].get(&(a & depth_mask(d))).copied())
        };
        for _ in 0..(1 << 14) {
            let addrs: [u32; 32] = std::array::from_fn(|_| rng.next() as u32);
            assert_eq!(lpm.lookup_bulk(&addrs), addrs.map(oracle));
        }
        // Half the addresses under a random route's own prefix, to hit tbl8 groups.
        for &(ip, depth) in routes.iter().step_by(7) {
            let a = ip | (rng.next() as u32 & !depth_mask(depth));
            assert_eq!(lpm.lookup(a), oracle(a));
        }
        for &(ip, depth) in &routes {
            lpm.delete(ip, depth).unwrap();
        }
        assert!(lpm.is_empty());
        assert_eq!(lpm.free_groups.len(), 1 << 16);
        assert!(lpm.tbl24.iter().all(|&e| e == 0));
    }
}
