//! l3fwd refuses bad rule files, command lines and configurations with DPDK's messages
//! (and, for rule files, the line and what is wrong with it) and exit code 1, and never
//! panics.

mod common;

use common::*;

/// Runs l3fwd on two null ports with application options `app`; checks it failed
/// cleanly with exit code 1 and that stdout + stderr contain every one of `expect`.
fn refused(name: &str, lcores: &str, app: &[&str], expect: &[&str]) -> Output {
    let vdevs = ["net_null0".to_string(), "net_null1".to_string()];
    let out = run(&args(name, lcores, &vdevs, app));
    assert!(!out.stderr.contains("panicked"), "{out:#?}");
    assert_eq!(out.status.code(), Some(1), "{out:#?}");
    let all = format!("{}{}", out.stdout, out.stderr);
    for e in expect {
        assert!(all.contains(e), "no {e:?} in {out:#?}");
    }
    out
}

const OK: [&str; 5] = ["-p", "0x3", "--config", "(0,0,0)", "--parse-ptype"];

fn with<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    OK.iter().copied().chain(extra.iter().copied()).collect()
}

#[test]
fn bad_rule_files_name_the_line() {
    let dir = Scratch::new("rules");
    let v4 = |name: &str, text: &str| rule_file(&dir, name, text);
    for (file, text, msg) in [
        (
            "syntax.cfg",
            "# routes\nR10.0.0.0/8 1\nX10.1.0.0/16 0\n",
            "syntax.cfg Line 3: should start with leading char R",
        ),
        (
            "depth.cfg",
            "R10.0.0.0/8 1\n\nR10.1.0.0/40 0\n",
            "depth.cfg Line 3: bad prefix length \"40\": expected a number in 0..=32",
        ),
        (
            "addr.cfg",
            "R10.0.0.300/8 1\n",
            "addr.cfg Line 1: bad address \"10.0.0.300\": not an IPv4 address",
        ),
        (
            "fields.cfg",
            "R10.0.0.0/8\n",
            "fields.cfg Line 1: 1 of 2 fields: expected R<address>/<depth> <port>",
        ),
        (
            "port.cfg",
            "R10.0.0.0/8 1\nR11.0.0.0/8 7\n",
            "port.cfg Line 2: port 7 is not present on the board (2 ports)",
        ),
        (
            "bigport.cfg",
            "R10.0.0.0/8 300\n",
            "bigport.cfg Line 1: bad port \"300\": expected a number in 0..=255",
        ),
        (
            "empty.cfg",
            "# nothing\n\n",
            "empty.cfg: no rule (no line starts with 'R')",
        ),
    ] {
        let path = v4(file, text);
        refused(
            "rules",
            "0",
            &with(&["--rule_ipv4", &path]),
            &[msg, "Cause: Failed to add IPv4 rules"],
        );
    }
    let missing = dir.path("missing.cfg").display().to_string();
    refused(
        "rules",
        "0",
        &with(&["--rule_ipv4", &missing]),
        &[
            "cannot read rule file",
            "missing.cfg",
            "Failed to add IPv4 rules",
        ],
    );
    let v6 = v4("v6.cfg", "R2001:db8::/64 1\nR2001:db8::/129 1\n");
    refused(
        "rules",
        "0",
        &with(&["--rule_ipv6", &v6]),
        &[
            "v6.cfg Line 2: bad prefix length \"129\"",
            "Cause: Failed to add IPv6 rules",
        ],
    );
    let em = v4(
        "em.cfg",
        "R1.2.3.4 1.2.3.5 9 9 17 0\nR1.2.3.4 1.2.3.5 9 99999 17 0\n",
    );
    refused(
        "rules",
        "0",
        &with(&["-E", "--rule_ipv4", &em]),
        &[
            "em.cfg Line 2: bad source port \"99999\"",
            "Cause: Failed to add EM IPv4 rules",
        ],
    );
}

/// [`refused`] with the options of `line`, split at spaces.
fn refused_line(name: &str, line: &str, expect: &[&str]) -> Output {
    let app: Vec<&str> = line.split_whitespace().collect();
    refused(name, "0", &app, expect)
}

#[test]
fn bad_options_print_the_usage() {
    let usage = "[EAL options] -- -p PORTMASK";
    let cause = "EAL: Error - exiting with code: 1\n  Cause: Invalid L3FWD parameters";
    for (app, msg) in [
        ("-p 0", "Invalid portmask"),
        ("-p xyz", "Invalid portmask"),
        ("-p 3 --config (0,0", "Invalid config"),
        ("-p 3 --config (0,0,999)", "Invalid config"),
        ("-p 3 -T 86400", "invalid timer period"),
        ("-p 3 -x", "invalid option -- 'x'"),
        ("-p 3 --bogus", "unrecognized option '--bogus'"),
        ("-p", "option requires an argument -- 'p'"),
    ] {
        refused_line("opts", app, &[msg, usage, cause]);
    }
    // Refused without the usage, as DPDK.
    for (app, msg) in [
        ("-p 3 -E -L", "Only one lookup mode is allowed at a time!"),
        (
            "-p 3 --lookup hash",
            "Invalid lookup option! Accepted options",
        ),
        (
            "-p 3 --lookup fib",
            "--lookup fib is not supported by burst's l3fwd",
        ),
    ] {
        let out = refused_line("opts", app, &[msg, cause]);
        assert!(!out.stderr.contains(usage), "{out:#?}");
    }
    for (app, msg) in [
        (
            "-p 3 --eth-dest 1;02:00:00:00:00:01",
            "Cause: Invalid eth-dest: 1;",
        ),
        (
            "-p 3 --eth-dest 1,zz",
            "Cause: Invalid ethernet address: zz",
        ),
        ("-p 3 --rx-queue-size 0", "Cause: Invalid rx-queue-size"),
        (
            "-p 3 --tx-queue-size 65536",
            "Cause: tx-queue-size 65536 > 65535",
        ),
    ] {
        refused_line("opts", app, &[msg]);
    }
}

#[test]
fn bad_configurations() {
    for (app, msg) in [
        // DPDK's default --config wants lcores 2 and 3.
        (
            "-p 3 --parse-ptype",
            "error: lcore 2 is not enabled in lcore mask",
        ),
        (
            "-p 1 --config (1,0,0)",
            "port 1 is not enabled in port mask",
        ),
        (
            "-p 7 --config (0,0,0)",
            "Cause: Invalid portmask; possible (0x3)",
        ),
        (
            "-p 3 --config (0,1,0)",
            "Cause: queue ids of the port 0 must be in sequence and must start with 0",
        ),
        ("-p 3 --config (0,200,0)", "invalid queue number: 200"),
        (
            "-p 3 --config (0,0,0) --max-pkt-len 10000 --parse-ptype",
            "Cause: Invalid max packet length: 10000 (port 0)",
        ),
    ] {
        refused_line("config", app, &[msg]);
    }
    // Without --parse-ptype, as DPDK's l3fwd on ports that report no packet types.
    refused(
        "ptype",
        "0",
        &["-p", "3", "--config", "(0,0,0)"],
        &[
            "port 0 cannot parse RTE_PTYPE_L3_IPV4\n",
            "port 0 cannot parse packet type, please add --parse-ptype",
            "Cause: ptype check fails",
        ],
    );
    refused(
        "ptype",
        "0",
        &["-p", "3", "--config", "(0,0,0)", "-E"],
        &[
            "port 0 cannot parse RTE_PTYPE_L3_IPV4_EXT\n",
            "Cause: ptype check fails",
        ],
    );
}
