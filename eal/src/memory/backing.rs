//! Where pages come from: ordinary anonymous memory (`--no-huge`), anonymous hugepages
//! (`--in-memory`, `MAP_HUGETLB`), or files in a hugetlbfs mount.
//!
//! A hugepage shortage must surface as an error, never as a SIGBUS on first touch: free
//! pages are counted before mapping, hugetlbfs files are `fallocate`d (ENOSPC when pages
//! run out), and anonymous hugepages are reserved by `mmap` itself (ENOMEM).

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::{MmapOptions, MmapRaw};

use super::{MemoryConfig, MemoryError, PageSize, base_page_size, hugepage_info};

/// The source of a [`Memory`](super::Memory)'s pages, chosen once from its config.
#[derive(Debug)]
pub(super) enum Backing {
    /// Ordinary pages of the system's base size.
    Anonymous { page_size: usize },
    /// `MAP_HUGETLB` anonymous hugepages: no files.
    Hugetlb { page: PageSize },
    /// Files `<prefix>map_<n>` in a hugetlbfs mount, unlinked once mapped.
    Hugetlbfs {
        page: PageSize,
        dir: PathBuf,
        prefix: String,
        next_file: AtomicU64,
    },
}

impl Backing {
    /// Chooses the backing `cfg` asks for, checking that the kernel can provide it.
    pub fn new(cfg: &MemoryConfig) -> Result<Self, MemoryError> {
        if cfg.no_huge {
            return Ok(Self::Anonymous {
                page_size: base_page_size(),
            });
        }
        let default = hugepage_info::default_hugepage_size()?;
        let hugetlbfs = |page, dir| Self::Hugetlbfs {
            page,
            dir,
            prefix: cfg.file_prefix.clone(),
            next_file: AtomicU64::new(0),
        };
        if let Some(dir) = &cfg.huge_dir {
            let (page, dir) = huge_dir_mount(dir, cfg.page_size, default)?;
            ensure_free(page, 1)?;
            ensure_writable(&dir)?;
            return Ok(hugetlbfs(page, dir));
        }
        let page = supported_page(cfg.page_size.map_or(default, PageSize::bytes))?;
        ensure_free(page, 1)?;
        if cfg.in_memory {
            return Ok(Self::Hugetlb { page });
        }
        let mounts = hugepage_info::mounts()?;
        let mount = hugepage_info::find_hugetlbfs(&mounts, page.bytes(), default)
            .ok_or(MemoryError::NoHugetlbfsMount { page_size: page })?;
        ensure_writable(&mount.dir)?;
        Ok(hugetlbfs(page, mount.dir.clone()))
    }

    /// Size of the pages this backing maps.
    pub fn page_size(&self) -> usize {
        match self {
            Self::Anonymous { page_size } => *page_size,
            Self::Hugetlb { page } | Self::Hugetlbfs { page, .. } => page.bytes(),
        }
    }

    /// The hugepage size, or `None` for ordinary pages.
    pub fn hugepage(&self) -> Option<PageSize> {
        match self {
            Self::Anonymous { .. } => None,
            Self::Hugetlb { page } | Self::Hugetlbfs { page, .. } => Some(*page),
        }
    }

    /// The hugetlbfs mount files are created in, if any.
    pub fn dir(&self) -> Option<&Path> {
        match self {
            Self::Hugetlbfs { dir, .. } => Some(dir),
            Self::Anonymous { .. } | Self::Hugetlb { .. } => None,
        }
    }

    /// Maps `len` bytes, a nonzero multiple of the page size, zeroed and populated
    /// (`MAP_POPULATE`) so every page has its physical address before anyone reads it.
    pub fn map(&self, len: usize) -> Result<MmapRaw, MemoryError> {
        match self {
            Self::Anonymous { .. } => MmapOptions::new()
                .len(len)
                .populate()
                .map_anon()
                .map(MmapRaw::from)
                .map_err(|source| MemoryError::Map { len, source }),
            Self::Hugetlb { page } => {
                ensure_free(*page, len / page.bytes())?;
                MmapOptions::new()
                    .len(len)
                    // log2 of the size, which memmap2 shifts into MAP_HUGE_2MB / MAP_HUGE_1GB.
                    .huge(Some(page.bytes().trailing_zeros() as u8))
                    .populate()
                    .map_anon()
                    .map(MmapRaw::from)
                    .map_err(|e| shortage_or(e, *page, len))
            }
            Self::Hugetlbfs {
                page,
                dir,
                prefix,
                next_file,
            } => {
                ensure_free(*page, len / page.bytes())?;
                let (file, path) = create_file(dir, prefix, next_file)?;
                let mapped = allocate(&file, len)
                    .and_then(|()| MmapOptions::new().len(len).populate().map_raw(&file));
                // The mapping holds the pages; the name is no longer needed (DPDK's
                // --huge-unlink), and removing it now leaves nothing behind even if the
                // process is killed.
                let unlinked = fs::remove_file(&path);
                let map = mapped.map_err(|e| shortage_or(e, *page, len))?;
                unlinked.map_err(|source| MemoryError::Io {
                    action: "cannot remove hugepage file",
                    path,
                    source,
                })?;
                Ok(map)
            }
        }
    }
}

/// The hugetlbfs mount holding `dir` (given as `--huge-dir`) and its page size.
fn huge_dir_mount(
    dir: &Path,
    requested: Option<PageSize>,
    default: usize,
) -> Result<(PageSize, PathBuf), MemoryError> {
    let dir = fs::canonicalize(dir).map_err(|source| MemoryError::Io {
        action: "cannot open --huge-dir",
        path: dir.to_owned(),
        source,
    })?;
    let mounts = hugepage_info::mounts()?;
    let size = hugepage_info::mount_of(&mounts, &dir)
        .and_then(|m| m.hugepage_size(default))
        .ok_or_else(|| MemoryError::NotHugetlbfs { dir: dir.clone() })?;
    let page = supported_page(size)?;
    match requested {
        Some(requested) if requested != page => Err(MemoryError::PageSizeMismatch {
            dir,
            mount: page,
            requested,
        }),
        _ => Ok((page, dir)),
    }
}

/// `size` as a hugepage size this kernel offers.
fn supported_page(size: usize) -> Result<PageSize, MemoryError> {
    PageSize::from_bytes(size)
        .filter(|&page| page != PageSize::Size4K && hugepage_info::is_supported(size))
        .ok_or(MemoryError::UnsupportedPageSize { size })
}

/// Fails unless `needed` pages of `page` are free now.
fn ensure_free(page: PageSize, needed: usize) -> Result<(), MemoryError> {
    let free = hugepage_info::available_pages(page)?;
    if free < needed {
        return Err(MemoryError::NoFreeHugepages {
            page_size: page,
            needed,
            free,
        });
    }
    Ok(())
}

/// Fails unless this process may create files in `dir`.
fn ensure_writable(dir: &Path) -> Result<(), MemoryError> {
    let writable = CString::new(dir.as_os_str().as_bytes()).is_ok_and(|path| {
        // SAFETY: `path` is a NUL-terminated string that outlives the call.
        unsafe { libc::access(path.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
    });
    if !writable {
        return Err(MemoryError::HugeDirNotWritable {
            dir: dir.to_owned(),
        });
    }
    Ok(())
}

/// A failed hugepage mapping: out of pages (another process took them since
/// [`ensure_free`]) or some other mmap failure.
fn shortage_or(error: io::Error, page: PageSize, len: usize) -> MemoryError {
    match error.raw_os_error() {
        Some(libc::ENOMEM | libc::ENOSPC) => MemoryError::NoFreeHugepages {
            page_size: page,
            needed: len / page.bytes(),
            free: hugepage_info::available_pages(page).unwrap_or(0),
        },
        _ => MemoryError::Map { len, source: error },
    }
}

/// Creates the next free `<prefix>map_<n>` in `dir`, skipping names already taken.
fn create_file(
    dir: &Path,
    prefix: &str,
    next_file: &AtomicU64,
) -> Result<(File, PathBuf), MemoryError> {
    loop {
        // Relaxed: the counter only has to hand out distinct numbers.
        let n = next_file.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{prefix}map_{n}"));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(file) => return Ok((file, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(source) => {
                return Err(MemoryError::Io {
                    action: "cannot create hugepage file",
                    path,
                    source,
                });
            }
        }
    }
}

/// Gives `file` its `len` bytes of hugepages now, so a shortage is ENOSPC here rather
/// than a SIGBUS when a page is first touched.
fn allocate(file: &File, len: usize) -> io::Result<()> {
    let len =
        libc::off_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: the descriptor is open for writing and owned by `file`, which outlives the
    // call; fallocate reads no memory of ours.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
