//! l3fwd end to end: frames built with etherparse into pcap files, the real binary
//! routing them between pcap ports, the output pcaps read back and checked frame by
//! frame (port, order, MACs, TTL, checksum), drops counted; LPM and EM, IPv4 and IPv6.

mod common;

use Expect::Port;
use common::*;

/// UDP from and to the discard port, as DPDK's built-in EM flows.
const UDP9: L4 = L4::Udp(9, 9);

/// IPv4 rules of the LPM tests: nested prefixes, and a route to disabled port 3.
const LPM_V4: &str = "# LPM test routes\n\
    R10.0.0.0/8 1\n\
    R10.1.0.0/16 2\n\
    \n\
    R10.1.2.128/25 1\n\
    R10.1.2.3/32 2\n\
    R192.168.0.0/16 3\n";
const LPM_V6: &str = "R2001:db8::/32 1\nR2001:db8:1::/48 2\n";

/// A mix of frames, each with where it must go under [`LPM_V4`]/[`LPM_V6`].
fn lpm_cases(seq: u32) -> Vec<Case> {
    use Expect::Drop;
    let src = [172, 16, 0, 1];
    let udp = L4::Udp(5000, 53);
    let tcp = L4::Tcp(40000, 80);
    let mut c = vec![
        case("udp4 10/8", ipv4(src, [10, 9, 9, 9], 64, udp, seq), Port(1)),
        case(
            "tcp4 10.1/16",
            ipv4(src, [10, 1, 5, 5], 64, tcp, seq),
            Port(2),
        ),
        case(
            "udp4 /25",
            ipv4(src, [10, 1, 2, 200], 64, udp, seq),
            Port(1),
        ),
        case("udp4 /32", ipv4(src, [10, 1, 2, 3], 64, udp, seq), Port(2)),
        case(
            "tcp4 /16 beside /32",
            ipv4(src, [10, 1, 2, 4], 9, tcp, seq),
            Port(2),
        ),
        case("udp4 miss", ipv4(src, [11, 0, 0, 1], 64, udp, seq), Port(0)),
        case(
            "udp4 to disabled port",
            ipv4(src, [192, 168, 1, 1], 64, udp, seq),
            Port(0),
        ),
        case("udp4 TTL 2", ipv4(src, [10, 2, 0, 1], 2, udp, seq), Port(1)),
        case("udp4 TTL 1", ipv4(src, [10, 2, 0, 1], 1, udp, seq), Drop),
        case("tcp4 TTL 0", ipv4(src, [10, 2, 0, 1], 0, tcp, seq), Drop),
        case(
            "udp6 /32",
            ipv6("fd00::1", "2001:db8:5::1", 64, udp, seq),
            Port(1),
        ),
        case(
            "tcp6 /48",
            ipv6("fd00::1", "2001:db8:1::9", 64, tcp, seq),
            Port(2),
        ),
        case(
            "udp6 miss",
            ipv6("fd00::1", "2001:db9::1", 64, udp, seq),
            Port(0),
        ),
        case(
            "udp6 hop limit 1",
            ipv6("fd00::1", "2001:db8::1", 1, udp, seq),
            Drop,
        ),
        case("arp", arp(seq), Drop),
    ];
    let good = || ipv4(src, [10, 1, 2, 3], 64, udp, seq);
    let mut f = good();
    f[24] ^= 0x40;
    c.push(case("bad IPv4 checksum", f, Drop));
    let mut f = good();
    f[14] = 0x44;
    fix_ipv4_checksum(&mut f);
    c.push(case("IHL 4", f, Drop));
    let mut f = good();
    f[14] = 0x55;
    fix_ipv4_checksum(&mut f);
    c.push(case("IP version 5 in an IPv4 frame", f, Drop));
    let mut f = good();
    f[16..18].copy_from_slice(&1000u16.to_be_bytes());
    fix_ipv4_checksum(&mut f);
    c.push(case("total length beyond the frame", f, Drop));
    let mut f = good();
    f[16..18].copy_from_slice(&19u16.to_be_bytes());
    fix_ipv4_checksum(&mut f);
    c.push(case("total length 19", f, Drop));
    let mut f = ipv6("fd00::1", "2001:db8::1", 64, udp, seq);
    f[18..20].copy_from_slice(&500u16.to_be_bytes());
    c.push(case("IPv6 payload beyond the frame", f, Drop));
    c.push(case("truncated IPv4 header", good()[..30].to_vec(), Drop));
    // IPv4 with 4 bytes of options (NOPs): routed like any other.
    let mut f = ipv4(src, [10, 9, 0, 1], 64, udp, seq);
    f.splice(34..34, [1, 1, 1, 1]);
    f[14] = 0x46;
    let total = u16::from_be_bytes([f[16], f[17]]) + 4;
    f[16..18].copy_from_slice(&total.to_be_bytes());
    fix_ipv4_checksum(&mut f);
    c.push(case("IPv4 with options", f, Port(1)));
    // A VLAN-tagged IPv4 frame is not IP to l3fwd.
    let mut f = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 8])
        .single_vlan(etherparse::VlanId::try_new(100).unwrap())
        .ipv4([1, 1, 1, 1], [10, 1, 2, 3], 64)
        .udp(1, 2)
        .write(&mut f, &[0; 20])
        .unwrap();
    c.push(case("VLAN-tagged IPv4", f, Drop));
    c
}

fn count(cases: &[Case]) -> (u64, u64) {
    let fwd = cases.iter().filter(|c| c.expect != Expect::Drop).count();
    (cases.len() as u64, fwd as u64)
}

fn frames(cases: &[Case]) -> Vec<Vec<u8>> {
    cases.iter().map(|c| c.frame.clone()).collect()
}

#[test]
fn lpm_routes_a_mix_to_three_ports_and_drops_what_it_must() {
    let dir = Scratch::new("lpm");
    let cases: Vec<Case> = (0..4).flat_map(lpm_cases).collect();
    write_pcap(&dir.path("in.pcap"), &frames(&cases));
    let v4 = rule_file(&dir, "v4.cfg", LPM_V4);
    let v6 = rule_file(&dir, "v6.cfg", LPM_V6);
    let mut vdevs = pcap_ports(&dir, 3);
    vdevs.push("net_null0".into());
    let app = app(
        "-p 0x7 --config (0,0,0) --parse-ptype --lookup lpm -T 1",
        &["--rule_ipv4", &v4, "--rule_ipv6", &v6],
    );
    let (n, fwd) = count(&cases);
    let out = forward(&args("lpm", "0", &vdevs, &app), n, fwd);
    assert_lines(
        &out.stdout,
        &[
            "soft parse-ptype is enabled\n",
            "LPM: Adding route 10.1.2.128 / 25 (1) [net_pcap1]\n",
            "LPM: Adding route 2001:db8:1:: / 48 (2) [net_pcap2]\n",
            "Initializing port 0 ... Creating queues: nb_rxq=1 nb_txq=1... ",
            "\nSkipping disabled port 3\n",
            "Port 0: softly parse packet type info\n",
            "Closing port 2... Done\n",
        ],
    );
    assert!(
        !out.stdout.contains("192.168.0.0"),
        "a route to a disabled port is skipped"
    );
    assert_outputs(&dir, 3, &cases, &out.stdout);
}

#[test]
fn builtin_routes_and_eth_dest() {
    let dir = Scratch::new("builtin");
    let cases = vec![
        case(
            "to 198.18.1/24",
            ipv4([1, 2, 3, 4], [198, 18, 1, 77], 64, UDP9, 1),
            Port(1),
        ),
        case(
            "to 198.18.0/24",
            ipv4([1, 2, 3, 4], [198, 18, 0, 5], 64, UDP9, 2),
            Port(0),
        ),
        // Port 5 is not present: its built-in route is left out.
        case(
            "to 198.18.5/24",
            ipv4([1, 2, 3, 4], [198, 18, 5, 1], 64, UDP9, 3),
            Port(0),
        ),
        case(
            "to 2001:200:0:1::/64",
            ipv6("::1", "2001:200:0:1::5", 64, UDP9, 4),
            Port(1),
        ),
        case(
            "to 2001:200::/64",
            ipv6("::1", "2001:200::5", 3, UDP9, 5),
            Port(0),
        ),
    ];
    write_pcap(&dir.path("in.pcap"), &frames(&cases));
    let vdevs = pcap_ports(&dir, 2);
    let app = app(
        "-p 3 --config=(0,0,0) --parse-ptype --eth-dest=1,52:54:00:00:00:99 -L -T 1",
        &[],
    );
    let (n, fwd) = count(&cases);
    let out = forward(&args("builtin", "0", &vdevs, &app), n, fwd);
    assert!(
        out.stdout
            .contains("LPM: Adding route 198.18.1.0 / 24 (1) [net_pcap1]\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Destination:52:54:00:00:00:99, "),
        "{}",
        out.stdout
    );
    let macs = [port_mac(&out.stdout, 0), port_mac(&out.stdout, 1)];
    let got0 = read_pcap(&dir.path("out0.pcap"));
    assert_port_output(0, &cases, &got0, dest_of(0), macs[0]);
    let got1 = read_pcap(&dir.path("out1.pcap"));
    assert_port_output(1, &cases, &got1, [0x52, 0x54, 0, 0, 0, 0x99], macs[1]);
}

#[test]
fn exact_match_on_ipv4_five_tuples() {
    let dir = Scratch::new("em4");
    let rules = rule_file(
        &dir,
        "em4.cfg",
        "#dst src dport sport proto port\n\
         R198.18.1.0 198.18.0.1 9 9 0x11 1\n\
         R10.0.0.1 10.0.0.2 80 1234 6 2\n",
    );
    let cases = vec![
        case(
            "udp flow",
            ipv4([198, 18, 0, 1], [198, 18, 1, 0], 64, UDP9, 1),
            Port(1),
        ),
        case(
            "tcp flow",
            ipv4([10, 0, 0, 2], [10, 0, 0, 1], 64, L4::Tcp(1234, 80), 2),
            Port(2),
        ),
        case(
            "tcp flow, other source port",
            ipv4([10, 0, 0, 2], [10, 0, 0, 1], 64, L4::Tcp(1235, 80), 3),
            Port(0),
        ),
        case(
            "udp flow as tcp",
            ipv4([198, 18, 0, 1], [198, 18, 1, 0], 64, L4::Tcp(9, 9), 4),
            Port(0),
        ),
        case(
            "ipv6: no table",
            ipv6("::1", "2001:200:0:1::", 64, UDP9, 5),
            Port(0),
        ),
        case(
            "ttl 1",
            ipv4([198, 18, 0, 1], [198, 18, 1, 0], 1, UDP9, 6),
            Expect::Drop,
        ),
    ];
    write_pcap(&dir.path("in.pcap"), &frames(&cases));
    let vdevs = pcap_ports(&dir, 3);
    let app = app(
        "-p 7 --config (0,0,0) --parse-ptype --lookup=em -T 1",
        &["--rule_ipv4", &rules],
    );
    let (n, fwd) = count(&cases);
    let out = forward(&args("em4", "0", &vdevs, &app), n, fwd);
    assert_lines(
        &out.stdout,
        &[
            "EM: Adding route 198.18.1.0, 198.18.0.1, 9, 9, 17 (1) [net_pcap1]\n",
            "EM: Adding route 10.0.0.1, 10.0.0.2, 80, 1234, 6 (2) [net_pcap2]\n",
            "Hash: Adding 0x2 keys\n",
        ],
    );
    assert_outputs(&dir, 3, &cases, &out.stdout);
}

#[test]
fn exact_match_ipv6_mode_with_builtin_flows() {
    let dir = Scratch::new("em6");
    let cases = vec![
        case(
            "builtin v6 flow 1",
            ipv6("2001:200:0:1::1", "2001:200:0:1::", 64, UDP9, 1),
            Port(1),
        ),
        case(
            "builtin v6 flow 0",
            ipv6("2001:200::1", "2001:200::", 64, UDP9, 2),
            Port(0),
        ),
        case(
            "v6 miss",
            ipv6("2001:200:0:1::2", "2001:200:0:1::", 64, UDP9, 3),
            Port(0),
        ),
        // With --ipv6 the IPv4 flows are not in the table: back out of the input port.
        case(
            "builtin v4 flow",
            ipv4([198, 18, 1, 1], [198, 18, 1, 0], 64, UDP9, 4),
            Port(0),
        ),
    ];
    write_pcap(&dir.path("in.pcap"), &frames(&cases));
    let vdevs = pcap_ports(&dir, 2);
    let app = app("-p 3 --config (0,0,0) --parse-ptype -E --ipv6 -T 1", &[]);
    let (n, fwd) = count(&cases);
    let out = forward(&args("em6", "0", &vdevs, &app), n, fwd);
    assert!(
        out.stdout.contains(
            "EM: Adding route 2001:200:0:1::, 2001:200:0:1::1, 9, 9, 17 (1) [net_pcap1]\n"
        ),
        "{}",
        out.stdout
    );
    assert_outputs(&dir, 2, &cases, &out.stdout);
}

/// Two lcores, each polling one port: each lcore sends on its own TX queue of every
/// port (queue k for the k-th lcore), so each output pcap holds one lcore's packets.
#[test]
fn two_lcores_send_on_their_own_tx_queues() {
    let dir = Scratch::new("two");
    let from0: Vec<Case> = (0..40)
        .map(|i| {
            let (dst, port) = if i % 3 == 0 { (0, 0) } else { (1, 1) };
            case(
                format!("a{i}"),
                ipv4([1, 1, 1, 1], [198, 18, dst, i as u8], 64, UDP9, i),
                Port(port),
            )
        })
        .collect();
    let from1: Vec<Case> = (0..30)
        .map(|i| {
            case(
                format!("b{i}"),
                ipv6("::1", "2001:200::1", 64, UDP9, 100 + i),
                Port(0),
            )
        })
        .collect();
    write_pcap(&dir.path("a.pcap"), &frames(&from0));
    write_pcap(&dir.path("b.pcap"), &frames(&from1));
    let p = |f: &str| dir.path(f);
    let vdevs = [
        pcap_vdev(0, Some(&p("a.pcap")), &[&p("a_q0.pcap"), &p("a_q1.pcap")]),
        pcap_vdev(1, Some(&p("b.pcap")), &[&p("b_q0.pcap"), &p("b_q1.pcap")]),
    ];
    let app = app("-p 0x3 --config (0,0,0),(1,0,1) --parse-ptype -T 1", &[]);
    let out = forward(&args("two", "0-1", &vdevs, &app), 70, 70);
    assert!(
        out.stdout
            .contains("Initializing port 1 ... Creating queues: nb_rxq=1 nb_txq=2... ")
    );
    assert!(
        out.stdout.contains("txq=0,0,0 txq=1,1,0 \n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("\nInitializing rx queues on lcore 1 ... rxq=1,0,0 ")
    );
    let macs = [port_mac(&out.stdout, 0), port_mac(&out.stdout, 1)];
    // Lcore 0 (queue 0) forwards port 0's packets: to port 0 and port 1.
    assert_port_output(0, &from0, &read_pcap(&p("a_q0.pcap")), dest_of(0), macs[0]);
    assert_port_output(1, &from0, &read_pcap(&p("b_q0.pcap")), dest_of(1), macs[1]);
    // Lcore 1 (queue 1) forwards port 1's: the built-in 2001:200::/64 goes to port 0.
    assert_port_output(0, &from1, &read_pcap(&p("a_q1.pcap")), dest_of(0), macs[0]);
    assert!(read_pcap(&p("b_q1.pcap")).is_empty());
}
