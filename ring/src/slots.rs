//! The ring's slot array, on its own cache lines as DPDK's (`rte_ring` places the
//! slots, cache-aligned, after the head/tail lines).
//!
//! A `Box<[_]>` of pointer-sized slots starts wherever `malloc` puts it (16-byte
//! aligned), so a bulk of 8 pointers straddles two cache lines and the line between two
//! bulks is written by the producer while the consumer reads the bulk before: the two
//! cores then pass that line back and forth.

use std::alloc::{self, Layout};
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use crate::sync::UnsafeCell;

/// Slots start on a multiple of this: two cache lines, the unit x86's adjacent-line
/// prefetcher moves (crossbeam's `CachePadded` uses the same figure).
const ALIGN: usize = 128;

/// A fixed array of possibly uninitialised `T` cells, aligned to [`ALIGN`]. It never
/// drops the `T`s (the ring knows which slots are full); it frees only the memory.
pub(crate) struct Slots<T> {
    ptr: NonNull<UnsafeCell<MaybeUninit<T>>>,
    len: usize,
}

impl<T> Slots<T> {
    /// `len` empty slots.
    pub(crate) fn new(len: usize) -> Self {
        let layout = Self::layout(len);
        let ptr = if layout.size() == 0 {
            // Zero-sized `T`: no memory, any aligned non-null pointer will do.
            NonNull::<UnsafeCell<MaybeUninit<T>>>::dangling()
        } else {
            // SAFETY: the layout has a non-zero size.
            let raw = unsafe { alloc::alloc(layout) };
            let Some(p) = NonNull::new(raw.cast()) else {
                alloc::handle_alloc_error(layout)
            };
            p
        };
        for i in 0..len {
            // SAFETY: `i < len`, inside the allocation; each cell is written once.
            unsafe { ptr.add(i).write(UnsafeCell::new(MaybeUninit::uninit())) };
        }
        Self { ptr, len }
    }

    fn layout(len: usize) -> Layout {
        Layout::array::<UnsafeCell<MaybeUninit<T>>>(len)
            .and_then(|l| l.align_to(ALIGN))
            .expect("ring sizes are at most 2^31 slots")
    }

    /// The first slot; slot `i` is at `as_ptr().add(i)`, `i < len`.
    #[cfg(not(loom))]
    #[inline(always)]
    pub(crate) fn as_ptr(&self) -> *mut T {
        // `UnsafeCell<MaybeUninit<T>>` has `T`'s layout.
        self.ptr.as_ptr().cast()
    }

    /// Slot `i`, for loom's per-cell access tracking.
    #[cfg(loom)]
    pub(crate) fn get(&self, i: usize) -> &UnsafeCell<MaybeUninit<T>> {
        assert!(i < self.len);
        // SAFETY: `i < len`: an initialised cell inside the allocation, living as long
        // as `self`.
        unsafe { self.ptr.add(i).as_ref() }
    }
}

impl<T> Drop for Slots<T> {
    fn drop(&mut self) {
        let layout = Self::layout(self.len);
        // SAFETY: the `len` cells were initialised in `new` and are dropped once here
        // (a cell holds no `T` to drop: `MaybeUninit`); the memory came from `alloc`
        // with this layout, unless it has no size.
        unsafe {
            std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(
                self.ptr.as_ptr(),
                self.len,
            ));
            if layout.size() != 0 {
                alloc::dealloc(self.ptr.as_ptr().cast(), layout);
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn slots_start_on_their_own_lines() {
        for len in [1, 2, 8, 4096] {
            let s = Slots::<u64>::new(len);
            assert_eq!(s.as_ptr() as usize % ALIGN, 0, "{len} slots");
        }
        let s = Slots::<u8>::new(3);
        assert_eq!(s.as_ptr() as usize % ALIGN, 0);
        // Zero-sized elements take no memory.
        let _ = Slots::<()>::new(1024);
    }
}
