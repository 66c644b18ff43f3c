//! What `Eal::init` and lcore launches report: each message says what to do.

use std::io::{self, Write};

use crate::lcore::{LcoreId, MAX_LCORE};
use crate::memory::MemoryError;

/// An error from [`Eal::init`](crate::Eal::init) or a launch, or the help text that
/// `-h` asks for. [`EalError::exit`] prints it and exits with [`EalError::exit_code`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EalError {
    /// `-h`/`--help` or `--log-level=help`: not a failure; print it and exit 0.
    #[error("{0}")]
    Help(String),

    /// An option the EAL does not know.
    #[error(
        "unrecognized option '{option}': EAL options go before `--` and the application's \
         after it (-h lists the EAL's)"
    )]
    UnknownOption { option: String },

    /// A non-option argument before `--`.
    #[error(
        "unexpected argument '{arg}' among the EAL options: the application's arguments go \
         after `--`"
    )]
    UnexpectedArgument { arg: String },

    /// Another command-line syntax error, e.g. an option without its value.
    #[error("{0} (-h lists the EAL options)")]
    Usage(String),

    /// An option's value is malformed or out of range.
    #[error("invalid {option} '{value}': {reason}")]
    InvalidValue {
        option: &'static str,
        value: String,
        reason: String,
    },

    /// An option that may appear once appeared again.
    #[error("{option} is given more than once: pass it once")]
    RepeatedOption { option: &'static str },

    /// Two options contradict each other.
    #[error("{first} cannot be used with {second}: {reason}")]
    ConflictingOptions {
        first: &'static str,
        second: &'static str,
        reason: &'static str,
    },

    /// An lcore option names a CPU that is not online.
    #[error(
        "{option} names CPU {cpu}, which is not online here (online CPUs: {online}): use CPUs \
         from that list"
    )]
    CpuUnavailable {
        option: &'static str,
        cpu: usize,
        /// The online CPUs, as a list (`0-3`).
        online: String,
    },

    /// No lcore option was given and no online CPU below `MAX_LCORE` is in this thread's
    /// affinity.
    #[error(
        "no CPU to run on: none of the online CPUs ({online}) below {MAX_LCORE} is in this \
         thread's affinity ({affinity}): choose lcores with -l or --lcores"
    )]
    NoLcores {
        /// The online CPUs, as a list.
        online: String,
        /// This thread's CPUs, as a list.
        affinity: String,
    },

    /// `--main-lcore` names an lcore that is not in the lcore set.
    #[error(
        "main lcore {main} is not one of the lcores ({lcores}): add it to -l/-c/--lcores or \
         pick one of those with --main-lcore"
    )]
    MainLcoreNotEnabled { main: LcoreId, lcores: String },

    /// The same device is listed twice.
    #[error("{option} {name} is given twice: list each device once")]
    DuplicateDevice { option: &'static str, name: String },

    /// Reserving memory failed, or the memory options contradict each other.
    #[error(transparent)]
    Memory(#[from] MemoryError),

    /// A worker lcore's thread could not be created.
    #[error("cannot start the thread of lcore {lcore}: {source}")]
    Spawn { lcore: LcoreId, source: io::Error },

    /// A launch named an lcore that still runs an earlier launch.
    #[error(
        "lcore {lcore} is still running a launched function: wait for it before launching \
         another"
    )]
    LcoreBusy { lcore: LcoreId },

    /// A launch named an lcore that is not in the lcore set.
    #[error("lcore {lcore} is not one of this EAL's lcores ({lcores})")]
    NotAnLcore { lcore: LcoreId, lcores: String },

    /// A launch gave one lcore two functions.
    #[error("lcore {lcore} is given two functions to run: give each lcore one")]
    DuplicateLaunch { lcore: LcoreId },
}

impl EalError {
    /// The process exit code for this error: 0 for help, 2 for a bad command line, 1 for a
    /// failure of the system or of a launch.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Help(_) => 0,
            Self::Memory(MemoryError::InvalidConfig(_)) => 2,
            Self::Memory(_)
            | Self::Spawn { .. }
            | Self::LcoreBusy { .. }
            | Self::NotAnLcore { .. }
            | Self::DuplicateLaunch { .. } => 1,
            _ => 2,
        }
    }

    /// Prints help to stdout, or the error to stderr, and exits with
    /// [`exit_code`](Self::exit_code): what an application does when `Eal::init` fails.
    pub fn exit(&self) -> ! {
        // Write errors are ignored: the process is exiting, and a closed pipe
        // (`app -h | head`) must not turn into a panic.
        if let Self::Help(text) = self {
            let _ = io::stdout().lock().write_all(text.as_bytes());
            let _ = io::stdout().flush();
        } else {
            let _ = writeln!(io::stderr().lock(), "EAL: error: {self}");
        }
        std::process::exit(self.exit_code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(EalError::Help("usage".into()).exit_code(), 0);
        assert_eq!(
            EalError::UnknownOption {
                option: "--bogus".into()
            }
            .exit_code(),
            2
        );
        assert_eq!(
            EalError::Memory(MemoryError::InvalidConfig("drop one")).exit_code(),
            2
        );
        assert_eq!(
            EalError::Memory(MemoryError::PhysAddrUnavailable).exit_code(),
            1
        );
        let lcore = LcoreId::new(1).unwrap();
        assert_eq!(EalError::LcoreBusy { lcore }.exit_code(), 1);
    }

    #[test]
    fn errors_cross_threads() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<EalError>();
    }
}
