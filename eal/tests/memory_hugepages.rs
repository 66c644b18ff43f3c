//! Real hugepages: hugetlbfs files and `MAP_HUGETLB`, 2 MiB and (when present) 1 GiB
//! pages, IOVA-as-PA from pagemap, cleanup on drop, and the shortage error.
//!
//! These need free 2 MiB hugepages, a hugetlbfs mount and root (for physical addresses).
//! A test whose precondition is missing prints `skipped: <reason>` and passes, unless
//! `BURST_REQUIRE_HUGEPAGES=1` (as in CI), where it fails instead. 1 GiB pages are
//! rarely reserved, so their tests only ever skip.

use std::fmt::Display;
use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use burst_eal::memory::{IovaMode, Memory, MemoryConfig, MemoryError, PageSize, Region};

const HUGE_2M: usize = 2 << 20;
const HUGE_1G: usize = 1 << 30;
const TIB: usize = 1 << 40;

/// Serializes the tests: they count this process's hugepages and the free ones.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reports a missing precondition: a skip, or a failure under BURST_REQUIRE_HUGEPAGES=1.
fn skip(reason: impl Display) {
    if std::env::var("BURST_REQUIRE_HUGEPAGES").is_ok_and(|v| v == "1") {
        panic!("BURST_REQUIRE_HUGEPAGES=1, but {reason}");
    }
    eprintln!("skipped: {reason}");
}

/// Whether `err` says the machine lacks hugepages or privileges, rather than a bug.
fn is_environmental(err: &MemoryError) -> bool {
    matches!(
        err,
        MemoryError::HugepagesUnsupported
            | MemoryError::UnsupportedPageSize { .. }
            | MemoryError::NoFreeHugepages { .. }
            | MemoryError::NoHugetlbfsMount { .. }
            | MemoryError::HugeDirNotWritable { .. }
            | MemoryError::PhysAddrUnavailable
    )
}

/// Memory for `cfg` with at least `pages` free hugepages, or `None` after skipping.
fn memory(cfg: MemoryConfig, pages: usize) -> Option<Memory> {
    match Memory::new(cfg) {
        Ok(memory) if memory.free_hugepages().is_some_and(|free| free >= pages) => Some(memory),
        Ok(memory) => {
            skip(format_args!(
                "fewer than {pages} free {} kB hugepages",
                memory.page_size() >> 10
            ));
            None
        }
        Err(err) if is_environmental(&err) => {
            skip(err);
            None
        }
        Err(err) => panic!("unexpected error: {err}"),
    }
}

fn files_2m(prefix: &str) -> MemoryConfig {
    MemoryConfig {
        page_size: Some(PageSize::Size2M),
        file_prefix: prefix.to_owned(),
        ..MemoryConfig::default()
    }
}

fn in_memory(page: PageSize) -> MemoryConfig {
    MemoryConfig {
        in_memory: true,
        page_size: Some(page),
        ..MemoryConfig::default()
    }
}

/// A file prefix no other test or process uses.
fn unique_prefix(test: &str) -> String {
    format!("burst_{test}_{}_", std::process::id())
}

/// Hugepage memory this process has mapped, in kB (`HugetlbPages` of /proc/self/status).
fn hugetlb_kb() -> usize {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("HugetlbPages:"))
        .expect("HugetlbPages in /proc/self/status");
    line.trim().trim_end_matches("kB").trim().parse().unwrap()
}

/// Names in `dir` that start with `prefix`.
fn files_with_prefix(dir: &Path, prefix: &str) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(prefix))
        .collect()
}

/// The physical address of `va`, read straight from /proc/self/pagemap.
fn pagemap_phys(va: usize) -> u64 {
    // SAFETY: sysconf has no preconditions.
    let base = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    let mut entry = [0u8; 8];
    File::open("/proc/self/pagemap")
        .unwrap()
        .read_exact_at(&mut entry, (va / base * 8) as u64)
        .unwrap();
    let entry = u64::from_ne_bytes(entry);
    assert_ne!(entry >> 63, 0, "page at {va:#x} not present");
    (entry & ((1 << 55) - 1)) * base as u64 + (va % base) as u64
}

/// The properties every hugepage region has, whatever its backing.
fn check_region(region: &Region, page: usize, len: usize) {
    assert_eq!(region.len(), len);
    assert_eq!(region.page_size(), page);
    assert!(region.is_hugepage());
    assert_eq!(
        region.as_ptr().as_ptr().addr() % page,
        0,
        "hugepage aligned"
    );
    // SAFETY: the region is `len` bytes mapped read-write, alive for this borrow of
    // `region`, and nothing else touches it while the slice lives.
    let bytes = unsafe { std::slice::from_raw_parts_mut(region.as_ptr().as_ptr(), len) };
    for offset in (0..len).step_by(page) {
        assert_eq!(bytes[offset], 0, "zeroed at {offset}");
        assert_eq!(
            bytes[offset + page - 1],
            0,
            "zeroed at {}",
            offset + page - 1
        );
        bytes[offset] = 0x5a;
        bytes[offset + page - 1] = 0xa5;
    }
    assert_eq!(bytes[0], 0x5a);
}

/// Checks IOVA-as-PA segments against an independent pagemap read.
fn check_pa_segments(region: &Region) {
    let page = region.page_size();
    let base = region.as_ptr().as_ptr().addr();
    let mut va = base;
    for segment in region.segments() {
        assert_eq!(segment.va, va, "segments are contiguous and in order");
        assert!(segment.len > 0 && segment.len % page == 0);
        assert_ne!(segment.iova, 0, "IOVA-as-PA is a real physical address");
        assert_eq!(segment.iova % page as u64, 0, "page aligned");
        va += segment.len;
    }
    assert_eq!(va, base + region.len(), "segments cover the region");
    for offset in (0..region.len()).step_by(page) {
        let iova = region.iova(offset);
        assert_eq!(iova % page as u64, 0, "page start {offset} is aligned");
        assert_eq!(
            iova,
            pagemap_phys(base + offset),
            "IOVA of page at {offset}"
        );
        assert_eq!(region.iova(offset + 123), iova + 123);
    }
}

#[test]
fn hugetlbfs_files_are_mapped_and_leave_nothing_behind() {
    let _serial = serial();
    let prefix = unique_prefix("files");
    let Some(memory) = memory(files_2m(&prefix), 2) else {
        return;
    };
    let dir = memory
        .huge_dir()
        .expect("hugetlbfs backing has a mount")
        .to_owned();
    assert_eq!(memory.page_size(), HUGE_2M);
    // A name already taken (a stale file, another process) is skipped, not clobbered.
    let taken = dir.join(format!("{prefix}map_0"));
    File::create_new(&taken).unwrap();
    let before = hugetlb_kb();

    let region = memory.alloc(HUGE_2M + 1).unwrap();
    check_region(&region, HUGE_2M, 2 * HUGE_2M);
    assert_eq!(hugetlb_kb() - before, (2 * HUGE_2M) >> 10);
    let va = region.as_ptr().as_ptr().addr();
    assert_eq!(region.segments().len(), 1, "IOVA-as-VA: one segment");
    assert_eq!(region.segments()[0].iova, va as u64);
    assert_eq!(files_with_prefix(&dir, &prefix), [format!("{prefix}map_0")]);

    drop(region);
    assert_eq!(hugetlb_kb(), before, "pages returned on drop");
    fs::remove_file(&taken).unwrap();
    assert!(files_with_prefix(&dir, &prefix).is_empty());
}

#[test]
fn map_hugetlb_in_memory() {
    let _serial = serial();
    let Some(memory) = memory(in_memory(PageSize::Size2M), 3) else {
        return;
    };
    assert_eq!(memory.huge_dir(), None);
    let before = hugetlb_kb();
    let region = memory.alloc(3 * HUGE_2M).unwrap();
    check_region(&region, HUGE_2M, 3 * HUGE_2M);
    assert_eq!(hugetlb_kb() - before, (3 * HUGE_2M) >> 10);
    drop(region);
    assert_eq!(hugetlb_kb(), before, "pages returned on drop");
}

#[test]
fn iova_as_pa_from_pagemap() {
    let _serial = serial();
    let pa = |cfg| MemoryConfig {
        iova_mode: IovaMode::Pa,
        ..cfg
    };
    for cfg in [
        pa(files_2m(&unique_prefix("pa"))),
        pa(in_memory(PageSize::Size2M)),
    ] {
        let Some(memory) = memory(cfg.clone(), 8) else {
            continue;
        };
        let region = memory.alloc(8 * HUGE_2M).unwrap();
        check_region(&region, HUGE_2M, 8 * HUGE_2M);
        check_pa_segments(&region);
        eprintln!(
            "in_memory={}: 8 pages in {} physically contiguous segment(s)",
            cfg.in_memory,
            region.segments().len()
        );
    }
}

#[test]
fn shortage_is_an_error_not_a_sigbus() {
    let _serial = serial();
    let prefix = unique_prefix("short");
    for cfg in [files_2m(&prefix), in_memory(PageSize::Size2M)] {
        let Some(memory) = memory(cfg, 1) else {
            continue;
        };
        // More than any machine reserves, so other processes freeing pages cannot race it.
        let pages = TIB / HUGE_2M;
        let before = hugetlb_kb();
        let err = memory.alloc(TIB).unwrap_err();
        assert!(
            matches!(err, MemoryError::NoFreeHugepages { page_size: PageSize::Size2M, needed, free } if needed == pages && free < pages),
            "{err}"
        );
        let message = err.to_string();
        assert!(
            message.contains("nr_hugepages") && message.contains("--no-huge"),
            "{message}"
        );
        assert_eq!(hugetlb_kb(), before);
        if let Some(dir) = memory.huge_dir() {
            assert!(
                files_with_prefix(dir, &prefix).is_empty(),
                "no file left behind"
            );
        }
    }
}

#[test]
fn huge_dir_is_checked() {
    let _serial = serial();
    let not_huge = MemoryConfig {
        huge_dir: Some(std::env::temp_dir()),
        ..MemoryConfig::default()
    };
    match Memory::new(not_huge) {
        Err(MemoryError::NotHugetlbfs { dir }) => assert!(dir.is_absolute()),
        Err(err) if is_environmental(&err) => return skip(err),
        other => panic!("a temp dir is not hugetlbfs: {other:?}"),
    }

    let Some(memory) = memory(files_2m("rte"), 1) else {
        return;
    };
    let mount = memory.huge_dir().unwrap().to_owned();
    let sub = mount.join(unique_prefix("subdir"));
    fs::create_dir(&sub).unwrap();
    let in_sub = MemoryConfig {
        huge_dir: Some(sub.clone()),
        ..MemoryConfig::default()
    };
    let memory = Memory::new(in_sub).unwrap();
    assert_eq!(memory.page_size(), HUGE_2M, "the size comes from the mount");
    assert_eq!(memory.huge_dir(), Some(sub.as_path()));
    drop(memory.alloc(1).unwrap());
    assert!(fs::read_dir(&sub).unwrap().next().is_none(), "file removed");
    fs::remove_dir(&sub).unwrap();

    let mismatch = MemoryConfig {
        huge_dir: Some(mount),
        page_size: Some(PageSize::Size1G),
        ..MemoryConfig::default()
    };
    let err = Memory::new(mismatch).unwrap_err();
    assert!(matches!(err, MemoryError::PageSizeMismatch { .. }), "{err}");
}

#[test]
fn one_gig_pages_when_present() {
    let _serial = serial();
    let memory = match Memory::new(in_memory(PageSize::Size1G)) {
        Ok(memory) => memory,
        Err(err @ MemoryError::NoFreeHugepages { free: 0, .. }) => {
            assert!(
                err.to_string().contains("hugepages-1048576kB/nr_hugepages"),
                "{err}"
            );
            return eprintln!(
                "skipped: no free 1 GiB hugepages (and the error says how to reserve them)"
            );
        }
        Err(err) if is_environmental(&err) => return eprintln!("skipped: {err}"),
        Err(err) => panic!("unexpected error: {err}"),
    };
    let before = hugetlb_kb();
    let region = memory.alloc(1).unwrap();
    check_region(&region, HUGE_1G, HUGE_1G);
    assert_eq!(hugetlb_kb() - before, HUGE_1G >> 10);
    drop(region);
    assert_eq!(hugetlb_kb(), before);

    let pa = MemoryConfig {
        iova_mode: IovaMode::Pa,
        ..in_memory(PageSize::Size1G)
    };
    match Memory::new(pa) {
        Ok(memory) => check_pa_segments(&memory.alloc(HUGE_1G).unwrap()),
        Err(err) if is_environmental(&err) => eprintln!("skipped: 1 GiB IOVA-as-PA: {err}"),
        Err(err) => panic!("unexpected error: {err}"),
    }

    let files = MemoryConfig {
        page_size: Some(PageSize::Size1G),
        file_prefix: unique_prefix("files1g"),
        ..MemoryConfig::default()
    };
    match Memory::new(files) {
        Ok(memory) => {
            let dir = memory.huge_dir().unwrap().to_owned();
            check_region(&memory.alloc(HUGE_1G).unwrap(), HUGE_1G, HUGE_1G);
            assert!(files_with_prefix(&dir, &memory.config().file_prefix).is_empty());
        }
        Err(err @ MemoryError::NoHugetlbfsMount { .. }) => {
            assert!(err.to_string().contains("pagesize=1G"), "{err}");
            eprintln!("skipped: 1 GiB hugetlbfs files: {err}");
        }
        Err(err) if is_environmental(&err) => eprintln!("skipped: 1 GiB hugetlbfs files: {err}"),
        Err(err) => panic!("unexpected error: {err}"),
    }
}
