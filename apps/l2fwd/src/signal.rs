//! SIGINT/SIGTERM: DPDK's l2fwd says which signal stopped it ("Signal 2 received,
//! preparing to exit..."), which the EAL's stop flag alone does not tell. This handler
//! replaces the EAL's: it records the signal, sets [`burst_eal::stop_flag`] as the EAL's
//! does, and restores the default action, so a second signal ends a stuck process.

use std::ffi::c_int;
use std::sync::atomic::{AtomicI32, Ordering};

static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// The signal that asked the application to stop, if one did.
pub fn received() -> Option<i32> {
    match SIGNAL.load(Ordering::Relaxed) {
        0 => None,
        n => Some(n),
    }
}

/// Installs the handler for SIGINT and SIGTERM; call after `Eal::init`.
pub fn install() {
    let handler: extern "C" fn(c_int) = on_signal;
    for signal in [libc::SIGINT, libc::SIGTERM] {
        if set_action(signal, handler as libc::sighandler_t) != 0 {
            log::warn!(
                target: "l2fwd",
                "cannot handle signal {signal}: {}; it will end l2fwd without statistics",
                std::io::Error::last_os_error()
            );
        }
    }
}

/// Touches only atomics and `sigaction`, all async-signal-safe.
extern "C" fn on_signal(signal: c_int) {
    // The first signal is the one reported.
    let _ = SIGNAL.compare_exchange(0, signal, Ordering::Relaxed, Ordering::Relaxed);
    burst_eal::stop_flag().store(true, Ordering::Relaxed);
    for signal in [libc::SIGINT, libc::SIGTERM] {
        set_action(signal, libc::SIG_DFL);
    }
}

/// `sigaction(signal, handler)`: 0 on success, -1 with errno set.
fn set_action(signal: c_int, handler: libc::sighandler_t) -> c_int {
    // SAFETY: sigaction is plain data; all-zero is a valid value (empty mask, no flags,
    // SIG_DFL) that the fields below complete.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handler;
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: `action` is initialised; `handler` is SIG_DFL or `on_signal`, an
    // async-signal-safe `extern "C" fn(c_int)`; the old action is not asked for.
    unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) }
}
