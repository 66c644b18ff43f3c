//! `net_pcap`'s MAC addresses, alone in their process: DPDK numbers pcap ports with a
//! process-wide counter, so other tests' ports would shift the numbers.

use std::path::Path;

use burst_eal::Devargs;
use burst_pmd::{MacAddr, vdev};

#[test]
fn macs_count_the_pcap_ports_made_in_this_process() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pmd-pcap-mac");
    std::fs::create_dir_all(&dir).unwrap();
    let mac = |args: String| vdev::probe(&Devargs::parse(&args).unwrap(), 7).map(|p| p.mac_addr());
    let out = |name: &str| dir.join(name).display().to_string();

    // The instance number in the name plays no part: the 1st port gets :00.
    let a = mac(format!("net_pcap5,tx_pcap={}", out("a.pcap"))).unwrap();
    assert_eq!(a, MacAddr([0x02, 0x70, 0x63, 0x61, 0x70, 0x00]));
    assert_eq!(a.to_string(), "02:70:63:61:70:00");
    let b = mac(format!("net_pcap0,tx_pcap={}", out("b.pcap"))).unwrap();
    assert_eq!(b.to_string(), "02:70:63:61:70:01");
    // A failed probe takes no number.
    assert!(mac(format!("net_pcap1,rx_pcap={}", out("missing.pcap"))).is_err());
    let c = mac(format!("net_pcap2,tx_pcap={}", out("c.pcap"))).unwrap();
    assert_eq!(c.to_string(), "02:70:63:61:70:02");
}
