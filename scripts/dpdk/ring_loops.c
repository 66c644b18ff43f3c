/* SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * ring_loops.c - DPDK 22.11's rte_ring driven by the loops of
 * ring_perf_autotest (app/test/test_ring_perf.c): one core enqueuing then
 * dequeuing 1 (test_single_enqueue_dequeue) or n pointers, burst or bulk
 * (test_burst_bulk_enqueue_dequeue); two cores, one side enqueuing or
 * dequeuing n pointers per bulk call, pausing once after each failed call
 * (enqueue_dequeue_bulk_helper); and two cores sharing a cache-less mempool,
 * each getting then putting n objects (mempool_perf_autotest's cache=0 case,
 * which DPDK's default ring_mp_mc mempool ops run as MC bulk dequeues and MP
 * bulk enqueues of one ring: here those ring calls without the ops-table
 * indirection, so DPDK's side is, if anything, favoured). Built as a shared
 * library and loaded by
 * benches/examples/ring_vs_dpdk.rs, which runs these loops and burst's on the
 * same pinned threads, alternating, so both see the same machine. The ring is
 * initialised in memory the caller provides (rte_ring_init): no EAL needed.
 *
 * Build: cc -O3 -shared -fPIC -o ring_loops.so ring_loops.c \
 *        $(pkg-config --cflags --libs libdpdk)
 */
#include <stdint.h>
#include <sys/types.h>

#include <rte_cycles.h>
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

/* One core of the cache-less mempool case: TSC cycles for `iters` rounds of a
 * get of `n` (<= 32) objects (MC bulk dequeue, retried after a pause if the
 * pool runs dry) and a put of the same objects (MP bulk enqueue). */
uint64_t
ring_loops_pool_side(void *ring, unsigned int n, unsigned int iters)
{
	struct rte_ring *r = ring;
	void *objs[32] __rte_cache_aligned;
	unsigned int i;

	if (n > 32)
		return 0;
	const uint64_t start = rte_rdtsc();
	for (i = 0; i < iters; i++) {
		while (rte_ring_mc_dequeue_bulk(r, objs, n, NULL) == 0)
			rte_pause();
		rte_ring_mp_enqueue_bulk(r, objs, n, NULL);
	}
	return rte_rdtsc() - start;
}
