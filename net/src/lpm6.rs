//! IPv6 longest-prefix match as DPDK's `rte_lpm6`: a 2^24-entry first level indexed by
//! the first three address bytes, then chains of 256-entry tbl8 groups, one level per
//! following byte (up to 13 levels for a /128). A lookup follows "extended" entries down
//! the chain until it meets a rule entry or an empty one.
//!
//! Entries are packed in 32 bits as `rte_lpm6_tbl_entry`: next hop or group index in
//! bits 0-20, rule depth bits 21-28, `valid` bit 29, `ext_entry` bit 31. Each group
//! records its owner entry and a reference count (rules ending in the group plus child
//! groups), so deleting a rule frees the groups it alone needed and re-exposes the
//! covering rule, as `rte_lpm6_delete` does. Depth 0 is a default route (`::/0`), which
//! DPDK rejects.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

use crate::lpm::LpmError;
use crate::table;

/// Longest prefix length.
pub const MAX_DEPTH: u8 = 128;
/// Largest next hop: 21 bits, as in DPDK.
pub const MAX_NEXT_HOP: u32 = (1 << 21) - 1;
/// Most tbl8 groups: the group index shares the 21-bit next-hop field.
pub const MAX_TBL8_GROUPS: u32 = 1 << 21;

/// Entries in tbl24: one per value of the first three bytes.
const TBL24_ENTRIES: usize = 1 << 24;
/// Entries in one tbl8 group: one per value of the next byte.
const TBL8_GROUP_ENTRIES: usize = 256;
/// Bits resolved by tbl24.
const TBL24_BITS: u8 = 24;

/// Next hop or group index.
const NEXT_HOP_MASK: u32 = 0x001f_ffff;
/// Where the depth is.
const DEPTH_SHIFT: u32 = 21;
/// The entry holds a rule or a group (DPDK's `RTE_LPM6_LOOKUP_SUCCESS`).
const VALID: u32 = 1 << 29;
/// The entry points to a tbl8 group.
const EXT: u32 = 1 << 31;
/// Both (DPDK's `RTE_LPM6_VALID_EXT_ENTRY_BITMASK`).
const VALID_EXT: u32 = VALID | EXT;

/// A table entry for a rule of `depth` to `next_hop`.
#[inline]
const fn rule_entry(next_hop: u32, depth: u8) -> u32 {
    next_hop | ((depth as u32) << DEPTH_SHIFT) | VALID
}

/// The depth of the rule that wrote `entry` (0 for an empty or extended one).
#[inline]
const fn entry_depth(entry: u32) -> u8 {
    (entry >> DEPTH_SHIFT) as u8
}

/// `addr` with the bits past `depth` cleared.
#[inline]
fn mask(addr: u128, depth: u8) -> u128 {
    addr & u128::MAX.checked_shl(128 - u32::from(depth)).unwrap_or(0)
}

/// Where an entry lives: a tbl24 index or (group, byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Tbl24(usize),
    Tbl8 { group: u32, index: u8 },
}

/// Bookkeeping of a tbl8 group in use.
#[derive(Clone, Copy, Debug)]
struct Group {
    /// The entry that points to this group.
    owner: Slot,
    /// Rules whose last level is this group plus child groups.
    refs: u32,
}

/// An IPv6 longest-prefix-match table: rules `prefix/depth -> next hop` (21-bit next
/// hops).
pub struct Lpm6 {
    tbl24: Box<[u32; TBL24_ENTRIES]>,
    tbl8: Box<[u32]>,
    groups: Vec<Group>,
    free_groups: Vec<u32>,
    /// `(masked prefix, depth) -> next hop`.
    rules: HashMap<(u128, u8), u32>,
    max_rules: u32,
}

impl std::fmt::Debug for Lpm6 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lpm6")
            .field("rules", &self.rules.len())
            .field("max_rules", &self.max_rules)
            .field(
                "tbl8_groups_used",
                &(self.groups.len() - self.free_groups.len()),
            )
            .field("tbl8_groups", &self.groups.len())
            .finish()
    }
}

impl Lpm6 {
    /// An empty table for up to `max_rules` rules using at most `number_tbl8s` groups
    /// (DPDK's `rte_lpm6_config`). Memory: 64 MiB for tbl24 plus 1 KiB per group, mapped
    /// as first written.
    pub fn new(max_rules: u32, number_tbl8s: u32) -> Result<Self, LpmError> {
        if max_rules == 0 {
            return Err(LpmError::Config("max_rules must be at least 1"));
        }
        if number_tbl8s > MAX_TBL8_GROUPS {
            return Err(LpmError::Config("number_tbl8s must be at most 2^21"));
        }
        let tbl24 = table::zeroed(TBL24_ENTRIES)
            .try_into()
            .expect("tbl24 has 2^24 entries");
        let unused = Group {
            owner: Slot::Tbl24(0),
            refs: 0,
        };
        Ok(Lpm6 {
            tbl24,
            tbl8: table::zeroed(number_tbl8s as usize * TBL8_GROUP_ENTRIES),
            groups: vec![unused; number_tbl8s as usize],
            free_groups: (0..number_tbl8s).rev().collect(),
            rules: HashMap::new(),
            max_rules,
        })
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// No rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn entry(&self, slot: Slot) -> u32 {
        match slot {
            Slot::Tbl24(i) => self.tbl24[i],
            Slot::Tbl8 { group, index } => {
                self.tbl8[group as usize * TBL8_GROUP_ENTRIES + usize::from(index)]
            }
        }
    }

    fn set_entry(&mut self, slot: Slot, entry: u32) {
        match slot {
            Slot::Tbl24(i) => self.tbl24[i] = entry,
            Slot::Tbl8 { group, index } => {
                self.tbl8[group as usize * TBL8_GROUP_ENTRIES + usize::from(index)] = entry;
            }
        }
    }

    /// Adds the rule `addr/depth -> next_hop`, or changes the next hop of an existing one.
    /// Fails without changing anything if the groups it needs are not free.
    pub fn add(&mut self, addr: Ipv6Addr, depth: u8, next_hop: u32) -> Result<(), LpmError> {
        check_depth(depth)?;
        if next_hop > MAX_NEXT_HOP {
            return Err(LpmError::NextHop {
                next_hop,
                max: MAX_NEXT_HOP,
            });
        }
        let prefix = mask(u128::from(addr), depth);
        let new_rule = match self.rules.get(&(prefix, depth)) {
            Some(&old) if old == next_hop => return Ok(()),
            Some(_) => false,
            None if self.rules.len() == self.max_rules as usize => {
                return Err(LpmError::RulesFull {
                    max_rules: self.max_rules,
                });
            }
            None => true,
        };
        if self.groups_needed(prefix, depth) > self.free_groups.len() {
            return Err(LpmError::Tbl8Full {
                groups: self.groups.len() as u32,
            });
        }
        self.rules.insert((prefix, depth), next_hop);

        let bytes = prefix.to_be_bytes();
        let new = rule_entry(next_hop, depth);
        let mut table: Option<u32> = None;
        let mut bits = TBL24_BITS;
        loop {
            if depth <= bits {
                // The last level: the rule covers 2^(bits - depth) entries.
                let count = 1usize << (bits - depth);
                let first = self.level_index(table, &bytes, bits);
                for i in first..first + count {
                    let slot = self.slot(table, i);
                    let entry = self.entry(slot);
                    if entry & EXT != 0 {
                        self.expand(entry & NEXT_HOP_MASK, depth, new);
                    } else if entry & VALID == 0 || entry_depth(entry) <= depth {
                        self.set_entry(slot, new);
                    }
                }
                if let (Some(group), true) = (table, new_rule) {
                    self.groups[group as usize].refs += 1;
                }
                return Ok(());
            }
            let slot = self.slot(table, self.level_index(table, &bytes, bits));
            let entry = self.entry(slot);
            let group = if entry & EXT != 0 {
                entry & NEXT_HOP_MASK
            } else {
                // A new group holding what the entry held (a shorter rule, or nothing).
                let group = self.free_groups.pop().expect("groups_needed counted it");
                let start = group as usize * TBL8_GROUP_ENTRIES;
                self.tbl8[start..start + TBL8_GROUP_ENTRIES].fill(entry);
                self.groups[group as usize] = Group {
                    owner: slot,
                    refs: 0,
                };
                self.set_entry(slot, group | VALID_EXT);
                if let Some(parent) = table {
                    self.groups[parent as usize].refs += 1;
                }
                group
            };
            table = Some(group);
            bits += 8;
        }
    }

    /// Groups an add of `prefix/depth` would create (DPDK's `simulate_add`).
    fn groups_needed(&self, prefix: u128, depth: u8) -> usize {
        let bytes = prefix.to_be_bytes();
        let mut table = None;
        let mut bits = TBL24_BITS;
        while depth > bits {
            let entry = self.entry(self.slot(table, self.level_index(table, &bytes, bits)));
            if entry & EXT == 0 {
                return usize::from(depth - bits).div_ceil(8);
            }
            table = Some(entry & NEXT_HOP_MASK);
            bits += 8;
        }
        0
    }

    /// The index, within the level that resolves address bits up to `bits`, of the entry
    /// for `bytes`: the first three bytes in tbl24, one byte in a group.
    #[inline]
    fn level_index(&self, table: Option<u32>, bytes: &[u8; 16], bits: u8) -> usize {
        match table {
            None => {
                usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2])
            }
            Some(_) => usize::from(bytes[usize::from(bits / 8) - 1]),
        }
    }

    /// The slot of entry `index` of `table` (tbl24 when `None`).
    #[inline]
    fn slot(&self, table: Option<u32>, index: usize) -> Slot {
        match table {
            None => Slot::Tbl24(index),
            Some(group) => Slot::Tbl8 {
                group,
                index: index as u8,
            },
        }
    }

    /// Writes `new` (of `depth`) over the entries of `group` and its descendants that hold
    /// nothing or a rule no longer than `depth` (DPDK's `expand_rule`).
    fn expand(&mut self, group: u32, depth: u8, new: u32) {
        let start = group as usize * TBL8_GROUP_ENTRIES;
        for i in start..start + TBL8_GROUP_ENTRIES {
            let entry = self.tbl8[i];
            if entry & EXT != 0 {
                self.expand(entry & NEXT_HOP_MASK, depth, new);
            } else if entry & VALID == 0 || entry_depth(entry) <= depth {
                self.tbl8[i] = new;
            }
        }
    }

    /// The next hop of rule `addr/depth`, if there is one (`rte_lpm6_is_rule_present`).
    pub fn rule(&self, addr: Ipv6Addr, depth: u8) -> Option<u32> {
        self.rules
            .get(&(mask(u128::from(addr), depth), depth))
            .copied()
    }

    /// Deletes rule `addr/depth`; addresses it covered now match the longest rule that
    /// covers it, if any, and groups only it needed are freed.
    pub fn delete(&mut self, addr: Ipv6Addr, depth: u8) -> Result<(), LpmError> {
        check_depth(depth)?;
        let prefix = mask(u128::from(addr), depth);
        if self.rules.remove(&(prefix, depth)).is_none() {
            return Err(LpmError::NotFound {
                prefix: IpAddr::V6(prefix.into()),
                depth,
            });
        }
        let replacement = (0..depth)
            .rev()
            .find_map(|d| {
                self.rules
                    .get(&(mask(prefix, d), d))
                    .map(|&nh| rule_entry(nh, d))
            })
            .unwrap_or(0);

        // Walk to the level the rule ends in.
        let bytes = prefix.to_be_bytes();
        let mut table = None;
        let mut bits = TBL24_BITS;
        while depth > bits {
            let entry = self.entry(self.slot(table, self.level_index(table, &bytes, bits)));
            debug_assert_eq!(
                entry & VALID_EXT,
                VALID_EXT,
                "a rule's path is extended entries"
            );
            table = Some(entry & NEXT_HOP_MASK);
            bits += 8;
        }
        if let Some(group) = table {
            let refs = &mut self.groups[group as usize].refs;
            *refs -= 1;
            if *refs == 0 {
                self.remove_group(group, replacement);
                return Ok(());
            }
        }
        let count = 1usize << (bits - depth);
        let first = self.level_index(table, &bytes, bits);
        for i in first..first + count {
            let slot = self.slot(table, i);
            let entry = self.entry(slot);
            if entry & EXT != 0 {
                self.restore(entry & NEXT_HOP_MASK, depth, replacement);
            } else if entry_depth(entry) == depth {
                self.set_entry(slot, replacement);
            }
        }
        Ok(())
    }

    /// Writes `replacement` over the entries of `group` and its descendants written by a
    /// rule no longer than `depth` (the deleted one, which covered all of them).
    fn restore(&mut self, group: u32, depth: u8, replacement: u32) {
        let start = group as usize * TBL8_GROUP_ENTRIES;
        for i in start..start + TBL8_GROUP_ENTRIES {
            let entry = self.tbl8[i];
            if entry & EXT != 0 {
                self.restore(entry & NEXT_HOP_MASK, depth, replacement);
            } else if entry_depth(entry) <= depth {
                self.tbl8[i] = replacement;
            }
        }
    }

    /// Frees `group`, which no rule needs any more: its owner entry takes `replacement`
    /// (the covering rule, necessarily shorter than the owner's level), and the owner's
    /// group goes too if this was its last reference.
    fn remove_group(&mut self, group: u32, replacement: u32) {
        let owner = self.groups[group as usize].owner;
        self.free_groups.push(group);
        self.set_entry(owner, replacement);
        if let Slot::Tbl8 { group: parent, .. } = owner {
            let refs = &mut self.groups[parent as usize].refs;
            *refs -= 1;
            if *refs == 0 {
                self.remove_group(parent, replacement);
            }
        }
    }

    /// Deletes every rule (`rte_lpm6_delete_all`).
    pub fn delete_all(&mut self) {
        self.tbl24.fill(0);
        self.tbl8.fill(0);
        self.free_groups = (0..self.groups.len() as u32).rev().collect();
        self.rules.clear();
    }

    /// The next hop of the longest rule matching `addr` (`rte_lpm6_lookup`).
    #[inline]
    pub fn lookup(&self, addr: Ipv6Addr) -> Option<u32> {
        let b = addr.octets();
        let i24 = usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]);
        let entry = self.descend(self.tbl24[i24], &b);
        if entry & VALID != 0 {
            Some(entry & NEXT_HOP_MASK)
        } else {
            None
        }
    }

    /// Follows extended entries from `entry` (address bytes from the fourth on) to the
    /// final one.
    ///
    /// A group entry is `group | VALID_EXT` with depth 0 (an entry has `EXT` only as a
    /// group entry), so testing `EXT` alone is DPDK's `RTE_LPM6_VALID_EXT_ENTRY_BITMASK`
    /// test, and shifting the entry left by 8 in 32 bits drops its flag bits and leaves
    /// `group * 256`: one operation between a level's load and the next one's address.
    /// Iterating over the bytes bounds the walk without an index check (a chain ends by
    /// the last byte: a /128 rule's entries are in the group of byte 15).
    #[inline(always)]
    fn descend(&self, mut entry: u32, b: &[u8; 16]) -> u32 {
        for &byte in &b[3..] {
            if entry & EXT == 0 {
                break;
            }
            debug_assert_eq!(entry & !(NEXT_HOP_MASK | VALID_EXT), 0, "a group entry");
            entry = self.tbl8[(entry << 8) as usize | usize::from(byte)];
        }
        debug_assert_eq!(entry & EXT, 0, "a chain ends by the last address byte");
        entry
    }

    /// [`Lpm6::lookup`] of `N` addresses (`rte_lpm6_lookup_bulk_func`), with the tbl24
    /// loads issued first so their cache misses overlap.
    #[inline]
    pub fn lookup_bulk<const N: usize>(&self, addrs: &[Ipv6Addr; N]) -> [Option<u32>; N] {
        let bytes = addrs.map(|a| a.octets());
        let mut entries = [0u32; N];
        for (e, b) in entries.iter_mut().zip(&bytes) {
            *e = self.tbl24[usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2])];
        }
        for (e, b) in entries.iter_mut().zip(&bytes) {
            *e = self.descend(*e, b);
        }
        entries.map(|e| {
            if e & VALID != 0 {
                Some(e & NEXT_HOP_MASK)
            } else {
                None
            }
        })
    }
}

/// `Err` unless `depth <= 128`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// The obvious longest-prefix match.
    #[derive(Default)]
    struct Oracle(BTreeMap<(u8, u128), u32>);

    impl Oracle {
        fn lookup(&self, a: u128) -> Option<u32> {
            (0..=MAX_DEPTH)
                .rev()
                .find_map(|d| self.0.get(&(d, mask(a, d))).copied())
        }
    }

    fn v6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn entry_layout_is_dpdks() {
        assert_eq!(VALID_EXT, 0xa000_0000);
        assert_eq!(rule_entry(0x1f_ffff, 128), 0x301f_ffff);
        assert_eq!(entry_depth(rule_entry(1, 97)), 97);
    }

    #[test]
    fn nested_rules_groups_and_delete() {
        let mut lpm = Lpm6::new(16, 32).unwrap();
        lpm.add(v6("::"), 0, 1).unwrap();
        lpm.add(v6("2001:db8::"), 32, 2).unwrap();
        lpm.add(v6("2001:db8:1::"), 48, 3).unwrap();
        lpm.add(v6("2001:db8:1::1"), 128, 4).unwrap();
        lpm.add(v6("2001:db8:1:0:8000::"), 65, 5).unwrap();
        let probe = [
            "2001:db8:1::1",
            "2001:db8:1::2",
            "2001:db8:1:0:8000::9",
            "2001:db8:2::1",
            "fe80::1",
        ]
        .map(v6);
        assert_eq!(probe.map(|a| lpm.lookup(a)), [4, 3, 5, 2, 1].map(Some));
        assert_eq!(lpm.lookup_bulk(&probe), [4, 3, 5, 2, 1].map(Some));
        // The /128 needs a group for each of bytes 3..=15; the others end in its groups.
        let used = |l: &Lpm6| l.groups.len() - l.free_groups.len();
        assert_eq!(used(&lpm), 13);
        lpm.delete(v6("2001:db8:1::1"), 128).unwrap();
        assert_eq!(probe.map(|a| lpm.lookup(a)), [3, 3, 5, 2, 1].map(Some));
        assert_eq!(used(&lpm), 6, "groups only the /128 needed are freed");
        lpm.delete(v6("2001:db8:1::"), 48).unwrap();
        assert_eq!(probe.map(|a| lpm.lookup(a)), [2, 2, 5, 2, 1].map(Some));
        lpm.delete(v6("2001:db8:1:0:8000::"), 65).unwrap();
        assert_eq!(used(&lpm), 1, "the /32 still ends in the byte-3 group");
        lpm.delete(v6("::"), 0).unwrap();
        assert_eq!(
            probe.map(|a| lpm.lookup(a)),
            [Some(2), Some(2), Some(2), Some(2), None]
        );
        assert_eq!(
            lpm.delete(v6("::"), 0),
            Err(LpmError::NotFound {
                prefix: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                depth: 0
            })
        );
    }

    #[test]
    fn limits_and_errors() {
        let mut lpm = Lpm6::new(2, 13).unwrap();
        lpm.add(v6("2001:db8::1"), 128, 1).unwrap();
        lpm.add(v6("2001:db8::1"), 128, 7).unwrap();
        assert_eq!(lpm.lookup(v6("2001:db8::1")), Some(7));
        assert_eq!(
            lpm.add(v6("2002::1"), 128, 1),
            Err(LpmError::Tbl8Full { groups: 13 })
        );
        assert_eq!(lpm.len(), 1, "a failed add changes nothing");
        lpm.add(v6("2001:db8::2"), 128, 2).unwrap();
        assert_eq!(
            lpm.add(v6("2001:db8::"), 64, 3),
            Err(LpmError::RulesFull { max_rules: 2 })
        );
        assert_eq!(
            lpm.add(v6("::"), 129, 1),
            Err(LpmError::Depth {
                depth: 129,
                max: 128
            })
        );
        assert_eq!(
            lpm.add(v6("::"), 1, 1 << 21),
            Err(LpmError::NextHop {
                next_hop: 1 << 21,
                max: MAX_NEXT_HOP
            })
        );
        assert!(Lpm6::new(0, 1).is_err() && Lpm6::new(1, MAX_TBL8_GROUPS + 1).is_err());
        lpm.delete_all();
        assert!(lpm.is_empty() && lpm.lookup(v6("2001:db8::1")).is_none());
        lpm.add(v6("2002::1"), 128, 1).unwrap();
        assert_eq!(lpm.rule(v6("2002::1"), 128), Some(1));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(u128, u8, u32),
        Delete(usize),
    }

    /// Addresses in a few /32s with few distinct bits further down, so rules nest.
    fn addr() -> impl Strategy<Value = u128> {
        (0u128..3, any::<u16>(), any::<u16>(), 0u128..4).prop_map(|(net, a, b, low)| {
            (0x2001_0db8u128 + net) << 96 | u128::from(a) << 64 | u128::from(b) << 16 | low
        })
    }

    fn depth() -> impl Strategy<Value = u8> {
        prop_oneof![
            Just(0u8),
            Just(128),
            Just(24),
            Just(25),
            Just(32),
            0u8..=128,
            28u8..=72
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn matches_the_oracle(
            ops in proptest::collection::vec(prop_oneof![
                3 => (addr(), depth(), 0u32..1000).prop_map(|(a, d, h)| Op::Add(a, d, h)),
                1 => any::<usize>().prop_map(Op::Delete),
            ], 1..40),
            probes in proptest::collection::vec(addr(), 32),
        ) {
            let mut lpm = Lpm6::new(1000, 1000).unwrap();
            let mut oracle = Oracle::default();
            let mut added = Vec::new();
            for op in ops {
                match op {
                    Op::Add(a, d, h) => {
                        lpm.add(a.into(), d, h).unwrap();
                        oracle.0.insert((d, mask(a, d)), h);
                        added.push((a, d));
                    }
                    Op::Delete(i) if !added.is_empty() => {
                        let (a, d) = added[i % added.len()];
                        let expect = oracle.0.remove(&(d, mask(a, d))).is_some();
                        prop_assert_eq!(lpm.delete(a.into(), d).is_ok(), expect);
                    }
                    Op::Delete(_) => {}
                }
                prop_assert_eq!(lpm.len(), oracle.0.len());
            }
            let mut all = probes;
            for &(a, d) in &added {
                let low = !u128::MAX.checked_shl(128 - u32::from(d)).unwrap_or(0);
                let m = mask(a, d);
                all.extend([m, m | low, m.wrapping_sub(1), (m | low).wrapping_add(1)]);
            }
            for chunk in all.chunks_exact(4) {
                let chunk: [Ipv6Addr; 4] = std::array::from_fn(|i| chunk[i].into());
                let expect = chunk.map(|a| oracle.lookup(a.into()));
                prop_assert_eq!(lpm.lookup_bulk(&chunk), expect);
                prop_assert_eq!(chunk.map(|a| lpm.lookup(a)), expect);
            }
            for (a, d) in added {
                let _ = lpm.delete(a.into(), d);
            }
            prop_assert!(lpm.is_empty());
            prop_assert_eq!(lpm.free_groups.len(), 1000, "every group is freed");
            prop_assert!(lpm.groups_needed(0, 128) == 13);
        }
    }
}
