//! SIGINT/SIGTERM and the stop flag, in a process of their own: the parent test runs
//! this binary again with only `signal_child` selected, which sends itself the signals;
//! no other test shares that process.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use burst_eal::Eal;

const CHILD: &str = "BURST_EAL_SIGNAL_CHILD";

#[test]
fn first_signal_stops_cleanly_second_terminates() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "signal_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains("stop flag set by SIGTERM"),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGINT),
        "the second signal should terminate the child: {:?}\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );
}

/// Does nothing unless run by the test above.
#[test]
fn signal_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let (eal, _) = Eal::init(["child", "--no-huge", "-l", "0", "--log-level=err"]).unwrap();
    assert!(!eal.stop_requested());

    // SAFETY: raise has no preconditions; SIGTERM is handled by the EAL's handler.
    assert_eq!(unsafe { libc::raise(libc::SIGTERM) }, 0);
    assert!(eal.stop_requested());
    assert!(burst_eal::stop_flag().load(std::sync::atomic::Ordering::Relaxed));
    println!("stop flag set by SIGTERM");
    std::io::stdout().flush().unwrap();

    // A second signal, of the other kind, takes the default action: the process ends.
    // SAFETY: as above; SIGINT now has its default action.
    unsafe { libc::raise(libc::SIGINT) };
    panic!("the second signal did not terminate the process");
}
