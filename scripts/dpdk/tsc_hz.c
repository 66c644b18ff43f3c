/* SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * tsc_hz.c - measure the TSC frequency: TSC ticks across 200 ms of
 * CLOCK_MONOTONIC_RAW, median of 5. Fallback for scripts/compare-dpdk.sh
 * when neither DPDK's output nor /sys/devices/system/cpu/cpu0/tsc_freq_khz
 * gives it. Prints the frequency in Hz on one line.
 *
 * Build: cc -O2 -o tsc_hz tsc_hz.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static inline uint64_t
ticks(void)
{
	return __rdtsc();
}
#elif defined(__aarch64__)
/* The generic timer DPDK uses on arm64 as its "TSC". */
static inline uint64_t
ticks(void)
{
	uint64_t v;
	__asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
	return v;
}
#else
#error "tsc_hz.c: no cycle counter for this architecture"
#endif

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int
main(void)
{
	double hz[5];
	struct timespec nap = { .tv_sec = 0, .tv_nsec = 200 * 1000 * 1000 };

	for (int i = 0; i < 5; i++) {
		double t0 = now_s();
		uint64_t c0 = ticks();
		nanosleep(&nap, NULL);
		double t1 = now_s();
		uint64_t c1 = ticks();
		hz[i] = (double)(c1 - c0) / (t1 - t0);
	}
	qsort(hz, 5, sizeof(hz[0]), cmp);
	printf("%.0f\n", hz[2]);
	return 0;
}
