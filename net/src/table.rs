//! Memory for the large lookup tables (an LPM's 64 MiB tbl24, an exact-match table's
//! buckets), asking the kernel for transparent huge pages before the pages are touched:
//! a random lookup then misses the TLB far less often, as DPDK's tables in hugepage
//! memory do.

use std::mem::size_of;

/// Transparent huge page size on x86-64 and most arm64 kernels.
const HUGE_PAGE: usize = 2 << 20;

/// A zeroed table of `len` entries. Its pages are mapped on first touch, so entries never
/// written cost no memory.
pub(crate) fn zeroed(len: usize) -> Box<[u32]> {
    let table = vec![0u32; len].into_boxed_slice();
    advise_huge(table.as_ptr(), len);
    table
}

/// A table of `len` copies of `value`.
pub(crate) fn filled<T: Clone>(len: usize, value: T) -> Box<[T]> {
    let mut table = with_capacity(len);
    table.resize(len, value);
    table.into_boxed_slice()
}

/// An empty vector with room for `capacity` elements, not yet touched.
pub(crate) fn with_capacity<T>(capacity: usize) -> Vec<T> {
    let v = Vec::with_capacity(capacity);
    advise_huge(v.as_ptr(), capacity);
    v
}

/// Advises `MADV_HUGEPAGE` for the whole 2 MiB pages among the `len` elements at `ptr`
/// (effective with `/sys/kernel/mm/transparent_hugepage/enabled` at `madvise` or
/// `always`). Best effort: without it lookups are slower, not wrong.
fn advise_huge<T>(ptr: *const T, len: usize) {
    let start = ptr as usize;
    let end = start + len * size_of::<T>();
    let (first, last) = (
        start.next_multiple_of(HUGE_PAGE),
        end / HUGE_PAGE * HUGE_PAGE,
    );
    if first < last {
        // SAFETY: madvise only changes how the kernel backs pages of this live allocation
        // (MADV_HUGEPAGE keeps their contents); it neither reads nor frees them.
        unsafe {
            libc::madvise(
                first as *mut libc::c_void,
                last - first,
                libc::MADV_HUGEPAGE,
            )
        };
    }
}
