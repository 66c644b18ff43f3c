//! DPDK's EAL command line: the options before `--`, the application's after it.
//!
//! clap reads the syntax (`--opt=value` and `--opt value`, `-l0-1`, `-h`); this module
//! checks the values and the combinations, with the rules and messages of DPDK 22.11's
//! `eal_common_options.c` where they are clear, and a typed error where DPDK would ignore
//! or silently misread an option.

use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};

use crate::devargs::Devargs;
use crate::error::EalError;
use crate::lcore::{self, LcoreChoice};
use crate::logging::{self, LogConfig};
use crate::memory::{IovaMode, MemoryConfig};
use crate::pci_addr::{PciAddr, PciDevargs};

/// How much memory the application may take, from `-m` or `--socket-mem`.
///
/// Recorded, and checked at init against the free hugepages; `Memory` maps pages on
/// demand, so it is not a cap on later allocations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemoryLimit {
    /// `-m MB`: in total.
    Total { mb: u64 },
    /// `--socket-mem MB[,MB...]`: per NUMA socket, socket 0 first.
    PerSocket { mb: Vec<u64> },
}

impl MemoryLimit {
    /// The total in bytes.
    pub fn bytes(&self) -> u64 {
        let mb = match self {
            Self::Total { mb } => *mb,
            Self::PerSocket { mb } => mb.iter().sum(),
        };
        mb << 20
    }
}

/// The EAL options, as clap reads them; values are checked afterwards.
#[derive(Debug, Parser)]
#[command(
    about = "burst's EAL (DPDK's options); the application's own options go after `--`",
    disable_version_flag = true,
    args_override_self = true,
    // As getopt: an option's value is the next argument, even if it starts with '-',
    // and a long option may be shortened to any unambiguous prefix.
    allow_hyphen_values = true,
    infer_long_args = true
)]
struct EalArgs {
    /// Cores to run on, lcore n on CPU n: <c1>[-c2][,c3[-c4],...]
    #[arg(short = 'l', value_name = "CORELIST", action = ArgAction::Append,
        help_heading = "Lcores")]
    corelist: Vec<String>,

    /// Hexadecimal bitmask of cores to run on
    #[arg(short = 'c', value_name = "COREMASK", action = ArgAction::Append,
        help_heading = "Lcores")]
    coremask: Vec<String>,

    /// Map lcore sets to CPU sets: <lcores[@cpus]>[,<lcores[@cpus]>...]; a set is a
    /// number, a range a-b or a group (a,b-c); e.g. 0,(1-2)@(2,3)
    #[arg(long = "lcores", value_name = "COREMAP", action = ArgAction::Append,
        help_heading = "Lcores")]
    lcores: Vec<String>,

    /// Lcore that runs the calling thread (default: the lowest)
    #[arg(long = "main-lcore", value_name = "ID", help_heading = "Lcores")]
    main_lcore: Option<String>,

    /// Add a PCI device to the allow list (only listed devices are probed):
    /// <[domain:]bus:devid.func>[,key=val,...]; repeatable
    #[arg(short = 'a', long = "allow", value_name = "DEVICE", action = ArgAction::Append,
        help_heading = "Devices")]
    allow: Vec<String>,

    /// Add a PCI device to the block list (never probed): <[domain:]bus:devid.func>;
    /// repeatable
    #[arg(short = 'b', long = "block", value_name = "DEVICE", action = ArgAction::Append,
        help_heading = "Devices")]
    block: Vec<String>,

    /// Add a virtual device: <driver><id>[,key=val,...], e.g. --vdev=net_pcap0,iface=eth2;
    /// repeatable
    #[arg(long = "vdev", value_name = "DEVICE", action = ArgAction::Append,
        help_heading = "Devices")]
    vdev: Vec<String>,

    /// Probe no PCI device
    #[arg(long = "no-pci", help_heading = "Devices")]
    no_pci: bool,

    /// Memory the application may take, in MB (see also --socket-mem)
    #[arg(short = 'm', value_name = "MB", help_heading = "Memory")]
    memory: Option<String>,

    /// Memory per NUMA socket, in MB: <mb0>[,mb1,...]
    #[arg(long = "socket-mem", value_name = "MB,...", help_heading = "Memory")]
    socket_mem: Option<String>,

    /// Use ordinary pages instead of hugepages (no DMA by physical address)
    #[arg(long = "no-huge", help_heading = "Memory")]
    no_huge: bool,

    /// Map hugepages anonymously: no hugepage files
    #[arg(long = "in-memory", help_heading = "Memory")]
    in_memory: bool,

    /// Directory where hugetlbfs is mounted
    #[arg(long = "huge-dir", value_name = "DIR", help_heading = "Memory")]
    huge_dir: Option<String>,

    /// Prefix for hugepage file names (default: rte)
    #[arg(long = "file-prefix", value_name = "PREFIX", help_heading = "Memory")]
    file_prefix: Option<String>,

    /// IOVA mode: 'pa' for physical addresses, 'va' for virtual ones through the IOMMU
    #[arg(long = "iova-mode", value_name = "pa|va", help_heading = "Memory")]
    iova_mode: Option<String>,

    /// Number of memory channels (accepted and ignored, as DPDK does on x86)
    #[arg(short = 'n', value_name = "CHANNELS", help_heading = "Memory")]
    channels: Option<String>,

    /// Log level: <level> for all, <type-glob>:<level> or <type-regex>,<level> for some;
    /// level 1-8 or emerg, alert, crit, err, warning, notice, info, debug; 'help' for
    /// more; repeatable
    #[arg(long = "log-level", value_name = "LEVEL", action = ArgAction::Append,
        help_heading = "Logging")]
    log_level: Vec<String>,
}

/// Everything the command line chose, checked for syntax and consistency but not yet
/// against the machine.
#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) lcores: LcoreChoice,
    pub(crate) no_pci: bool,
    pub(crate) allow: Vec<PciDevargs>,
    pub(crate) block: Vec<PciAddr>,
    pub(crate) vdevs: Vec<Devargs>,
    pub(crate) memory: MemoryConfig,
    pub(crate) memory_limit: Option<MemoryLimit>,
    /// `None` if no `--log-level` was given.
    pub(crate) log: Option<LogConfig>,
}

/// Splits `args` (program name first) at the first `--`, parses the EAL options before
/// it, and returns them with the application's arguments: the program name followed by
/// everything after `--`.
pub(crate) fn parse(args: Vec<String>) -> Result<(Options, Vec<String>), EalError> {
    let mut args = args.into_iter();
    let program = args.next().unwrap_or_else(|| "burst".to_owned());
    let mut eal_args = vec![program.clone()];
    let mut app_args = vec![program.clone()];
    let mut after_dashes = false;
    for arg in args {
        if after_dashes {
            app_args.push(arg);
        } else if arg == "--" {
            after_dashes = true;
        } else {
            eal_args.push(arg);
        }
    }

    let command = EalArgs::command()
        .override_usage(format!("{program} [EAL options] -- [application options]"));
    let matches = command.try_get_matches_from(eal_args).map_err(clap_error)?;
    let raw = EalArgs::from_arg_matches(&matches).map_err(clap_error)?;
    Ok((check(raw)?, app_args))
}

/// Turns clap's error into ours: help becomes [`EalError::Help`].
fn clap_error(err: clap::Error) -> EalError {
    let invalid_arg = || match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg.clone(),
        _ => String::new(),
    };
    match err.kind() {
        ErrorKind::DisplayHelp => EalError::Help(err.render().to_string()),
        ErrorKind::UnknownArgument if invalid_arg().starts_with('-') => EalError::UnknownOption {
            option: invalid_arg(),
        },
        ErrorKind::UnknownArgument => EalError::UnexpectedArgument { arg: invalid_arg() },
        _ => {
            let text = err.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            EalError::Usage(first.strip_prefix("error: ").unwrap_or(first).to_owned())
        }
    }
}

fn invalid(option: &'static str, value: &str, reason: impl Into<String>) -> EalError {
    EalError::InvalidValue {
        option,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

fn conflict(first: &'static str, second: &'static str, reason: &'static str) -> EalError {
    EalError::ConflictingOptions {
        first,
        second,
        reason,
    }
}

/// Checks the values and their combinations.
fn check(raw: EalArgs) -> Result<Options, EalError> {
    let log = if raw.log_level.is_empty() {
        None
    } else {
        let mut config = LogConfig::default();
        for arg in &raw.log_level {
            if arg == "help" {
                return Err(EalError::Help(logging::usage()));
            }
            config
                .apply(arg)
                .map_err(|reason| invalid("--log-level", arg, reason))?;
        }
        Some(config)
    };

    let lcores = LcoreChoice {
        given: check_lcore_options(&raw)?,
        main: raw
            .main_lcore
            .as_deref()
            .map(|arg| lcore::parse_main_lcore(arg).map_err(|r| invalid("--main-lcore", arg, r)))
            .transpose()?,
    };

    if !raw.allow.is_empty() && !raw.block.is_empty() {
        return Err(conflict(
            "-a/--allow",
            "-b/--block",
            "an allow list already excludes every other device; pass one kind of list",
        ));
    }
    if raw.no_pci && !raw.allow.is_empty() {
        return Err(conflict(
            "--no-pci",
            "-a/--allow",
            "no PCI device is probed, so the allowed ones would be ignored; drop one of them",
        ));
    }
    let mut allow: Vec<PciDevargs> = Vec::new();
    for arg in &raw.allow {
        let dev = PciDevargs::parse(arg).map_err(|e| invalid("-a/--allow", arg, e.to_string()))?;
        if allow.iter().any(|seen| seen.addr() == dev.addr()) {
            return Err(duplicate("-a/--allow", dev.addr()));
        }
        allow.push(dev);
    }
    let mut block: Vec<PciAddr> = Vec::new();
    for arg in &raw.block {
        let addr = arg
            .parse::<PciAddr>()
            .map_err(|e| invalid("-b/--block", arg, e.to_string()))?;
        if block.contains(&addr) {
            return Err(duplicate("-b/--block", addr));
        }
        block.push(addr);
    }
    let mut vdevs: Vec<Devargs> = Vec::new();
    for arg in &raw.vdev {
        let dev = Devargs::parse(arg).map_err(|e| invalid("--vdev", arg, e.to_string()))?;
        if dev.driver().is_empty() {
            return Err(invalid(
                "--vdev",
                arg,
                "the name has no driver part: write <driver><id>, e.g. net_null0",
            ));
        }
        if vdevs.iter().any(|seen| seen.name() == dev.name()) {
            return Err(duplicate("--vdev", dev.name()));
        }
        vdevs.push(dev);
    }

    let memory_limit = check_memory_limit(&raw)?;
    if raw.no_huge && raw.socket_mem.is_some() {
        return Err(conflict(
            "--no-huge",
            "--socket-mem",
            "ordinary pages are not placed per NUMA socket; use -m for the amount",
        ));
    }
    if let Some(arg) = &raw.channels {
        if !matches!(arg.parse::<u32>(), Ok(1..)) {
            return Err(invalid(
                "-n",
                arg,
                "invalid channel number: expected a number above 0",
            ));
        }
    }

    Ok(Options {
        lcores,
        no_pci: raw.no_pci,
        allow,
        block,
        vdevs,
        memory: memory_config(&raw)?,
        memory_limit,
        log,
    })
}

fn duplicate(option: &'static str, name: impl ToString) -> EalError {
    EalError::DuplicateDevice {
        option,
        name: name.to_string(),
    }
}

/// The lcores from `-l`, `-c` or `--lcores`; at most one of them, once.
fn check_lcore_options(
    raw: &EalArgs,
) -> Result<Option<(&'static str, Vec<lcore::Lcore>)>, EalError> {
    type ParseFn = fn(&str) -> Result<Vec<lcore::Lcore>, String>;
    let given: Vec<(&'static str, &Vec<String>, ParseFn)> = [
        ("-l", &raw.corelist, lcore::parse_corelist as ParseFn),
        ("-c", &raw.coremask, lcore::parse_coremask),
        ("--lcores", &raw.lcores, lcore::parse_lcore_map),
    ]
    .into_iter()
    .filter(|(_, args, _)| !args.is_empty())
    .collect();
    match given.as_slice() {
        [] => Ok(None),
        [(option, args, parse)] => match args.as_slice() {
            [arg] => {
                let lcores = parse(arg).map_err(|reason| invalid(option, arg, reason))?;
                Ok(Some((*option, lcores)))
            }
            _ => Err(EalError::RepeatedOption { option }),
        },
        [(first, ..), (second, ..), ..] => Err(conflict(
            first,
            second,
            "both choose the lcores; pass one of -l, -c and --lcores",
        )),
    }
}

/// `-m` or `--socket-mem`, never both.
fn check_memory_limit(raw: &EalArgs) -> Result<Option<MemoryLimit>, EalError> {
    /// A size in MB whose byte count fits a u64.
    fn megabytes(text: &str) -> Option<u64> {
        text.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| text.parse::<u64>().ok())
            .flatten()
            .filter(|&mb| mb <= u64::MAX >> 20)
    }
    match (&raw.memory, &raw.socket_mem) {
        (Some(_), Some(_)) => Err(conflict(
            "-m",
            "--socket-mem",
            "both set the amount of memory; pass one of them",
        )),
        (Some(arg), None) => match megabytes(arg) {
            Some(mb @ 1..) => Ok(Some(MemoryLimit::Total { mb })),
            _ => Err(invalid(
                "-m",
                arg,
                "expected a size in MB above 0, e.g. -m 512",
            )),
        },
        (None, Some(arg)) => {
            let mb: Option<Vec<u64>> = arg.split(',').map(megabytes).collect();
            match mb {
                Some(mb)
                    if mb.iter().any(|&n| n > 0)
                        && mb
                            .iter()
                            .try_fold(0u64, |sum, &n| sum.checked_add(n << 20))
                            .is_some() =>
                {
                    Ok(Some(MemoryLimit::PerSocket { mb }))
                }
                _ => Err(invalid(
                    "--socket-mem",
                    arg,
                    "expected MB per NUMA socket, comma-separated, not all 0, e.g. --socket-mem 512,512",
                )),
            }
        }
        (None, None) => Ok(None),
    }
}

/// The memory options; their combinations are checked by `Memory::new`.
fn memory_config(raw: &EalArgs) -> Result<MemoryConfig, EalError> {
    let mut config = MemoryConfig {
        no_huge: raw.no_huge,
        in_memory: raw.in_memory,
        ..MemoryConfig::default()
    };
    if let Some(dir) = &raw.huge_dir {
        if dir.is_empty() {
            return Err(invalid("--huge-dir", dir, "the directory is empty"));
        }
        config.huge_dir = Some(PathBuf::from(dir));
    }
    if let Some(prefix) = &raw.file_prefix {
        if prefix.is_empty() || prefix.contains('%') {
            return Err(invalid(
                "--file-prefix",
                prefix,
                "a prefix is a non-empty file name start without '%'",
            ));
        }
        config.file_prefix.clone_from(prefix);
    }
    if let Some(mode) = &raw.iova_mode {
        config.iova_mode = match mode.as_str() {
            "pa" => IovaMode::Pa,
            "va" => IovaMode::Va,
            _ => return Err(invalid("--iova-mode", mode, "expected pa or va")),
        };
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lcore::LcoreId;

    fn parse_args(args: &[&str]) -> Result<(Options, Vec<String>), EalError> {
        parse(
            std::iter::once("app")
                .chain(args.iter().copied())
                .map(String::from)
                .collect(),
        )
    }

    fn ok(args: &[&str]) -> Options {
        match parse_args(args) {
            Ok((options, _)) => options,
            Err(err) => panic!("{args:?}: {err}"),
        }
    }

    fn err(args: &[&str]) -> EalError {
        match parse_args(args) {
            Ok((options, _)) => panic!("{args:?} parsed: {options:?}"),
            Err(err) => err,
        }
    }

    /// The lcore option and `(lcore, cpus)` pairs chosen.
    fn lcores(options: &Options) -> Option<(&'static str, Vec<(u32, String)>)> {
        let (option, lcores) = options.lcores.given.as_ref()?;
        let pairs = lcores
            .iter()
            .map(|l| (l.id().get(), l.cpus().to_string()))
            .collect();
        Some((option, pairs))
    }

    fn pairs(list: &[(u32, &str)]) -> Vec<(u32, String)> {
        list.iter()
            .map(|&(id, cpus)| (id, cpus.to_owned()))
            .collect()
    }

    #[test]
    fn app_arguments_follow_the_dashes() {
        let (_, app) = parse_args(&["-l", "0", "--", "-p", "0x3", "--", "-q"]).unwrap();
        assert_eq!(app, ["app", "-p", "0x3", "--", "-q"]);
        let (_, app) = parse_args(&["--no-huge"]).unwrap();
        assert_eq!(app, ["app"]);
        let (_, app) = parse(vec![]).unwrap();
        assert_eq!(app, ["burst"]);
    }

    #[test]
    fn defaults() {
        let o = ok(&[]);
        assert!(o.lcores.given.is_none() && o.lcores.main.is_none());
        assert!(!o.no_pci && o.allow.is_empty() && o.block.is_empty() && o.vdevs.is_empty());
        assert!(!o.memory.no_huge && !o.memory.in_memory && o.memory.huge_dir.is_none());
        assert_eq!(o.memory.file_prefix, "rte");
        assert_eq!(o.memory.iova_mode, IovaMode::Va);
        assert!(o.memory_limit.is_none() && o.log.is_none());
    }

    #[test]
    fn lcore_options_in_every_spelling() {
        let two = Some(("-l", pairs(&[(0, "0"), (1, "1")])));
        assert_eq!(lcores(&ok(&["-l", "0-1"])), two);
        assert_eq!(lcores(&ok(&["-l0-1"])), two);
        assert_eq!(lcores(&ok(&["-l=0-1"])), two);
        assert_eq!(
            lcores(&ok(&["-c", "0x3"])),
            Some(("-c", pairs(&[(0, "0"), (1, "1")])))
        );
        assert_eq!(
            lcores(&ok(&["--lcores", "(0-1)@(0,1)"])),
            Some(("--lcores", pairs(&[(0, "0-1"), (1, "0-1")])))
        );
        assert_eq!(
            lcores(&ok(&["--lcores=0@1,1@0"])),
            Some(("--lcores", pairs(&[(0, "1"), (1, "0")])))
        );
        assert_eq!(ok(&["--main-lcore", "1"]).lcores.main, LcoreId::new(1));
        assert_eq!(ok(&["--main-lcore=0x2"]).lcores.main, LcoreId::new(2));
    }

    #[test]
    fn bad_lcore_options() {
        let cases: [(&[&str], &str); 6] = [
            (&["-l", "1-0"], "-l"),
            (&["-l", "0@1"], "-l"),
            (&["-c", "zz"], "-c"),
            (&["--lcores", "1@0,1@1"], "--lcores"),
            (&["--main-lcore", "x"], "--main-lcore"),
            (&["--main-lcore", "128"], "--main-lcore"),
        ];
        for (args, want) in cases {
            let e = err(args);
            assert!(
                matches!(&e, EalError::InvalidValue { option, .. } if *option == want),
                "{args:?}: {e}"
            );
            assert!(
                e.to_string().starts_with(&format!("invalid {want} '")),
                "{e}"
            );
        }
        let e = err(&["-l", "0", "-c", "1"]);
        assert!(
            matches!(
                e,
                EalError::ConflictingOptions {
                    first: "-l",
                    second: "-c",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("pass one of -l, -c and --lcores"));
        let e = err(&["--lcores", "0", "-l", "0"]);
        assert!(matches!(e, EalError::ConflictingOptions { .. }), "{e}");
        let e = err(&["-l", "0", "-l", "1"]);
        assert!(
            matches!(e, EalError::RepeatedOption { option: "-l" }),
            "{e}"
        );
        assert!(matches!(err(&["-l"]), EalError::Usage(_)));
    }

    #[test]
    fn devices() {
        let o = ok(&[
            "-a",
            "0000:01:00.0,rxq=2",
            "--allow=02:00.1",
            "--vdev",
            "net_pcap0,iface=eth2",
            "--vdev=net_null0",
        ]);
        let allowed: Vec<String> = o.allow.iter().map(|d| d.addr().to_string()).collect();
        assert_eq!(allowed, ["0000:01:00.0", "0000:02:00.1"]);
        assert_eq!(o.allow[0].args(), [("rxq".into(), "2".into())]);
        let vdevs: Vec<(&str, &str)> = o.vdevs.iter().map(|d| (d.name(), d.driver())).collect();
        assert_eq!(
            vdevs,
            [("net_pcap0", "net_pcap"), ("net_null0", "net_null")]
        );
        assert_eq!(o.vdevs[0].get("iface"), Some("eth2"));

        let o = ok(&["-b", "0000:01:00.0", "--block", "1:0.1", "--no-pci"]);
        assert_eq!(o.block.len(), 2);
        assert!(o.no_pci);
    }

    #[test]
    fn bad_devices() {
        let cases: [(&[&str], &str); 8] = [
            (&["-a", "zz"], "-a/--allow"),
            (&["-a", "01:00.0,=x"], "-a/--allow"),
            (&["-b", "01:00.0,k=v"], "-b/--block"),
            (&["-b", "1:2:3:4.0"], "-b/--block"),
            (&["--vdev", ""], "--vdev"),
            (&["--vdev", "0"], "--vdev"),
            (&["--vdev", "net_null0,k=[1"], "--vdev"),
            (&["--vdev", ",iface=eth0"], "--vdev"),
        ];
        for (args, want) in cases {
            let e = err(args);
            assert!(
                matches!(&e, EalError::InvalidValue { option, .. } if *option == want),
                "{args:?}: {e}"
            );
        }
        let e = err(&["-a", "01:00.0", "-b", "02:00.0"]);
        assert!(
            matches!(
                e,
                EalError::ConflictingOptions {
                    first: "-a/--allow",
                    second: "-b/--block",
                    ..
                }
            ),
            "{e}"
        );
        let e = err(&["--no-pci", "-a", "01:00.0"]);
        assert!(
            matches!(
                e,
                EalError::ConflictingOptions {
                    first: "--no-pci",
                    ..
                }
            ),
            "{e}"
        );
        let e = err(&["-a", "01:00.0", "-a", "0000:01:00.0,x=1"]);
        assert!(
            matches!(&e, EalError::DuplicateDevice { option: "-a/--allow", name } if name == "0000:01:00.0"),
            "{e}"
        );
        let e = err(&["--vdev", "net_null0", "--vdev", "net_null0,size=64"]);
        assert!(
            matches!(&e, EalError::DuplicateDevice { option: "--vdev", name } if name == "net_null0"),
            "{e}"
        );
        let e = err(&["-b", "1:0.0", "-b", "1:0.0"]);
        assert!(matches!(e, EalError::DuplicateDevice { .. }), "{e}");
    }

    #[test]
    fn memory_options() {
        let o = ok(&[
            "--no-huge",
            "--in-memory",
            "-m",
            "64",
            "--file-prefix=test",
            "--iova-mode",
            "va",
            "-n",
            "4",
        ]);
        assert!(o.memory.no_huge && o.memory.in_memory);
        assert_eq!(o.memory.file_prefix, "test");
        assert_eq!(o.memory_limit, Some(MemoryLimit::Total { mb: 64 }));
        assert_eq!(o.memory_limit.unwrap().bytes(), 64 << 20);

        let o = ok(&[
            "--socket-mem=512,0",
            "--huge-dir",
            "/dev/hugepages",
            "--iova-mode=pa",
        ]);
        assert_eq!(
            o.memory_limit,
            Some(MemoryLimit::PerSocket { mb: vec![512, 0] })
        );
        assert_eq!(o.memory.huge_dir, Some(PathBuf::from("/dev/hugepages")));
        assert_eq!(o.memory.iova_mode, IovaMode::Pa);

        // Value options may repeat: the last wins, as in DPDK.
        assert_eq!(
            ok(&["-m", "64", "-m", "32"]).memory_limit,
            Some(MemoryLimit::Total { mb: 32 })
        );
        assert!(ok(&["--no-huge", "--no-huge"]).memory.no_huge);
    }

    #[test]
    fn bad_memory_options() {
        let cases: [(&[&str], &str); 11] = [
            (&["-m", "x"], "-m"),
            (&["-m", "0"], "-m"),
            (&["-m", "-5"], "-m"),
            (&["-m", "64K"], "-m"),
            (&["--socket-mem", "0,0"], "--socket-mem"),
            (&["--socket-mem", "512,"], "--socket-mem"),
            (&["--iova-mode", "xx"], "--iova-mode"),
            (&["--file-prefix="], "--file-prefix"),
            (&["--file-prefix", "a%d"], "--file-prefix"),
            (&["--huge-dir="], "--huge-dir"),
            (&["-n", "0"], "-n"),
        ];
        for (args, want) in cases {
            let e = err(args);
            assert!(
                matches!(&e, EalError::InvalidValue { option, .. } if *option == want),
                "{args:?}: {e}"
            );
        }
        let e = err(&["-m", "64", "--socket-mem", "64"]);
        assert!(
            matches!(
                e,
                EalError::ConflictingOptions {
                    first: "-m",
                    second: "--socket-mem",
                    ..
                }
            ),
            "{e}"
        );
        let e = err(&["--no-huge", "--socket-mem", "64"]);
        assert!(
            matches!(
                e,
                EalError::ConflictingOptions {
                    first: "--no-huge",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn log_levels() {
        assert!(
            ok(&["--log-level", "8", "--log-level=pmd.*:err"])
                .log
                .is_some()
        );
        let e = err(&["--log-level", "foo"]);
        assert!(
            matches!(
                e,
                EalError::InvalidValue {
                    option: "--log-level",
                    ..
                }
            ),
            "{e}"
        );
        assert!(matches!(
            err(&["--log-level", "0"]),
            EalError::InvalidValue { .. }
        ));
        assert!(matches!(
            err(&["--log-level", "9"]),
            EalError::InvalidValue { .. }
        ));
        let help = err(&["--log-level=help"]);
        assert!(matches!(&help, EalError::Help(text) if text.contains("8   debug")));
        assert_eq!(help.exit_code(), 0);
    }

    #[test]
    fn help_and_syntax_errors() {
        for flag in ["-h", "--help"] {
            let e = err(&["-l", "0", flag]);
            let EalError::Help(text) = &e else {
                panic!("{flag}: {e}")
            };
            assert!(text.contains("Usage: app [EAL options] -- [application options]"));
            for option in [
                "-l <CORELIST>",
                "--lcores <COREMAP>",
                "--vdev <DEVICE>",
                "--no-huge",
                "--iova-mode <pa|va>",
                "--log-level <LEVEL>",
            ] {
                assert!(text.contains(option), "{flag} lacks {option}:\n{text}");
            }
            assert_eq!(e.exit_code(), 0);
        }

        let e = err(&["--bogus"]);
        assert!(
            matches!(&e, EalError::UnknownOption { option } if option == "--bogus"),
            "{e}"
        );
        assert!(e.to_string().contains("go before `--`"));
        assert_eq!(e.exit_code(), 2);
        let e = err(&["-l", "0", "--no-such", "1"]);
        assert!(
            matches!(&e, EalError::UnknownOption { option } if option == "--no-such"),
            "{e}"
        );
        // Unambiguous prefixes of long options work, as with getopt_long.
        assert!(ok(&["--no-hug", "--file-pre=x"]).memory.no_huge);
        let e = err(&["--no"]);
        assert!(
            matches!(e, EalError::UnknownOption { .. } | EalError::Usage(_)),
            "{e}"
        );
        let e = err(&["-x"]);
        assert!(
            matches!(&e, EalError::UnknownOption { option } if option == "-x"),
            "{e}"
        );
        let e = err(&["-l", "0", "stray", "--", "app-arg"]);
        assert!(
            matches!(&e, EalError::UnexpectedArgument { arg } if arg == "stray"),
            "{e}"
        );
        // As getopt: the next argument is the value, even if it looks like an option.
        let e = err(&["-l", "--no-huge"]);
        assert!(
            matches!(&e, EalError::InvalidValue { option: "-l", value, .. } if value == "--no-huge"),
            "{e}"
        );
        let e = err(&["--vdev"]);
        assert!(
            matches!(&e, EalError::Usage(text) if text.contains("--vdev")),
            "{e}"
        );
        let e = err(&["--no-huge=yes"]);
        assert!(matches!(e, EalError::Usage(_)), "{e}");
    }
}
