//! l2fwd's own options, after the EAL's and `--`: DPDK 22.11's `l2fwd_parse_args`, with
//! its rules, limits and messages.
//!
//! The syntax is `getopt_long`'s (GNU): short options may be grouped (`-Pp 0x3`) and
//! take their value attached or as the next argument; long options may be abbreviated
//! to a unique prefix and take `--opt=value` or `--opt value`; arguments that are not
//! options are skipped, and `--` ends the options. Every value is read as DPDK reads
//! it (`strtoul`/`strtol`), so what DPDK accepts is accepted here and what it refuses
//! is refused with the same message.

use std::fmt;

/// Most ports (DPDK's `RTE_MAX_ETHPORTS` in its default build): the port mask is 32 bits.
pub const MAX_ETHPORTS: usize = 32;
/// `-q` must stay below this (DPDK's `MAX_RX_QUEUE_PER_LCORE`): 1..=15 ports per lcore.
pub const MAX_RX_QUEUE_PER_LCORE: usize = 16;
/// `-T` must stay below this (DPDK's `MAX_TIMER_PERIOD`, one day): 0..=86399 seconds.
pub const MAX_TIMER_PERIOD: u64 = 86400;

/// The application's options (DPDK's globals of the same names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `-p`: the ports to forward between (`l2fwd_enabled_port_mask`); 0 when not given.
    pub portmask: u32,
    /// `-P`: put the ports in promiscuous mode.
    pub promiscuous: bool,
    /// `-q`: RX ports per lcore (`l2fwd_rx_queue_per_lcore`).
    pub rx_ports_per_lcore: usize,
    /// `-T`: seconds between statistics printouts; 0 disables them.
    pub timer_period: u64,
    /// `--portmap`: the forwarding pairs, in order, if given (`port_pair_params`).
    pub portmap: Option<Vec<(u16, u16)>>,
    /// MAC updating (on unless `--no-mac-updating`).
    pub mac_updating: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            portmask: 0,
            promiscuous: false,
            rx_ports_per_lcore: 1,
            timer_period: 10,
            portmap: None,
            mac_updating: true,
        }
    }
}

/// Why the options were refused. [`Display`](fmt::Display) gives what DPDK prints
/// before its usage text; [`report`](Self::report) prints both where DPDK does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgsError {
    /// `-p` is empty, not hexadecimal, or zero.
    InvalidPortmask,
    /// `-q` is not a number in 1..=15.
    InvalidQueueNumber,
    /// `-T` is not a number in 0..=86399.
    InvalidTimerPeriod,
    /// `--portmap` is malformed; `detail` is a line DPDK prints first, if any.
    InvalidPortmap { detail: Option<String> },
    /// A syntax error that `getopt_long` reports on stderr (unknown or ambiguous
    /// option, missing or unexpected value).
    Getopt(String),
}

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidPortmask => f.write_str("invalid portmask"),
            Self::InvalidQueueNumber => f.write_str("invalid queue number"),
            Self::InvalidTimerPeriod => f.write_str("invalid timer period"),
            Self::InvalidPortmap { detail: Some(d) } => write!(f, "{d}\nInvalid config"),
            Self::InvalidPortmap { detail: None } => f.write_str("Invalid config"),
            Self::Getopt(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for ArgsError {}

impl ArgsError {
    /// Prints the error and the usage text as DPDK does: option values' complaints and
    /// the usage on stdout, `getopt`'s and `--portmap`'s on stderr.
    pub fn report(&self, prgname: &str) {
        match self {
            Self::Getopt(msg) => eprintln!("{msg}"),
            Self::InvalidPortmap { detail } => {
                if let Some(d) = detail {
                    println!("{d}");
                }
                eprintln!("Invalid config");
            }
            _ => println!("{self}"),
        }
        print!("{}", usage(prgname));
    }
}

/// DPDK's `l2fwd_usage` text.
pub fn usage(prgname: &str) -> String {
    format!(
        "{prgname} [EAL options] -- -p PORTMASK [-P] [-q NQ]\n\
         \x20 -p PORTMASK: hexadecimal bitmask of ports to configure\n\
         \x20 -P : Enable promiscuous mode\n\
         \x20 -q NQ: number of queue (=ports) per lcore (default is 1)\n\
         \x20 -T PERIOD: statistics will be refreshed each PERIOD seconds (0 to disable, 10 \
         default, 86400 maximum)\n\
         \x20 --no-mac-updating: Disable MAC addresses updating (enabled by default)\n\
         \x20     When enabled:\n\
         \x20      - The source MAC address is replaced by the TX port MAC address\n\
         \x20      - The destination MAC address is replaced by 02:00:00:00:00:TX_PORT_ID\n\
         \x20 --portmap: Configure forwarding port pair mapping\n\
         \t      Default: alternate port pairs\n\n"
    )
}

/// The long options: name, whether it takes a value. `--mac-updating` (the default) is
/// kept from older DPDK releases, which had both.
const LONG_OPTIONS: &[(&str, bool)] = &[
    ("no-mac-updating", false),
    ("portmap", true),
    ("mac-updating", false),
];

/// The short options, as `getopt`'s option string (a `:` after a letter that takes a
/// value).
const SHORT_OPTIONS: &str = "p:Pq:T:";

/// One option found by [`getopt_long`], with its value if it takes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opt<'a> {
    /// A short option: `-p 0x3`, `-p0x3`, or one of a group (`-Pp3`); `""` for a flag.
    Short(char, &'a str),
    /// A long option by its full name (even if abbreviated on the command line):
    /// `--portmap=(0,1)`, `--portmap (0,1)`, `--no-mac`.
    Long(&'static str, Option<&'a str>),
}

/// `getopt_long` (GNU) over `args` (the program name, then the arguments): calls
/// `apply` with every option in order and stops at the first error, `apply`'s or its
/// own. `shorts` is `getopt`'s option string (`"p:Pq:T:"`), `longs` the long options
/// and whether each takes a value.
///
/// Short options may be grouped (`-Pp 0x3`) and take their value attached or as the
/// next argument; long options may be abbreviated to a unique prefix and take
/// `--opt=value` or `--opt value`; a value may start with `-`; arguments that are not
/// options are skipped (GNU moves them aside), and `--` ends the options. Syntax errors
/// carry `getopt`'s own message (`"prog: invalid option -- 'x'"`).
pub fn getopt_long<'a, E: From<GetoptError>>(
    args: &'a [String],
    shorts: &str,
    longs: &[(&'static str, bool)],
    mut apply: impl FnMut(Opt<'a>) -> Result<(), E>,
) -> Result<(), E> {
    let prgname = args.first().map_or("", String::as_str);
    let err = |msg: String| E::from(GetoptError(format!("{prgname}: {msg}")));
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        if arg == "--" {
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            let (full, takes_value) = match_long(longs, name).map_err(|why| err(why(arg)))?;
            let value = match (takes_value, inline) {
                (false, Some(_)) => {
                    return Err(err(format!("option '--{full}' doesn't allow an argument")));
                }
                (false, None) => None,
                (true, Some(v)) => Some(v),
                (true, None) => Some(
                    rest.next()
                        .map(String::as_str)
                        .ok_or_else(|| err(format!("option '--{full}' requires an argument")))?,
                ),
            };
            apply(Opt::Long(full, value))?;
        } else if let Some(group) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            for (at, c) in group.char_indices() {
                let spec = shorts.find(c).filter(|_| c != ':');
                let Some(spec) = spec else {
                    return Err(err(format!("invalid option -- '{c}'")));
                };
                if !shorts[spec + c.len_utf8()..].starts_with(':') {
                    apply(Opt::Short(c, ""))?;
                    continue;
                }
                let attached = &group[at + c.len_utf8()..];
                let value = if !attached.is_empty() {
                    attached
                } else {
                    rest.next()
                        .map(String::as_str)
                        .ok_or_else(|| err(format!("option requires an argument -- '{c}'")))?
                };
                apply(Opt::Short(c, value))?;
                break;
            }
        }
    }
    Ok(())
}

/// A command-line syntax error, with `getopt_long`'s message (printed on stderr).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetoptError(pub String);

impl From<GetoptError> for ArgsError {
    fn from(e: GetoptError) -> Self {
        ArgsError::Getopt(e.0)
    }
}

/// Parses `args`: the program name, then the application's arguments.
pub fn parse(args: &[String]) -> Result<Options, ArgsError> {
    let mut opts = Options::default();
    getopt_long(args, SHORT_OPTIONS, LONG_OPTIONS, |opt| match opt {
        Opt::Short(c, value) => apply_short(&mut opts, c, value),
        Opt::Long(name, value) => apply_long(&mut opts, name, value),
    })?;
    Ok(opts)
}

/// Finds a long option by its name or a unique prefix, as `getopt_long`; on failure,
/// the message for the argument as given.
fn match_long(
    longs: &[(&'static str, bool)],
    name: &str,
) -> Result<(&'static str, bool), impl FnOnce(&str) -> String> {
    let exact = longs.iter().find(|(n, _)| *n == name);
    let candidates: Vec<_> = longs
        .iter()
        .filter(|(n, _)| !name.is_empty() && n.starts_with(name))
        .collect();
    match (exact, candidates.as_slice()) {
        (Some(&(full, v)), _) | (None, &[&(full, v)]) => Ok((full, v)),
        (None, many) => {
            let names: Vec<_> = many.iter().map(|(n, _)| format!("'--{n}'")).collect();
            Err(move |arg: &str| {
                if names.is_empty() {
                    format!("unrecognized option '{arg}'")
                } else {
                    format!(
                        "option '{arg}' is ambiguous; possibilities: {}",
                        names.join(" ")
                    )
                }
            })
        }
    }
}

fn apply_short(opts: &mut Options, c: char, value: &str) -> Result<(), ArgsError> {
    match c {
        'p' => {
            opts.portmask = parse_portmask(value).ok_or(ArgsError::InvalidPortmask)?;
        }
        'P' => opts.promiscuous = true,
        'q' => {
            opts.rx_ports_per_lcore = parse_nqueue(value).ok_or(ArgsError::InvalidQueueNumber)?;
        }
        'T' => {
            opts.timer_period = parse_timer_period(value).ok_or(ArgsError::InvalidTimerPeriod)?;
        }
        _ => unreachable!("short options come from SHORT_OPTIONS"),
    }
    Ok(())
}

fn apply_long(opts: &mut Options, name: &str, value: Option<&str>) -> Result<(), ArgsError> {
    match name {
        "no-mac-updating" => opts.mac_updating = false,
        "mac-updating" => opts.mac_updating = true,
        "portmap" => opts.portmap = Some(parse_portmap(value.unwrap_or_default())?),
        _ => unreachable!("long options come from LONG_OPTIONS"),
    }
    Ok(())
}

/// C's `strtoul(s, &end, base)` for base 0, 10 or 16: the value (saturated, as on
/// overflow C gives `ULONG_MAX`; `-n` wraps as in C), whether it overflowed, and the
/// unparsed rest; `None` if no digit was read (`end == s`).
pub fn strtoul(s: &str, base: u32) -> Option<(u64, bool, &str)> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let hex_prefix = (t.starts_with("0x") || t.starts_with("0X"))
        && t[2..].starts_with(|c: char| c.is_ascii_hexdigit());
    let (radix, digits) = match base {
        0 if hex_prefix => (16, &t[2..]),
        0 if t.starts_with('0') => (8, t),
        0 => (10, t),
        16 if hex_prefix => (16, &t[2..]),
        b => (b, t),
    };
    let len = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    if len == 0 {
        return None;
    }
    let mut overflow = false;
    let mut value: u64 = 0;
    for c in digits[..len].chars() {
        let d = u64::from(c.to_digit(radix).unwrap_or(0));
        match value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(d))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
    }
    if overflow {
        value = u64::MAX;
    } else if neg {
        value = value.wrapping_neg();
    }
    Some((value, overflow, &digits[len..]))
}

/// `l2fwd_parse_portmask`: hexadecimal, the whole string; 0 (refused) when malformed.
/// DPDK returns the value as an `int` stored in a `uint32_t`: the low 32 bits.
pub fn parse_portmask(s: &str) -> Option<u32> {
    match strtoul(s, 16) {
        Some((v, _, "")) if v as u32 != 0 => Some(v as u32),
        _ => None,
    }
}

/// `l2fwd_parse_nqueue`: decimal, the whole string, 1..=15.
pub fn parse_nqueue(s: &str) -> Option<usize> {
    match strtoul(s, 10) {
        Some((n, _, "")) if n != 0 && n < MAX_RX_QUEUE_PER_LCORE as u64 => Some(n as usize),
        _ => None,
    }
}

/// `l2fwd_parse_timer_period`: decimal (`strtol`), the whole string, 0..=86399.
pub fn parse_timer_period(s: &str) -> Option<u64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if t.starts_with('-') {
        // strtol of a negative number: DPDK refuses n < 0, and "-0" is 0.
        return match strtoul(s, 10) {
            Some((0, false, "")) => Some(0),
            _ => None,
        };
    }
    match strtoul(s, 10) {
        Some((n, _, "")) if n < MAX_TIMER_PERIOD => Some(n),
        _ => None,
    }
}

/// The text inside each `(...)` of `s`, in order, text between and around them
/// skipped: how DPDK's `--portmap` and `--config` parsers walk their argument. An item
/// is `Err` where a `(` has no `)` after it, or the text inside is 256 bytes or longer
/// (DPDK's buffer); iteration should stop there.
pub fn parenthesized(s: &str) -> impl Iterator<Item = Result<&str, ()>> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let inner = &rest?[rest?.find('(')? + 1..];
        let Some(close) = inner.find(')') else {
            rest = None;
            return Some(Err(()));
        };
        rest = Some(&inner[close..]);
        Some(Some(&inner[..close]).filter(|f| f.len() < 256).ok_or(()))
    })
}

/// `l2fwd_parse_port_pair_config`: every `(a,b)` in the string, in order, text between
/// and around them ignored. A pair is refused when its `)` is missing, it is 256 bytes
/// or longer, it has fewer than two comma-separated fields, a field does not start
/// with a number (C's `strtoul` base 0: decimal, `0x` hex, `0` octal) or names a port
/// beyond [`MAX_ETHPORTS`], or there are more than `MAX_ETHPORTS / 2` pairs.
pub fn parse_portmap(s: &str) -> Result<Vec<(u16, u16)>, ArgsError> {
    let bad = || ArgsError::InvalidPortmap { detail: None };
    let mut pairs = Vec::new();
    for field in parenthesized(s) {
        let field = field.map_err(|_| bad())?;
        // rte_strsplit(s, ..., 2, ','): the first token ends at the first comma, the
        // second at the next one (or the end).
        let Some((a, b)) = field.split_once(',') else {
            return Err(bad());
        };
        let b = b.split(',').next().unwrap_or_default();
        let mut ports = [0u16; 2];
        for (port, text) in ports.iter_mut().zip([a, b]) {
            match strtoul(text, 0) {
                Some((n, false, _)) if n < MAX_ETHPORTS as u64 => *port = n as u16,
                _ => return Err(bad()),
            }
        }
        if pairs.len() >= MAX_ETHPORTS / 2 {
            return Err(ArgsError::InvalidPortmap {
                detail: Some(format!(
                    "exceeded max number of port pair params: {}",
                    pairs.len()
                )),
            });
        }
        pairs.push((ports[0], ports[1]));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        std::iter::once("l2fwd")
            .chain(list.iter().copied())
            .map(String::from)
            .collect()
    }

    fn ok(list: &[&str]) -> Options {
        parse(&args(list)).unwrap()
    }

    fn err(list: &[&str]) -> String {
        parse(&args(list)).unwrap_err().to_string()
    }

    #[test]
    fn defaults() {
        assert_eq!(ok(&[]), Options::default());
        let o = ok(&["-p", "0x3"]);
        assert_eq!(o.portmask, 3);
        assert_eq!(o.timer_period, 10);
        assert_eq!(o.rx_ports_per_lcore, 1);
        assert!(o.mac_updating && !o.promiscuous && o.portmap.is_none());
    }

    #[test]
    fn getopt_syntax() {
        let o = ok(&["-Pp0x5", "-q", "2", "-T0", "--no-mac", "--portmap=(0,2)"]);
        assert_eq!(o.portmask, 5);
        assert!(o.promiscuous && !o.mac_updating);
        assert_eq!((o.rx_ports_per_lcore, o.timer_period), (2, 0));
        assert_eq!(o.portmap, Some(vec![(0, 2)]));
        let o = ok(&[
            "stray",
            "--portmap",
            "(1,0)",
            "--no-mac-updating",
            "--mac-updating",
        ]);
        assert_eq!(o.portmap, Some(vec![(1, 0)]));
        assert!(o.mac_updating);
        // "--" ends the options.
        assert_eq!(ok(&["-p", "1", "--", "-q", "0"]).rx_ports_per_lcore, 1);
        // A value may start with '-'.
        assert_eq!(err(&["-p", "-q"]), "invalid portmask");
    }

    #[test]
    fn getopt_errors() {
        assert_eq!(err(&["-x"]), "l2fwd: invalid option -- 'x'");
        assert_eq!(err(&["-p"]), "l2fwd: option requires an argument -- 'p'");
        assert_eq!(err(&["--bogus"]), "l2fwd: unrecognized option '--bogus'");
        assert_eq!(
            err(&["--portmap"]),
            "l2fwd: option '--portmap' requires an argument"
        );
        assert_eq!(
            err(&["--no-mac-updating=1"]),
            "l2fwd: option '--no-mac-updating' doesn't allow an argument"
        );
    }

    #[test]
    fn portmask() {
        assert_eq!(parse_portmask("3"), Some(3));
        assert_eq!(parse_portmask("0x3"), Some(3));
        assert_eq!(parse_portmask("ff"), Some(0xff));
        assert_eq!(parse_portmask(" 0XA"), Some(10));
        for bad in ["", "0", "0x", "3g", "x3", "100000000"] {
            assert_eq!(parse_portmask(bad), None, "{bad:?}");
        }
        // As C: -1 is ULONG_MAX, its low 32 bits all ports.
        assert_eq!(parse_portmask("-1"), Some(u32::MAX));
    }

    #[test]
    fn nqueue_and_period() {
        assert_eq!(parse_nqueue("1"), Some(1));
        assert_eq!(parse_nqueue("15"), Some(15));
        for bad in ["0", "16", "", "1x", "-1", "0x2"] {
            assert_eq!(parse_nqueue(bad), None, "{bad:?}");
        }
        assert_eq!(parse_timer_period("0"), Some(0));
        assert_eq!(parse_timer_period("86399"), Some(86399));
        assert_eq!(parse_timer_period("-0"), Some(0));
        for bad in ["86400", "-1", "", "1s", "99999999999999999999999"] {
            assert_eq!(parse_timer_period(bad), None, "{bad:?}");
        }
        assert_eq!(err(&["-q", "0"]), "invalid queue number");
        assert_eq!(err(&["-T", "86400"]), "invalid timer period");
    }

    #[test]
    fn portmap() {
        assert_eq!(parse_portmap("(0,1),(2,3)").unwrap(), vec![(0, 1), (2, 3)]);
        assert_eq!(parse_portmap("x(0x1, 010)y").unwrap(), vec![(1, 8)]);
        // rte_strsplit keeps two fields; strtoul ignores what follows a number.
        assert_eq!(parse_portmap("(1,2,3)").unwrap(), vec![(1, 2)]);
        assert_eq!(parse_portmap("(1 ,2x)").unwrap(), vec![(1, 2)]);
        assert_eq!(parse_portmap("").unwrap(), vec![]);
        for bad in ["(0,1", "(0)", "(,1)", "(0,)", "(0,32)", "(a,1)", "(-1,0)"] {
            assert!(parse_portmap(bad).is_err(), "{bad:?}");
        }
        let many: String = (0..17).map(|i| format!("({i},{i})")).collect();
        assert_eq!(
            parse_portmap(&many).unwrap_err().to_string(),
            "exceeded max number of port pair params: 16\nInvalid config"
        );
        assert_eq!(err(&["--portmap", "(0,1"]), "Invalid config");
    }

    #[test]
    fn usage_is_dpdks() {
        let u = usage("./l2fwd");
        assert!(u.starts_with("./l2fwd [EAL options] -- -p PORTMASK [-P] [-q NQ]\n"));
        assert!(u.contains("\n  -T PERIOD: statistics will be refreshed each PERIOD seconds"));
        assert!(u.ends_with("\t      Default: alternate port pairs\n\n"));
    }
}
