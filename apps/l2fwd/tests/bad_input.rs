//! l2fwd refuses bad command lines and devices with DPDK's messages and a non-zero exit
//! code, and never panics.

mod common;

use common::*;

/// Runs l2fwd with the EAL options `eal` (plus the test's own) and application options
/// `app`; checks it failed cleanly with `code` and that stdout + stderr contain every
/// one of `expect`.
fn refused(name: &str, eal: &[&str], app: Option<&[&str]>, code: i32, expect: &[&str]) -> Output {
    let mut args: Vec<String> = eal.iter().map(|s| s.to_string()).collect();
    args.extend(eal_args(name));
    if let Some(app) = app {
        args.push("--".into());
        args.extend(app.iter().map(|s| s.to_string()));
    }
    let out = run(&args);
    assert!(!out.stderr.contains("panicked"), "{out:#?}");
    assert_eq!(out.status.code(), Some(code), "{out:#?}");
    let all = format!("{}{}", out.stdout, out.stderr);
    for e in expect {
        assert!(all.contains(e), "no {e:?} in {out:#?}");
    }
    out
}

const NULL2: [&str; 6] = ["-l", "0-1", "--vdev", "net_null0", "--vdev", "net_null1"];

fn null2_with(extra: &[&'static str]) -> Vec<&'static str> {
    NULL2.iter().chain(extra).copied().collect()
}

const L2FWD_ARGS: &str = "EAL: Error - exiting with code: 1\n  Cause: Invalid L2FWD arguments";

#[test]
fn missing_portmask() {
    refused(
        "nop",
        &NULL2,
        Some(&["-T", "1"]),
        1,
        &["Cause: All available ports are disabled. Please set portmask."],
    );
}

#[test]
fn portmask_naming_a_missing_port() {
    refused(
        "p7",
        &NULL2,
        Some(&["-p", "0x7"]),
        1,
        &["Cause: Invalid portmask; possible (0x3)"],
    );
}

#[test]
fn bad_option_values_print_the_usage() {
    let usage = "[EAL options] -- -p PORTMASK [-P] [-q NQ]";
    for (app, msg) in [
        (&["-p", "0x3", "-q", "0"][..], "invalid queue number"),
        (&["-p", "0x3", "-q", "16"][..], "invalid queue number"),
        (&["-p", "0"][..], "invalid portmask"),
        (&["-p", "xyz"][..], "invalid portmask"),
        (&["-p", "0x3", "-T", "86400"][..], "invalid timer period"),
        (&["-p", "0x3", "-T", "-1"][..], "invalid timer period"),
        (&["-p", "0x3", "--portmap", "(0,1"][..], "Invalid config"),
        (&["-p", "0x3", "--portmap", "(0,99)"][..], "Invalid config"),
        (&["-p", "0x3", "-x"][..], "invalid option -- 'x'"),
        (
            &["-p", "0x3", "--bogus"][..],
            "unrecognized option '--bogus'",
        ),
        (&["-p"][..], "option requires an argument -- 'p'"),
    ] {
        refused("values", &NULL2, Some(app), 1, &[msg, usage, L2FWD_ARGS]);
    }
}

#[test]
fn portmap_naming_ports_wrongly() {
    for (mask, map, msg) in [
        ("0x3", "(0,2)", "port 2 is not enabled in port mask"),
        ("0x7", "(0,2)", "port 2 is not present on the board"),
        ("0x3", "(0,1),(1,0)", "port 0 is used in other port pairs"),
    ] {
        refused(
            "portmap",
            &NULL2,
            Some(&["-p", mask, "--portmap", map]),
            1,
            &[msg, "Cause: Invalid port pair config"],
        );
    }
}

#[test]
fn not_enough_cores() {
    let eal = ["-l", "0", "--vdev", "net_null0", "--vdev", "net_null1"];
    refused(
        "cores",
        &eal,
        Some(&["-p", "0x3"]),
        1,
        &["Cause: Not enough cores"],
    );
}

#[test]
fn no_ports() {
    refused(
        "noports",
        &["-l", "0"],
        Some(&["-p", "0x1"]),
        1,
        &["Cause: No Ethernet ports - bye"],
    );
}

#[test]
fn malformed_devargs() {
    for (vdev, msg) in [
        ("net_null0,size=abc", "net_null0: size=abc"),
        ("net_null0,bogus=1", "net_null0: unknown argument 'bogus'"),
        ("net_bogus0", "unknown device driver 'net_bogus'"),
        ("net_pcap0,rx_pcap", "net_pcap0"),
        (",rx_pcap=a.pcap", "the device name is empty"),
    ] {
        let eal = ["-l", "0", "--vdev", vdev];
        let out = refused(
            "devargs",
            &eal,
            Some(&["-p", "0x1"]),
            out_code(vdev),
            &[msg],
        );
        assert!(!out.stdout.contains("Initializing port"), "{out:#?}");
    }
}

/// Devargs the EAL itself refuses exit with the EAL's usage code (2); the others fail
/// at probe, l2fwd's `rte_exit` (1).
fn out_code(vdev: &str) -> i32 {
    match burst_eal::Devargs::parse(vdev) {
        Ok(_) => 1,
        Err(_) => 2,
    }
}

#[test]
fn missing_pcap_file() {
    let dir = Scratch::new("missing");
    let missing = dir.path("no-such.pcap");
    let vdev = format!("net_pcap0,rx_pcap={}", missing.display());
    let eal = ["-l", "0", "--vdev", vdev.as_str()];
    refused(
        "missing",
        &eal,
        Some(&["-p", "0x1"]),
        1,
        &["no-such.pcap", "EAL: Error - exiting"],
    );
}

#[test]
fn corrupt_pcap_file() {
    let dir = Scratch::new("corrupt");
    let bad = dir.path("bad.pcap");
    std::fs::write(&bad, b"this is not a pcap file at all").unwrap();
    let vdev = format!("net_pcap0,rx_pcap={}", bad.display());
    let eal = ["-l", "0", "--vdev", vdev.as_str()];
    refused("corrupt", &eal, Some(&["-p", "0x1"]), 1, &["bad.pcap"]);
}

#[test]
fn bad_eal_options() {
    refused(
        "eal",
        &null2_with(&["--bogus-eal"]),
        Some(&["-p", "0x3"]),
        2,
        &["EAL: error"],
    );
    refused(
        "eal",
        &["-l", "99999"],
        Some(&["-p", "0x3"]),
        2,
        &["EAL: error"],
    );
}

#[test]
fn help_after_the_separator_is_dpdks_usage() {
    let out = refused(
        "help",
        &NULL2,
        Some(&["-h"]),
        1,
        &["invalid option -- 'h'", L2FWD_ARGS],
    );
    assert!(
        out.stdout
            .contains("  --portmap: Configure forwarding port pair mapping\n")
    );
}
