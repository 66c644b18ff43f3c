//! l3fwd's own options, after the EAL's and `--`: DPDK 22.11's `parse_args`, with its
//! rules, limits and messages, read with l2fwd's `getopt_long` (GNU syntax: grouped short
//! options, abbreviated long ones, `--opt=value` or `--opt value`).
//!
//! Accepted as in DPDK but without effect here: `--no-numa` (burst allocates without
//! NUMA placement) and `--hash-entry-num` (ignored by DPDK 22.11 too). Refused with a
//! clear message, as burst's l3fwd has no eventdev and no ACL or FIB lookup: `--mode
//! eventdev`, `--eventq-sched`, `--event-eth-rxqs`, `--event-vector*`, `--alg`,
//! `--lookup acl|fib`. Added: `-T PERIOD`, l2fwd's statistics every PERIOD seconds
//! (default 0, none: DPDK's l3fwd prints none).

use std::fmt;

use burst_net::ether::EtherAddr;
use l2fwd::args::{
    GetoptError, Opt, getopt_long, parenthesized, parse_portmask, parse_timer_period, strtoul,
};

/// Most ports (DPDK's `RTE_MAX_ETHPORTS`): the port mask is 32 bits.
pub const MAX_ETHPORTS: usize = 32;
/// Most `(port,queue,lcore)` triples in `--config` (`MAX_LCORE_PARAMS`).
pub const MAX_LCORE_PARAMS: usize = 1024;
/// A queue id in `--config` must be below this (`MAX_RX_QUEUE_PER_PORT`).
pub const MAX_RX_QUEUE_PER_PORT: u16 = 128;
/// RX queues one lcore may poll (`MAX_RX_QUEUE_PER_LCORE`).
pub const MAX_RX_QUEUE_PER_LCORE: usize = 16;
/// Largest lcore id in `--config` (`RTE_MAX_LCORE`).
pub const MAX_LCORE: u32 = 128;
/// Largest queue id `--config` parses (`RTE_MAX_QUEUES_PER_PORT`).
pub const MAX_QUEUES_PER_PORT: u64 = 1024;
/// RX and TX descriptors per queue unless `--rx-queue-size`/`--tx-queue-size`.
pub const DESC_DEFAULT: u16 = 1024;

/// How packets find their output port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Longest-prefix match on the destination address (`--lookup lpm`, `-L`).
    Lpm,
    /// Exact match on the 5-tuple (`--lookup em`, `-E`).
    Em,
}

impl fmt::Display for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Lpm => "lpm",
            Self::Em => "em",
        })
    }
}

/// One `(port,queue,lcore)` of `--config`: the lcore polls that RX queue of that port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LcoreParams {
    /// The port.
    pub port: u16,
    /// The RX queue on it.
    pub queue: u16,
    /// The lcore that polls it.
    pub lcore: u32,
}

/// DPDK's default `--config`: ports 0-3 over lcores 2 and 3.
pub const DEFAULT_CONFIG: [LcoreParams; 9] = {
    const fn p(port: u16, queue: u16, lcore: u32) -> LcoreParams {
        LcoreParams { port, queue, lcore }
    }
    [
        p(0, 0, 2),
        p(0, 1, 2),
        p(0, 2, 2),
        p(1, 0, 2),
        p(1, 1, 2),
        p(1, 2, 2),
        p(2, 0, 2),
        p(3, 0, 3),
        p(3, 1, 3),
    ]
};

/// The application's options (DPDK's globals of the same names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `-p`: the ports to configure (`enabled_port_mask`); 0 when not given.
    pub portmask: u32,
    /// `-P`: promiscuous mode.
    pub promiscuous: bool,
    /// `--lookup`, `-L`, `-E`; `None` until given (then LPM, with DPDK's notice).
    pub lookup: Option<Lookup>,
    /// `--config`: which lcore polls which RX queue.
    pub config: Vec<LcoreParams>,
    /// `--rx-queue-size`.
    pub nb_rxd: u16,
    /// `--tx-queue-size`.
    pub nb_txd: u16,
    /// `--eth-dest`: the destination MAC per port, where given (else
    /// `02:00:00:00:00:<port>`).
    pub eth_dest: [Option<[u8; 6]>; MAX_ETHPORTS],
    /// `--ipv6`: EM mode looks up IPv6 5-tuples (its table holds the IPv6 rules, the
    /// IPv4 one none), as DPDK's.
    pub ipv6: bool,
    /// `--max-pkt-len`: 0 when not given; `u32::MAX` when malformed (refused at port
    /// setup, as DPDK stores its -1).
    pub max_pkt_len: u32,
    /// `--parse-ptype`: classify packets in software.
    pub parse_ptype: bool,
    /// `--per-port-pool`: one mbuf pool per port instead of one for all.
    pub per_port_pool: bool,
    /// `--rule_ipv4`: the IPv4 rule file.
    pub rule_ipv4: Option<String>,
    /// `--rule_ipv6`: the IPv6 rule file.
    pub rule_ipv6: Option<String>,
    /// `-T`: seconds between statistics printouts; 0 (the default): none until exit.
    pub timer_period: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            portmask: 0,
            promiscuous: false,
            lookup: None,
            config: DEFAULT_CONFIG.to_vec(),
            nb_rxd: DESC_DEFAULT,
            nb_txd: DESC_DEFAULT,
            eth_dest: [None; MAX_ETHPORTS],
            ipv6: false,
            max_pkt_len: 0,
            parse_ptype: false,
            per_port_pool: false,
            rule_ipv4: None,
            rule_ipv6: None,
            timer_period: 0,
        }
    }
}

impl Options {
    /// The lookup method: the one given, else LPM.
    pub fn lookup(&self) -> Lookup {
        self.lookup.unwrap_or(Lookup::Lpm)
    }
}

/// Why the options were refused. [`report`](Self::report) prints what DPDK prints
/// before it exits; [`fatal`](Self::fatal) says which errors DPDK reports through
/// `rte_exit` itself rather than "Invalid L3FWD parameters".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgsError {
    /// `-p` is empty, not hexadecimal, or zero.
    InvalidPortmask,
    /// `--config` is malformed; `detail` is a line DPDK prints first, if any.
    InvalidConfig {
        /// E.g. "exceeded max number of lcore params: 1024".
        detail: Option<String>,
    },
    /// `-T` is not a number in 0..=86399.
    InvalidTimerPeriod,
    /// A second lookup option.
    OneLookupOnly,
    /// `--lookup` with an unknown method.
    InvalidLookup,
    /// An option or value of DPDK's that burst's l3fwd does not implement.
    Unsupported(String),
    /// A value DPDK refuses with `rte_exit` directly (`--eth-dest`, queue sizes).
    Fatal(String),
    /// A syntax error reported by `getopt_long`.
    Getopt(String),
}

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidPortmask => f.write_str("Invalid portmask"),
            Self::InvalidConfig { detail: Some(d) } => write!(f, "{d}\nInvalid config"),
            Self::InvalidConfig { detail: None } => f.write_str("Invalid config"),
            Self::InvalidTimerPeriod => f.write_str("invalid timer period"),
            Self::OneLookupOnly => f.write_str("Only one lookup mode is allowed at a time!"),
            Self::InvalidLookup => {
                f.write_str("Invalid lookup option! Accepted options: acl, em, lpm, fib")
            }
            Self::Unsupported(msg) | Self::Fatal(msg) | Self::Getopt(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for ArgsError {}

impl From<GetoptError> for ArgsError {
    fn from(e: GetoptError) -> Self {
        Self::Getopt(e.0)
    }
}

impl ArgsError {
    /// DPDK exits with this cause itself (no usage, no "Invalid L3FWD parameters").
    pub fn fatal(&self) -> Option<&str> {
        match self {
            Self::Fatal(cause) => Some(cause),
            _ => None,
        }
    }

    /// Prints the error, and the usage where DPDK does, as DPDK does: all on stderr,
    /// but for `--config`'s detail line (stdout).
    pub fn report(&self, prgname: &str) {
        match self {
            Self::InvalidConfig { detail } => {
                if let Some(d) = detail {
                    println!("{d}");
                }
                eprintln!("Invalid config");
            }
            Self::Fatal(_) => return,
            _ => eprintln!("{self}"),
        }
        if matches!(
            self,
            Self::InvalidPortmask
                | Self::InvalidConfig { .. }
                | Self::InvalidTimerPeriod
                | Self::Getopt(_)
        ) {
            eprint!("{}", usage(prgname));
        }
    }
}

/// DPDK's `print_usage` text, without the eventdev and ACL options burst lacks and with
/// `-T`.
pub fn usage(prgname: &str) -> String {
    format!(
        "{prgname} [EAL options] -- -p PORTMASK  --rule_ipv4=FILE  --rule_ipv6=FILE [-P] \
         [--lookup] --config (port,queue,lcore)[,(port,queue,lcore)] [--rx-queue-size NPKTS] \
         [--tx-queue-size NPKTS] [--eth-dest=X,MM:MM:MM:MM:MM:MM] [--max-pkt-len PKTLEN] \
         [--no-numa] [--ipv6] [--parse-ptype] [--per-port-pool] [--mode] [-E] [-L] \
         [-T PERIOD]\n\n\
         \x20 -p PORTMASK: Hexadecimal bitmask of ports to configure\n\
         \x20 -P : Enable promiscuous mode\n\
         \x20 --lookup: Select the lookup method\n\
         \x20           Default: lpm\n\
         \x20           Accepted: em (Exact Match), lpm (Longest Prefix Match)\n\
         \x20 --config (port,queue,lcore): Rx queue configuration\n\
         \x20 --rx-queue-size NPKTS: Rx queue size in decimal\n\
         \x20           Default: {DESC_DEFAULT}\n\
         \x20 --tx-queue-size NPKTS: Tx queue size in decimal\n\
         \x20           Default: {DESC_DEFAULT}\n\
         \x20 --eth-dest=X,MM:MM:MM:MM:MM:MM: Ethernet destination for port X\n\
         \x20 --max-pkt-len PKTLEN: maximum packet length in decimal (64-9600)\n\
         \x20 --no-numa: Disable numa awareness\n\
         \x20 --ipv6: Set if running ipv6 packets\n\
         \x20 --parse-ptype: Set to use software to analyze packet type\n\
         \x20 --per-port-pool: Use separate buffer pool per port\n\
         \x20 --mode: Packet transfer mode for I/O, poll only\n\
         \x20         Default mode = poll\n\
         \x20 -E : Enable exact match, legacy flag please use --lookup=em instead\n\
         \x20 -L : Enable longest prefix match, legacy flag please use --lookup=lpm instead\n\
         \x20 --rule_ipv4=FILE: Specify the ipv4 rules entries file.\n\
         \x20                   Each rule occupies one line.\n\
         \x20                   Route entries lead with character 'R'; '#' starts a comment.\n\
         \x20 --rule_ipv6=FILE: Specify the ipv6 rules entries file.\n\
         \x20 -T PERIOD: statistics will be refreshed each PERIOD seconds (0 to disable, \
         the default; 86400 maximum); they are printed at exit in any case\n\n"
    )
}

/// The short options (DPDK's `"p:PLE"`, and `T:`).
const SHORT_OPTIONS: &str = "p:PLET:";

/// The long options and whether each takes a value (DPDK's `lgopts`).
const LONG_OPTIONS: &[(&str, bool)] = &[
    ("config", true),
    ("rx-queue-size", true),
    ("tx-queue-size", true),
    ("eth-dest", true),
    ("no-numa", false),
    ("ipv6", false),
    ("max-pkt-len", true),
    ("hash-entry-num", true),
    ("parse-ptype", false),
    ("per-port-pool", false),
    ("mode", true),
    ("eventq-sched", true),
    ("event-eth-rxqs", true),
    ("lookup", true),
    ("event-vector", false),
    ("event-vector-size", true),
    ("event-vector-tmo", true),
    ("rule_ipv4", true),
    ("rule_ipv6", true),
    ("alg", true),
];

/// Parses `args`: the program name, then the application's arguments. Prints the
/// lines DPDK prints while parsing ("soft parse-ptype is enabled", ...).
pub fn parse(args: &[String]) -> Result<Options, ArgsError> {
    let mut opts = Options::default();
    getopt_long(args, SHORT_OPTIONS, LONG_OPTIONS, |opt| {
        apply(&mut opts, opt)
    })?;
    if opts.lookup.is_none() {
        eprintln!("Neither ACL, LPM, EM, or FIB selected, defaulting to LPM");
        opts.lookup = Some(Lookup::Lpm);
    }
    Ok(opts)
}

fn set_lookup(opts: &mut Options, lookup: Lookup) -> Result<(), ArgsError> {
    if opts.lookup.is_some() {
        return Err(ArgsError::OneLookupOnly);
    }
    opts.lookup = Some(lookup);
    Ok(())
}

fn apply(opts: &mut Options, opt: Opt<'_>) -> Result<(), ArgsError> {
    let unsupported = |what: &str| {
        Err(ArgsError::Unsupported(format!(
            "{what} is not supported by burst's l3fwd (no eventdev, ACL or FIB)"
        )))
    };
    match opt {
        Opt::Short('p', v) => {
            opts.portmask = parse_portmask(v).ok_or(ArgsError::InvalidPortmask)?;
        }
        Opt::Short('P', _) => opts.promiscuous = true,
        Opt::Short('E', _) => set_lookup(opts, Lookup::Em)?,
        Opt::Short('L', _) => set_lookup(opts, Lookup::Lpm)?,
        Opt::Short('T', v) => {
            opts.timer_period = parse_timer_period(v).ok_or(ArgsError::InvalidTimerPeriod)?;
        }
        Opt::Long("config", Some(v)) => opts.config = parse_config(v)?,
        Opt::Long("rx-queue-size", Some(v)) => opts.nb_rxd = parse_queue_size(v, "rx")?,
        Opt::Long("tx-queue-size", Some(v)) => opts.nb_txd = parse_queue_size(v, "tx")?,
        Opt::Long("eth-dest", Some(v)) => {
            let (port, mac) = parse_eth_dest(v)?;
            opts.eth_dest[usize::from(port)] = Some(mac);
        }
        Opt::Long("no-numa", _) => {}
        Opt::Long("ipv6", _) => opts.ipv6 = true,
        Opt::Long("max-pkt-len", Some(v)) => opts.max_pkt_len = parse_max_pkt_len(v),
        Opt::Long("hash-entry-num", _) => eprintln!("Hash entry number will be ignored"),
        Opt::Long("parse-ptype", _) => {
            println!("soft parse-ptype is enabled");
            opts.parse_ptype = true;
        }
        Opt::Long("per-port-pool", _) => {
            println!("per port buffer pool is enabled");
            opts.per_port_pool = true;
        }
        // DPDK ignores modes it does not know; "eventdev" is the one it has and we lack.
        Opt::Long("mode", Some("eventdev")) => return unsupported("--mode eventdev"),
        Opt::Long("mode", _) => {}
        Opt::Long(
            name @ ("eventq-sched" | "event-eth-rxqs" | "event-vector" | "event-vector-size"
            | "event-vector-tmo" | "alg"),
            _,
        ) => return unsupported(&format!("--{name}")),
        Opt::Long("lookup", Some(v)) => {
            let lookup = match v {
                "lpm" => Lookup::Lpm,
                "em" => Lookup::Em,
                "acl" | "fib" => return unsupported(&format!("--lookup {v}")),
                _ => return Err(ArgsError::InvalidLookup),
            };
            // DPDK checks for a second lookup option before the value.
            set_lookup(opts, lookup)?;
        }
        Opt::Long("rule_ipv4", Some(v)) => opts.rule_ipv4 = Some(v.to_string()),
        Opt::Long("rule_ipv6", Some(v)) => opts.rule_ipv6 = Some(v.to_string()),
        other => unreachable!("{other:?} is not in SHORT_OPTIONS/LONG_OPTIONS"),
    }
    Ok(())
}

/// DPDK's `parse_config`: every `(port,queue,lcore)` in the string, in order, text
/// between them ignored. A triple is refused when its `)` is missing, it is 256 bytes or
/// longer, it has fewer than three comma-separated fields, a field does not start with
/// a number (C's `strtoul` base 0) or exceeds its limit (port 32, queue 1024, lcore
/// 128, as DPDK's `<=` checks), or there are more than [`MAX_LCORE_PARAMS`].
pub fn parse_config(s: &str) -> Result<Vec<LcoreParams>, ArgsError> {
    let bad = || ArgsError::InvalidConfig { detail: None };
    let limits = [
        MAX_ETHPORTS as u64,
        MAX_QUEUES_PER_PORT,
        u64::from(MAX_LCORE),
    ];
    let mut params = Vec::new();
    for field in parenthesized(s) {
        let field = field.map_err(|_| bad())?;
        // rte_strsplit(s, ..., 3, ','): the third field runs to the end.
        let fields: Vec<&str> = field.splitn(3, ',').collect();
        if fields.len() != 3 {
            return Err(bad());
        }
        let mut values = [0u64; 3];
        for ((value, text), limit) in values.iter_mut().zip(&fields).zip(limits) {
            match strtoul(text, 0) {
                Some((n, false, _)) if n <= limit => *value = n,
                _ => return Err(bad()),
            }
        }
        if params.len() >= MAX_LCORE_PARAMS {
            return Err(ArgsError::InvalidConfig {
                detail: Some(format!(
                    "exceeded max number of lcore params: {}",
                    params.len()
                )),
            });
        }
        params.push(LcoreParams {
            port: values[0] as u16,
            queue: values[1] as u16,
            lcore: values[2] as u32,
        });
    }
    Ok(params)
}

/// DPDK's `parse_queue_size`: decimal, the whole string, 1..=65535; `dir` is "rx" or
/// "tx" for the message.
pub fn parse_queue_size(s: &str, dir: &str) -> Result<u16, ArgsError> {
    match strtoul(s, 10) {
        Some((0, _, "")) | None => Err(ArgsError::Fatal(format!("Invalid {dir}-queue-size"))),
        Some((_, _, rest)) if !rest.is_empty() => {
            Err(ArgsError::Fatal(format!("Invalid {dir}-queue-size")))
        }
        Some((n, _, _)) => u16::try_from(n)
            .map_err(|_| ArgsError::Fatal(format!("{dir}-queue-size {n} > {}", u16::MAX))),
    }
}

/// DPDK's `parse_eth_dest`: `PORT,MAC`, the port decimal and below
/// [`MAX_ETHPORTS`], the MAC as `cmdline_parse_etheraddr` takes it.
pub fn parse_eth_dest(s: &str) -> Result<(u16, [u8; 6]), ArgsError> {
    let invalid = || ArgsError::Fatal(format!("Invalid eth-dest: {s}"));
    let (port, rest) = match strtoul(s, 10) {
        Some((n, false, rest)) => (n as u16, rest),
        _ => return Err(invalid()),
    };
    let mac = rest.strip_prefix(',').ok_or_else(invalid)?;
    if usize::from(port) >= MAX_ETHPORTS {
        return Err(ArgsError::Fatal(format!(
            "eth-dest: port {port} >= RTE_MAX_ETHPORTS({MAX_ETHPORTS})"
        )));
    }
    let addr: EtherAddr = mac
        .parse()
        .map_err(|_| ArgsError::Fatal(format!("Invalid ethernet address: {mac}")))?;
    Ok((port, addr.octets()))
}

/// DPDK's `parse_max_pkt_len`: decimal, the whole string, not 0; a refused value is
/// DPDK's -1 as an unsigned 32-bit length (`u32::MAX`), refused at port setup.
pub fn parse_max_pkt_len(s: &str) -> u32 {
    match strtoul(s, 10) {
        Some((n, _, "")) if n != 0 => n as u32,
        _ => u32::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `line` (words split at spaces) after a program name.
    fn parsed(line: &str) -> Result<Options, ArgsError> {
        let words: Vec<String> = std::iter::once("l3fwd")
            .chain(line.split_whitespace())
            .map(String::from)
            .collect();
        parse(&words)
    }

    fn ok(list: &[&str]) -> Options {
        parsed(&list.join(" ")).unwrap()
    }

    fn err(list: &[&str]) -> ArgsError {
        parsed(&list.join(" ")).unwrap_err()
    }

    #[test]
    fn defaults_are_dpdks() {
        let o = ok(&["-p", "0x3"]);
        assert_eq!(o.portmask, 3);
        assert_eq!(o.lookup(), Lookup::Lpm);
        assert_eq!(o.config, DEFAULT_CONFIG.to_vec());
        assert_eq!((o.nb_rxd, o.nb_txd, o.timer_period), (1024, 1024, 0));
        assert!(!o.ipv6 && !o.parse_ptype && !o.promiscuous && o.rule_ipv4.is_none());
    }

    #[test]
    fn every_option() {
        let o = ok(&[
            "-Pp",
            "f",
            "--lookup=em",
            "--config",
            "(0,0,0),(1,0,1)junk(1,1,0x1)",
            "--rx-queue-size",
            "512",
            "--tx-queue-size=256",
            "--eth-dest=1,52:54:00:ab:cd:ef",
            "--ipv6",
            "--parse-ptype",
            "--max-pkt-len",
            "1518",
            "--rule_ipv4",
            "a.cfg",
            "--rule_ipv6=b.cfg",
            "--no-numa",
            "--mode=poll",
            "--per-port-pool",
            "-T",
            "2",
        ]);
        assert_eq!(
            (o.portmask, o.promiscuous, o.lookup()),
            (0xf, true, Lookup::Em)
        );
        let p = |port, queue, lcore| LcoreParams { port, queue, lcore };
        assert_eq!(o.config, vec![p(0, 0, 0), p(1, 0, 1), p(1, 1, 1)]);
        assert_eq!((o.nb_rxd, o.nb_txd, o.max_pkt_len), (512, 256, 1518));
        assert_eq!(o.eth_dest[1], Some([0x52, 0x54, 0, 0xab, 0xcd, 0xef]));
        assert!(o.ipv6 && o.parse_ptype && o.per_port_pool);
        assert_eq!(
            (o.rule_ipv4.as_deref(), o.rule_ipv6.as_deref()),
            (Some("a.cfg"), Some("b.cfg"))
        );
        assert_eq!(o.timer_period, 2);
        assert_eq!(ok(&["-E"]).lookup(), Lookup::Em);
        assert_eq!(ok(&["-L"]).lookup(), Lookup::Lpm);
        assert_eq!(ok(&["--max-pkt-len", "0"]).max_pkt_len, u32::MAX);
    }

    #[test]
    fn refusals() {
        assert_eq!(err(&["-p", "0"]), ArgsError::InvalidPortmask);
        assert_eq!(err(&["-E", "-L"]), ArgsError::OneLookupOnly);
        assert_eq!(err(&["-L", "--lookup", "em"]), ArgsError::OneLookupOnly);
        assert_eq!(err(&["--lookup", "hash"]), ArgsError::InvalidLookup);
        assert!(matches!(
            err(&["--lookup", "fib"]),
            ArgsError::Unsupported(_)
        ));
        assert!(matches!(
            err(&["--mode", "eventdev"]),
            ArgsError::Unsupported(_)
        ));
        assert!(matches!(err(&["--alg=scalar"]), ArgsError::Unsupported(_)));
        assert_eq!(err(&["-T", "86400"]), ArgsError::InvalidTimerPeriod);
        assert_eq!(
            err(&["-x"]),
            ArgsError::Getopt("l3fwd: invalid option -- 'x'".into())
        );
        assert_eq!(
            err(&["--ipv6=1"]),
            ArgsError::Getopt("l3fwd: option '--ipv6' doesn't allow an argument".into())
        );
        for bad in [
            "(0,0",
            "(0,0)",
            "(0,0,x)",
            "(33,0,0)",
            "(0,1025,0)",
            "(0,0,129)",
        ] {
            assert_eq!(
                parse_config(bad),
                Err(ArgsError::InvalidConfig { detail: None }),
                "{bad:?}"
            );
        }
        // DPDK's limits are inclusive, and a fourth field is part of the third.
        assert_eq!(parse_config("(32,1024,128,9)").unwrap().len(), 1);
        let many: String = (0..=MAX_LCORE_PARAMS).map(|_| "(0,0,0)").collect();
        assert_eq!(
            parse_config(&many).unwrap_err().to_string(),
            "exceeded max number of lcore params: 1024\nInvalid config"
        );
        for (line, cause) in [
            ("--rx-queue-size 0", "Invalid rx-queue-size"),
            ("--tx-queue-size 70000", "tx-queue-size 70000 > 65535"),
            ("--eth-dest x", "Invalid eth-dest: x"),
            (
                "--eth-dest 32,02:00:00:00:00:01",
                "eth-dest: port 32 >= RTE_MAX_ETHPORTS(32)",
            ),
            (
                "--eth-dest 1,02:00:00",
                "Invalid ethernet address: 02:00:00",
            ),
        ] {
            assert_eq!(parsed(line).unwrap_err().fatal(), Some(cause), "{line}");
        }
    }

    #[test]
    fn usage_names_every_option() {
        let u = usage("./l3fwd");
        assert!(u.starts_with("./l3fwd [EAL options] -- -p PORTMASK"));
        for opt in [
            "--config",
            "--eth-dest",
            "--parse-ptype",
            "--rule_ipv4",
            "-T PERIOD",
        ] {
            assert!(u.contains(opt), "{opt}");
        }
    }
}
