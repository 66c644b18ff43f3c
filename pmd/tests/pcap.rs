//! `net_pcap` end to end: crafted frames through RX and TX files, compared byte for
//! byte and read back by `pcap-file` and `tcpdump`; `infinite_rx`; the errors.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use burst_eal::Devargs;
use burst_eal::memory::{Memory, MemoryConfig};
use burst_mempool::{Mbuf, MbufConfig, PktPool};
use burst_pmd::{EthConf, EthError, Port, RxQueue, TxQueue, vdev};
use pcap_file::pcap::{PcapPacket, PcapReader, PcapWriter};
use pcap_file::{DataLink, TsResolution};

fn pool(name: &str, n: usize, data_room: u16) -> PktPool {
    let mem = Memory::new(MemoryConfig::no_huge()).unwrap();
    let config = MbufConfig {
        data_room,
        ..MbufConfig::default()
    };
    PktPool::new(&mem, name, n, config).unwrap()
}

/// An empty directory for one test's files.
fn dir(test: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pmd-pcap-{test}"));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// An Ethernet frame of `len` bytes: broadcast, from 02:00:00:00:00:<i>, EtherType
/// 0x88b5 (local experimental), then a pattern of `i`.
fn frame(i: usize, len: usize) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, i as u8, 0x88, 0xb5]);
    f.extend((f.len()..len).map(|k| (k * 7 + i) as u8));
    f
}

/// Writes `frames` as a microsecond pcap file, as tcpdump does.
fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut w = PcapWriter::new(fs::File::create(path).unwrap()).unwrap();
    for (i, f) in frames.iter().enumerate() {
        let ts = Duration::new(1_700_000_000 + i as u64, 1000 * i as u32);
        w.write_packet(&PcapPacket::new(ts, f.len() as u32, f))
            .unwrap();
    }
}

/// Every packet of a pcap file: (timestamp, original length, bytes).
fn read_pcap(path: &Path) -> (pcap_file::pcap::PcapHeader, Vec<(Duration, u32, Vec<u8>)>) {
    let mut r = PcapReader::new(fs::File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        out.push((p.timestamp, p.orig_len, p.data.to_vec()));
    }
    (r.header(), out)
}

fn probe(args: &str) -> Result<Port, EthError> {
    vdev::probe(&Devargs::parse(args).unwrap(), 0)
}

fn start(port: &mut Port, pool: &PktPool) -> (Vec<RxQueue>, Vec<TxQueue>) {
    let info = port.info();
    port.configure(&EthConf {
        nb_rx_queues: info.max_rx_queues,
        nb_tx_queues: info.max_tx_queues,
        ..EthConf::default()
    })
    .unwrap();
    let rx = (0..info.max_rx_queues)
        .map(|q| port.rx_queue_setup(q, 512, pool).unwrap())
        .collect();
    let tx = (0..info.max_tx_queues)
        .map(|q| port.tx_queue_setup(q, 512).unwrap())
        .collect();
    port.start().unwrap();
    (rx, tx)
}

/// Forwards RX queue `q` to TX queue `q` until RX has nothing more; returns the count.
fn forward(rx: &mut RxQueue, tx: &mut TxQueue) -> usize {
    let mut burst = Vec::with_capacity(32);
    let mut n = 0;
    loop {
        let got = rx.rx_burst(&mut burst, 32);
        if got == 0 {
            return n;
        }
        n += got;
        assert_eq!(tx.tx_burst(&mut burst), got);
    }
}

fn frames() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [60, 64, 128, 1514, 333, 61]
        .iter()
        .enumerate()
        .map(|(i, &len)| frame(i, len))
        .collect();
    v.push(frame(6, 9000)); // a jumbo frame: a chain of mbufs on RX
    v.extend((7..100).map(|i| frame(i, 60 + i * 13)));
    v
}

#[test]
fn rx_to_tx_copies_frames_byte_for_byte() {
    let d = dir("roundtrip");
    let (input, output) = (d.join("in.pcap"), d.join("out.pcap"));
    let frames = frames();
    write_pcap(&input, &frames);
    let pool = pool("pcap-roundtrip", 1024, 2048);
    let mut port = probe(&format!(
        "net_pcap0,rx_pcap={},tx_pcap={}",
        input.display(),
        output.display()
    ))
    .unwrap();
    let (mut rx, mut tx) = start(&mut port, &pool);
    assert_eq!(port.link().to_string(), "Link up at 10 Gbps FDX Fixed");

    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    assert_eq!(forward(&mut rx[0], &mut tx[0]), frames.len());
    let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let mut burst = Vec::with_capacity(32);
    assert_eq!(rx[0].rx_burst(&mut burst, 32), 0, "the file has ended");
    assert_eq!(rx[0].rx_burst(&mut burst, 32), 0, "and stays ended");
    port.stop().unwrap();
    assert!(!port.link().up);

    let bytes: u64 = frames.iter().map(|f| f.len() as u64).sum();
    let s = port.stats();
    assert_eq!((s.ipackets, s.ibytes), (frames.len() as u64, bytes));
    assert_eq!((s.opackets, s.obytes), (frames.len() as u64, bytes));
    assert_eq!((s.ierrors, s.oerrors, s.rx_nombuf), (0, 0, 0));

    let (header, got) = read_pcap(&output);
    assert_eq!(header.datalink, DataLink::ETHERNET);
    assert_eq!(header.ts_resolution, TsResolution::NanoSecond);
    assert_eq!(header.snaplen, 65_535);
    assert_eq!(got.len(), frames.len());
    for (i, ((ts, orig_len, data), f)) in got.iter().zip(&frames).enumerate() {
        assert_eq!(data, f, "frame {i}");
        assert_eq!(*orig_len as usize, f.len());
        assert!(before <= *ts && *ts <= after, "frame {i}: {ts:?}");
    }

    match Command::new("tcpdump")
        .args(["-nn", "-q", "-r"])
        .arg(&output)
        .output()
    {
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "tcpdump failed: {stderr}");
            assert!(stderr.contains("link-type EN10MB"), "{stderr}");
            // One line per packet, ending "length <bytes>: ".
            let lens: Vec<usize> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| {
                    let (_, len) = l
                        .trim_end_matches([' ', ':'])
                        .rsplit_once("length ")
                        .unwrap();
                    len.parse().unwrap()
                })
                .collect();
            let want: Vec<usize> = frames.iter().map(Vec::len).collect();
            assert_eq!(lens, want);
        }
        Err(e) => eprintln!("skipped: tcpdump -r ({e})"),
    }
    drop((rx, tx));
    assert!(pool.is_full(), "{} mbufs leaked", pool.in_use());
}

#[test]
fn long_frames_are_chained_on_rx_and_written_whole_on_tx() {
    let d = dir("chains");
    let (input, output) = (d.join("in.pcap"), d.join("out.pcap"));
    let frames = vec![frame(0, 1000), frame(1, 256), frame(2, 60), frame(3, 9018)];
    write_pcap(&input, &frames);
    let pool = pool("pcap-chains", 256, 256);
    let mut port = probe(&format!(
        "net_pcap0,rx_pcap={},tx_pcap={}",
        input.display(),
        output.display()
    ))
    .unwrap();
    let (mut rx, mut tx) = start(&mut port, &pool);
    let mut burst = Vec::with_capacity(32);
    assert_eq!(rx[0].rx_burst(&mut burst, 32), 4);
    let segs: Vec<u16> = burst.iter().map(Mbuf::nb_segs).collect();
    // The first segment has 256 bytes of room, the next ones their whole 384-byte
    // buffer (no headroom).
    assert_eq!(segs, [3, 1, 1, 24]);
    for (m, f) in burst.iter().zip(&frames) {
        assert_eq!(m.pkt_len() as usize, f.len());
        assert_eq!(m.segments().flatten().copied().collect::<Vec<u8>>(), *f);
    }
    assert_eq!(tx[0].tx_burst(&mut burst), 4);
    let (_, got) = read_pcap(&output);
    let got: Vec<Vec<u8>> = got.into_iter().map(|(_, _, d)| d).collect();
    assert_eq!(got, frames);
    drop((rx, tx));
    assert!(pool.is_full());
}

#[test]
fn one_queue_per_file_and_drop_or_nothing_without_one() {
    let d = dir("queues");
    let (a, b, out) = (d.join("a.pcap"), d.join("b.pcap"), d.join("out.pcap"));
    write_pcap(&a, &[frame(1, 60), frame(2, 60)]);
    write_pcap(&b, &[frame(3, 100)]);
    let pool = pool("pcap-queues", 1024, 2048);

    // Two RX files, no TX file: two RX queues, two dropping TX queues.
    let mut port = probe(&format!(
        "net_pcap0,rx_pcap={},rx_pcap={}",
        a.display(),
        b.display()
    ))
    .unwrap();
    assert_eq!(
        (port.info().max_rx_queues, port.info().max_tx_queues),
        (2, 2)
    );
    let (mut rx, mut tx) = start(&mut port, &pool);
    let mut burst = Vec::with_capacity(32);
    assert_eq!(rx[1].rx_burst(&mut burst, 32), 1);
    assert_eq!(burst[0].data(), frame(3, 100));
    assert_eq!(tx[1].tx_burst(&mut burst), 1);
    assert_eq!(rx[0].rx_burst(&mut burst, 32), 2);
    assert_eq!(tx[0].tx_burst(&mut burst), 2);
    let s = port.stats();
    assert_eq!((s.q_opackets, s.q_obytes), (vec![2, 1], vec![120, 100]));
    drop((rx, tx));

    // A TX file only: one TX queue, one RX queue that receives nothing.
    let mut port = probe(&format!("net_pcap1,tx_pcap={}", out.display())).unwrap();
    assert_eq!(
        (port.info().max_rx_queues, port.info().max_tx_queues),
        (1, 1)
    );
    assert_eq!(read_pcap(&out).1.len(), 0, "created at probe, empty");
    let (mut rx, tx) = start(&mut port, &pool);
    assert_eq!(rx[0].rx_burst(&mut burst, 32), 0);
    drop((rx, tx));
    assert!(pool.is_full());
}

#[test]
fn infinite_rx_replays_the_file_forever() {
    let d = dir("infinite");
    let input = d.join("in.pcap");
    let frames = vec![frame(0, 60), frame(1, 70), frame(2, 80)];
    write_pcap(&input, &frames);
    let pool = pool("pcap-infinite", 64, 2048);
    let mut port = probe(&format!(
        "net_pcap0,rx_pcap={},infinite_rx=1",
        input.display()
    ))
    .unwrap();
    let (mut rx, mut tx) = start(&mut port, &pool);
    let mut burst = Vec::with_capacity(64);
    assert_eq!(rx[0].rx_burst(&mut burst, 8), 8);
    let lens: Vec<u32> = burst.iter().map(Mbuf::pkt_len).collect();
    assert_eq!(lens, [60, 70, 80, 60, 70, 80, 60, 70]);
    assert_eq!(burst[3].data(), frames[0]);
    assert_eq!(tx[0].tx_burst(&mut burst), 8, "dropped: no tx_pcap");
    assert_eq!(rx[0].rx_burst(&mut burst, 1), 1);
    assert_eq!(
        burst[0].data(),
        frames[2],
        "the next burst goes on where it was"
    );
    for _ in 0..1000 {
        let mut more = Vec::with_capacity(32);
        assert_eq!(rx[0].rx_burst(&mut more, 32), 32);
        tx[0].tx_burst(&mut more);
    }
    assert_eq!(port.stats().ipackets, 32_009);

    // An empty pool: nothing received, counted once per burst.
    let mut held = Vec::with_capacity(64);
    while let Some(m) = pool.alloc() {
        held.push(m);
    }
    let before = port.stats().rx_nombuf;
    assert_eq!(rx[0].rx_burst(&mut burst, 32), 0);
    assert_eq!(port.stats().rx_nombuf, before + 1);
    drop((held, burst));
    drop((rx, tx));
    assert!(pool.is_full(), "{} mbufs leaked", pool.in_use());
}

#[test]
fn infinite_rx_needs_every_packet_in_one_mbuf() {
    let d = dir("infinite-jumbo");
    let input = d.join("in.pcap");
    write_pcap(&input, &[frame(0, 60), frame(1, 3000)]);
    let pool = pool("pcap-infinite-jumbo", 1024, 2048);
    let mut port = probe(&format!(
        "net_pcap0,rx_pcap={},infinite_rx=1",
        input.display()
    ))
    .unwrap();
    port.configure(&EthConf {
        nb_rx_queues: 1,
        nb_tx_queues: 1,
        ..EthConf::default()
    })
    .unwrap();
    let err = port.rx_queue_setup(0, 512, &pool).unwrap_err().to_string();
    assert!(
        err.contains("3000-byte packet") && err.contains("in.pcap"),
        "{err}"
    );
}

#[test]
fn bad_devargs_and_files_are_clear_errors() {
    let d = dir("errors");
    let good = d.join("good.pcap");
    write_pcap(&good, &[frame(0, 60), frame(1, 200)]);
    let err = |args: String| probe(&args).unwrap_err().to_string();

    let missing = d.join("missing.pcap");
    let e = err(format!("net_pcap0,rx_pcap={}", missing.display()));
    assert!(
        e.starts_with("net_pcap0: rx_pcap ") && e.contains("missing.pcap"),
        "{e}"
    );
    assert!(e.contains("No such file"), "{e}");

    let corrupt = d.join("corrupt.pcap");
    fs::write(&corrupt, b"this is not a capture file at all, just text").unwrap();
    let e = err(format!("net_pcap0,rx_pcap={}", corrupt.display()));
    assert!(
        e.contains("corrupt.pcap") && e.contains("not a pcap file"),
        "{e}"
    );

    let empty = d.join("empty.pcap");
    fs::write(&empty, b"").unwrap();
    let e = err(format!("net_pcap0,rx_pcap={}", empty.display()));
    assert!(e.contains("empty.pcap") && e.contains("too short"), "{e}");

    let truncated = d.join("truncated.pcap");
    let bytes = fs::read(&good).unwrap();
    fs::write(&truncated, &bytes[..bytes.len() - 50]).unwrap();
    let e = err(format!("net_pcap0,rx_pcap={}", truncated.display()));
    assert!(
        e.contains("truncated.pcap") && e.contains("packet 1"),
        "{e}"
    );
    assert!(e.contains("truncated"), "{e}");

    let ng = d.join("capture.pcapng");
    fs::write(&ng, [0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0]).unwrap();
    let e = err(format!("net_pcap0,rx_pcap={}", ng.display()));
    assert!(e.contains("capture.pcapng") && e.contains("pcapng"), "{e}");

    let e = err(format!(
        "net_pcap0,tx_pcap={}",
        d.join("no/such/dir.pcap").display()
    ));
    assert!(
        e.contains("net_pcap0: tx_pcap ") && e.contains("dir.pcap"),
        "{e}"
    );

    let e = err(format!("net_pcap0,rx_pcap={},bogus=1", good.display()));
    assert!(e.contains("unknown argument 'bogus'"), "{e}");
    for key in [
        "iface=eth0",
        "rx_iface=eth0",
        "tx_iface=eth0",
        "rx_iface_in=eth0",
    ] {
        let e = err(format!("net_pcap0,{key}"));
        assert!(
            e.contains("not supported") && e.contains("net_af_packet"),
            "{e}"
        );
    }
    let e = err("net_pcap0".into());
    assert!(e.contains("rx_pcap=FILE"), "{e}");
    let e = err("net_pcap0,infinite_rx=1,tx_pcap=x.pcap".into());
    assert!(e.contains("infinite_rx needs"), "{e}");
    let e = err(format!(
        "net_pcap0,rx_pcap={},infinite_rx=2",
        good.display()
    ));
    assert!(e.contains("infinite_rx=2"), "{e}");
    let e = err(format!(
        "net_pcap0,rx_pcap={},tx_pcap={}",
        good.display(),
        good.display()
    ));
    assert!(e.contains("both rx_pcap and tx_pcap"), "{e}");
    assert_eq!(read_pcap(&good).1.len(), 2, "and it was not overwritten");
    let out = d.join("out.pcap");
    let e = err(format!(
        "net_pcap0,tx_pcap={},tx_pcap={}/../pmd-pcap-errors/out.pcap",
        out.display(),
        d.display()
    ));
    assert!(e.contains("given twice as tx_pcap"), "{e}");
    let many: String = (0..17)
        .map(|_| format!(",rx_pcap={}", good.display()))
        .collect();
    let e = err(format!("net_pcap0{many}"));
    assert!(e.contains("17 rx_pcap files given, at most 16"), "{e}");
}

#[test]
fn set_mtu_is_not_supported_and_restart_resumes() {
    let d = dir("restart");
    let (input, output) = (d.join("in.pcap"), d.join("out.pcap"));
    let frames: Vec<Vec<u8>> = (0..10).map(|i| frame(i, 60 + i)).collect();
    write_pcap(&input, &frames);
    let pool = pool("pcap-restart", 1024, 2048);
    let mut port = probe(&format!(
        "net_pcap0,rx_pcap={},tx_pcap={}",
        input.display(),
        output.display()
    ))
    .unwrap();
    assert!(port.set_mtu(1500).is_err());
    let (mut rx, mut tx) = start(&mut port, &pool);
    let mut burst = Vec::with_capacity(32);
    assert_eq!(rx[0].rx_burst(&mut burst, 4), 4);
    assert_eq!(tx[0].tx_burst(&mut burst), 4);
    port.stop().unwrap();
    assert_eq!(read_pcap(&output).1.len(), 4, "complete after stop");
    port.start().unwrap();
    assert_eq!(
        forward(&mut rx[0], &mut tx[0]),
        6,
        "RX resumes where it was"
    );
    drop((rx, tx));
    let got: Vec<Vec<u8>> = read_pcap(&output)
        .1
        .into_iter()
        .map(|(_, _, d)| d)
        .collect();
    assert_eq!(got, frames, "TX appended");
    assert!(pool.is_full());
}
