/* SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * tsc_shim.c - LD_PRELOAD shim that makes DPDK's mempool_perf_autotest fast.
 *
 * mempool_perf_autotest (app/test/test_mempool_perf.c) runs 720 cases, each
 * for TIME_S = 5 s of rte_get_timer_cycles(), the deadline computed from
 * rte_get_timer_hz(). Without HPET that is an inline call to
 * rte_get_tsc_hz(), exported by librte_eal, so the test binary calls it
 * through its PLT and the definition below wins.
 *
 * 1. rte_get_tsc_hz() returns real_hz / D to callers inside the main
 *    program (the test); EAL and the other libraries get the real value.
 *    A case then runs 5/D s and its printed rate_persec (objects counted,
 *    summed over cores, divided by TIME_S) is D times too small: the
 *    reader multiplies it back by D.
 * 2. To spend the time on the cases that matter, printf (the test calls
 *    __printf_chk through its PLT) is interposed too: when the test prints
 *    a case header "mempool_autotest cache=.. cores=.. n_get_bulk=..
 *    n_put_bulk=.. n_keep=.. constant_n=.. ", the shim matches the header
 *    against TSC_SHIM_SELECT and picks D for a selected case and
 *    TSC_SHIM_SKIP_DIVISOR for the others, and appends "tsc_divisor=<D> "
 *    to the header so every result line says which divisor it ran with.
 *    (A skipped case still runs at least one loop of 65536 objects; its
 *    rate is meaningless.) Before the first header the shim prints
 *    "tsc_shim: real_hz=<rte_get_tsc_hz()> ..." on stdout.
 *
 * Environment:
 *   TSC_SHIM_DIVISOR=D        divisor for selected cases (default 1)
 *   TSC_SHIM_SKIP_DIVISOR=S   divisor for unselected cases (default D)
 *   TSC_SHIM_SELECT=ERE       POSIX extended regex matched against the
 *                             header text from "cache=" on (default: all)
 *
 * Build: cc -O2 -shared -fPIC -o tsc_shim.so tsc_shim.c -ldl
 * Use:   TSC_SHIM_DIVISOR=5 TSC_SHIM_SKIP_DIVISOR=5000 \
 *        TSC_SHIM_SELECT='cores=1 n_get_bulk=32 n_put_bulk=32 n_keep=32 ' \
 *        LD_PRELOAD=./tsc_shim.so dpdk-test ...
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASE_PREFIX "mempool_autotest "

typedef uint64_t (*tsc_hz_fn)(void);

static tsc_hz_fn real_tsc_hz;
static uint64_t sel_divisor = 1, skip_divisor = 1;
static uint64_t cur_divisor = 1;	/* accessed with __atomic builtins */
static int have_select;
static regex_t select_re;
static uintptr_t main_lo = UINTPTR_MAX, main_hi;
static int announced;		/* only touched by the printing thread */

static uint64_t
env_divisor(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);
	if (s == NULL || *s == '\0')
		return dflt;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end != '\0' || v == 0) {
		fprintf(stderr, "tsc_shim: bad %s='%s' (want an integer >= 1)\n",
			name, s);
		exit(2);
	}
	return v;
}

/* The first object dl_iterate_phdr reports is the main program. */
static int
main_range(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		uintptr_t hi = lo + ph->p_memsz;
		if (lo < main_lo)
			main_lo = lo;
		if (hi > main_hi)
			main_hi = hi;
	}
	return 1; /* stop after the main program */
}

/* Runs before main(), hence before any lcore thread exists. */
__attribute__((constructor)) static void
tsc_shim_init(void)
{
	sel_divisor = env_divisor("TSC_SHIM_DIVISOR", 1);
	skip_divisor = env_divisor("TSC_SHIM_SKIP_DIVISOR", sel_divisor);
	cur_divisor = sel_divisor;

	const char *sel = getenv("TSC_SHIM_SELECT");
	if (sel != NULL && *sel != '\0') {
		int rc = regcomp(&select_re, sel, REG_EXTENDED | REG_NOSUB);
		if (rc != 0) {
			char msg[256];
			regerror(rc, &select_re, msg, sizeof(msg));
			fprintf(stderr, "tsc_shim: bad TSC_SHIM_SELECT: %s\n", msg);
			exit(2);
		}
		have_select = 1;
	}

	/* NULL in a program without librte_eal (e.g. a wrapper the variable
	 * leaks into): nothing then calls our rte_get_tsc_hz either. */
	real_tsc_hz = (tsc_hz_fn)dlsym(RTLD_NEXT, "rte_get_tsc_hz");
	dl_iterate_phdr(main_range, NULL);
}

uint64_t
rte_get_tsc_hz(void)
{
	if (real_tsc_hz == NULL) {
		fprintf(stderr, "tsc_shim: no rte_get_tsc_hz below the shim\n");
		abort();
	}
	uint64_t hz = real_tsc_hz();
	uintptr_t caller = (uintptr_t)__builtin_return_address(0);

	if (caller < main_lo || caller >= main_hi)
		return hz;
	return hz / __atomic_load_n(&cur_divisor, __ATOMIC_ACQUIRE);
}

/* Print like printf; on a case header pick and announce the divisor. The
 * header is printed by the main thread before the lcores of that case are
 * launched (and launching orders memory), so they see the new divisor. */
static int
shim_vprintf(const char *fmt, va_list ap)
{
	if (strncmp(fmt, CASE_PREFIX, strlen(CASE_PREFIX)) != 0)
		return vfprintf(stdout, fmt, ap);

	char text[512];
	va_list aq;
	va_copy(aq, ap);
	vsnprintf(text, sizeof(text), fmt, aq);
	va_end(aq);

	/* Once, on stdout so it stays in order with the results. */
	if (!announced && real_tsc_hz != NULL) {
		announced = 1;
		fprintf(stdout, "tsc_shim: real_hz=%llu selected_divisor=%llu "
			"skip_divisor=%llu\n", (unsigned long long)real_tsc_hz(),
			(unsigned long long)sel_divisor,
			(unsigned long long)skip_divisor);
	}

	const char *params = text + strlen(CASE_PREFIX);
	int selected = !have_select ||
		regexec(&select_re, params, 0, NULL, 0) == 0;
	uint64_t d = selected ? sel_divisor : skip_divisor;
	__atomic_store_n(&cur_divisor, d, __ATOMIC_RELEASE);

	int n = fputs(text, stdout) < 0 ? -1 : (int)strlen(text);
	int m = fprintf(stdout, "tsc_divisor=%llu ", (unsigned long long)d);
	return n < 0 || m < 0 ? -1 : n + m;
}

int
printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = shim_vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int
__printf_chk(int flag, const char *fmt, ...)
{
	(void)flag;
	va_list ap;
	va_start(ap, fmt);
	int n = shim_vprintf(fmt, ap);
	va_end(ap);
	return n;
}
