/* SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * mbuf_bench.c - DPDK's cost of rte_pktmbuf_alloc_bulk(32) +
 * rte_pktmbuf_free_bulk(32), the counterpart of burst's criterion bench
 * mbuf/alloc_free_bulk32 (dpdk-test has no such case).
 *
 * One pool from rte_pktmbuf_pool_create: 8191 mbufs, per-lcore cache 256,
 * no private area, RTE_MBUF_DEFAULT_BUF_SIZE data room. On the main lcore,
 * after a warm-up, ROUNDS rounds of ITERS iterations of alloc_bulk(32) +
 * free_bulk(32) are timed with rte_rdtsc(); the median round is reported.
 *
 * Build: cc -O3 -o mbuf_bench mbuf_bench.c $(pkg-config --cflags --libs libdpdk)
 * Usage: mbuf_bench [EAL args] -- [-n ITERS] [-r ROUNDS]
 * Output (one line, parsed by scripts/dpdk/report.py):
 *   mbuf_bench: tsc_hz=<hz> iters=<n> rounds=<r> alloc_free_bulk32
 *   cycles_per_mbuf=<c> ns_per_mbuf=<ns> min_cycles_per_mbuf=<c>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#define NB_MBUF 8191
#define CACHE_SIZE 256
#define BULK 32
#define MAX_ROUNDS 64

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* One round: iters times alloc 32 + free 32. Returns cycles per mbuf. */
static double
run_round(struct rte_mempool *mp, unsigned long iters)
{
	struct rte_mbuf *m[BULK];
	uint64_t start = rte_rdtsc();
	for (unsigned long i = 0; i < iters; i++) {
		if (unlikely(rte_pktmbuf_alloc_bulk(mp, m, BULK) != 0)) {
			fprintf(stderr, "mbuf_bench: rte_pktmbuf_alloc_bulk failed\n");
			exit(1);
		}
		rte_pktmbuf_free_bulk(m, BULK);
	}
	uint64_t end = rte_rdtsc();
	return (double)(end - start) / ((double)iters * BULK);
}

int
main(int argc, char **argv)
{
	unsigned long iters = 1000000;
	int rounds = 7;
	int ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "mbuf_bench: rte_eal_init failed: %s\n",
			rte_strerror(rte_errno));
		return 1;
	}
	argc -= ret;
	argv += ret;

	int opt;
	while ((opt = getopt(argc, argv, "n:r:")) != -1) {
		switch (opt) {
		case 'n':
			iters = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: mbuf_bench [EAL args] -- "
				"[-n ITERS] [-r ROUNDS]\n");
			return 2;
		}
	}
	if (iters == 0 || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "mbuf_bench: need ITERS >= 1, 1 <= ROUNDS <= %d\n",
			MAX_ROUNDS);
		return 2;
	}

	struct rte_mempool *mp = rte_pktmbuf_pool_create("mbuf_bench_pool",
		NB_MBUF, CACHE_SIZE, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
		rte_socket_id());
	if (mp == NULL) {
		fprintf(stderr, "mbuf_bench: rte_pktmbuf_pool_create failed: %s\n",
			rte_strerror(rte_errno));
		return 1;
	}

	/* Warm-up: fills this lcore's cache, faults in the objects. */
	run_round(mp, iters / 4 + 1);

	double c[MAX_ROUNDS];
	for (int r = 0; r < rounds; r++)
		c[r] = run_round(mp, iters);
	qsort(c, rounds, sizeof(c[0]), cmp_double);
	double median = rounds % 2 ? c[rounds / 2]
				   : (c[rounds / 2 - 1] + c[rounds / 2]) / 2;
	uint64_t hz = rte_get_tsc_hz();

	printf("mbuf_bench: tsc_hz=%llu iters=%lu rounds=%d alloc_free_bulk32 "
	       "cycles_per_mbuf=%.3f ns_per_mbuf=%.3f min_cycles_per_mbuf=%.3f\n",
	       (unsigned long long)hz, iters, rounds, median,
	       median * 1e9 / (double)hz, c[0]);

	rte_mempool_free(mp);
	rte_eal_cleanup();
	return 0;
}
