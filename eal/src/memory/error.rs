//! What can go wrong reserving memory, each message naming the fix.

use std::io;
use std::path::PathBuf;

use super::PageSize;

/// An error from [`Memory`](super::Memory): a bad config, missing hugepages, or a failed
/// system call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryError {
    /// The options contradict each other or are malformed.
    #[error("invalid memory options: {0}")]
    InvalidConfig(&'static str),

    /// The kernel was built without hugetlb support.
    #[error(
        "this kernel has no hugepage support (no Hugepagesize in /proc/meminfo): pass --no-huge"
    )]
    HugepagesUnsupported,

    /// The kernel (or CPU) offers no hugepages of this size.
    #[error(
        "this machine has no {size_kb} kB hugepages (no /sys/kernel/mm/hugepages/hugepages-{size_kb}kB): use 2 MiB pages, or 1 GiB pages on a CPU that has them, or pass --no-huge",
        size_kb = .size >> 10
    )]
    UnsupportedPageSize {
        /// The size asked for, or found as the default or on the mount, in bytes.
        size: usize,
    },

    /// Fewer hugepages are free than the allocation needs.
    #[error(
        "no free {kb} kB hugepages (need {needed}, {free} free): {hint}",
        kb = .page_size.kb(),
        hint = reserve_hint(*.page_size, *.needed)
    )]
    NoFreeHugepages {
        page_size: PageSize,
        needed: usize,
        free: usize,
    },

    /// Hugetlbfs files were asked for but no hugetlbfs of that page size is mounted.
    #[error(
        "no hugetlbfs mount with {kb} kB pages in /proc/mounts: {hint}",
        kb = .page_size.kb(),
        hint = mount_hint(*.page_size)
    )]
    NoHugetlbfsMount { page_size: PageSize },

    /// `--huge-dir` is not inside a hugetlbfs mount.
    #[error(
        "--huge-dir {dir} is not in a hugetlbfs mount: run `mount -t hugetlbfs nodev {dir}` or name a hugetlbfs mount from /proc/mounts"
    )]
    NotHugetlbfs { dir: PathBuf },

    /// This process may not create files in the hugetlbfs mount.
    #[error(
        "cannot create hugepage files in {dir}: run as root, mount it for this user (mount -t hugetlbfs -o uid=$(id -u) nodev {dir}), or pass --in-memory"
    )]
    HugeDirNotWritable { dir: PathBuf },

    /// `--huge-dir`'s mount has another page size than the one asked for.
    #[error(
        "--huge-dir {dir} has {mount_kb} kB pages, not the {requested_kb} kB asked for: name a mount with pagesize={requested_kb}K or drop the page size",
        mount_kb = .mount.kb(),
        requested_kb = .requested.kb()
    )]
    PageSizeMismatch {
        dir: PathBuf,
        mount: PageSize,
        requested: PageSize,
    },

    /// IOVA-as-PA was asked for, but the kernel hides physical addresses from this process.
    #[error(
        "IOVA-as-PA needs physical addresses, but /proc/self/pagemap shows them as 0 (they need CAP_SYS_ADMIN): run as root, or use IOVA-as-VA (--iova-mode=va) with VFIO"
    )]
    PhysAddrUnavailable,

    /// A page was not in RAM after it was populated, so it has no physical address.
    #[error(
        "the page at {va:#x} is not resident after it was populated: the free hugepages may be on a NUMA node this process may not use; reserve pages on its node or pass --no-huge"
    )]
    NotResident { va: usize },

    /// Zero bytes, or more than a mapping can hold.
    #[error("cannot allocate {len} bytes: ask for 1 byte to isize::MAX bytes")]
    BadLength { len: usize },

    /// `mmap` failed for another reason than a hugepage shortage.
    #[error("mmap of {len} bytes failed: {source}: free memory or raise the limits (ulimit -v)")]
    Map { len: usize, source: io::Error },

    /// A file of the kernel's (or in the hugetlbfs mount) could not be used.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// How to reserve `needed` more pages: at least 1 GiB worth, as DPDK setups usually do.
fn reserve_hint(page: PageSize, needed: usize) -> String {
    let kb = page.kb();
    let count = needed.max((1 << 30) / page.bytes());
    let sysfs = format!("echo {count} > /sys/kernel/mm/hugepages/hugepages-{kb}kB/nr_hugepages");
    match page {
        PageSize::Size1G => format!(
            "run `{sysfs}` (1 GiB pages are surest reserved at boot: hugepagesz=1G hugepages={count}) and mount hugetlbfs with -o pagesize=1G, or pass --no-huge"
        ),
        PageSize::Size2M | PageSize::Size4K => format!(
            "run `scripts/bind_vfio.sh hugepages {count}` (or `{sysfs}` and mount hugetlbfs), or pass --no-huge"
        ),
    }
}

/// How to mount hugetlbfs for `page`.
fn mount_hint(page: PageSize) -> String {
    let (dir, size) = match page {
        PageSize::Size4K => ("/dev/hugepages", "4K"),
        PageSize::Size2M => ("/dev/hugepages", "2M"),
        PageSize::Size1G => ("/dev/hugepages1G", "1G"),
    };
    format!(
        "run `mkdir -p {dir} && mount -t hugetlbfs -o pagesize={size} nodev {dir}`, or pass --in-memory (no files) or --no-huge"
    )
}
