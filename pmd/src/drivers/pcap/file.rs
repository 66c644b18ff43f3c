//! The pcap file format (libpcap's "savefile"): reading and checking files with the
//! `pcap-file` crate, and writing them as DPDK's pcap PMD does (Ethernet link type,
//! nanosecond timestamps, snapshot length 65535).
//!
//! Every failure is an `io::Error` whose message says what is wrong with the file, for
//! the driver to name the file and the device around it.

use std::fs::File;
use std::io::{self, BufWriter, ErrorKind, Read, Seek, Write};
use std::path::Path;
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapReader, RawPcapPacket};
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};

/// Snapshot length of the files written, the most bytes of a packet they keep (DPDK's
/// `RTE_ETH_PCAP_SNAPSHOT_LEN`).
pub(super) const SNAPLEN: u32 = 65_535;

/// The largest packet record read: libpcap's limit (`MAXIMUM_SNAPLEN`); a longer one
/// means a corrupt file.
const MAX_RECORD: u32 = 262_144;

/// The first bytes of a pcapng file (its section header block type).
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// A pcap file being read, packet by packet, through the crate's 8 MB buffer.
pub(super) struct Reader {
    inner: PcapReader<File>,
    /// Records read so far, to say which one is bad.
    records: u64,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, msg)
}

impl Reader {
    /// Opens `path` and reads its file header.
    pub(super) fn open(path: &Path) -> io::Result<Self> {
        let mut file = File::open(path)?;
        let mut magic = [0; 4];
        let n = file.read(&mut magic)?;
        if n == 4 && magic == PCAPNG_MAGIC {
            return Err(invalid(
                "a pcapng file, and only pcap is read: convert it with \
                 `tcpdump -r FILE -w OUT.pcap` or `editcap -F pcap FILE OUT.pcap`"
                    .into(),
            ));
        }
        file.rewind()?;
        let inner = PcapReader::new(file).map_err(|e| match e {
            PcapError::IoError(e) if e.kind() == ErrorKind::UnexpectedEof => {
                invalid("too short for a pcap file header (24 bytes): empty or truncated".into())
            }
            PcapError::IoError(e) => e,
            _ => invalid(format!(
                "not a pcap file (magic number {:02x}{:02x}{:02x}{:02x})",
                magic[0], magic[1], magic[2], magic[3]
            )),
        })?;
        let link = inner.header().datalink;
        if link != DataLink::ETHERNET {
            log::warn!(
                "{}: link type {link:?}, not Ethernet: frames are delivered as they are",
                path.display()
            );
        }
        Ok(Self { inner, records: 0 })
    }

    /// The next packet's bytes as captured, `None` at the end of the file.
    #[inline]
    pub(super) fn next(&mut self) -> Option<io::Result<RawPcapPacket<'_>>> {
        let index = self.records;
        self.records += 1;
        Some(match self.inner.next_raw_packet()? {
            Ok(p) if p.incl_len > MAX_RECORD => Err(invalid(format!(
                "packet {index}: record of {} bytes, more than pcap's {MAX_RECORD}: corrupt file",
                p.incl_len
            ))),
            Ok(p) => Ok(p),
            Err(PcapError::IoError(e)) if e.kind() == ErrorKind::UnexpectedEof => {
                Err(invalid(format!(
                    "packet {index}: the file ends inside its record: truncated or corrupt file"
                )))
            }
            Err(PcapError::IoError(e)) => Err(e),
            Err(e) => Err(invalid(format!("packet {index}: {e}"))),
        })
    }
}

/// Reads the whole of `path`, checking every record; returns how many packets it has.
pub(super) fn scan(path: &Path) -> io::Result<u64> {
    let mut reader = Reader::open(path)?;
    let mut packets = 0;
    while let Some(p) = reader.next() {
        p?;
        packets += 1;
    }
    Ok(packets)
}

/// A file's packets in memory, for `infinite_rx` to replay: their bytes back to back
/// and where each starts and ends.
#[derive(Debug, Default)]
pub(super) struct Replay {
    /// Every packet's bytes, in file order.
    pub bytes: Vec<u8>,
    /// Each packet's range in `bytes`.
    pub packets: Vec<(usize, usize)>,
    /// Bytes of the largest packet.
    pub largest: usize,
}

/// Reads all of `path` into memory.
pub(super) fn load(path: &Path) -> io::Result<Replay> {
    let mut reader = Reader::open(path)?;
    let mut replay = Replay::default();
    while let Some(p) = reader.next() {
        let data = &p?.data;
        let start = replay.bytes.len();
        replay.bytes.extend_from_slice(data);
        replay.packets.push((start, replay.bytes.len()));
        replay.largest = replay.largest.max(data.len());
    }
    Ok(replay)
}

/// A pcap file being written: buffered, flushed by the caller.
pub(super) struct Writer {
    out: BufWriter<File>,
}

/// Buffer of a writer: a burst of full-size frames in one write.
const WRITE_BUFFER: usize = 256 * 1024;

impl Writer {
    /// Creates (or truncates) `path` and writes the file header: Ethernet, nanosecond
    /// timestamps (DPDK's `PCAP_TSTAMP_PRECISION_NANO`), [`SNAPLEN`], this machine's
    /// byte order.
    pub(super) fn create(path: &Path) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, File::create(path)?);
        let header = PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen: SNAPLEN,
            datalink: DataLink::ETHERNET,
            ts_resolution: TsResolution::NanoSecond,
            endianness: Endianness::native(),
        };
        header.write_to(&mut out).map_err(|e| match e {
            PcapError::IoError(e) => e,
            e => invalid(e.to_string()),
        })?;
        out.flush()?;
        Ok(Self { out })
    }

    /// Appends a packet record: `data` as captured (at most [`SNAPLEN`] bytes) of a
    /// packet of `orig_len` bytes, sent at `ts` since the Unix epoch.
    ///
    /// Written here rather than by `pcap_file::PcapWriter`, which cannot flush its
    /// writer without giving it up.
    #[inline]
    pub(super) fn write(&mut self, ts: Duration, orig_len: u32, data: &[u8]) -> io::Result<()> {
        debug_assert!(data.len() <= SNAPLEN as usize);
        let mut rec = [0u8; 16];
        // The 32-bit seconds of the format wrap in 2106, as libpcap's do.
        rec[0..4].copy_from_slice(&(ts.as_secs() as u32).to_ne_bytes());
        rec[4..8].copy_from_slice(&ts.subsec_nanos().to_ne_bytes());
        rec[8..12].copy_from_slice(&(data.len() as u32).to_ne_bytes());
        rec[12..16].copy_from_slice(&orig_len.to_ne_bytes());
        self.out.write_all(&rec)?;
        self.out.write_all(data)
    }

    /// Writes out what is buffered.
    pub(super) fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("burst-pmd-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn written_files_read_back() {
        let p = path("rw.pcap");
        let mut w = Writer::create(&p).unwrap();
        let ts = Duration::new(1_700_000_000, 123_456_789);
        w.write(ts, 60, &[0xaa; 60]).unwrap();
        w.write(ts, 9000, &[0xbb; 100]).unwrap(); // captured in part
        w.flush().unwrap();
        assert_eq!(scan(&p).unwrap(), 2);
        let mut r = PcapReader::new(File::open(&p).unwrap()).unwrap();
        assert_eq!(r.header().ts_resolution, TsResolution::NanoSecond);
        let first = r.next_packet().unwrap().unwrap();
        assert_eq!((first.timestamp, first.orig_len), (ts, 60));
        let replay = load(&p).unwrap();
        assert_eq!(replay.packets, [(0, 60), (60, 160)]);
        assert_eq!(
            (replay.bytes[59], replay.bytes[60], replay.largest),
            (0xaa, 0xbb, 100)
        );
    }

    #[test]
    fn oversized_records_are_corrupt() {
        let p = path("huge.pcap");
        let mut w = Writer::create(&p).unwrap();
        w.flush().unwrap();
        drop(w);
        let mut bytes = std::fs::read(&p).unwrap();
        let len = MAX_RECORD + 1;
        for v in [0, 0, len, len] {
            bytes.extend_from_slice(&v.to_ne_bytes());
        }
        bytes.resize(bytes.len() + len as usize, 0);
        std::fs::write(&p, bytes).unwrap();
        let e = scan(&p).unwrap_err().to_string();
        assert_eq!(
            e,
            "packet 0: record of 262145 bytes, more than pcap's 262144: corrupt file"
        );
        std::fs::remove_file(&p).unwrap();
    }
}
