//! l2fwd end to end: pcap files in, the real binary forwarding, pcap files out, read back
//! and parsed with `pcap-file` and `etherparse`; stopped with SIGINT/SIGTERM, and every
//! mbuf back in the pool at exit.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Long enough for a busy 2-CPU machine running other tests.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Runs l2fwd until its statistics show `expect` packets sent, then sends SIGINT.
fn forward(name: &str, lcores: &str, vdevs: &[String], app: &[&str], expect: u64) -> Output {
    let mut l2fwd = Running::start(&args(name, lcores, vdevs, app));
    let done = l2fwd.wait_for_total("sent", expect, TIMEOUT);
    let out = l2fwd.stop(libc::SIGINT);
    assert!(done, "{expect} packets were not sent in time: {out:#?}");
    out.assert_clean_exit();
    assert!(
        out.stdout
            .contains("\n\nSignal 2 received, preparing to exit...\n"),
        "{out:#?}"
    );
    assert_eq!(out.last_total("sent"), Some(expect), "{}", out.stdout);
    assert_eq!(out.last_total("received"), Some(expect), "{}", out.stdout);
    assert_eq!(out.last_total("dropped"), Some(0), "{}", out.stdout);
    out
}

#[test]
fn pcap_to_pcap_once_in_order_with_mac_rewrite() {
    let dir = Scratch::new("oneway");
    let frames = test_frames(100, 1);
    write_pcap(&dir.path("in.pcap"), &frames);
    let vdevs = [
        format!("net_pcap0,rx_pcap={}", dir.path("in.pcap").display()),
        format!("net_pcap1,tx_pcap={}", dir.path("out.pcap").display()),
    ];
    let out = forward(
        "oneway",
        "0",
        &vdevs,
        &["-p", "0x3", "-q", "2", "-T", "1"],
        100,
    );
    assert!(
        out.stdout.starts_with("MAC updating enabled\n"),
        "{}",
        out.stdout
    );
    for line in [
        "Lcore 0: RX port 0 TX port 1\n",
        "Lcore 0: RX port 1 TX port 0\n",
        "Initializing port 0... done: \n",
        "\nChecking link status",
        "Port 1 Link up at 10 Gbps FDX",
        "Closing port 0... Done\nClosing port 1... Done\n",
    ] {
        assert!(out.stdout.contains(line), "no {line:?} in:\n{}", out.stdout);
    }
    let mac1 = port_mac(&out.stdout, 1);
    assert_forwarded(&frames, &read_pcap(&dir.path("out.pcap")), Some((1, mac1)));
}

#[test]
fn no_mac_updating_forwards_frames_unchanged() {
    let dir = Scratch::new("nomac");
    let frames = test_frames(70, 4);
    write_pcap(&dir.path("in.pcap"), &frames);
    let vdevs = [
        format!("net_pcap0,rx_pcap={}", dir.path("in.pcap").display()),
        format!("net_pcap1,tx_pcap={}", dir.path("out.pcap").display()),
    ];
    let app = ["-p", "3", "-q", "2", "-T", "1", "--no-mac-updating"];
    let out = forward("nomac", "0", &vdevs, &app, 70);
    assert!(
        out.stdout.starts_with("MAC updating disabled\n"),
        "{}",
        out.stdout
    );
    let got = read_pcap(&dir.path("out.pcap"));
    assert_forwarded(&frames, &got, None);
    assert_eq!(got, frames);
}

/// Two lcores, each polling one port and sending on the other.
#[test]
fn both_directions_on_two_lcores() {
    let dir = Scratch::new("both");
    let a = test_frames(80, 2);
    let b = test_frames(50, 3);
    write_pcap(&dir.path("a.pcap"), &a);
    write_pcap(&dir.path("b.pcap"), &b);
    let vdevs = [
        format!(
            "net_pcap0,rx_pcap={},tx_pcap={}",
            dir.path("a.pcap").display(),
            dir.path("a_out.pcap").display()
        ),
        format!(
            "net_pcap1,rx_pcap={},tx_pcap={}",
            dir.path("b.pcap").display(),
            dir.path("b_out.pcap").display()
        ),
    ];
    let out = forward("both", "0-1", &vdevs, &["-p", "0x3", "-T", "1"], 130);
    assert!(
        out.stdout
            .contains("Lcore 0: RX port 0 TX port 1\nLcore 1: RX port 1 TX port 0\n")
    );
    let (mac0, mac1) = (port_mac(&out.stdout, 0), port_mac(&out.stdout, 1));
    assert_forwarded(&a, &read_pcap(&dir.path("b_out.pcap")), Some((1, mac1)));
    assert_forwarded(&b, &read_pcap(&dir.path("a_out.pcap")), Some((0, mac0)));
}

/// An odd number of ports: the last one sends back out of itself.
#[test]
fn odd_port_forwards_to_itself() {
    let dir = Scratch::new("odd");
    let a = test_frames(30, 5);
    let c = test_frames(40, 6);
    write_pcap(&dir.path("a.pcap"), &a);
    write_pcap(&dir.path("c.pcap"), &c);
    let vdevs = [
        format!("net_pcap0,rx_pcap={}", dir.path("a.pcap").display()),
        format!("net_pcap1,tx_pcap={}", dir.path("b_out.pcap").display()),
        format!(
            "net_pcap2,rx_pcap={},tx_pcap={}",
            dir.path("c.pcap").display(),
            dir.path("c_out.pcap").display()
        ),
    ];
    let out = forward("odd", "0", &vdevs, &["-p", "0x7", "-q", "3", "-T", "1"], 70);
    assert!(
        out.stdout
            .contains("Notice: odd number of ports in portmask.\n")
    );
    assert!(out.stdout.contains("Lcore 0: RX port 2 TX port 2\n"));
    let (mac1, mac2) = (port_mac(&out.stdout, 1), port_mac(&out.stdout, 2));
    assert_forwarded(&a, &read_pcap(&dir.path("b_out.pcap")), Some((1, mac1)));
    assert_forwarded(&c, &read_pcap(&dir.path("c_out.pcap")), Some((2, mac2)));
}

/// `--portmap` pairs ports 0 and 2; port 1, outside the pairs, is left out.
#[test]
fn portmap_pairs_the_named_ports() {
    let dir = Scratch::new("portmap");
    let a = test_frames(25, 7);
    write_pcap(&dir.path("a.pcap"), &a);
    let vdevs = [
        format!("net_pcap0,rx_pcap={}", dir.path("a.pcap").display()),
        format!("net_pcap1,tx_pcap={}", dir.path("unused.pcap").display()),
        format!("net_pcap2,tx_pcap={}", dir.path("c_out.pcap").display()),
    ];
    let app = ["-p", "0x7", "-q", "2", "-T", "1", "--portmap", "(0,2)"];
    let out = forward("portmap", "0", &vdevs, &app, 25);
    assert!(
        out.stdout
            .contains("Lcore 0: RX port 0 TX port 2\nLcore 0: RX port 2 TX port 0\n")
    );
    assert!(out.stdout.contains("Skipping disabled port 1\n"));
    assert!(!out.stdout.contains("Statistics for port 1 "));
    let mac2 = port_mac(&out.stdout, 2);
    assert_forwarded(&a, &read_pcap(&dir.path("c_out.pcap")), Some((2, mac2)));
    assert!(read_pcap(&dir.path("unused.pcap")).is_empty());
}

/// The shipped sample replayed forever (`infinite_rx=1`), as the README runs it,
/// stopped once some 200 kB went out: everything counted as sent is in the file.
#[test]
fn sample_pcap_replayed_forever() {
    let dir = Scratch::new("infinite");
    let out_pcap = dir.path("out.pcap");
    let vdevs = [
        format!(
            "net_pcap0,rx_pcap={},infinite_rx=1",
            sample_pcap().display()
        ),
        format!("net_pcap1,tx_pcap={}", out_pcap.display()),
    ];
    let l2fwd = Running::start(&args("infinite", "0-1", &vdevs, &["-p", "0x3", "-T", "1"]));
    let start = Instant::now();
    while std::fs::metadata(&out_pcap).map_or(0, |m| m.len()) < 200_000 {
        assert!(start.elapsed() < TIMEOUT, "no output in time");
        std::thread::sleep(Duration::from_millis(1));
    }
    let out = l2fwd.stop(libc::SIGTERM);
    out.assert_clean_exit();
    assert!(
        out.stdout
            .contains("\n\nSignal 15 received, preparing to exit...\n")
    );
    let got = read_pcap(&out_pcap);
    assert_eq!(
        Some(got.len() as u64),
        out.last_total("sent"),
        "{}",
        out.stdout
    );
    let sample = sample_frames();
    let expect: Vec<Vec<u8>> = sample.iter().cycle().take(got.len()).cloned().collect();
    assert_forwarded(&expect, &got, Some((1, port_mac(&out.stdout, 1))));
}

/// Two `net_null` ports, one lcore each: packets flow, the statistics are DPDK's.
#[test]
fn null_ports_forward_and_print_statistics() {
    let vdevs = ["net_null0".to_string(), "net_null1".to_string()];
    let mut l2fwd = Running::start(&args("null", "0-1", &vdevs, &["-p", "0x3", "-T", "1"]));
    let flowing = l2fwd.wait_for(TIMEOUT, |out| {
        out.matches("Aggregate statistics").count() >= 2
            && out
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("Total packets received:"))
                .is_some_and(|v| v.trim().parse::<u64>().is_ok_and(|n| n > 0))
    });
    let out = l2fwd.stop(libc::SIGINT);
    assert!(flowing, "{out:#?}");
    out.assert_clean_exit();
    let stats = out.stdout.rsplit("\x1b[2J\x1b[1;1H").next().unwrap();
    let lines: Vec<&str> = stats.lines().collect();
    assert_eq!(lines[0], "");
    assert_eq!(
        lines[1],
        "Port statistics ===================================="
    );
    assert_eq!(
        lines[2],
        "Statistics for port 0 ------------------------------"
    );
    assert!(lines[3].starts_with("Packets sent: ") && lines[3].len() == 14 + 24);
    assert!(lines[4].starts_with("Packets received: ") && lines[4].len() == 18 + 20);
    assert!(lines[5].starts_with("Packets dropped: ") && lines[5].len() == 17 + 21);
    assert_eq!(
        lines[10],
        "Aggregate statistics ==============================="
    );
    assert_eq!(
        lines[14],
        "===================================================="
    );
    assert_eq!(out.last_total("dropped"), Some(0));
    // At exit every packet received was sent: nothing is left in a TX buffer.
    assert_eq!(out.last_total("sent"), out.last_total("received"));
}

/// `data/sample.pcap` is what `sample_frames` makes; `L2FWD_WRITE_SAMPLE=1` rewrites it.
#[test]
fn sample_pcap_is_the_generated_one() {
    let bytes = pcap_bytes(&sample_frames());
    if std::env::var_os("L2FWD_WRITE_SAMPLE").is_some() {
        std::fs::write(sample_pcap(), &bytes).unwrap();
    }
    assert!(bytes.len() < 10_000, "{} bytes", bytes.len());
    let shipped =
        std::fs::read(sample_pcap()).expect("data/sample.pcap (L2FWD_WRITE_SAMPLE=1 makes it)");
    assert!(
        shipped == bytes,
        "data/sample.pcap differs: regenerate with L2FWD_WRITE_SAMPLE=1"
    );
    for (i, f) in sample_frames().iter().enumerate() {
        etherparse::SlicedPacket::from_ethernet(f).unwrap_or_else(|e| panic!("frame {i}: {e}"));
    }
}
