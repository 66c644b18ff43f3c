/* SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * ring_loops.c - DPDK 22.11's rte_ring driven by the loops of
 * ring_perf_autotest (app/test/test_ring_perf.c): one core enqueuing then
 * dequeuing 1 (test_single_enqueue_dequeue) or n pointers, burst or bulk
 * (test_burst_bulk_enqueue_dequeue); two cores, one side enqueuing or
 * dequeuing n pointers per bulk call, pausing once after each failed call
 * (enqueue_dequeue_bulk_helper); and mempool_perf_autotest's loop, one or
 * two cores getting then putting n objects of one mempool, cache-less or each
 * through a cache of its own: DPDK's rte_mempool_generic_get/put on its
 * default ring_mp_mc ops, the calls rte_mempool_get/put_bulk make once they
 * have looked up the lcore's cache (or found the pool has none).
 * Built as a shared library and loaded by
 * benches/examples/ring_vs_dpdk.rs, which runs these loops and burst's on the
 * same pinned threads, alternating, so both see the same machine. The ring is
 * initialised in memory the caller provides (rte_ring_init), the mempool and
 * its caches are set up here as rte_mempool_create and
 * rte_mempool_cache_create would (their memory comes from the EAL's heap):
 * no EAL needed.
 *
 * Build (the mempool driver is linked by name: nothing here calls it, its
 * constructor registers the ring_mp_mc ops):
 *   cc -O3 -shared -fPIC -o ring_loops.so ring_loops.c \
 *      $(pkg-config --cflags --libs libdpdk) -Wl,--no-as-needed -lrte_mempool_ring
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <rte_cycles.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_ring.h>

/* Bytes a ring of `count` slots needs (negative errno for a bad count). */
ssize_t
ring_loops_memsize(unsigned int count)
{
	return rte_ring_get_memsize(count);
}

/* Initialises a ring of `count` slots at `mem` (cache-line aligned,
 * ring_loops_memsize bytes), MP/MC by default as the autotest's ring. */
int
ring_loops_init(void *mem, unsigned int count)
{
	return rte_ring_init(mem, "ring_loops", count, 0);
}

/* One side of the pair: TSC cycles for `iters` bulk calls of `n` (<= 32)
 * pointers, SP/SC calls if `single`, else MP/MC, as the autotest. */
uint64_t
ring_loops_two_core(void *ring, int dequeue, int single, unsigned int n,
	       unsigned int iters)
{
	struct rte_ring *r = ring;
	void *burst[32] __rte_cache_aligned = { 0 };
	unsigned int i, ret;

	if (n > 32)
		return 0;
	const uint64_t start = rte_rdtsc();
	for (i = 0; i < iters; i++)
		do {
			if (!dequeue)
				ret = single ? rte_ring_sp_enqueue_bulk(r, burst, n, NULL)
					     : rte_ring_mp_enqueue_bulk(r, burst, n, NULL);
			else
				ret = single ? rte_ring_sc_dequeue_bulk(r, burst, n, NULL)
					     : rte_ring_mc_dequeue_bulk(r, burst, n, NULL);
			if (ret == 0)
				rte_pause();
		} while (!ret);
	return rte_rdtsc() - start;
}

/* One core: TSC cycles for `iters` rounds of an enqueue then a dequeue of `n`
 * (<= 32) pointers, `kind` 0 = one element (rte_ring_{sp,mp}_enqueue and
 * rte_ring_{sc,mc}_dequeue, n = 1), 1 = burst, 2 = bulk; SP/SC calls if
 * `single`, else MP/MC. */
uint64_t
ring_loops_one_core(void *ring, int single, int kind, unsigned int n,
		   unsigned int iters)
{
	struct rte_ring *r = ring;
	void *burst[32] __rte_cache_aligned = { 0 };
	unsigned int i;

	if (n > 32 || (kind == 0 && n != 1))
		return 0;
	const uint64_t start = rte_rdtsc();
	for (i = 0; i < iters; i++) {
		if (kind == 0) {
			if (single) {
				rte_ring_sp_enqueue(r, burst[0]);
				rte_ring_sc_dequeue(r, &burst[0]);
			} else {
				rte_ring_mp_enqueue(r, burst[0]);
				rte_ring_mc_dequeue(r, &burst[0]);
			}
		} else if (kind == 1) {
			if (single) {
				rte_ring_sp_enqueue_burst(r, burst, n, NULL);
				rte_ring_sc_dequeue_burst(r, burst, n, NULL);
			} else {
				rte_ring_mp_enqueue_burst(r, burst, n, NULL);
				rte_ring_mc_dequeue_burst(r, burst, n, NULL);
			}
		} else {
			if (single) {
				rte_ring_sp_enqueue_bulk(r, burst, n, NULL);
				rte_ring_sc_dequeue_bulk(r, burst, n, NULL);
			} else {
				rte_ring_mp_enqueue_bulk(r, burst, n, NULL);
				rte_ring_mc_dequeue_bulk(r, burst, n, NULL);
			}
		}
	}
	return rte_rdtsc() - start;
}

/* Fills the ring with `count` distinct non-null objects, as a mempool of that
 * many; how many went in. */
unsigned int
ring_loops_fill(void *ring, unsigned int count)
{
	unsigned int i;

	for (i = 0; i < count; i++)
		if (rte_ring_mp_enqueue(ring, (void *)(uintptr_t)(4096 * (i + 1))) != 0)
			break;
	return i;
}

/* A mempool of DPDK's whose common pool is `ring` (filled by the caller), on
 * DPDK's default ops (ring_mp_mc: MC bulk dequeues, MP bulk enqueues, called
 * through the ops table as in any DPDK application); NULL if those ops are
 * not registered (librte_mempool_ring not linked). Only what the get and put
 * paths read is set; free with free(). */
void *
ring_loops_mempool(void *ring)
{
	struct rte_mempool *mp = aligned_alloc(RTE_CACHE_LINE_SIZE,
		RTE_ALIGN_CEIL(sizeof(*mp), RTE_CACHE_LINE_SIZE));

	if (mp == NULL)
		return NULL;
	memset(mp, 0, sizeof(*mp));
	strcpy(mp->name, "ring_loops");
	if (rte_mempool_set_ops_byname(mp, "ring_mp_mc", NULL) != 0) {
		free(mp);
		return NULL;
	}
	mp->pool_data = ring;
	return mp;
}

/* One core of a mempool case: TSC cycles for `iters` rounds of a get of `n`
 * (<= 32) objects (retried after a pause if the pool runs dry) and a put of
 * the same objects, as mempool_perf_autotest's loop: straight on the pool if
 * `cache_size` is 0 (as rte_mempool_get/put_bulk on a pool made without
 * caches), else through a cache of that size of this thread's own (as
 * rte_mempool_cache_create makes it), warmed with one round first and flushed
 * back to the pool after. 0 if the cache cannot be made. */
uint64_t
ring_loops_pool_side(void *pool, unsigned int cache_size, unsigned int n,
		     unsigned int iters)
{
	struct rte_mempool *mp = pool;
	struct rte_mempool_cache *cache = NULL;
	void *objs[32] __rte_cache_aligned;
	unsigned int i;

	if (n > 32 || cache_size > RTE_MEMPOOL_CACHE_MAX_SIZE)
		return 0;
	if (cache_size > 0) {
		cache = aligned_alloc(RTE_CACHE_LINE_SIZE, sizeof(*cache));
		if (cache == NULL)
			return 0;
		memset(cache, 0, sizeof(*cache));
		cache->size = cache_size;
		cache->flushthresh = cache_size * 3 / 2; /* CALC_CACHE_FLUSHTHRESH */
		while (rte_mempool_generic_get(mp, objs, n, cache) != 0)
			rte_pause();
		rte_mempool_generic_put(mp, objs, n, cache);
	}

	const uint64_t start = rte_rdtsc();
	for (i = 0; i < iters; i++) {
		while (rte_mempool_generic_get(mp, objs, n, cache) != 0)
			rte_pause();
		rte_mempool_generic_put(mp, objs, n, cache);
	}
	const uint64_t cycles = rte_rdtsc() - start;

	if (cache != NULL) {
		rte_mempool_cache_flush(cache, mp);
		free(cache);
	}
	return cycles;
}

/* Objects in the ring now (after the sides are done: all of them). */
unsigned int
ring_loops_count(void *ring)
{
	return rte_ring_count(ring);
}
