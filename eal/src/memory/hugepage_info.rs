//! What the kernel says about hugepages (DPDK's `eal_hugepage_info`): the default size
//! from `/proc/meminfo`, hugetlbfs mounts from `/proc/mounts`, and free page counts from
//! `/sys/kernel/mm/hugepages`. Parsers take text so they are tested without the files.

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use super::{MemoryError, PageSize};

const MEMINFO: &str = "/proc/meminfo";
const MOUNTS: &str = "/proc/mounts";
const SYSFS_HUGEPAGES: &str = "/sys/kernel/mm/hugepages";

/// One line of `/proc/mounts`, reduced to what hugepage discovery needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Mount {
    pub dir: PathBuf,
    pub fstype: String,
    /// The `pagesize=` option in bytes; a hugetlbfs mount without it uses the default size.
    pub pagesize: Option<usize>,
}

impl Mount {
    /// The hugepage size of this mount, or `None` if it is not hugetlbfs.
    pub fn hugepage_size(&self, default: usize) -> Option<usize> {
        (self.fstype == "hugetlbfs").then(|| self.pagesize.unwrap_or(default))
    }
}

/// The system's default hugepage size in bytes, read from `/proc/meminfo`.
pub(super) fn default_hugepage_size() -> Result<usize, MemoryError> {
    let text = read(MEMINFO)?;
    parse_meminfo_hugepagesize(&text).ok_or(MemoryError::HugepagesUnsupported)
}

/// Every mount in `/proc/mounts`, in mount order.
pub(super) fn mounts() -> Result<Vec<Mount>, MemoryError> {
    Ok(parse_mounts(&read(MOUNTS)?))
}

/// Whether the kernel offers hugepages of `size` bytes (its sysfs directory exists).
pub(super) fn is_supported(size: usize) -> bool {
    sysfs_dir(size).is_dir()
}

/// Hugepages of `page` that a new mapping can still get: free minus those reserved
/// by mappings not yet faulted in.
pub(super) fn available_pages(page: PageSize) -> Result<usize, MemoryError> {
    let dir = sysfs_dir(page.bytes());
    let free = read_count(&dir.join("free_hugepages"))?;
    let reserved = read_count(&dir.join("resv_hugepages"))?;
    Ok(free.saturating_sub(reserved))
}

/// The first hugetlbfs mount whose pages are `size` bytes.
pub(super) fn find_hugetlbfs(mounts: &[Mount], size: usize, default: usize) -> Option<&Mount> {
    mounts
        .iter()
        .find(|m| m.hugepage_size(default) == Some(size))
}

/// The mount `dir` lives on: the longest mount point that contains it, the latest
/// mount winning when one is mounted over another. `dir` must be canonical.
pub(super) fn mount_of<'a>(mounts: &'a [Mount], dir: &Path) -> Option<&'a Mount> {
    mounts
        .iter()
        .filter(|m| dir.starts_with(&m.dir))
        .max_by_key(|m| m.dir.components().count())
}

/// `Hugepagesize:       2048 kB` → 2 MiB.
fn parse_meminfo_hugepagesize(meminfo: &str) -> Option<usize> {
    let rest = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("Hugepagesize:"))?;
    let mut words = rest.split_whitespace();
    let kb: usize = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => kb.checked_mul(1024),
        _ => None,
    }
}

/// Parses `/proc/mounts`; malformed lines are skipped.
fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let _source = fields.next()?;
            let dir = unescape(fields.next()?);
            let fstype = fields.next()?.to_owned();
            let pagesize = fields
                .next()
                .unwrap_or("")
                .split(',')
                .find_map(|opt| opt.strip_prefix("pagesize="))
                .and_then(parse_size);
            Some(Mount {
                dir,
                fstype,
                pagesize,
            })
        })
        .collect()
}

/// A size as the kernel's `memparse` reads it: digits and an optional K/M/G suffix.
fn parse_size(text: &str) -> Option<usize> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    let shift = match suffix {
        "" => 0,
        "k" | "K" => 10,
        "m" | "M" => 20,
        "g" | "G" => 30,
        _ => return None,
    };
    digits.parse::<usize>().ok()?.checked_mul(1 << shift)
}

/// Undoes the octal escapes (`\040` for a space) that `/proc/mounts` puts in paths.
fn unescape(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)))
            .map(|d| {
                d.iter()
                    .fold(0u8, |acc, b| acc.wrapping_mul(8).wrapping_add(b - b'0'))
            });
        match octal {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

fn sysfs_dir(size: usize) -> PathBuf {
    Path::new(SYSFS_HUGEPAGES).join(format!("hugepages-{}kB", size >> 10))
}

fn read_count(path: &Path) -> Result<usize, MemoryError> {
    let text = read(path)?;
    text.trim().parse().map_err(|_| MemoryError::Io {
        action: "cannot parse a page count in",
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, text.trim().to_owned()),
    })
}

fn read(path: impl AsRef<Path>) -> Result<String, MemoryError> {
    let path = path.as_ref();
    fs::read_to_string(path).map_err(|source| MemoryError::Io {
        action: "cannot read",
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;
    const GIB: usize = 1 << 30;

    const MOUNTS_TEXT: &str = "\
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
/dev/root / ext4 rw,relatime 0 0
tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0
nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0
none /mnt/huge\\0401G hugetlbfs rw,relatime,pagesize=1024M 0 0
hugetlbfs /mnt/old hugetlbfs rw,relatime 0 0
garbage
";

    #[test]
    fn meminfo_default_size() {
        let meminfo = "MemTotal:       24596772 kB\nHugePages_Total:      64\nHugepagesize:       2048 kB\nHugetlb:  131072 kB\n";
        assert_eq!(parse_meminfo_hugepagesize(meminfo), Some(2 * MIB));
        assert_eq!(
            parse_meminfo_hugepagesize("Hugepagesize:    1048576 kB\n"),
            Some(GIB)
        );
        assert_eq!(parse_meminfo_hugepagesize("MemTotal: 1 kB\n"), None);
        assert_eq!(parse_meminfo_hugepagesize("Hugepagesize: 2048\n"), None);
        assert_eq!(parse_meminfo_hugepagesize("Hugepagesize: x kB\n"), None);
    }

    #[test]
    fn mounts_are_parsed_with_page_sizes_and_escapes() {
        let mounts = parse_mounts(MOUNTS_TEXT);
        assert_eq!(mounts.len(), 6, "the malformed line is skipped");
        assert_eq!(
            mounts[3],
            Mount {
                dir: "/dev/hugepages".into(),
                fstype: "hugetlbfs".into(),
                pagesize: Some(2 * MIB),
            }
        );
        assert_eq!(mounts[4].dir, Path::new("/mnt/huge 1G"));
        assert_eq!(mounts[4].pagesize, Some(GIB));
        assert_eq!(mounts[5].pagesize, None);
        assert_eq!(
            mounts[2].hugepage_size(2 * MIB),
            None,
            "tmpfs is not hugetlbfs"
        );
        assert_eq!(mounts[5].hugepage_size(2 * MIB), Some(2 * MIB));
    }

    #[test]
    fn hugetlbfs_mount_is_found_by_page_size() {
        let mounts = parse_mounts(MOUNTS_TEXT);
        let dir = |m: Option<&Mount>| m.map(|m| m.dir.clone());
        assert_eq!(
            dir(find_hugetlbfs(&mounts, 2 * MIB, 2 * MIB)),
            Some("/dev/hugepages".into())
        );
        assert_eq!(
            dir(find_hugetlbfs(&mounts, GIB, 2 * MIB)),
            Some("/mnt/huge 1G".into())
        );
        assert_eq!(
            dir(find_hugetlbfs(&mounts, GIB, GIB)),
            Some("/mnt/huge 1G".into()),
            "the first match wins"
        );
        let only_plain = parse_mounts("/dev/root / ext4 rw 0 0\n");
        assert_eq!(find_hugetlbfs(&only_plain, 2 * MIB, 2 * MIB), None);
    }

    #[test]
    fn mount_of_picks_the_longest_then_latest_mount_point() {
        let mounts = parse_mounts(MOUNTS_TEXT);
        let fstype = |dir: &str| mount_of(&mounts, Path::new(dir)).map(|m| m.fstype.as_str());
        assert_eq!(fstype("/dev/hugepages"), Some("hugetlbfs"));
        assert_eq!(fstype("/dev/hugepages/app"), Some("hugetlbfs"));
        assert_eq!(
            fstype("/dev/hugepagesX"),
            Some("ext4"),
            "whole components only"
        );
        assert_eq!(fstype("/tmp"), Some("ext4"));
        assert_eq!(fstype("/dev/shm/x"), Some("tmpfs"));

        let over = parse_mounts(
            "/dev/root / ext4 rw 0 0\nnodev /h hugetlbfs rw 0 0\ntmpfs /h tmpfs rw 0 0\n",
        );
        assert_eq!(mount_of(&over, Path::new("/h")).unwrap().fstype, "tmpfs");
    }

    #[test]
    fn sizes_parse_like_memparse() {
        assert_eq!(parse_size("2M"), Some(2 * MIB));
        assert_eq!(parse_size("1G"), Some(GIB));
        assert_eq!(parse_size("1024M"), Some(GIB));
        assert_eq!(parse_size("2048k"), Some(2 * MIB));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("2T"), None);
        assert_eq!(parse_size("M"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn escapes_are_undone() {
        assert_eq!(unescape("/a\\040b\\011c\\134d"), Path::new("/a b\tc\\d"));
        assert_eq!(unescape("/plain"), Path::new("/plain"));
        assert_eq!(unescape("/bad\\09x\\"), Path::new("/bad\\09x\\"));
    }
}
