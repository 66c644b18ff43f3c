//! Logging (DPDK's `rte_log`) through the `log` facade, set by `--log-level`.
//!
//! A record's *type* is its target with the `burst_` crate prefix dropped and `::` turned
//! into `.`: `burst_pmd::drivers::pcap` logs as `pmd.drivers.pcap`, an app `l2fwd` as
//! `l2fwd`. `--log-level` takes DPDK's forms: a global level, `<glob>:<level>` (matched
//! with `fnmatch`, as DPDK does) or `<regex>,<level>` (a POSIX basic regular expression,
//! matched with `regexec`, as DPDK does). A level is 1-8 or a prefix of
//! emerg, alert, crit, err, warning, notice, info, debug. They map onto `log`'s levels:
//! emerg..err → error, warning → warn, notice and info → info, debug → trace (DPDK has
//! nothing beyond debug, so it shows everything).
//!
//! Unlike DPDK, where a record must pass both the global and its type's level, a type
//! level overrides the global one (later options win), so `--log-level=err
//! --log-level='pmd.*:debug'` shows the drivers' debug output and only errors from the
//! rest. The default is info, as in DPDK.

use std::ffi::{CString, c_int};
use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::sync::{OnceLock, PoisonError, RwLock};

use log::{LevelFilter, Log, Metadata, Record};

/// DPDK's level names, for levels 1 to 8.
const LEVEL_NAMES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// The log levels in force: a global one and per-type overrides.
#[derive(Debug)]
pub(crate) struct LogConfig {
    global: LevelFilter,
    /// In option order; the last that matches a type decides its level.
    rules: Vec<(TypeMatch, LevelFilter)>,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl LogConfig {
    /// Info everywhere, as DPDK.
    const DEFAULT: Self = Self {
        global: LevelFilter::Info,
        rules: Vec::new(),
    };

    /// Applies one `--log-level` value: `<level>`, `<glob>:<level>` or `<regex>,<level>`.
    /// (`help` is the caller's.)
    pub(crate) fn apply(&mut self, arg: &str) -> Result<(), String> {
        if let Some((regex, level)) = arg.split_once(',') {
            let level = parse_level(level)?;
            self.rules.push((TypeMatch::regex(regex)?, level));
        } else if let Some((glob, level)) = arg.split_once(':') {
            let level = parse_level(level)?;
            self.rules.push((TypeMatch::glob(glob)?, level));
        } else {
            self.global = parse_level(arg)?;
        }
        Ok(())
    }

    /// The level for records of `log_type`.
    fn level_for(&self, log_type: &str) -> LevelFilter {
        self.rules
            .iter()
            .rev()
            .find(|(pattern, _)| pattern.matches(log_type))
            .map_or(self.global, |&(_, level)| level)
    }

    /// The most verbose level any type gets: `log`'s cheap static filter.
    fn max_level(&self) -> LevelFilter {
        self.rules
            .iter()
            .map(|&(_, level)| level)
            .fold(self.global, Ord::max)
    }
}

/// The text `--log-level=help` shows.
pub(crate) fn usage() -> String {
    let mut text = String::from(
        "Log types are log targets with the burst_ prefix dropped and :: as '.', e.g. \
         eal.lcore, pmd.drivers.pcap, l2fwd.\n\
         Syntax using globbing pattern:     --log-level pattern:level\n\
         Syntax using regular expression:   --log-level regexp,level\n\
         Syntax for the global level:       --log-level level\n\
         A type's level overrides the global one; later options win.\n\n\
         Log level can be a number or the first letters of its name:\n",
    );
    for (i, name) in LEVEL_NAMES.iter().enumerate() {
        text.push_str(&format!("\t{}   {name}\n", i + 1));
    }
    text
}

/// Parses a DPDK level (1-8, or a prefix of its name) into `log`'s filter.
fn parse_level(text: &str) -> Result<LevelFilter, String> {
    let lower = text.to_ascii_lowercase();
    let level = if lower.is_empty() {
        None
    } else if let Some(i) = LEVEL_NAMES.iter().position(|name| name.starts_with(&lower)) {
        Some(i + 1)
    } else if let Some(hex) = lower.strip_prefix("0x") {
        usize::from_str_radix(hex, 16).ok()
    } else {
        lower.parse().ok()
    };
    match level {
        Some(1..=4) => Ok(LevelFilter::Error),
        Some(5) => Ok(LevelFilter::Warn),
        Some(6 | 7) => Ok(LevelFilter::Info),
        Some(8) => Ok(LevelFilter::Trace),
        _ => Err(format!(
            "'{text}' is not a log level: use 1 (emerg) to 8 (debug) or a name: {}",
            LEVEL_NAMES.join(", ")
        )),
    }
}

/// The log type of a `log` target: `burst_pmd::drivers::pcap` → `pmd.drivers.pcap`.
fn log_type(target: &str) -> String {
    target
        .strip_prefix("burst_")
        .unwrap_or(target)
        .replace("::", ".")
}

/// A pattern over log types: an `fnmatch` glob or a POSIX regex, as DPDK's.
#[derive(Debug)]
enum TypeMatch {
    Glob(CString),
    Regex(PosixRegex),
}

impl TypeMatch {
    fn glob(pattern: &str) -> Result<Self, String> {
        if pattern.is_empty() {
            return Err("the type pattern before ':' is empty".into());
        }
        CString::new(pattern)
            .map(Self::Glob)
            .map_err(|_| "a type pattern cannot hold a NUL byte".into())
    }

    fn regex(pattern: &str) -> Result<Self, String> {
        if pattern.is_empty() {
            return Err("the type regex before ',' is empty".into());
        }
        PosixRegex::new(pattern).map(Self::Regex)
    }

    fn matches(&self, log_type: &str) -> bool {
        let Ok(log_type) = CString::new(log_type) else {
            return false;
        };
        match self {
            // SAFETY: both are NUL-terminated strings that live across the call.
            Self::Glob(glob) => unsafe { libc::fnmatch(glob.as_ptr(), log_type.as_ptr(), 0) == 0 },
            Self::Regex(regex) => regex.is_match(&log_type),
        }
    }
}

/// A compiled POSIX basic regular expression (`regcomp` with DPDK's flags, plus
/// `REG_NOSUB` as only a match is asked for).
struct PosixRegex {
    /// Boxed so its address stays fixed from `regcomp` to `regfree`.
    compiled: Box<libc::regex_t>,
    pattern: String,
}

// SAFETY: the compiled regex is owned and only freed in Drop; glibc's regexec is
// MT-Safe (it locks the compiled pattern internally), so sharing it across threads
// for matching is sound, and nothing else mutates it.
unsafe impl Send for PosixRegex {}
// SAFETY: see Send: matching through `&self` is thread-safe in glibc.
unsafe impl Sync for PosixRegex {}

impl PosixRegex {
    fn new(pattern: &str) -> Result<Self, String> {
        let c_pattern =
            CString::new(pattern).map_err(|_| "a type regex cannot hold a NUL byte".to_owned())?;
        let mut compiled = Box::new(MaybeUninit::<libc::regex_t>::uninit());
        // SAFETY: `compiled` is writable storage for a regex_t, which regcomp fills in;
        // the pattern is NUL-terminated.
        let rc: c_int =
            unsafe { libc::regcomp(compiled.as_mut_ptr(), c_pattern.as_ptr(), libc::REG_NOSUB) };
        if rc != 0 {
            return Err(format!(
                "'{pattern}' is not a POSIX regular expression (regcomp error {rc})"
            ));
        }
        Ok(Self {
            // SAFETY: regcomp succeeded, so it initialised the regex_t.
            compiled: unsafe { compiled.assume_init() },
            pattern: pattern.into(),
        })
    }

    fn is_match(&self, text: &CString) -> bool {
        // SAFETY: `compiled` was initialised by regcomp and not yet freed; `text` is
        // NUL-terminated; no match offsets are asked for (nmatch 0, pmatch null).
        unsafe { libc::regexec(&*self.compiled, text.as_ptr(), 0, std::ptr::null_mut(), 0) == 0 }
    }
}

impl Drop for PosixRegex {
    fn drop(&mut self) {
        // SAFETY: `compiled` was initialised by regcomp and is freed only here.
        unsafe { libc::regfree(&mut *self.compiled) };
    }
}

impl std::fmt::Debug for PosixRegex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PosixRegex({:?})", self.pattern)
    }
}

/// The process's logger: writes `LEVEL type: message` lines to stderr.
struct Logger {
    config: RwLock<LogConfig>,
}

static LOGGER: Logger = Logger {
    config: RwLock::new(LogConfig::DEFAULT),
};

impl Logger {
    fn level_for(&self, target: &str) -> LevelFilter {
        self.config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .level_for(&log_type(target))
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level_for(metadata.target())
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // A failed write to stderr has nowhere to be reported; logging must not panic.
        let _ = writeln!(
            io::stderr().lock(),
            "{:<5} {}: {}",
            record.level(),
            log_type(record.target()),
            record.args()
        );
    }

    fn flush(&self) {
        let _ = io::stderr().flush();
    }
}

/// Installs the logger (once per process) and sets the levels; `None` (no
/// `--log-level`) restores the default. If the application installed another logger
/// first, that one stays and `--log-level` is ignored, with a warning.
pub(crate) fn init(config: Option<LogConfig>) {
    static OURS: OnceLock<bool> = OnceLock::new();
    let ours = *OURS.get_or_init(|| log::set_logger(&LOGGER).is_ok());
    if !ours {
        if config.is_some() {
            log::warn!(
                "another logger was installed before Eal::init: --log-level is ignored; \
                 set levels through that logger"
            );
        }
        return;
    }
    let config = config.unwrap_or_default();
    log::set_max_level(config.max_level());
    *LOGGER
        .config
        .write()
        .unwrap_or_else(PoisonError::into_inner) = config;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> LogConfig {
        let mut config = LogConfig::default();
        for arg in args {
            config.apply(arg).unwrap();
        }
        config
    }

    #[test]
    fn levels_by_number_and_name_prefix() {
        let cases = [
            ("1", LevelFilter::Error),
            ("4", LevelFilter::Error),
            ("0x5", LevelFilter::Warn),
            ("6", LevelFilter::Info),
            ("7", LevelFilter::Info),
            ("8", LevelFilter::Trace),
            ("emerg", LevelFilter::Error),
            ("alert", LevelFilter::Error),
            ("crit", LevelFilter::Error),
            ("err", LevelFilter::Error),
            ("warning", LevelFilter::Warn),
            ("warn", LevelFilter::Warn),
            ("notice", LevelFilter::Info),
            ("info", LevelFilter::Info),
            ("debug", LevelFilter::Trace),
            ("d", LevelFilter::Trace),
            ("e", LevelFilter::Error),
            ("DEBUG", LevelFilter::Trace),
        ];
        for (text, want) in cases {
            assert_eq!(parse_level(text), Ok(want), "{text}");
        }
        for bad in ["", "0", "9", "foo", "error", "-1", "trace"] {
            let err = parse_level(bad).unwrap_err();
            assert!(err.contains("1 (emerg) to 8 (debug)"), "{bad}: {err}");
        }
    }

    #[test]
    fn types_come_from_targets() {
        assert_eq!(log_type("burst_pmd::drivers::pcap"), "pmd.drivers.pcap");
        assert_eq!(log_type("burst_eal"), "eal");
        assert_eq!(log_type("l2fwd::stats"), "l2fwd.stats");
    }

    #[test]
    fn globs_and_regexes_override_the_global_level_last_wins() {
        let c = config(&["err", "pmd.*:debug", "pmd.drivers.tap:warning"]);
        assert_eq!(c.level_for("eal.lcore"), LevelFilter::Error);
        assert_eq!(c.level_for("pmd.drivers.pcap"), LevelFilter::Trace);
        assert_eq!(c.level_for("pmd.drivers.tap"), LevelFilter::Warn);
        assert_eq!(c.max_level(), LevelFilter::Trace);

        let c = config(&["eal\\.l.*,8", "notice"]);
        assert_eq!(c.level_for("eal.lcore"), LevelFilter::Trace);
        assert_eq!(c.level_for("eal.memory"), LevelFilter::Info);
        // Unanchored, as regexec is.
        assert_eq!(c.level_for("x.eal.lo"), LevelFilter::Trace);

        let c = config(&["l2fwd?:1"]);
        assert_eq!(c.level_for("l2fwdx"), LevelFilter::Error);
        assert_eq!(c.level_for("l2fwd"), LevelFilter::Info);

        assert_eq!(LogConfig::default().max_level(), LevelFilter::Info);
    }

    #[test]
    fn bad_log_options() {
        let cases = [
            ("foo", "'foo' is not a log level"),
            ("pmd.*:bar", "'bar' is not a log level"),
            (":debug", "pattern before ':' is empty"),
            (",debug", "regex before ',' is empty"),
            ("pmd\\(,debug", "not a POSIX regular expression"),
            ("pmd.*:", "'' is not a log level"),
        ];
        for (arg, want) in cases {
            let err = LogConfig::default().apply(arg).unwrap_err();
            assert!(err.contains(want), "{arg}: {err}");
        }
    }

    #[test]
    fn usage_lists_the_levels() {
        let text = usage();
        assert!(text.contains("\t1   emerg\n") && text.contains("\t8   debug\n"));
        assert!(text.contains("pattern:level") && text.contains("regexp,level"));
    }
}
