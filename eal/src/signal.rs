//! SIGINT/SIGTERM → a process-wide stop flag that lcore loops poll, so an application
//! stops cleanly and prints its final statistics (what DPDK's examples each do with
//! their own `force_quit`).
//!
//! The first SIGINT or SIGTERM sets the flag and restores the default action of both,
//! so a second one terminates a process that does not stop.

use std::ffi::c_int;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

/// The stop flag: set by the first SIGINT or SIGTERM after `Eal::init`, polled by lcore
/// loops. An application may also set it (e.g. on a fatal error in one lcore) to stop the
/// others. It only says "stop", so `Relaxed` loads and stores suffice.
pub fn stop_flag() -> &'static AtomicBool {
    &STOP
}

/// Installs the SIGINT/SIGTERM handlers, once per process.
pub(crate) fn install_stop_handlers() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let handler: extern "C" fn(c_int) = on_stop_signal;
        for signal in [libc::SIGINT, libc::SIGTERM] {
            if set_action(signal, handler as libc::sighandler_t) != 0 {
                log::warn!(
                    "cannot handle signal {signal}: {}; it will end the process without a \
                     clean stop",
                    std::io::Error::last_os_error()
                );
            }
        }
    });
}

/// The handler: sets the flag, then makes the next SIGINT/SIGTERM terminate. Touches only
/// an atomic and `sigaction`, both async-signal-safe.
extern "C" fn on_stop_signal(_signal: c_int) {
    STOP.store(true, Ordering::Relaxed);
    for signal in [libc::SIGINT, libc::SIGTERM] {
        set_action(signal, libc::SIG_DFL);
    }
}

/// `sigaction(signal, handler)`: returns its result (0 on success, errno set on failure).
fn set_action(signal: c_int, handler: libc::sighandler_t) -> c_int {
    // SAFETY: sigaction is plain data; all-zero is a valid value (empty signal mask, no
    // flags, SIG_DFL) that the fields below complete.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handler;
    // Interrupted system calls restart: the loops poll the flag rather than rely on EINTR.
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: `action` is initialised; `handler` is SIG_DFL or `on_stop_signal`, an
    // `extern "C" fn(c_int)` that is async-signal-safe; the old action is not asked for.
    unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) }
}
