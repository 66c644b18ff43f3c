//! The per-lcore object cache (DPDK's `rte_mempool_cache`), shared by [`Cache`] and
//! [`MbufCache`]: a LIFO stack of free objects in front of the pool's ring, owned by
//! one worker, so most gets and puts are a copy of pointers with no atomic operation.
//!
//! The policy is DPDK 22.11's (`rte_mempool_do_generic_get/put`):
//! - put: copy the objects onto the stack; if it now holds `flushthresh` (1.5 × size)
//!   or more, move everything above `size` to the ring. Bulks over 512 bypass the cache.
//! - get: pop from the stack; if it holds too few, hand out what it has, then fetch
//!   `size` + the rest from the ring in one dequeue and hand the rest out from the top
//!   (the cache is left with `size`); if the ring has not that many, take just the
//!   rest from the ring; if not even that, undo and fail.
//!
//! [`Cache`]: crate::Cache
//! [`MbufCache`]: crate::MbufCache

use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::Ordering;

use crate::pool::{CacheLen, PoolRef};
use crate::ptrs::{Handle, ObjPtr, as_ptrs, copy_ptrs};
use crate::{Exhausted, MempoolError};

/// Largest cache, and largest bulk that goes through one (`RTE_MEMPOOL_CACHE_MAX_SIZE`).
pub const CACHE_MAX_SIZE: usize = 512;

/// A cache of `T` handles' objects in front of one pool.
pub(crate) struct CacheCore<T: Handle> {
    /// The stack; its capacity, `flushthresh + CACHE_MAX_SIZE`, is never exceeded, as
    /// it holds at most `flushthresh` objects between calls.
    objs: Vec<ObjPtr>,
    size: usize,
    flushthresh: usize,
    pool: PoolRef,
    /// Objects on their way to the ring in a flush.
    spill: Vec<ObjPtr>,
    /// `objs.len()` as `available` sees it.
    published: CacheLen,
    _handles: PhantomData<T>,
}

impl<T: Handle> CacheCore<T> {
    pub(crate) fn new(pool: PoolRef, size: usize) -> Result<Self, MempoolError> {
        let flushthresh = size * 3 / 2;
        let pool_size = pool.inner().size();
        if size > CACHE_MAX_SIZE || flushthresh > pool_size {
            return Err(MempoolError::BadCacheSize { size, pool_size });
        }
        Ok(Self {
            objs: Vec::with_capacity(flushthresh + CACHE_MAX_SIZE),
            size,
            flushthresh,
            spill: Vec::with_capacity(flushthresh + CACHE_MAX_SIZE),
            published: pool.inner().add_cache(),
            pool,
            _handles: PhantomData,
        })
    }

    pub(crate) fn pool(&self) -> &PoolRef {
        &self.pool
    }

    pub(crate) fn len(&self) -> usize {
        self.objs.len()
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Publishes the fill level for `available` (a plain store on this cache's line).
    #[inline(always)]
    fn publish(&self) {
        self.published.store(self.objs.len(), Ordering::Relaxed);
    }

    /// Appends exactly `n` objects to `out`, or none. Always inlined, as DPDK's
    /// `rte_mempool_do_generic_get`: the copy's AVX2 path makes it large enough that
    /// the inliner would otherwise leave a call in the caller's loop.
    #[inline(always)]
    pub(crate) fn get(&mut self, out: &mut Vec<T>, n: usize) -> Result<(), Exhausted> {
        let len = self.objs.len();
        if n > len {
            return self.get_refill(out, n);
        }
        out.reserve(n);
        let at = out.len();
        // SAFETY: n <= len, so the top n entries are free objects of the pool, which move
        // to the n slots `reserve` made after `out`'s elements (handles are pointers,
        // `Handle`); shrinking the stack gives them up.
        unsafe {
            copy_ptrs(
                self.objs.as_ptr().add(len - n),
                out.as_mut_ptr().add(at).cast::<ObjPtr>(),
                n,
            );
            self.objs.set_len(len - n);
            out.set_len(at + n);
        }
        self.publish();
        Ok(())
    }

    /// `get` when the stack holds fewer than `n`.
    #[cold]
    #[inline(never)]
    fn get_refill(&mut self, out: &mut Vec<T>, n: usize) -> Result<(), Exhausted> {
        let had = self.objs.len();
        let at = out.len();
        out.reserve(n);
        // SAFETY: the whole stack (had < n objects) moves to `out`, which has room for n.
        unsafe {
            ptr::copy_nonoverlapping(
                self.objs.as_ptr(),
                out.as_mut_ptr().add(at).cast::<ObjPtr>(),
                had,
            );
            self.objs.set_len(0);
            out.set_len(at + had);
        }
        let rest = n - had;
        let pool = self.pool.inner();
        let done = if rest <= CACHE_MAX_SIZE
            // SAFETY: the stack holds this pool's objects as bare pointers.
            && unsafe { pool.dequeue(&mut self.objs, self.size + rest) }
        {
            // The stack holds size + rest (<= its capacity): the top `rest` go out.
            let len = self.objs.len();
            // SAFETY: `out` has room for `rest` more (reserved n); the top `rest` entries
            // are free objects now given up by the stack.
            unsafe {
                ptr::copy_nonoverlapping(
                    self.objs.as_ptr().add(len - rest),
                    out.as_mut_ptr().add(at + had).cast::<ObjPtr>(),
                    rest,
                );
                self.objs.set_len(len - rest);
                out.set_len(at + n);
            }
            true
        } else {
            // SAFETY: only handles of kind `T` are made from this pool's objects.
            unsafe { pool.dequeue(out, rest) }
        };
        if !done {
            // SAFETY: the `had` objects taken from the stack go back to it; `out` is cut
            // to its old length without dropping them, so each stays owned once.
            unsafe {
                ptr::copy_nonoverlapping(
                    out.as_ptr().add(at).cast::<ObjPtr>(),
                    self.objs.as_mut_ptr(),
                    had,
                );
                self.objs.set_len(had);
                out.set_len(at);
            }
        }
        self.publish();
        if done { Ok(()) } else { Err(Exhausted) }
    }

    /// Takes one object.
    #[inline]
    pub(crate) fn get_one(&mut self) -> Option<T> {
        if self.objs.is_empty() {
            return self.get_one_refill();
        }
        let obj = self.objs.pop()?;
        self.publish();
        // SAFETY: a free object of this pool, which the stack gave up.
        Some(unsafe { T::from_obj(obj) })
    }

    /// `get_one` on an empty stack: refill with size + 1, else take one from the ring.
    #[cold]
    #[inline(never)]
    fn get_one_refill(&mut self) -> Option<T> {
        let pool = self.pool.inner();
        // SAFETY: the stack holds this pool's objects as bare pointers.
        let obj = if unsafe { pool.dequeue(&mut self.objs, self.size + 1) } {
            self.objs.pop()
        } else {
            pool.dequeue_one()
        };
        self.publish();
        // SAFETY: a free object of this pool, taken from the ring by us.
        obj.map(|obj| unsafe { T::from_obj(obj) })
    }

    /// Moves all of `objs` onto the stack, flushing above the threshold.
    ///
    /// Only for handles that need nothing done on free (raw objects): the objects are
    /// not inspected; one of another pool is sent home when a flush finds it. Always
    /// inlined, as `get`.
    #[inline(always)]
    pub(crate) fn put(&mut self, objs: &mut Vec<T>) {
        let n = objs.len();
        if n > CACHE_MAX_SIZE {
            return self.put_direct(objs);
        }
        let len = self.objs.len();
        // SAFETY: len <= flushthresh between calls and n <= CACHE_MAX_SIZE, so the
        // stack's capacity holds them; the handles move in and `objs` forgets them.
        unsafe {
            copy_ptrs(
                objs.as_ptr().cast::<ObjPtr>(),
                self.objs.as_mut_ptr().add(len),
                n,
            );
            objs.set_len(0);
            self.objs.set_len(len + n);
        }
        if len + n >= self.flushthresh {
            self.flush_to(self.size);
        }
        self.publish();
    }

    /// A bulk too large for the cache goes to the ring, as DPDK's does.
    #[cold]
    #[inline(never)]
    fn put_direct(&mut self, objs: &mut Vec<T>) {
        self.spill.clear();
        self.spill.extend_from_slice(as_ptrs(objs));
        // SAFETY: the handles moved to `spill` (as pointers), which `flush_spill`
        // places; the vector forgets them.
        unsafe { objs.set_len(0) };
        self.flush_spill();
    }

    /// Pushes one freed object of this cache's pool.
    ///
    /// # Safety
    /// `obj` must be a free object of this cache's pool given up by the caller.
    #[inline(always)]
    pub(crate) unsafe fn push(&mut self, obj: ObjPtr) {
        if self.objs.len() == self.objs.capacity() {
            self.flush_to(self.size);
        }
        // SAFETY: there is room (checked above); the caller gives the object up.
        unsafe {
            let len = self.objs.len();
            self.objs.as_mut_ptr().add(len).write(obj);
            self.objs.set_len(len + 1);
        }
    }

    /// After pushes: the put policy's threshold check, and the published level.
    #[inline(always)]
    pub(crate) fn pushed(&mut self) {
        if self.objs.len() >= self.flushthresh {
            self.flush_to(self.size);
        }
        self.publish();
    }

    /// Moves all objects to the ring.
    pub(crate) fn flush(&mut self) {
        self.flush_to(0);
        self.publish();
    }

    /// Moves the objects above `keep` to the ring.
    #[cold]
    #[inline(never)]
    fn flush_to(&mut self, keep: usize) {
        self.spill.clear();
        self.spill.extend_from_slice(&self.objs[keep..]);
        self.objs.truncate(keep);
        self.flush_spill();
    }

    /// Moves `spill` to the ring, sending objects of other pools home first.
    fn flush_spill(&mut self) {
        let pool = self.pool.inner();
        pool.prefetch_enqueue();
        if !pool.owns_all(&self.spill) {
            self.spill.retain(|&obj| {
                pool.owns(obj.addr()) || {
                    // SAFETY: only handles of kind `T` enter the cache; this one's own
                    // drop sends it to its pool.
                    drop(unsafe { T::from_obj(obj) });
                    false
                }
            });
        }
        pool.enqueue(&mut self.spill);
    }
}

impl<T: Handle> Drop for CacheCore<T> {
    fn drop(&mut self) {
        self.flush();
        self.pool.inner().remove_cache(&self.published);
    }
}
