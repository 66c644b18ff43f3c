//! Route rules: DPDK 22.11 l3fwd's rule files (`--rule_ipv4`, `--rule_ipv6`) and its 16
//! built-in routes per family and lookup method.
//!
//! A rule file has one rule per line; a line starting with `#` is a comment, a blank
//! line is skipped, and any other line must start with `R`:
//!
//! ```text
//! # LPM: R<address>/<depth> <port>
//! R198.18.0.0/24 0
//! R2001:200:0:1::/64 1
//! # EM: R<dst address> <src address> <dst port> <src port> <protocol> <port>
//! R198.18.0.0 198.18.0.1 9 9 0x11 0
//! ```
//!
//! Fields are separated by spaces or tabs (fields after the last are ignored, as DPDK
//! ignores them); numbers are C's `strtoul` base 0 (decimal, `0x` hex, `0` octal), the
//! whole field. Unlike DPDK, which says "parse rules error" and, for EM files, accepts
//! some malformed addresses, every refusal names the line and what is wrong with it.
//! A file without any rule is refused, as DPDK's is.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use burst_net::em::{Ipv4FiveTuple, Ipv6FiveTuple};
use burst_net::ip::IpProto;
use l2fwd::args::strtoul;

/// A rule: what it matches, the port it sends to, and where it was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule<K> {
    /// The prefix (LPM) or the 5-tuple (EM).
    pub key: K,
    /// The output port (DPDK's `if_out`, 0..=255).
    pub port: u8,
    /// The line in the rule file, from 1; 0 for a built-in rule.
    pub line: usize,
}

/// An IPv4 prefix: address and depth (0..=32).
pub type Prefix4 = (Ipv4Addr, u8);
/// An IPv6 prefix: address and depth (0..=128).
pub type Prefix6 = (Ipv6Addr, u8);

/// The rules of one family and method, and where they came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSet<K> {
    /// The rule file, or `None` for the built-in rules.
    pub path: Option<String>,
    /// The rules, in file order.
    pub rules: Vec<Rule<K>>,
}

impl<K> RuleSet<K> {
    /// Where `rule` was written, for messages: `"FILE Line N"`, or `"built-in rule N"`.
    pub fn origin(&self, index: usize) -> String {
        match &self.path {
            Some(path) => format!("{path} Line {}", self.rules[index].line),
            None => format!("built-in rule {index}"),
        }
    }
}

/// Why a rule file was refused.
#[derive(Debug)]
pub enum RuleError {
    /// The file cannot be read.
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file holds no rule.
    Empty {
        /// The file.
        path: String,
    },
    /// A line is malformed.
    Line {
        /// The file.
        path: String,
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        msg: String,
    },
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => write!(f, "cannot read rule file {path}: {source}"),
            Self::Empty { path } => write!(f, "{path}: no rule (no line starts with 'R')"),
            Self::Line { path, line, msg } => write!(f, "{path} Line {line}: {msg}"),
        }
    }
}

impl std::error::Error for RuleError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Parses one rule's fields (the line after its `R`) into the key and the port.
type LineParser<K> = fn(&[&str]) -> Result<(K, u8), String>;

/// Reads the rule file at `path` with `parse` for each rule line.
fn read<K>(path: &str, parse: LineParser<K>) -> Result<RuleSet<K>, RuleError> {
    let text = std::fs::read_to_string(path).map_err(|source| RuleError::Read {
        path: path.to_string(),
        source,
    })?;
    parse_text(path, &text, parse)
}

/// Parses rule file text (`path` names it in errors).
fn parse_text<K>(path: &str, text: &str, parse: LineParser<K>) -> Result<RuleSet<K>, RuleError> {
    let mut rules = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let err = |msg: String| RuleError::Line {
            path: path.to_string(),
            line: i + 1,
            msg,
        };
        // DPDK's is_bypass_line: a comment, or nothing but white space.
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some(body) = line.strip_prefix('R') else {
            return Err(err(format!(
                "should start with leading char R (or # for a comment): {line:?}"
            )));
        };
        let fields: Vec<&str> = body
            .split([' ', '\t', '\r'])
            .filter(|f| !f.is_empty())
            .collect();
        let (key, port) = parse(&fields).map_err(err)?;
        rules.push(Rule {
            key,
            port,
            line: i + 1,
        });
    }
    if rules.is_empty() {
        return Err(RuleError::Empty {
            path: path.to_string(),
        });
    }
    Ok(RuleSet {
        path: Some(path.to_string()),
        rules,
    })
}

/// The first `n` fields, or an error saying what a rule line holds.
fn fields<'a, const N: usize>(fields: &[&'a str], form: &str) -> Result<[&'a str; N], String> {
    match fields.get(..N) {
        Some(f) => Ok(f.try_into().expect("N fields")),
        None => Err(format!("{} of {N} fields: expected R{form}", fields.len())),
    }
}

/// DPDK's `GET_CB_FIELD`: `strtoul` base 0 of the whole field, at most `max`.
fn number(field: &str, what: &str, max: u64) -> Result<u64, String> {
    match strtoul(field, 0) {
        Some((n, false, "")) if n <= max => Ok(n),
        _ => Err(format!(
            "bad {what} {field:?}: expected a number in 0..={max}"
        )),
    }
}

fn out_port(field: &str) -> Result<u8, String> {
    number(field, "port", u64::from(u8::MAX)).map(|n| n as u8)
}

fn addr<A: std::str::FromStr>(field: &str, family: &str) -> Result<A, String> {
    field
        .parse()
        .map_err(|_| format!("bad address {field:?}: not an {family} address"))
}

/// `<address>/<depth>`.
fn prefix<A: std::str::FromStr>(field: &str, family: &str, max: u8) -> Result<(A, u8), String> {
    let Some((a, depth)) = field.split_once('/') else {
        return Err(format!("bad prefix {field:?}: expected <address>/<depth>"));
    };
    let depth =
        number(depth, "prefix length", u64::from(max)).map_err(|e| format!("{e} in {field:?}"))?;
    Ok((addr(a, family)?, depth as u8))
}

fn lpm4_line(f: &[&str]) -> Result<(Prefix4, u8), String> {
    let [p, port] = fields(f, "<address>/<depth> <port>")?;
    Ok((prefix(p, "IPv4", 32)?, out_port(port)?))
}

fn lpm6_line(f: &[&str]) -> Result<(Prefix6, u8), String> {
    let [p, port] = fields(f, "<address>/<depth> <port>")?;
    Ok((prefix(p, "IPv6", 128)?, out_port(port)?))
}

/// The fields of an EM rule after the addresses: ports, protocol, output port.
fn em_rest(f: [&str; 4]) -> Result<(u16, u16, IpProto, u8), String> {
    let [dport, sport, proto, port] = f;
    Ok((
        number(dport, "destination port", u64::from(u16::MAX))? as u16,
        number(sport, "source port", u64::from(u16::MAX))? as u16,
        IpProto(number(proto, "protocol", u64::from(u8::MAX))? as u8),
        out_port(port)?,
    ))
}

const EM_FORM: &str = "<dst address> <src address> <dst port> <src port> <protocol> <port>";

/// An EM rule line of addresses `A` ("IPv4" or "IPv6", `family`), its key made by
/// `key(dst, src, dst port, src port, protocol)`.
fn em_line<A: std::str::FromStr, K>(
    f: &[&str],
    family: &str,
    key: fn(A, A, u16, u16, IpProto) -> K,
) -> Result<(K, u8), String> {
    let [dst, src, a, b, c, d] = fields(f, EM_FORM)?;
    let (dst_addr, src_addr) = (addr(dst, family)?, addr(src, family)?);
    let (dst_port, src_port, proto, port) = em_rest([a, b, c, d])?;
    Ok((key(dst_addr, src_addr, dst_port, src_port, proto), port))
}

/// A closure making a 5-tuple of type `$t` from [`em_line`]'s fields.
macro_rules! five_tuple {
    ($t:ident) => {
        |dst_addr, src_addr, dst_port, src_port, proto| $t {
            src_addr,
            dst_addr,
            src_port,
            dst_port,
            proto,
        }
    };
}

fn em4_line(f: &[&str]) -> Result<(Ipv4FiveTuple, u8), String> {
    em_line(f, "IPv4", five_tuple!(Ipv4FiveTuple))
}

fn em6_line(f: &[&str]) -> Result<(Ipv6FiveTuple, u8), String> {
    em_line(f, "IPv6", five_tuple!(Ipv6FiveTuple))
}

/// Reads an LPM IPv4 rule file.
pub fn read_lpm4(path: &str) -> Result<RuleSet<Prefix4>, RuleError> {
    read(path, lpm4_line)
}

/// Reads an LPM IPv6 rule file.
pub fn read_lpm6(path: &str) -> Result<RuleSet<Prefix6>, RuleError> {
    read(path, lpm6_line)
}

/// Reads an EM IPv4 rule file.
pub fn read_em4(path: &str) -> Result<RuleSet<Ipv4FiveTuple>, RuleError> {
    read(path, em4_line)
}

/// Reads an EM IPv6 rule file.
pub fn read_em6(path: &str) -> Result<RuleSet<Ipv6FiveTuple>, RuleError> {
    read(path, em6_line)
}

/// How many built-in rules each family has: one per port 0-15.
pub const BUILTIN_RULES: u8 = 16;

/// The built-in rules: `make(port)` for ports 0 to 15.
fn builtin<K>(make: impl Fn(u8) -> K) -> RuleSet<K> {
    RuleSet {
        path: None,
        rules: (0..BUILTIN_RULES)
            .map(|port| Rule {
                key: make(port),
                port,
                line: 0,
            })
            .collect(),
    }
}

/// `2001:200:0:<port>::` (RFC 5180's benchmarking range, a /48), with `last` as the
/// last byte.
fn bench6(port: u8, last: u8) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0x200, 0, port.into(), 0, 0, 0, last.into())
}

/// DPDK's IPv4 LPM routes: `198.18.<port>.0/24 -> port` (RFC 2544's benchmarking range).
pub fn builtin_lpm4() -> RuleSet<Prefix4> {
    builtin(|port| (Ipv4Addr::new(198, 18, port, 0), 24))
}

/// DPDK's IPv6 LPM routes: `2001:200:0:<port>::/64 -> port`.
pub fn builtin_lpm6() -> RuleSet<Prefix6> {
    builtin(|port| (bench6(port, 0), 64))
}

/// DPDK's IPv4 EM flows: `198.18.<port>.1:9 -> 198.18.<port>.0:9`, UDP (the discard
/// port, RFC 863) `-> port`.
pub fn builtin_em4() -> RuleSet<Ipv4FiveTuple> {
    builtin(|port| Ipv4FiveTuple {
        src_addr: Ipv4Addr::new(198, 18, port, 1),
        dst_addr: Ipv4Addr::new(198, 18, port, 0),
        src_port: 9,
        dst_port: 9,
        proto: IpProto::UDP,
    })
}

/// DPDK's IPv6 EM flows: `2001:200:0:<port>::1:9 -> 2001:200:0:<port>:::9`, UDP `->
/// port`.
pub fn builtin_em6() -> RuleSet<Ipv6FiveTuple> {
    builtin(|port| Ipv6FiveTuple {
        src_addr: bench6(port, 1),
        dst_addr: bench6(port, 0),
        src_port: 9,
        dst_port: 9,
        proto: IpProto::UDP,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lpm4(text: &str) -> Result<RuleSet<Prefix4>, String> {
        parse_text("r.cfg", text, lpm4_line).map_err(|e| e.to_string())
    }

    #[test]
    fn dpdks_own_files_parse_to_the_builtin_rules() {
        let dir = "/usr/share/dpdk/examples/l3fwd";
        fn strip<K>(mut set: RuleSet<K>) -> RuleSet<K> {
            set.path = None;
            set.rules.iter_mut().for_each(|r| r.line = 0);
            set
        }
        // Only where DPDK's examples are installed (dpdk-doc).
        if let Ok(set) = read_lpm4(&format!("{dir}/lpm_default_v4.cfg")) {
            assert_eq!(strip(set), builtin_lpm4());
            assert_eq!(
                strip(read_lpm6(&format!("{dir}/lpm_default_v6.cfg")).unwrap()),
                builtin_lpm6()
            );
            assert_eq!(
                strip(read_em4(&format!("{dir}/em_default_v4.cfg")).unwrap()),
                builtin_em4()
            );
            assert_eq!(
                strip(read_em6(&format!("{dir}/em_default_v6.cfg")).unwrap()),
                builtin_em6()
            );
        }
    }

    #[test]
    fn builtin_rules_are_dpdks() {
        let r = builtin_lpm4();
        assert_eq!(r.rules.len(), 16);
        assert_eq!(r.rules[15].key, (Ipv4Addr::new(198, 18, 15, 0), 24));
        assert_eq!(builtin_lpm6().rules[10].key.0.to_string(), "2001:200:0:a::");
        let e = builtin_em6().rules[3];
        assert_eq!(e.key.src_addr.to_string(), "2001:200:0:3::1");
        assert_eq!((e.key.dst_port, e.key.proto, e.port), (9, IpProto::UDP, 3));
        assert_eq!(
            builtin_em4().rules[0].key.src_addr,
            Ipv4Addr::new(198, 18, 0, 1)
        );
    }

    #[test]
    fn lines_comments_and_numbers() {
        let set =
            lpm4("# routes\n\nR10.0.0.0/8 1\nR10.1.0.0/0x10\t2 extra\r\n   \nR0.0.0.0/0 010\n")
                .unwrap();
        let keys: Vec<_> = set.rules.iter().map(|r| (r.key, r.port, r.line)).collect();
        assert_eq!(
            keys,
            vec![
                ((Ipv4Addr::new(10, 0, 0, 0), 8), 1, 3),
                ((Ipv4Addr::new(10, 1, 0, 0), 16), 2, 4),
                ((Ipv4Addr::UNSPECIFIED, 0), 8, 6),
            ]
        );
        assert_eq!(set.origin(1), "r.cfg Line 4");
        let set = parse_text("e", "R2001:db8::1 2001:db8::2 80 1234 6 3", em6_line).unwrap();
        assert_eq!(
            set.rules[0].key.dst_addr,
            "2001:db8::1".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            (set.rules[0].key.dst_port, set.rules[0].key.src_port),
            (80, 1234)
        );
        assert_eq!(set.rules[0].key.proto, IpProto::TCP);
    }

    #[test]
    fn errors_name_the_line() {
        for (text, msg) in [
            (
                "R10.0.0.0/8 1\nX10.0.0.0/8 1",
                "r.cfg Line 2: should start with leading char R",
            ),
            (
                " R10.0.0.0/8 1",
                "r.cfg Line 1: should start with leading char R",
            ),
            (
                "#\nR10.0.0.0/33 1",
                "r.cfg Line 2: bad prefix length \"33\": expected a number in 0..=32 in \"10.0.0.0/33\"",
            ),
            (
                "R10.0.0/8 1",
                "r.cfg Line 1: bad address \"10.0.0\": not an IPv4 address",
            ),
            (
                "R10.0.0.0 1",
                "r.cfg Line 1: bad prefix \"10.0.0.0\": expected <address>/<depth>",
            ),
            (
                "R10.0.0.0/8",
                "r.cfg Line 1: 1 of 2 fields: expected R<address>/<depth> <port>",
            ),
            (
                "R10.0.0.0/8 256",
                "r.cfg Line 1: bad port \"256\": expected a number in 0..=255",
            ),
            ("R10.0.0.0/8 1x", "r.cfg Line 1: bad port \"1x\""),
            ("R10.0.0.0/8x 1", "r.cfg Line 1: bad prefix length \"8x\""),
            ("# nothing\n", "r.cfg: no rule (no line starts with 'R')"),
        ] {
            let got = lpm4(text).unwrap_err();
            assert!(got.starts_with(msg), "{text:?}: {got}");
        }
        let e = parse_text("v6", "R2001:db8::/129 1", lpm6_line).unwrap_err();
        assert!(e.to_string().contains("0..=128"), "{e}");
        let e = parse_text("em", "R1.2.3.4 1.2.3.x 9 9 17 0", em4_line).unwrap_err();
        assert_eq!(
            e.to_string(),
            "em Line 1: bad address \"1.2.3.x\": not an IPv4 address"
        );
        let e = parse_text("em", "R1.2.3.4 1.2.3.5 65536 9 17 0", em4_line).unwrap_err();
        assert!(
            e.to_string().contains("bad destination port \"65536\""),
            "{e}"
        );
        let e = read_lpm4("/nonexistent/rules.cfg").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot read rule file /nonexistent/rules.cfg: "),
            "{e}"
        );
    }
}
