#!/usr/bin/env bash
# compare-dpdk.sh - burst vs DPDK 22.11 on this machine, in one invocation.
#
# Runs DPDK's own performance cases and burst's criterion benchmarks one
# after the other (never at the same time) and prints one line per case:
#
#   <case> burst=<ns> dpdk=<ns> speedup=<dpdk/burst>
#
# e.g. "ring_1core/spsc_bulk_32 burst=0.61ns dpdk=0.70ns speedup=1.15";
# values are ns per element (ring) or per object per core (mempool, mbuf),
# speedup > 1 means burst is faster. l2fwd rows are throughput,
#   l2fwd/<case> burst=<x>Mpps dpdk=<y>Mpps speedup=<burst/dpdk>
# so there too speedup > 1 means burst is faster. A header line names the
# machine (CPU, TSC GHz) and a summary line ends the report.
#
# Usage: scripts/compare-dpdk.sh [options] ring|mempool|l2fwd|lpm|l3fwd|all
#   ring     dpdk-test ring_perf_autotest (1-core single/burst/bulk, 2-core
#            bulk) vs cargo bench -p burst-benches --bench ring; then every
#            case again with both rings in one process, on the same pinned
#            threads, alternating round by round
#            (benches/examples/ring_vs_dpdk.rs, DPDK's ring and loops from
#            scripts/dpdk/ring_loops.c): on a virtual machine the two vCPUs'
#            distance changes from second to second, so separate runs'
#            2-core figures can differ 3-10x, the interleaved rows
#            ("ring_*_interleaved/...") do not. There DPDK's ring code is
#            inlined into a tight loop built -O3: faster than dpdk-test's
#            build of the same cases (1.8 vs 7.9 ns for a single element);
#            the 2-core mempool cases run there too (below)
#   mempool  dpdk-test mempool_perf_autotest (cache 0 / cached, bulk 1 / 32,
#            1 / 2 cores), made fast by scripts/dpdk/tsc_shim.c (the 24
#            compared cases run 5/D s each, the ~700 others ~1 ms), plus
#            scripts/dpdk/mbuf_bench.c (mbuf alloc+free bulk 32) vs
#            cargo bench -p burst-benches --bench mempool, MEMPOOL_RUNS
#            times each, DPDK's and burst's runs alternating; each side's
#            figure is its best run (on a virtual machine the two vCPUs'
#            distance moves the 2-core cache-less figures of either side
#            2-5x for tens of seconds at a time, so one run each compares
#            the host's states, not the code); about 40 s per DPDK run,
#            1.5 min per burst run (10.5 min for 5 runs);
#            then the pool cases again in one process, interleaved as the
#            ring's ("mempool_2core_interleaved/..."): cache-less against the
#            ring calls DPDK's default mempool ops make, cache 256 against
#            rte_mempool_generic_get/put on DPDK's ring_mp_mc ops, a cache
#            per core
#   l2fwd    DPDK's examples/l2fwd (built from /usr/share/dpdk/examples/l2fwd
#            with cc -O3 and pkg-config libdpdk into <target>/compare-dpdk/bin)
#            vs apps/l2fwd (cargo build --release -p l2fwd), each alone on the
#            same single lcore with two net_null ports:
#              -l L --vdev net_null0 --vdev net_null1 -- -p 0x3 -q 2 -T 1
#            cases null2_mac (default MAC updating) and null2_nomac
#            (--no-mac-updating); each run ~L2FWD_SECONDS, stopped with SIGINT;
#            Mpps from the aggregate "Total packets received" lines printed
#            every second (the first, at start, and any after the signal are
#            left out); the runs alternate DPDK, burst per case
#   lpm      dpdk-test lpm_perf_autotest (1M routes, random addresses: single,
#            bulk 32 and x4 lookups, in cycles) and lpm6_perf_autotest (1000
#            routes, 100 addresses under each: single and bulk) vs the lpm/*
#            and lpm6/* groups of cargo bench -p burst-benches --bench net (the
#            same route mixes and address distributions), run pinned (taskset)
#            to DPDK's main lcore, the first of DPDK_LCORES
#   l3fwd    DPDK's examples/l3fwd (built from /usr/share/dpdk/examples/l3fwd
#            with cc -O3 and pkg-config libdpdk, run with the LD_PRELOAD shim
#            scripts/dpdk/relax_rx_offload.c, which masks the RX offloads
#            22.11's l3fwd asks for with what the port can do, as DPDK 24.03's
#            --relax-rx-offload) vs apps/l3fwd (cargo build --release -p l3fwd),
#            each alone on lcore L with one net_pcap port replaying the pcap of
#            64-byte routed frames written by scripts/dpdk/l3fwd_run.py
#            (infinite_rx=1) and one net_null port they go out of:
#              -l L --vdev net_pcap0,rx_pcap=F,infinite_rx=1 --vdev net_null0
#              -- -p 0x3 --config "(0,0,L)" --parse-ptype --lookup lpm|em
#            cases lpm_pcap_null and em_pcap_null (EM: DPDK allocates two 4M
#            hash tables, about 1 GiB of hugepages); each run ~L3FWD_SECONDS;
#            DPDK's rate from port 1's TX counter read through its telemetry
#            socket (it prints no statistics), burst's from its -T 1 printouts
#   all      all five
# Options:
#   --dpdk-only     run and report only the DPDK side
#   --burst-only    run and report only the burst side
#   --no-run-burst  do not run cargo bench; read the criterion results already
#                   in <target>/criterion (or $BURST_CRITERION_DIR); l2fwd
#                   still runs burst's binary
#   --no-huge       run DPDK with --no-huge -m 512 (no hugepages needed;
#                   less representative: 4 KiB pages); l2fwd: both sides
#   -h, --help      this text
# Environment (defaults in brackets):
#   BURST_CRITERION_DIR      read burst results from this criterion dir, do not
#                            run cargo bench [<target>/criterion, run]
#   BURST_BENCH_ARGS         arguments after "--" for criterion [--noplot]
#   DPDK_TEST                dpdk-test binary [dpdk-test]
#   DPDK_LCORES              EAL -l list, two lcores on distinct cores [0-1]
#   DPDK_RING_RUNS           ring_perf_autotest runs, median taken [3]
#   RING_ROUNDS              interleaved rounds of ring_vs_dpdk, median taken
#                            [301]
#   DPDK_MEMPOOL_DIVISOR     tsc_shim divisor for the compared mempool cases:
#                            each runs 5/D s; 1 = DPDK's own 5 s [5]
#   DPDK_MEMPOOL_SKIP_DIVISOR  divisor for the other ~700 cases [5000]
#   DPDK_MEMPOOL_KEEP        n_keep row to compare (32, 128 or 512) [32]
#   DPDK_MEMPOOL_CONSTANT_N  constant_n row to compare (0 or 1) [1]
#   DPDK_MBUF_RUNS           mbuf_bench processes, best taken [3]
#   MEMPOOL_RUNS             mempool_perf_autotest and criterion mempool runs,
#                            alternating, best of each side taken [5]
#   MBUF_BENCH_ITERS, MBUF_BENCH_ROUNDS   mbuf_bench -n / -r [1000000, 7]
#   L2FWD_LCORE              the lcore (= CPU) both l2fwds run on [the last
#                            online CPU]
#   L2FWD_SECONDS            seconds of forwarding per run [5]
#   L2FWD_RUNS               runs per case and side, median taken [3]
#   L3FWD_LCORE, L3FWD_SECONDS, L3FWD_RUNS   the same for l3fwd [last CPU, 5, 3]
#   DPDK_L3FWD_SRC           DPDK's l3fwd source directory
#                            [/usr/share/dpdk/examples/l3fwd]
#   DPDK_L2FWD_SRC           DPDK's l2fwd source
#                            [/usr/share/dpdk/examples/l2fwd/main.c]
#   CC                       C compiler [cc]
# Needs: bash, python3; DPDK side: DPDK 22.11 (Debian/Ubuntu: apt-get install
# dpdk dpdk-dev libdpdk-dev pkg-config gcc; dpdk-test is in dpdk-dev; l2fwd's
# source is in dpdk-doc), root, and free 2 MiB hugepages on a hugetlbfs mount
# of that size (or --no-huge); burst side: cargo.
# DPDK runs with its own --file-prefix, 2 MiB pages from the hugetlbfs mount
# of that size (--huge-dir, --huge-unlink), --no-pci, --no-telemetry, EAL at
# debug level into the log (for its "TSC frequency" line); its runtime
# directory is removed afterwards. The parsing rules (what DPDK prints, per
# element or per iteration) are documented in scripts/dpdk/report.py.
# Output: the report on stdout (and in <target>/compare-dpdk/report.txt);
# progress on stderr; raw DPDK and cargo output in <target>/compare-dpdk/.
set -euo pipefail

die() {
	printf 'compare-dpdk: error: %s\n' "$*" >&2
	exit 1
}
say() { printf 'compare-dpdk: %s\n' "$*" >&2; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

suite=""
run_dpdk=1
run_burst=1
bench_burst=1
no_huge=0
while [ $# -gt 0 ]; do
	case "$1" in
	ring | mempool | l2fwd | lpm | l3fwd | all)
		[ -z "$suite" ] || die "give one of ring|mempool|l2fwd|lpm|l3fwd|all"
		suite=$1
		;;
	--dpdk-only) run_burst=0 ;;
	--burst-only) run_dpdk=0 ;;
	--no-run-burst) bench_burst=0 ;;
	--no-huge) no_huge=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift
done
[ -n "$suite" ] || {
	echo "usage: $0 [--dpdk-only|--burst-only] [--no-run-burst] [--no-huge] ring|mempool|l2fwd|lpm|l3fwd|all (see --help)" >&2
	exit 2
}
[ "$run_dpdk$run_burst" != 00 ] || die "--dpdk-only and --burst-only exclude each other"
case $suite in
all) suites="ring mempool l2fwd lpm l3fwd" ;;
*) suites=$suite ;;
esac
# The suites measured by DPDK's test app and burst's criterion benches.
bench_suites=""
for s in $suites; do
	case $s in ring | mempool | lpm) bench_suites="$bench_suites${bench_suites:+ }$s" ;; esac
done
# report.py's suites; report_l3.py reports lpm and l3fwd.
main_suites="" l3_suites=""
for s in $suites; do
	case $s in
	lpm | l3fwd) l3_suites="$l3_suites${l3_suites:+,}$s" ;;
	*) main_suites="$main_suites${main_suites:+ }$s" ;;
	esac
done

DPDK_TEST=${DPDK_TEST:-dpdk-test}
DPDK_LCORES=${DPDK_LCORES:-0-1}
DPDK_RING_RUNS=${DPDK_RING_RUNS:-3}
DPDK_MEMPOOL_DIVISOR=${DPDK_MEMPOOL_DIVISOR:-5}
DPDK_MEMPOOL_SKIP_DIVISOR=${DPDK_MEMPOOL_SKIP_DIVISOR:-5000}
DPDK_MEMPOOL_KEEP=${DPDK_MEMPOOL_KEEP:-32}
DPDK_MEMPOOL_CONSTANT_N=${DPDK_MEMPOOL_CONSTANT_N:-1}
DPDK_MBUF_RUNS=${DPDK_MBUF_RUNS:-3}
MEMPOOL_RUNS=${MEMPOOL_RUNS:-5}
MBUF_BENCH_ITERS=${MBUF_BENCH_ITERS:-1000000}
MBUF_BENCH_ROUNDS=${MBUF_BENCH_ROUNDS:-7}
BURST_BENCH_ARGS=${BURST_BENCH_ARGS:---noplot}
CC=${CC:-cc}
L2FWD_LCORE=${L2FWD_LCORE:-$(($(getconf _NPROCESSORS_ONLN) - 1))}
L2FWD_SECONDS=${L2FWD_SECONDS:-5}
L2FWD_RUNS=${L2FWD_RUNS:-3}
L3FWD_LCORE=${L3FWD_LCORE:-$L2FWD_LCORE}
L3FWD_SECONDS=${L3FWD_SECONDS:-5}
L3FWD_RUNS=${L3FWD_RUNS:-3}
for v in DPDK_RING_RUNS DPDK_MEMPOOL_DIVISOR DPDK_MEMPOOL_SKIP_DIVISOR \
	DPDK_MEMPOOL_KEEP DPDK_MEMPOOL_CONSTANT_N DPDK_MBUF_RUNS MEMPOOL_RUNS MBUF_BENCH_ITERS \
	MBUF_BENCH_ROUNDS L2FWD_LCORE L2FWD_SECONDS L2FWD_RUNS L3FWD_LCORE L3FWD_SECONDS \
	L3FWD_RUNS; do
	case ${!v} in '' | *[!0-9]*) die "$v must be a non-negative integer, got '${!v}'" ;; esac
done
[ "$DPDK_RING_RUNS" -ge 1 ] && [ "$DPDK_MBUF_RUNS" -ge 1 ] && [ "$MEMPOOL_RUNS" -ge 1 ] ||
	die "DPDK_RING_RUNS, DPDK_MBUF_RUNS and MEMPOOL_RUNS must be >= 1"
[ "$DPDK_MEMPOOL_DIVISOR" -ge 1 ] && [ "$DPDK_MEMPOOL_SKIP_DIVISOR" -ge 1 ] ||
	die "DPDK_MEMPOOL_DIVISOR and DPDK_MEMPOOL_SKIP_DIVISOR must be >= 1"
[ "$L2FWD_SECONDS" -ge 3 ] && [ "$L2FWD_RUNS" -ge 1 ] ||
	die "L2FWD_SECONDS must be >= 3 (the rate needs two whole seconds) and L2FWD_RUNS >= 1"

[ "$L3FWD_SECONDS" -ge 1 ] && [ "$L3FWD_RUNS" -ge 1 ] ||
	die "L3FWD_SECONDS and L3FWD_RUNS must be >= 1"

DPDK_L2FWD_SRC=${DPDK_L2FWD_SRC:-/usr/share/dpdk/examples/l2fwd/main.c}
DPDK_L3FWD_SRC=${DPDK_L3FWD_SRC:-/usr/share/dpdk/examples/l3fwd}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
dpdk_src=$here/dpdk
cd "$root"

command -v python3 >/dev/null || die "python3 not found (apt-get install python3)"

# ---- where things go -------------------------------------------------------
if [ "$run_burst" = 1 ] && [ "$bench_burst" = 1 ] && [ -z "${BURST_CRITERION_DIR:-}" ]; then
	command -v cargo >/dev/null ||
		die "cargo not found: install Rust (https://rustup.rs), or use --dpdk-only / --no-run-burst"
fi
target=""
if command -v cargo >/dev/null; then
	meta=$(cargo metadata --format-version 1 --no-deps 2>/dev/null) &&
		target=$(printf '%s' "$meta" | python3 -c \
			'import json,sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null) ||
		target=""
fi
[ -n "$target" ] || target=${CARGO_TARGET_DIR:-$root/target}
out=$target/compare-dpdk
bin=$out/bin
mkdir -p "$out" "$bin"
crit=${BURST_CRITERION_DIR:-$target/criterion}
[ -z "${BURST_CRITERION_DIR:-}" ] || bench_burst=0

# ---- DPDK prerequisites ----------------------------------------------------
prefix=burst-cmp-$$
cleanup() {
	local d m
	for d in /var/run/dpdk "${XDG_RUNTIME_DIR:-/nonexistent}/dpdk" /tmp/dpdk; do
		[ -d "$d/$prefix" ] && rm -rf -- "${d:?}/$prefix"
	done
	for m in $(awk '$3 == "hugetlbfs" { print $2 }' /proc/mounts 2>/dev/null); do
		rm -f -- "$m/${prefix}"map_* 2>/dev/null || true
	done
	return 0
}

eal_args=()
if [ "$run_dpdk" = 1 ]; then
	trap cleanup EXIT
	case $suites in *ring* | *mempool* | *lpm*)
		command -v "$DPDK_TEST" >/dev/null ||
			die "'$DPDK_TEST' not found: install DPDK 22.11's test app (Debian/Ubuntu: apt-get install dpdk dpdk-dev) or set DPDK_TEST"
		;;
	esac
	command -v "$CC" >/dev/null || die "C compiler '$CC' not found (apt-get install gcc)"
	if [ "$no_huge" = 1 ]; then
		eal_args+=(--no-huge -m 512)
	else
		# 2 MiB pages from a hugetlbfs mount of that size, named explicitly:
		# DPDK would otherwise also take 1 GiB pages where they exist.
		[ "$(id -u)" = 0 ] || die "DPDK with hugepages needs root (or pass --no-huge)"
		hp_fix="as root: echo 512 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages; mkdir -p /dev/hugepages; mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages (or pass --no-huge)"
		hp_free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
		[ "$hp_free" -ge 64 ] ||
			die "need >= 64 free 2 MiB hugepages, have $hp_free; $hp_fix"
		hp_kb=$(awk '/^Hugepagesize:/ { print $2 }' /proc/meminfo)
		hp_dir=$(awk -v dflt="$hp_kb" '$3 == "hugetlbfs" {
			ps = dflt == 2048 ? "2M" : ""
			if (match($4, /pagesize=[0-9]+[KMG]/)) ps = substr($4, RSTART + 9, RLENGTH - 9)
			if (ps == "2M" || ps == "2048K") { print $2; exit } }' /proc/mounts)
		[ -n "$hp_dir" ] || die "no hugetlbfs mount with 2 MiB pages; $hp_fix"
		# --huge-unlink: hugepage files are removed once mapped
		eal_args+=(--huge-dir "$hp_dir" --huge-unlink)
	fi
	eal_args+=(--no-pci --file-prefix "$prefix" --no-telemetry
		# EAL's debug level is what prints "TSC frequency is ~N KHz" (log file only)
		--log-level=lib.eal:debug)
	dpdk_version=unknown
	if command -v pkg-config >/dev/null && pkg-config --exists libdpdk; then
		dpdk_version=$(pkg-config --modversion libdpdk)
	fi
	case $dpdk_version in
	22.11*) ;;
	*) say "warning: DPDK version '$dpdk_version', the parsing follows 22.11's test output" ;;
	esac
	case $suites in *mempool* | *l2fwd* | *l3fwd*)
		command -v pkg-config >/dev/null && pkg-config --exists libdpdk ||
			die "pkg-config libdpdk not found: apt-get install libdpdk-dev pkg-config" ;;
	esac
	case $suites in *l2fwd*)
		[ -f "$DPDK_L2FWD_SRC" ] ||
			die "$DPDK_L2FWD_SRC not found: apt-get install dpdk-doc (DPDK's examples), or set DPDK_L2FWD_SRC" ;;
	esac
	case $suites in *l3fwd*)
		[ -f "$DPDK_L3FWD_SRC/main.c" ] ||
			die "$DPDK_L3FWD_SRC/main.c not found: apt-get install dpdk-doc (DPDK's examples), or set DPDK_L3FWD_SRC" ;;
	esac
	first_lcore=${DPDK_LCORES%%[-,]*}
fi

# run_logged LOG TIMEOUT [env...] -- CMD... : run with stdout+stderr to LOG,
# the command line recorded first.
run_logged() {
	local log=$1 tmo=$2
	shift 2
	local envs=()
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	{
		printf '# cmd:'
		printf ' %q' "${envs[@]}" "$@"
		printf '\n'
	} >"$log"
	# env after timeout: LD_PRELOAD reaches the test program only
	timeout "$tmo" env "${envs[@]}" "$@" >>"$log" 2>&1
}

# dpdk_test LOG TIMEOUT COMMAND [env...]: one autotest, checked.
dpdk_test() {
	local log=$1 tmo=$2 cmd=$3 rc=0
	shift 3
	run_logged "$log" "$tmo" "$@" -- "$DPDK_TEST" -l "$DPDK_LCORES" "${eal_args[@]}" <<<"$cmd" || rc=$?
	if [ "$rc" != 0 ] || ! grep -q '^Test OK' "$log"; then
		tail -n 15 "$log" >&2
		[ "$rc" != 124 ] || die "$cmd timed out after ${tmo}s; log: $log"
		die "$cmd failed (exit $rc); log: $log"
	fi
}

build() { # build OUTPUT SOURCE [flags...]
	local o=$1 s=$2
	shift 2
	"$CC" -O3 -Wall -o "$o.tmp" "$s" "$@" || die "cannot build $s"
	mv -f "$o.tmp" "$o"
}

report_args=()
dpdk_logs=()

# dpdk_mempool_run I: DPDK's mempool_perf_autotest, run I of MEMPOOL_RUNS.
dpdk_mempool_run() {
	local i=$1 log=$out/dpdk-mempool.$1.log
	# The compared rows: bulk 1 and 32 (get = put), 1 and 2 cores, every
	# cache size; all other cases are cut short by the shim.
	local select="^cache=[0-9]+ cores=(1|2) n_get_bulk=(1 n_put_bulk=1|32 n_put_bulk=32) n_keep=$DPDK_MEMPOOL_KEEP constant_n=$DPDK_MEMPOOL_CONSTANT_N \$"
	# 720 cases at 5/S s, 24 selected at 5/D s (+ slow cases overrun), plus margin
	local tmo=$((3600 / DPDK_MEMPOOL_SKIP_DIVISOR + 120 / DPDK_MEMPOOL_DIVISOR + 600))
	say "dpdk mempool_perf_autotest run $i/$MEMPOOL_RUNS with tsc_shim (D=$DPDK_MEMPOOL_DIVISOR, skip D=$DPDK_MEMPOOL_SKIP_DIVISOR; ~$((5 * 24 / DPDK_MEMPOOL_DIVISOR + 15)) s)"
	dpdk_test "$log" "$tmo" mempool_perf_autotest \
		LD_PRELOAD="$bin/tsc_shim.so" \
		TSC_SHIM_DIVISOR="$DPDK_MEMPOOL_DIVISOR" \
		TSC_SHIM_SKIP_DIVISOR="$DPDK_MEMPOOL_SKIP_DIVISOR" \
		TSC_SHIM_SELECT="$select"
	cleanup
	grep -q '^tsc_shim: real_hz=' "$log" ||
		die "tsc_shim did not take effect (no 'tsc_shim:' line); log: $log"
	report_args+=(--mempool-log "$log")
	dpdk_logs+=("$log")
}

# burst_bench_run SUITE [I]: cargo bench for SUITE; for mempool, run I of
# MEMPOOL_RUNS, whose criterion results are kept apart for report.py.
burst_bench_run() {
	local s=$1 i=${2:-} bench=$1 filter=() pin=() log=$out/burst-$1${2:+.$2}.log
	# lpm: benches/net.rs's lpm and lpm6 groups (criterion filter
	# "^lpm6?/"), single-threaded like dpdk-test's lookups, so pinned to
	# the CPU DPDK's main lcore ran on.
	if [ "$s" = lpm ]; then
		bench=net filter=("^lpm6?/")
		! command -v taskset >/dev/null || pin=(taskset -c "${DPDK_LCORES%%[-,]*}")
	fi
	say "burst: ${pin[*]}${pin[*]:+ }cargo bench -p burst-benches --bench $bench -- $BURST_BENCH_ARGS${filter[*]:+ ${filter[*]}}${i:+ (run $i/$MEMPOOL_RUNS)} (log: $log)"
	# shellcheck disable=SC2086 # BURST_BENCH_ARGS is a word list
	if ! "${pin[@]}" cargo bench -p burst-benches --bench "$bench" -- $BURST_BENCH_ARGS "${filter[@]}" \
		>"$log" 2>&1; then
		tail -n 20 "$log" >&2
		say "error: cargo bench --bench $s failed (log: $log); reporting without it"
		burst_failed="$burst_failed $s${i:+.$i}"
		return 0
	fi
	if [ -n "$i" ]; then
		local d=$out/criterion-mempool.$i g
		rm -rf -- "$d"
		mkdir -p "$d"
		for g in mempool mbuf; do
			[ ! -d "$crit/$g" ] || cp -R "$crit/$g" "$d/"
		done
		report_args+=(--mempool-criterion-dir "$d")
	fi
}

# ---- how busy is the machine with other work? ------------------------------
# mark: "<all-CPU ticks> <idle ticks> <CPU ticks of our finished children>";
# others_since MARK: CPUs' worth of time since MARK not spent by us (other
# processes, and steal time under a hypervisor).
ncpu=$(getconf _NPROCESSORS_ONLN)
mark() {
	local t i
	read -r t i < <(awk '$1 == "cpu" { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6; exit }' /proc/stat)
	echo "$t $i $(awk '{ print $16 + $17 }' /proc/$$/stat)"
}
others_since() {
	local t0 i0 c0 t1 i1 c1
	read -r t0 i0 c0 <<<"$1"
	read -r t1 i1 c1 < <(mark)
	awk -v dt="$((t1 - t0))" -v di="$((i1 - i0))" -v dc="$((c1 - c0))" -v n="$ncpu" \
		'BEGIN { b = dt > 0 ? (dt - di - dc) / dt * n : 0; printf "%.2f", (b < 0 ? 0 : b) }'
}
load_notes=()
check_load() { # check_load WHAT MARK
	local b
	b=$(others_since "$2")
	load_notes+=("$1 $b")
	if awk -v b="$b" 'BEGIN { exit !(b > 0.3) }'; then
		say "warning: other processes (or the hypervisor) took $b of $ncpu CPUs $1: results are noisy"
	fi
}
if [ -r /proc/stat ]; then
	m=$(mark)
	sleep 1
	check_load "before the run" "$m"
fi

# ---- DPDK side -------------------------------------------------------------
if [ "$run_dpdk" = 1 ] && [ -n "$bench_suites" ]; then
	m=$(mark)
	case $suites in *ring*)
		rm -f "$out"/dpdk-ring.*.log
		for i in $(seq 1 "$DPDK_RING_RUNS"); do
			say "dpdk ring_perf_autotest run $i/$DPDK_RING_RUNS (~5 s)"
			dpdk_test "$out/dpdk-ring.$i.log" 600 ring_perf_autotest
			cleanup
			report_args+=(--ring-log "$out/dpdk-ring.$i.log")
			dpdk_logs+=("$out/dpdk-ring.$i.log")
		done
		;;
	esac
	case $suites in *mempool*)
		build "$bin/tsc_shim.so" "$dpdk_src/tsc_shim.c" -shared -fPIC -ldl
		# shellcheck disable=SC2046 # pkg-config prints a word list
		build "$bin/mbuf_bench" "$dpdk_src/mbuf_bench.c" $(pkg-config --cflags --libs libdpdk)
		rm -f "$out"/dpdk-mempool.*.log "$out"/dpdk-mempool.log
		report_args+=(--mempool-keep "$DPDK_MEMPOOL_KEEP"
			--mempool-constant-n "$DPDK_MEMPOOL_CONSTANT_N")
		[ "$DPDK_MEMPOOL_SKIP_DIVISOR" = "$DPDK_MEMPOOL_DIVISOR" ] ||
			report_args+=(--mempool-skip-divisor "$DPDK_MEMPOOL_SKIP_DIVISOR")
		dpdk_mempool_run 1

		rm -f "$out"/dpdk-mbuf.*.log "$out"/dpdk-mbuf.log
		for i in $(seq 1 "$DPDK_MBUF_RUNS"); do
			say "dpdk mbuf_bench (alloc+free bulk 32) run $i/$DPDK_MBUF_RUNS (~5 s)"
			log=$out/dpdk-mbuf.$i.log
			rc=0
			run_logged "$log" 600 -- "$bin/mbuf_bench" -l "$first_lcore" \
				"${eal_args[@]}" -- -n "$MBUF_BENCH_ITERS" -r "$MBUF_BENCH_ROUNDS" || rc=$?
			if [ "$rc" != 0 ] || ! grep -q '^mbuf_bench: ' "$log"; then
				tail -n 15 "$log" >&2
				die "mbuf_bench failed (exit $rc); log: $log"
			fi
			report_args+=(--mbuf-log "$log")
			dpdk_logs+=("$log")
			cleanup
		done
		;;
	esac
	case $suites in *lpm*)
		say "dpdk lpm_perf_autotest (1M routes; ~2-4 min: adds and deletes them all)"
		dpdk_test "$out/dpdk-lpm.log" 1200 lpm_perf_autotest
		say "dpdk lpm6_perf_autotest (1000 routes; ~5 s)"
		dpdk_test "$out/dpdk-lpm6.log" 600 lpm6_perf_autotest
		dpdk_logs+=("$out/dpdk-lpm.log" "$out/dpdk-lpm6.log")
		;;
	esac
	cleanup
	check_load "during the DPDK runs" "$m"
fi

# ---- burst side ------------------------------------------------------------
burst_failed=""
if [ "$run_burst" = 1 ]; then
	if [ "$bench_burst" = 1 ] && [ -n "$bench_suites" ]; then
		m=$(mark)
		for s in $bench_suites; do
			if [ "$s" = mempool ]; then
				burst_bench_run mempool 1
			else
				burst_bench_run "$s"
			fi
		done
		check_load "during the burst benches (incl. their build)" "$m"
	fi
	case $suites in *ring* | *mempool* | *lpm*)
		[ -d "$crit" ] || say "warning: no criterion results in $crit"
		report_args+=(--criterion-dir "$crit")
		;;
	esac
fi

# ---- l2fwd: DPDK's and burst's, alternating ---------------------------------
# l2fwd_run SIDE CASE I BINARY [l2fwd options...]: one run, stopped by SIGINT
# after L2FWD_SECONDS (plus start-up), logged for report.py.
l2fwd_run() {
	local side=$1 case=$2 i=$3 exe=$4 log rc=0
	shift 4
	log=$out/$side-l2fwd.$case.$i.log
	local eal=(-l "$L2FWD_LCORE" --vdev net_null0 --vdev net_null1)
	if [ "$side" = dpdk ]; then
		eal+=("${eal_args[@]}")
	else
		eal+=(--no-pci --file-prefix "$prefix-burst")
		[ "$no_huge" = 0 ] || eal+=(--no-huge)
	fi
	say "$side l2fwd $case run $i/$L2FWD_RUNS (~$((L2FWD_SECONDS + 2)) s, lcore $L2FWD_LCORE)"
	run_logged "$log" "$((L2FWD_SECONDS + 30))s" -- timeout -s INT -k 10 \
		"$((L2FWD_SECONDS + 1))" "$exe" "${eal[@]}" -- -p 0x3 -q 2 -T 1 "$@" || rc=$?
	# 124: stopped by SIGINT at the deadline, as meant (timeout's own code).
	if { [ "$rc" != 0 ] && [ "$rc" != 124 ]; } || ! grep -q 'Total packets received' "$log"; then
		tail -n 15 "$log" >&2
		die "$side l2fwd $case failed (exit $rc); log: $log"
	fi
	if [ "$side" = dpdk ]; then
		cleanup
		dpdk_logs+=("$log") # EAL's debug lines give the TSC frequency
	fi
	report_args+=(--l2fwd-log "$side:$case:$log")
}

# build_app APP: cargo build --release -p APP (log in $out); prints the binary's path.
build_app() {
	local log=$out/burst-$1-build.log
	say "burst: cargo build --release -p $1 (log: $log)"
	cargo build --release -p "$1" >"$log" 2>&1 || {
		tail -n 20 "$log" >&2
		die "cargo build -p $1 failed (log: $log)"
	}
	printf '%s\n' "$target/release/$1"
}

case $suites in *l2fwd*)
	m=$(mark)
	dpdk_l2fwd="" burst_l2fwd=""
	if [ "$run_dpdk" = 1 ]; then
		dpdk_l2fwd=$bin/l2fwd-dpdk
		# shellcheck disable=SC2046 # pkg-config prints a word list
		build "$dpdk_l2fwd" "$DPDK_L2FWD_SRC" -Wno-deprecated-declarations \
			$(pkg-config --cflags --libs libdpdk)
	fi
	[ "$run_burst" = 0 ] || burst_l2fwd=$(build_app l2fwd)
	rm -f "$out"/*-l2fwd.*.log
	for i in $(seq 1 "$L2FWD_RUNS"); do
		for c in null2_mac null2_nomac; do
			opts=()
			[ "$c" = null2_mac ] || opts=(--no-mac-updating)
			[ -z "$dpdk_l2fwd" ] || l2fwd_run dpdk "$c" "$i" "$dpdk_l2fwd" "${opts[@]}"
			[ -z "$burst_l2fwd" ] || l2fwd_run burst "$c" "$i" "$burst_l2fwd" "${opts[@]}"
		done
	done
	report_args+=(--l2fwd-period 1 --l2fwd-lcore "$L2FWD_LCORE")
	check_load "during the l2fwd runs" "$m"
	;;
esac

# ---- l3fwd: DPDK's and burst's, alternating ---------------------------------
# l3fwd_run SIDE CASE I BINARY [l3fwd options...]: one run of ~L3FWD_SECONDS
# (plus start-up and warm-up), its rate measured by l3fwd_run.py.
l3fwd_args=()
l3fwd_run() {
	local side=$1 case=$2 i=$3 exe=$4 log rc=0
	shift 4
	log=$out/$side-l3fwd.$case.$i.log
	local eal=(-l "$L3FWD_LCORE" --vdev "net_pcap0,rx_pcap=$l3fwd_pcap,infinite_rx=1"
		--vdev net_null0)
	local app=(-p 0x3 --config "(0,0,$L3FWD_LCORE)" --parse-ptype "$@")
	local runner=(python3 "$dpdk_src/l3fwd_run.py")
	if [ "$side" = dpdk ]; then
		# Telemetry on (DPDK's l3fwd prints no statistics): no --no-telemetry.
		local e=() a
		for a in "${eal_args[@]}"; do [ "$a" = --no-telemetry ] || e+=("$a"); done
		eal+=("${e[@]}")
		runner+=(dpdk --prefix "$prefix" --seconds "$L3FWD_SECONDS" --
			env LD_PRELOAD="$bin/relax_rx_offload.so" "$exe" "${eal[@]}" -- "${app[@]}")
	else
		eal+=(--no-pci --file-prefix "$prefix-burst")
		[ "$no_huge" = 0 ] || eal+=(--no-huge)
		runner+=(burst --seconds "$L3FWD_SECONDS" -- "$exe" "${eal[@]}" -- "${app[@]}" -T 1)
	fi
	say "$side l3fwd $case run $i/$L3FWD_RUNS (~$((L3FWD_SECONDS + 4)) s, lcore $L3FWD_LCORE)"
	run_logged "$log" "$((L3FWD_SECONDS + 120))s" -- "${runner[@]}" || rc=$?
	if [ "$rc" != 0 ] || ! grep -q '^l3fwd_rate: ' "$log"; then
		tail -n 15 "$log" >&2
		die "$side l3fwd $case failed (exit $rc); log: $log"
	fi
	[ "$side" != dpdk ] || cleanup
	l3fwd_args+=(--l3fwd-log "$side:$case:$log")
}

case $suites in *l3fwd*)
	m=$(mark)
	dpdk_l3fwd="" burst_l3fwd=""
	l3fwd_pcap=$out/l3fwd-64B.pcap
	python3 "$dpdk_src/l3fwd_run.py" pcap "$l3fwd_pcap"
	if [ "$run_dpdk" = 1 ]; then
		dpdk_l3fwd=$bin/l3fwd-dpdk
		build "$bin/relax_rx_offload.so" "$dpdk_src/relax_rx_offload.c" -shared -fPIC -ldl \
			$(pkg-config --cflags libdpdk)
		srcs=()
		for f in main.c l3fwd_acl.c l3fwd_lpm.c l3fwd_fib.c l3fwd_em.c l3fwd_event.c \
			l3fwd_event_generic.c l3fwd_event_internal_port.c; do
			srcs+=("$DPDK_L3FWD_SRC/$f")
		done
		say "building DPDK's l3fwd from $DPDK_L3FWD_SRC (~20 s)"
		# shellcheck disable=SC2046 # pkg-config prints a word list
		"$CC" -O3 -DALLOW_EXPERIMENTAL_API -Wno-deprecated-declarations \
			-I"$DPDK_L3FWD_SRC/../common" -o "$dpdk_l3fwd.tmp" "${srcs[@]}" \
			$(pkg-config --cflags --libs libdpdk) || die "cannot build DPDK's l3fwd"
		mv -f "$dpdk_l3fwd.tmp" "$dpdk_l3fwd"
	fi
	[ "$run_burst" = 0 ] || burst_l3fwd=$(build_app l3fwd)
	rm -f "$out"/*-l3fwd.*.log
	for i in $(seq 1 "$L3FWD_RUNS"); do
		for c in lpm_pcap_null em_pcap_null; do
			lookup=${c%%_*}
			[ -z "$dpdk_l3fwd" ] || l3fwd_run dpdk "$c" "$i" "$dpdk_l3fwd" --lookup "$lookup"
			[ -z "$burst_l3fwd" ] || l3fwd_run burst "$c" "$i" "$burst_l3fwd" --lookup "$lookup"
		done
	done
	check_load "during the l3fwd runs" "$m"
	;;
esac

# ---- mempool, runs 2..MEMPOOL_RUNS: DPDK's and burst's, alternating --------
case $suites in *mempool*)
	if [ "$MEMPOOL_RUNS" -gt 1 ]; then
		m=$(mark)
		for i in $(seq 2 "$MEMPOOL_RUNS"); do
			[ "$run_dpdk" = 0 ] || dpdk_mempool_run "$i"
			[ "$run_burst" = 0 ] || [ "$bench_burst" = 0 ] || burst_bench_run mempool "$i"
		done
		check_load "during mempool runs 2-$MEMPOOL_RUNS" "$m"
	fi
	;;
esac

# ---- TSC frequency: DPDK's own, else sysfs, else measured ------------------
tsc_hz=""
tsc_src=""
if [ ${#dpdk_logs[@]} -gt 0 ]; then
	khz=$(sed -n 's/.*TSC frequency is ~\([0-9][0-9]*\) KHz.*/\1/p' "${dpdk_logs[@]}" | head -n 1)
	if [ -n "$khz" ]; then
		tsc_hz=$((khz * 1000))
		tsc_src="DPDK EAL"
	else
		tsc_hz=$(sed -n 's/.*\(real_hz\|tsc_hz\)=\([0-9][0-9]*\).*/\2/p' "${dpdk_logs[@]}" | head -n 1)
		[ -z "$tsc_hz" ] || tsc_src="DPDK rte_get_tsc_hz()"
	fi
fi
if [ -z "$tsc_hz" ] && [ -r /sys/devices/system/cpu/cpu0/tsc_freq_khz ]; then
	tsc_hz=$(($(cat /sys/devices/system/cpu/cpu0/tsc_freq_khz) * 1000))
	tsc_src="sysfs tsc_freq_khz"
fi
if [ -z "$tsc_hz" ]; then
	command -v "$CC" >/dev/null || die "cannot get the TSC frequency: no DPDK output, no sysfs tsc_freq_khz, no C compiler to measure it"
	build "$bin/tsc_hz" "$dpdk_src/tsc_hz.c"
	tsc_hz=$("$bin/tsc_hz")
	tsc_src="measured: TSC over a 200 ms sleep"
fi

# ---- ring and mempool, interleaved: both on the same pinned threads, alternating ----
interleaved_rows=""
interleaved_case=""
case $suites in
*ring*) ;;
*mempool*) interleaved_case=mempool_ ;;
*) interleaved_case=none ;;
esac
if [ "$interleaved_case" != none ]; then
	if [ "$run_dpdk" = 1 ] && [ "$run_burst" = 1 ]; then
		# shellcheck disable=SC2046 # pkg-config prints a word list
		build "$bin/ring_loops.so" "$dpdk_src/ring_loops.c" -shared -fPIC $(pkg-config --cflags --libs libdpdk) \
			-Wl,--no-as-needed -lrte_mempool_ring
		log=$out/burst-ring_vs_dpdk-build.log
		say "burst: cargo build --release -p burst-benches --example ring_vs_dpdk (log: $log)"
		cargo build --release -p burst-benches --example ring_vs_dpdk >"$log" 2>&1 || {
			tail -n 20 "$log" >&2
			die "cargo build --example ring_vs_dpdk failed (log: $log)"
		}
		m=$(mark)
		say "ring_vs_dpdk: ${RING_ROUNDS:-301} interleaved rounds of ${interleaved_case:-every} case${interleaved_case:+s} (~20 s)"
		run_logged "$out/ring_vs_dpdk.log" 900 -- "$target/release/examples/ring_vs_dpdk" \
			--dpdk "$bin/ring_loops.so" --rounds "${RING_ROUNDS:-301}" --tsc-hz "$tsc_hz" \
			${interleaved_case:+--case "$interleaved_case"} ||
			die "ring_vs_dpdk failed; log: $out/ring_vs_dpdk.log"
		check_load "during the interleaved ring runs" "$m"
		# ring_Ncore/x burst=Ccyc (Nns) dpdk=Ccyc (Nns) speedup=S -> the report's form
		interleaved_rows=$(sed -n 's|^\([a-z]*_[12]core\)/\([^ ]*\) burst=[^ ]* (\([0-9.]*\)ns) dpdk=[^ ]* (\([0-9.]*\)ns) speedup=\(.*\)|\1_interleaved/\2 burst=\3ns dpdk=\4ns speedup=\5|p' "$out/ring_vs_dpdk.log")
		[ -n "$interleaved_rows" ] || die "no rows in $out/ring_vs_dpdk.log"
	fi
fi

# ---- report ----------------------------------------------------------------
if [ ${#load_notes[@]} -gt 0 ]; then
	ln=""
	for l in "${load_notes[@]}"; do ln="$ln${ln:+, }${l% *}: ${l##* }"; done
	report_args+=(--note "CPUs taken by other processes or the hypervisor (of $ncpu): $ln; > 0.3 means noisy results")
fi
{
	if [ -n "$main_suites" ]; then
		python3 "$dpdk_src/report.py" --suites "${main_suites// /,}" --tsc-hz "$tsc_hz" \
			--tsc-source "$tsc_src" --dpdk-version "${dpdk_version:-not run}" \
			"${report_args[@]}"
	fi
	if [ -n "$l3_suites" ]; then
		l3=(--suites "$l3_suites" --tsc-hz "$tsc_hz" --tsc-source "$tsc_src"
			--dpdk-version "${dpdk_version:-not run}" "${l3fwd_args[@]}")
		[ ! -f "$out/dpdk-lpm.log" ] || [ "$run_dpdk" = 0 ] || l3+=(--lpm-log "$out/dpdk-lpm.log")
		[ ! -f "$out/dpdk-lpm6.log" ] || [ "$run_dpdk" = 0 ] || l3+=(--lpm6-log "$out/dpdk-lpm6.log")
		[ "$run_burst" = 0 ] || l3+=(--criterion-dir "$crit")
		for a in "${report_args[@]}"; do
			case $a in "CPUs taken by"*) l3+=(--note "$a") ;; esac
		done
		python3 "$dpdk_src/report_l3.py" "${l3[@]}"
	fi
	if [ -n "$interleaved_rows" ]; then
		echo "# ring and mempool, burst's and DPDK's on the same pinned threads, alternating"
		echo "# (benches/examples/ring_vs_dpdk.rs; DPDK's rte_ring and rte_mempool calls inlined into the"
		echo "# autotests' loops, scripts/dpdk/ring_loops.c); ns per element"
		echo "# (ring 2-core: both sides added; mempool: per object per core); speedup = median of the"
		echo "# per-round dpdk/burst"
		printf '%s\n' "$interleaved_rows"
	fi
} | tee "$out/report.txt"
say "logs and report in $out"
[ -z "$burst_failed" ] || die "cargo bench failed for:$burst_failed (see the logs above)"
