/* SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * ring_pair.c - DPDK 22.11's rte_ring driven by the loop of ring_perf_autotest's
 * two-core case (app/test/test_ring_perf.c, enqueue_dequeue_bulk_helper): one
 * side enqueues or dequeues `n` pointers per call, `iters` times, pausing once
 * after each failed call. Built as a shared library and loaded by
 * benches/examples/ring_pair.rs, which runs this loop and burst's on the same
 * two pinned threads, alternating case by case, so both see the same machine.
 * The ring is initialised in memory the caller provides (rte_ring_init): no
 * EAL is needed.
 *
 * Build: cc -O3 -shared -fPIC -o ring_pair.so ring_pair.c \
 *        $(pkg-config --cflags --libs libdpdk)
 */
#include <stdint.h>
#include <sys/types.h>

#include <rte_cycles.h>
#include <rte_pause.h>
#include <rte_ring.h>

/* Bytes a ring of `count` slots needs (negative errno for a bad count). */
ssize_t
ring_pair_memsize(unsigned int count)
{
	return rte_ring_get_memsize(count);
}

/* Initialises a ring of `count` slots at `mem` (cache-line aligned,
 * ring_pair_memsize bytes), MP/MC by default as the autotest's ring. */
int
ring_pair_init(void *mem, unsigned int count)
{
	return rte_ring_init(mem, "ring_pair", count, 0);
}

/* One side of the pair: TSC cycles for `iters` bulk calls of `n` (<= 32)
 * pointers, SP/SC calls if `single`, else MP/MC, as the autotest. */
uint64_t
ring_pair_side(void *ring, int dequeue, int single, unsigned int n,
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
