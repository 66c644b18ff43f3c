//! The route rules, read at start-up, and the lookup tables built from them (DPDK's
//! `read_config_files_*`, `setup_lpm` and `setup_hash`), printing DPDK's "Adding
//! route" lines.
//!
//! Where this differs from DPDK: a rule file given alone replaces that family's
//! built-in rules and the other family keeps its own (DPDK uses its files only when
//! both are given, else both families' built-in rules); a rule to a port that is not
//! present is refused with its line (DPDK adds it and sends to a port that does not
//! exist), one to a present port outside `-p` is skipped, as DPDK skips it; the LPM
//! tables grow beyond DPDK's 1024 rules and 256 tbl8 groups when the rules need it;
//! `0.0.0.0/0` and `::/0` are default routes (`rte_lpm` refuses depth 0).

use std::fmt::Display;

use burst_net::em::{EmKey, ExactMatch, Ipv4FiveTuple, Ipv6FiveTuple};
use burst_net::lpm::Lpm;
use burst_net::lpm6::Lpm6;
use burst_pmd::Port;
use l2fwd::config::enabled;

use crate::args::{Lookup, Options};
use crate::route::{HASH_ENTRIES, Tables};
use crate::rules::{self, Prefix4, Prefix6, RuleError, RuleSet};

/// DPDK's `IPV4_L3FWD_LPM_MAX_RULES` (and IPv6's): the least the tables hold.
const LPM_MAX_RULES: usize = 1024;
/// DPDK's `IPV4_L3FWD_LPM_NUMBER_TBL8S`.
const LPM_TBL8S: usize = 1 << 8;
/// DPDK's `IPV6_L3FWD_LPM_NUMBER_TBL8S`.
const LPM6_TBL8S: u32 = 1 << 16;

/// The rules of both families for the lookup method in use.
pub enum Rules {
    /// `R<prefix> <port>` rules.
    Lpm(RuleSet<Prefix4>, RuleSet<Prefix6>),
    /// `R<5-tuple> <port>` rules.
    Em(RuleSet<Ipv4FiveTuple>, RuleSet<Ipv6FiveTuple>),
}

/// Which family a rule error is about, for DPDK's "Failed to add IPv4 rules".
pub struct ReadError {
    /// "IPv4" or "IPv6".
    pub family: &'static str,
    /// What is wrong.
    pub error: RuleError,
}

/// Reads `--rule_ipv4`/`--rule_ipv6` for the lookup method of `opts`, or takes the
/// built-in rules of a family without a file (saying so in the log).
pub fn read_rules(opts: &Options) -> Result<Rules, ReadError> {
    fn family<K>(
        family: &'static str,
        path: Option<&str>,
        read: fn(&str) -> Result<RuleSet<K>, RuleError>,
        builtin: fn() -> RuleSet<K>,
    ) -> Result<RuleSet<K>, ReadError> {
        match path {
            Some(path) => read(path).map_err(|error| ReadError { family, error }),
            None => {
                log::info!(
                    target: "l3fwd",
                    "no {family} rule file, using the {} built-in {family} rules",
                    rules::BUILTIN_RULES
                );
                Ok(builtin())
            }
        }
    }
    let (v4, v6) = (opts.rule_ipv4.as_deref(), opts.rule_ipv6.as_deref());
    Ok(match opts.lookup() {
        Lookup::Lpm => Rules::Lpm(
            family("IPv4", v4, rules::read_lpm4, rules::builtin_lpm4)?,
            family("IPv6", v6, rules::read_lpm6, rules::builtin_lpm6)?,
        ),
        Lookup::Em => Rules::Em(
            family("IPv4", v4, rules::read_em4, rules::builtin_em4)?,
            family("IPv6", v6, rules::read_em6, rules::builtin_em6)?,
        ),
    })
}

/// The rules of `set` that go to enabled ports, with the name of their port's device;
/// an error for a file's rule to a port not present.
fn usable<'a, K>(
    set: &'a RuleSet<K>,
    ports: &'a [Port],
    portmask: u32,
) -> Result<Vec<(usize, &'a K, u16, &'a str)>, String> {
    let mut out = Vec::with_capacity(set.rules.len());
    for (i, rule) in set.rules.iter().enumerate() {
        let port = usize::from(rule.port);
        let Some(dev) = ports.get(port) else {
            if set.path.is_none() {
                continue;
            }
            return Err(format!(
                "{}: port {port} is not present on the board ({} ports)",
                set.origin(i),
                ports.len()
            ));
        };
        if enabled(portmask, port) {
            out.push((i, &rule.key, u16::from(rule.port), dev.name()));
        }
    }
    Ok(out)
}

fn add_error(set_origin: String, what: impl Display, err: impl Display) -> String {
    format!("{set_origin}: unable to add {what} to the l3fwd table: {err}")
}

/// Why the tables could not be built: a rule's family and what is wrong.
pub struct BuildError {
    /// "IPv4" or "IPv6".
    pub family: &'static str,
    /// What is wrong, naming the rule's file and line.
    pub msg: String,
}

fn v4_err(msg: String) -> BuildError {
    BuildError {
        family: "IPv4",
        msg,
    }
}

fn v6_err(msg: String) -> BuildError {
    BuildError {
        family: "IPv6",
        msg,
    }
}

/// An LPM table of both families from `v4` and `v6`, printing DPDK's lines.
fn lpm_tables(
    v4: &RuleSet<Prefix4>,
    v6: &RuleSet<Prefix6>,
    ports: &[Port],
    portmask: u32,
) -> Result<Tables, BuildError> {
    lpm_v4(v4, ports, portmask).map_err(v4_err).and_then(|v4| {
        Ok(Tables::Lpm {
            v4,
            v6: lpm_v6(v6, ports, portmask).map_err(v6_err)?,
        })
    })
}

fn lpm_v4(v4: &RuleSet<Prefix4>, ports: &[Port], portmask: u32) -> Result<Lpm, String> {
    let rules4 = usable(v4, ports, portmask)?;
    let long = rules4.iter().filter(|(_, (_, d), _, _)| *d > 24).count();
    let mut lpm = Lpm::new(
        rules4.len().max(LPM_MAX_RULES) as u32,
        long.max(LPM_TBL8S) as u32,
    )
    .map_err(|e| format!("Unable to create the l3fwd LPM table on socket 0: {e}"))?;
    for (i, &(addr, depth), port, dev) in rules4 {
        lpm.add(u32::from(addr), depth, port.into())
            .map_err(|e| add_error(v4.origin(i), format_args!("{addr}/{depth}"), e))?;
        println!("LPM: Adding route {addr} / {depth} ({port}) [{dev}]");
    }
    Ok(lpm)
}

fn lpm_v6(v6: &RuleSet<Prefix6>, ports: &[Port], portmask: u32) -> Result<Lpm6, String> {
    let rules6 = usable(v6, ports, portmask)?;
    let mut lpm6 = Lpm6::new(rules6.len().max(LPM_MAX_RULES) as u32, LPM6_TBL8S)
        .map_err(|e| format!("Unable to create the l3fwd LPM table on socket 0: {e}"))?;
    for (i, &(addr, depth), port, dev) in rules6 {
        lpm6.add(addr, depth, port.into())
            .map_err(|e| add_error(v6.origin(i), format_args!("{addr}/{depth}"), e))?;
        println!("LPM: Adding route {addr} / {depth} ({port}) [{dev}]");
    }
    Ok(lpm6)
}

/// A 5-tuple as DPDK's "EM: Adding route" line shows it: destination and source
/// addresses, destination and source ports, protocol.
trait ShowTuple {
    fn show(&self) -> String;
}

/// [`ShowTuple`] for the 5-tuple types, which have the same fields.
macro_rules! show_tuple {
    ($($t:ty),*) => {$(
        impl ShowTuple for $t {
            fn show(&self) -> String {
                format!(
                    "{}, {}, {}, {}, {}",
                    self.dst_addr, self.src_addr, self.dst_port, self.src_port, self.proto.0
                )
            }
        }
    )*};
}

show_tuple!(Ipv4FiveTuple, Ipv6FiveTuple);

/// An exact-match table of DPDK's size from `set`, printing DPDK's lines.
fn em_table<K: EmKey + ShowTuple>(
    set: &RuleSet<K>,
    ports: &[Port],
    portmask: u32,
) -> Result<ExactMatch<K, u16>, String> {
    let mut table = ExactMatch::new(HASH_ENTRIES)
        .map_err(|e| format!("Unable to create the l3fwd hash on socket 0: {e}"))?;
    for (i, key, port, dev) in usable(set, ports, portmask)? {
        table
            .insert(*key, port)
            .map_err(|e| add_error(set.origin(i), key.show(), e))?;
        println!("EM: Adding route {} ({port}) [{dev}]", key.show());
    }
    println!("Hash: Adding 0x{:x} keys", set.rules.len());
    Ok(table)
}

/// The lookup tables for `rules`, holding the rules to ports enabled in `portmask`
/// (EM: only the family `ipv6` selects, as DPDK).
pub fn build_tables(
    rules: &Rules,
    ipv6: bool,
    ports: &[Port],
    portmask: u32,
) -> Result<Tables, BuildError> {
    match rules {
        Rules::Lpm(v4, v6) => lpm_tables(v4, v6, ports, portmask),
        Rules::Em(v4, v6) => Ok(if ipv6 {
            Tables::Em {
                v4: None,
                v6: Some(em_table(v6, ports, portmask).map_err(v6_err)?),
            }
        } else {
            Tables::Em {
                v4: Some(em_table(v4, ports, portmask).map_err(v4_err)?),
                v6: None,
            }
        }),
    }
}
