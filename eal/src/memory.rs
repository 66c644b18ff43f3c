//! Hugepage memory and its IO virtual addresses (DPDK's EAL memory).
//!
//! A [`Memory`] hands out [`Region`]s: page-aligned, zeroed mappings of 2 MiB or 1 GiB
//! hugepages, from files in a hugetlbfs mount (named `<file-prefix>map_<n>` as in DPDK,
//! unlinked as soon as they are mapped) or anonymous `MAP_HUGETLB` memory
//! (`--in-memory`). Each region knows the IOVA a device uses for every byte: its
//! virtual address under IOVA-as-VA (VFIO programs the IOMMU), or its physical address
//! from `/proc/self/pagemap` under IOVA-as-PA; physically contiguous pages are merged
//! into [`Segment`]s.
//!
//! Pages are populated at map time (`MAP_POPULATE`) and hugepages are never swapped or
//! moved, so their physical addresses are stable without `mlock`. `--no-huge` falls back
//! to ordinary pages, with a warning, and IOVA = VA.
//!
//! The `hugepage-rs` crate is not used: it wraps the same single `mmap(MAP_HUGETLB)`
//! call, without hugetlbfs files, page-size choice, populate or typed errors.

mod backing;
mod error;
mod hugepage_info;
mod pagemap;
mod region;

use std::path::{Path, PathBuf};
use std::sync::Once;

use backing::Backing;
pub use error::MemoryError;
pub use region::{Region, Segment};

/// A page size: the base page or one of the hugepage sizes x86-64 offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PageSize {
    /// 4 KiB, an ordinary page (`--no-huge`).
    Size4K,
    /// 2 MiB hugepages.
    Size2M,
    /// 1 GiB hugepages.
    Size1G,
}

impl PageSize {
    /// The size in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            Self::Size4K => 4 << 10,
            Self::Size2M => 2 << 20,
            Self::Size1G => 1 << 30,
        }
    }

    /// The page size of `bytes`, if it is one of these.
    pub fn from_bytes(bytes: usize) -> Option<Self> {
        [Self::Size4K, Self::Size2M, Self::Size1G]
            .into_iter()
            .find(|page| page.bytes() == bytes)
    }

    /// The size in kB, as sysfs and `/proc/meminfo` name it.
    const fn kb(self) -> usize {
        self.bytes() >> 10
    }
}

/// How devices address memory (DPDK's `--iova-mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IovaMode {
    /// Physical addresses: for devices without an IOMMU in the way; needs root.
    Pa,
    /// Virtual addresses, which VFIO maps in the IOMMU.
    #[default]
    Va,
}

/// How to reserve memory: DPDK's EAL memory options.
#[derive(Clone, Debug)]
pub struct MemoryConfig {
    /// `--no-huge`: ordinary anonymous pages; no DMA by physical address.
    pub no_huge: bool,
    /// `--in-memory`: anonymous `MAP_HUGETLB` hugepages, no hugetlbfs files.
    pub in_memory: bool,
    /// `--huge-dir`: the hugetlbfs mount (or a directory in it) for hugepage files.
    pub huge_dir: Option<PathBuf>,
    /// `--file-prefix`: hugepage files are named `<file_prefix>map_<n>`.
    pub file_prefix: String,
    /// The hugepage size; `None` for the system default (or `--huge-dir`'s size).
    pub page_size: Option<PageSize>,
    /// `--iova-mode`.
    pub iova_mode: IovaMode,
}

impl Default for MemoryConfig {
    /// Hugepages of the default size from the first matching hugetlbfs mount, files
    /// prefixed `rte`, IOVA-as-VA.
    fn default() -> Self {
        Self {
            no_huge: false,
            in_memory: false,
            huge_dir: None,
            file_prefix: "rte".to_owned(),
            page_size: None,
            iova_mode: IovaMode::Va,
        }
    }
}

impl MemoryConfig {
    /// `--no-huge`: ordinary pages, which work anywhere (tests, virtual devices).
    pub fn no_huge() -> Self {
        Self {
            no_huge: true,
            ..Self::default()
        }
    }

    /// Rejects contradictory options, saying which to drop.
    fn validate(&self) -> Result<(), MemoryError> {
        let huge_size = matches!(self.page_size, Some(PageSize::Size2M | PageSize::Size1G));
        let problems = [
            (
                self.no_huge && self.huge_dir.is_some(),
                "--no-huge uses no hugetlbfs mount, so --huge-dir has no effect: drop one of them",
            ),
            (
                self.no_huge && huge_size,
                "a hugepage size was asked for together with --no-huge: drop one of them",
            ),
            (
                self.no_huge && self.iova_mode == IovaMode::Pa,
                "IOVA-as-PA needs hugepages (ordinary pages may move): drop --no-huge or use --iova-mode=va",
            ),
            (
                !self.no_huge && self.page_size == Some(PageSize::Size4K),
                "4 KiB is not a hugepage size: pick 2 MiB or 1 GiB, or pass --no-huge for ordinary pages",
            ),
            (
                self.in_memory && self.huge_dir.is_some(),
                "--in-memory creates no hugepage files, so --huge-dir has no effect: drop one of them",
            ),
            (
                self.file_prefix.contains('/'),
                "--file-prefix must not contain '/': it starts a file name",
            ),
        ];
        match problems.into_iter().find(|(bad, _)| *bad) {
            Some((_, problem)) => Err(MemoryError::InvalidConfig(problem)),
            None => Ok(()),
        }
    }
}

/// The memory allocator of the process (one per Eal).
#[derive(Debug)]
pub struct Memory {
    cfg: MemoryConfig,
    backing: Backing,
}

impl Memory {
    /// Checks `cfg` against the system: hugepage size supported, pages free, hugetlbfs
    /// mounted (unless `--in-memory`), physical addresses readable under IOVA-as-PA.
    pub fn new(cfg: MemoryConfig) -> Result<Self, MemoryError> {
        cfg.validate()?;
        let backing = Backing::new(&cfg)?;
        if cfg.iova_mode == IovaMode::Pa {
            pagemap::check_phys_addrs()?;
        }
        if cfg.no_huge {
            warn_no_huge();
        }
        Ok(Self { cfg, backing })
    }

    /// The options this memory was created with.
    pub fn config(&self) -> &MemoryConfig {
        &self.cfg
    }

    /// Size of the pages regions are made of; lengths are rounded up to it.
    pub fn page_size(&self) -> usize {
        self.backing.page_size()
    }

    /// The hugetlbfs mount hugepage files are created in (`None` with `--in-memory` or
    /// `--no-huge`).
    pub fn huge_dir(&self) -> Option<&Path> {
        self.backing.dir()
    }

    /// Maps `len` bytes rounded up to the page size, zeroed, with its IOVAs.
    pub fn alloc(&self, len: usize) -> Result<Region, MemoryError> {
        let page_size = self.page_size();
        let len = len
            .checked_next_multiple_of(page_size)
            .filter(|&rounded| rounded != 0 && rounded <= isize::MAX as usize)
            .ok_or(MemoryError::BadLength { len })?;
        let map = self.backing.map(len)?;
        Region::new(
            map,
            page_size,
            self.backing.hugepage().is_some(),
            self.cfg.iova_mode,
        )
    }

    /// Hugepages of this memory's size that are still free system-wide (`None` with
    /// `--no-huge`, or if sysfs cannot be read).
    pub fn free_hugepages(&self) -> Option<usize> {
        let page = self.backing.hugepage()?;
        hugepage_info::available_pages(page).ok()
    }
}

/// Warns, once per process, what `--no-huge` gives up.
fn warn_no_huge() {
    static WARNED: Once = Once::new();
    WARNED.call_once(|| {
        log::warn!(
            "--no-huge: memory is ordinary pages, which the kernel may move: IOVA-as-PA is \
             unavailable and devices cannot DMA by physical address; IOVA = VA, usable only \
             by virtual devices or through VFIO's IOMMU"
        );
    });
}

/// The system's base page size (what `/proc/self/pagemap` indexes by).
fn base_page_size() -> usize {
    // SAFETY: sysconf has no preconditions; _SC_PAGESIZE is always supported.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).expect("sysconf(_SC_PAGESIZE) is positive")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_cross_threads() {
        assert_send_sync::<Memory>();
        assert_send_sync::<Region>();
    }

    #[test]
    fn page_sizes_round_trip() {
        for page in [PageSize::Size4K, PageSize::Size2M, PageSize::Size1G] {
            assert_eq!(PageSize::from_bytes(page.bytes()), Some(page));
        }
        assert_eq!(PageSize::Size2M.bytes(), 2 * 1024 * 1024);
        assert_eq!(PageSize::Size1G.kb(), 1024 * 1024);
        assert_eq!(PageSize::from_bytes(64 << 10), None);
    }

    #[test]
    fn default_config_is_dpdks() {
        let cfg = MemoryConfig::default();
        assert!(!cfg.no_huge && !cfg.in_memory);
        assert_eq!(cfg.file_prefix, "rte");
        assert_eq!(cfg.iova_mode, IovaMode::Va);
        assert!(cfg.huge_dir.is_none() && cfg.page_size.is_none());
        assert!(MemoryConfig::no_huge().no_huge);
    }

    #[test]
    fn contradictory_options_are_rejected() {
        let bad = [
            MemoryConfig {
                huge_dir: Some("/dev/hugepages".into()),
                ..MemoryConfig::no_huge()
            },
            MemoryConfig {
                page_size: Some(PageSize::Size2M),
                ..MemoryConfig::no_huge()
            },
            MemoryConfig {
                iova_mode: IovaMode::Pa,
                ..MemoryConfig::no_huge()
            },
            MemoryConfig {
                page_size: Some(PageSize::Size4K),
                ..MemoryConfig::default()
            },
            MemoryConfig {
                in_memory: true,
                huge_dir: Some("/dev/hugepages".into()),
                ..MemoryConfig::default()
            },
            MemoryConfig {
                file_prefix: "a/b".into(),
                ..MemoryConfig::default()
            },
        ];
        for cfg in bad {
            let err = Memory::new(cfg.clone()).unwrap_err();
            assert!(
                matches!(err, MemoryError::InvalidConfig(_)),
                "{cfg:?} gave {err}"
            );
            assert!(
                err.to_string().contains("drop")
                    || err.to_string().contains("pick")
                    || err.to_string().contains("must not")
            );
        }
        let fine = MemoryConfig {
            in_memory: true,
            page_size: Some(PageSize::Size4K),
            ..MemoryConfig::no_huge()
        };
        assert!(fine.validate().is_ok());
    }

    #[test]
    fn no_huge_regions_are_zeroed_page_rounded_and_iova_is_va() {
        let memory = Memory::new(MemoryConfig::no_huge()).unwrap();
        let page = memory.page_size();
        assert_eq!(page, base_page_size());
        assert_eq!(memory.free_hugepages(), None);
        assert_eq!(memory.huge_dir(), None);

        let region = memory.alloc(page + 1).unwrap();
        assert_eq!(region.len(), 2 * page);
        assert_eq!(region.page_size(), page);
        assert!(!region.is_hugepage());
        let va = region.as_ptr().as_ptr().addr();
        assert_eq!(va % page, 0);
        assert_eq!(
            region.segments(),
            [Segment {
                va,
                iova: va as u64,
                len: 2 * page
            }]
        );
        assert_eq!(region.iova(0), va as u64);
        assert_eq!(region.iova(page + 7), (va + page + 7) as u64);

        // SAFETY: the region is `len` bytes, mapped read-write, and only this test uses it.
        let bytes =
            unsafe { std::slice::from_raw_parts_mut(region.as_ptr().as_ptr(), region.len()) };
        assert!(bytes.iter().all(|&b| b == 0));
        bytes.fill(0xa5);
        assert!(bytes.iter().all(|&b| b == 0xa5));
    }

    #[test]
    #[should_panic(expected = "outside the region")]
    fn iova_past_the_end_panics() {
        let memory = Memory::new(MemoryConfig::no_huge()).unwrap();
        let region = memory.alloc(1).unwrap();
        region.iova(region.len());
    }

    #[test]
    fn bad_lengths_are_errors() {
        let memory = Memory::new(MemoryConfig::no_huge()).unwrap();
        for len in [0, usize::MAX, isize::MAX as usize + 1] {
            let err = memory.alloc(len).unwrap_err();
            assert!(
                matches!(err, MemoryError::BadLength { len: l } if l == len),
                "{err}"
            );
        }
    }

    #[test]
    fn shortage_messages_name_the_fix() {
        let two_mb = MemoryError::NoFreeHugepages {
            page_size: PageSize::Size2M,
            needed: 3,
            free: 1,
        }
        .to_string();
        assert!(
            two_mb.starts_with("no free 2048 kB hugepages (need 3, 1 free)"),
            "{two_mb}"
        );
        assert!(
            two_mb.contains("scripts/bind_vfio.sh hugepages 512"),
            "{two_mb}"
        );
        assert!(
            two_mb.contains("echo 512 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"),
            "{two_mb}"
        );
        assert!(two_mb.ends_with("or pass --no-huge"), "{two_mb}");

        let many = MemoryError::NoFreeHugepages {
            page_size: PageSize::Size2M,
            needed: 2000,
            free: 0,
        }
        .to_string();
        assert!(many.contains("hugepages 2000"), "{many}");

        let one_gb = MemoryError::NoFreeHugepages {
            page_size: PageSize::Size1G,
            needed: 1,
            free: 0,
        }
        .to_string();
        assert!(
            one_gb.contains("echo 1 > /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"),
            "{one_gb}"
        );
        assert!(one_gb.contains("hugepagesz=1G"), "{one_gb}");

        let mount = MemoryError::NoHugetlbfsMount {
            page_size: PageSize::Size2M,
        }
        .to_string();
        assert!(
            mount.contains("mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages"),
            "{mount}"
        );
        assert!(
            mount.contains("--in-memory") && mount.contains("--no-huge"),
            "{mount}"
        );

        let pa = MemoryError::PhysAddrUnavailable.to_string();
        assert!(
            pa.contains("run as root") && pa.contains("--iova-mode=va"),
            "{pa}"
        );
    }
}
