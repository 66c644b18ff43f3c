#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Parse DPDK 22.11 perf-test output and burst's criterion results, print the
comparison. Driven by scripts/compare-dpdk.sh (see there for usage); it can be
run by hand on kept logs:

  report.py --suites ring,mempool --tsc-hz 2600000000 \
      --ring-log ring.1.log --ring-log ring.2.log \
      --mempool-log mempool.1.log --mempool-log mempool.2.log \
      --mbuf-log mbuf.1.log --criterion-dir target/criterion \
      --mempool-criterion-dir criterion-mempool.1 \
      --mempool-criterion-dir criterion-mempool.2
  report.py --suites l2fwd --tsc-hz 2600000000 \
      --l2fwd-log dpdk:null2_mac:dpdk-l2fwd.null2_mac.1.log \
      --l2fwd-log burst:null2_mac:burst-l2fwd.null2_mac.1.log

Facts about DPDK's output (app/test/test_ring_perf.c, test_mempool_perf.c,
v22.11):
- ring_perf_autotest, one core ("### Testing single element / burst / bulk
  enq/deq ###"): the printed value is TSC cycles per *iteration*, one
  enqueue of n + one dequeue of n (n = 1 for "single"); we divide by n.
- ring_perf_autotest, two cores ("### Testing using two physical cores ###",
  else "two hyperthreads", else "two NUMA nodes"): the value is enqueue-core
  cycles per element + dequeue-core cycles per element, already per element.
- Only the "legacy APIs" lines (pointer-sized elements) are used.
- mempool_perf_autotest: "rate_persec" is objects (one get + one put each)
  per second summed over the cores of the case; per-core ns per object is
  1e9 / (rate / cores). Under tsc_shim.c each line carries "tsc_divisor=D"
  and the rate is D times too small.
- examples/l2fwd (and burst's apps/l2fwd, which prints the same): with -T P
  the main lcore prints "Total packets received: N" (all ports, since start)
  at its first loop iteration and then every P seconds (by TSC, checked
  every ~100 us); burst's also prints once more at exit, after its "Signal
  N received" line. Mpps = (N_last - N_first) / (P * intervals) over the
  periodic lines, the one at start and any after the signal left out. The
  l2fwd rows are throughput: speedup = burst/dpdk, so > 1 still means burst
  is faster.

Several mempool runs (--mempool-log, --mempool-criterion-dir, --mbuf-log
given more than once): each side's figure for a case is its best (lowest)
run, as the 2-core rows of either side move 2-5x with the host's state.
"""

import argparse
import json
import math
import os
import re
import statistics
import sys

RING_1CORE = ["spsc_single", "mpmc_single",
              "spsc_burst_8", "spsc_burst_32", "spsc_bulk_8", "spsc_bulk_32",
              "mpmc_burst_8", "mpmc_burst_32", "mpmc_bulk_8", "mpmc_bulk_32"]
RING_2CORE = ["spsc_bulk_8", "spsc_bulk_32", "mpmc_bulk_8", "mpmc_bulk_32"]
MEMPOOL = [f"cache{c}_bulk{b}_{k}core"
           for k in (1, 2) for c in (0, 256) for b in (1, 32)]
L2FWD = ["null2_mac", "null2_nomac"]

SUITES = {
    "ring": [("ring_1core", i) for i in RING_1CORE]
    + [("ring_2core", i) for i in RING_2CORE],
    "mempool": [("mempool", i) for i in MEMPOOL]
    + [("mbuf", "alloc_free_bulk32")],
    "l2fwd": [("l2fwd", i) for i in L2FWD],
}

# DPDK's two-core sections, best match first.
TWO_CORE_SECTIONS = ["two physical cores", "two hyperthreads", "two NUMA nodes"]

RING_LINE = re.compile(
    r"legacy APIs: (SP/SC|MP/MC): "
    r"(single|burst \(size: (\d+)\)|bulk \(size: (\d+)\)): ([0-9.]+)")
SECTION_LINE = re.compile(r"### Testing (.*?) ###")
MEMPOOL_LINE = re.compile(
    r"mempool_autotest cache=(\d+) cores=(\d+) n_get_bulk=(\d+) "
    r"n_put_bulk=(\d+) n_keep=(\d+) constant_n=(\d+) "
    r"(?:tsc_divisor=(\d+) )?rate_persec=(\d+)")
MBUF_LINE = re.compile(r"mbuf_bench: .*alloc_free_bulk32 cycles_per_mbuf=([0-9.]+)")
L2FWD_TOTAL = re.compile(r"Total packets received:\s*(\d+)")
L2FWD_SIGNAL = re.compile(r"Signal \d+ received, preparing to exit")

notes = []


def warn(msg):
    print(f"compare-dpdk: warning: {msg}", file=sys.stderr)


def median(xs):
    return statistics.median(xs) if xs else None


def parse_ring_log(path, ns_per_cycle):
    """One ring_perf_autotest log -> {case: ns per element}."""
    out = {}
    two_core = {}  # section -> {id: value}
    section = None
    with open(path, errors="replace") as f:
        for line in f:
            m = SECTION_LINE.search(line)
            if m:
                section = m.group(1)
                continue
            m = RING_LINE.search(line)
            if not m or section is None:
                continue
            sync = "spsc" if m.group(1) == "SP/SC" else "mpmc"
            cycles = float(m.group(5))
            if m.group(2) == "single":
                kind, n = "single", 1
            elif m.group(3):
                kind, n = "burst", int(m.group(3))
            else:
                kind, n = "bulk", int(m.group(4))
            if section == "single element enq/deq" and kind == "single":
                out.setdefault(f"ring_1core/{sync}_single", cycles * ns_per_cycle)
            elif section == "burst enq/deq" and kind == "burst":
                out.setdefault(f"ring_1core/{sync}_burst_{n}",
                               cycles / n * ns_per_cycle)
            elif section == "bulk enq/deq" and kind == "bulk":
                out.setdefault(f"ring_1core/{sync}_bulk_{n}",
                               cycles / n * ns_per_cycle)
            elif section.startswith("using ") and kind == "bulk":
                sec = section[len("using "):]
                # setdefault: the legacy block comes first, the 16B one later.
                two_core.setdefault(sec, {}).setdefault(
                    f"ring_2core/{sync}_bulk_{n}", cycles * ns_per_cycle)
    for sec in TWO_CORE_SECTIONS:
        if sec in two_core:
            out.update(two_core[sec])
            return out, sec
    return out, None


def dpdk_ring(logs, ns_per_cycle):
    per_case = {}
    sections = set()
    for path in logs:
        vals, sec = parse_ring_log(path, ns_per_cycle)
        if not vals:
            warn(f"{path}: no 'legacy APIs' ring results found")
        sections.add(sec)
        for k, v in vals.items():
            per_case.setdefault(k, []).append(v)
    sec = next((s for s in TWO_CORE_SECTIONS if s in sections), None)
    if sec is None:
        notes.append("dpdk ring: no two-core section in the output "
                     "(need two lcores, see -l)")
    else:
        notes.append(f"dpdk ring: 2-core rows from '### Testing using {sec} ###'")
    notes.append(f"dpdk ring: median of {len(logs)} run(s); 1-core values are "
                 "DPDK's cycles per enqueue+dequeue of n divided by n; 2-core "
                 "values are enqueue-core + dequeue-core cycles per element")
    return {k: median(v) for k, v in per_case.items()}


def dpdk_mempool_run(path, keep, constant_n, skip_divisor, counts):
    """One mempool_perf_autotest log -> {case: ns per object per core}."""
    rows = []
    with open(path, errors="replace") as f:
        for line in f:
            m = MEMPOOL_LINE.search(line)
            if not m:
                continue
            cache, cores, get, put, n_keep, const, div, rate = m.groups()
            div = int(div) if div else 1
            if skip_divisor and div == skip_divisor:
                continue  # a case the shim cut short; not a measurement
            rows.append(dict(cache=int(cache), cores=int(cores), get=int(get),
                             put=int(put), keep=int(n_keep), const=int(const),
                             rate=int(rate) * div))
    if not rows:
        warn(f"{path}: no mempool_autotest result lines found")
        return {}
    caches = sorted({r["cache"] for r in rows if r["cache"] > 0})
    cached = 256 if 256 in caches else (caches[-1] if caches else None)
    if cached is not None and cached != 256:
        note = (f"dpdk mempool: 22.11 has only cache=0 and cache={cached} "
                "(RTE_MEMPOOL_CACHE_MAX_SIZE); burst's cache256 rows are "
                f"compared with DPDK's cache={cached}")
        if note not in notes:
            notes.append(note)
    out = {}
    for case in MEMPOOL:
        m = re.fullmatch(r"cache(\d+)_bulk(\d+)_(\d)core", case)
        c, b, k = (int(x) for x in m.groups())
        dc = 0 if c == 0 else cached
        sel = [1e9 / (r["rate"] / k) for r in rows
               if r["cache"] == dc and r["cores"] == k and r["get"] == b
               and r["put"] == b and r["keep"] == keep
               and r["const"] == constant_n and r["rate"] > 0]
        if sel:
            out[f"mempool/{case}"] = median(sel)
            counts.add(len(sel))
    return out


def dpdk_mempool(paths, keep, constant_n, skip_divisor):
    counts = set()
    runs = [dpdk_mempool_run(p, keep, constant_n, skip_divisor, counts)
            for p in paths]
    notes.append(f"dpdk mempool: n_keep={keep} constant_n={constant_n}; "
                 "ns per object per core = 1e9 / (rate_persec / cores), median "
                 f"of {'/'.join(str(n) for n in sorted(counts)) or 0} rows "
                 "(every section with that cache size; with 2 lcores the "
                 f"'max cores' run repeats cores=2); best of {len(paths)} run(s)")
    return best_of(runs)


def best_of(runs):
    """[{case: ns}] -> {case: the lowest ns any run had}."""
    out = {}
    for run in runs:
        for case, v in run.items():
            out[case] = min(v, out.get(case, v))
    return out


def dpdk_mbuf(paths, ns_per_cycle):
    vals = []
    for path in paths:
        with open(path, errors="replace") as f:
            for line in f:
                m = MBUF_LINE.search(line)
                if m:
                    vals.append(float(m.group(1)) * ns_per_cycle)
                    break
            else:
                warn(f"{path}: no mbuf_bench result line found")
    notes.append("dpdk mbuf: scripts/dpdk/mbuf_bench.c, "
                 "rte_pktmbuf_alloc_bulk(32) + rte_pktmbuf_free_bulk(32), "
                 f"8191 mbufs, cache 256; best of {len(vals)} process(es)")
    return {"mbuf/alloc_free_bulk32": min(vals)} if vals else {}


def l2fwd_mpps(path, period):
    """One l2fwd log -> Mpps over its periodic statistics, or None."""
    totals = []
    with open(path, errors="replace") as f:
        for line in f:
            if L2FWD_SIGNAL.search(line):
                break
            m = L2FWD_TOTAL.search(line)
            if m:
                totals.append(int(m.group(1)))
    # totals[0] is printed at start; the window is totals[1:].
    if len(totals) < 3:
        warn(f"{path}: {len(totals)} statistics printouts, need 3 or more")
        return None
    return (totals[-1] - totals[1]) / (period * (len(totals) - 2)) / 1e6


def l2fwd_results(specs, period, lcore):
    """--l2fwd-log SIDE:CASE:PATH entries -> ({case: Mpps}, {case: Mpps})."""
    runs = {"dpdk": {}, "burst": {}}
    for spec in specs:
        side, case, path = spec.split(":", 2)
        if side not in runs:
            sys.exit(f"report.py: --l2fwd-log side must be dpdk or burst: {spec}")
        v = l2fwd_mpps(path, period)
        if v is not None:
            runs[side].setdefault(f"l2fwd/{case}", []).append(v)
    n = max((len(v) for r in runs.values() for v in r.values()), default=0)
    notes.append(f"l2fwd: DPDK's examples/l2fwd and burst's apps/l2fwd, each "
                 f"alone on lcore {lcore} with 2 net_null ports (-q 2 -T "
                 f"{period:g}); Mpps = aggregate packets received per second; "
                 f"median of {n} run(s); speedup = burst/dpdk")
    return ({k: median(v) for k, v in runs["dpdk"].items()},
            {k: median(v) for k, v in runs["burst"].items()})


def burst_value(crit_dir, group, bench_id):
    d = os.path.join(crit_dir, group, bench_id, "new")
    est = os.path.join(d, "estimates.json")
    if not os.path.exists(est):
        return None
    with open(est) as f:
        mean = json.load(f)["mean"]["point_estimate"]
    n = None
    try:
        with open(os.path.join(d, "benchmark.json")) as f:
            tp = json.load(f).get("throughput") or {}
        n = tp.get("Elements")
    except (OSError, ValueError):
        pass
    if not n:
        m = re.search(r"(?:_|bulk)(\d+)(?:_\dcore)?$", bench_id)
        n = int(m.group(1)) if m and "single" not in bench_id else 1
        warn(f"{group}/{bench_id}: no Elements throughput in benchmark.json, "
             f"assuming {n} elements per iteration")
    return mean / n


def fmt(v):
    return "n/a" if v is None else f"{v:.2f}ns"


def fmt_mpps(v):
    return "n/a" if v is None else f"{v:.2f}Mpps"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suites", default="ring,mempool")
    ap.add_argument("--tsc-hz", type=float, required=True)
    ap.add_argument("--tsc-source", default="given")
    ap.add_argument("--dpdk-version", default="?")
    ap.add_argument("--ring-log", action="append", default=[])
    ap.add_argument("--mempool-log", action="append", default=[])
    ap.add_argument("--mempool-keep", type=int, default=32)
    ap.add_argument("--mempool-constant-n", type=int, default=1)
    ap.add_argument("--mempool-skip-divisor", type=int, default=0,
                    help="ignore rows run with this tsc_divisor (cut short)")
    ap.add_argument("--mbuf-log", action="append", default=[])
    ap.add_argument("--criterion-dir")
    ap.add_argument("--mempool-criterion-dir", action="append", default=[],
                    help="criterion results of one burst mempool run (mempool "
                    "and mbuf groups), best taken; else --criterion-dir")
    ap.add_argument("--l2fwd-log", action="append", default=[],
                    help="SIDE:CASE:PATH, SIDE dpdk or burst")
    ap.add_argument("--l2fwd-period", type=float, default=1.0,
                    help="the -T the l2fwd runs used")
    ap.add_argument("--l2fwd-lcore", default="?")
    ap.add_argument("--note", action="append", default=[],
                    help="a line for the notes")
    a = ap.parse_args()
    notes.extend(a.note)

    suites = [s for s in a.suites.split(",") if s]
    for s in suites:
        if s not in SUITES:
            sys.exit(f"report.py: unknown suite '{s}'")
    ns_per_cycle = 1e9 / a.tsc_hz

    dpdk = {}
    if "ring" in suites and a.ring_log:
        dpdk.update(dpdk_ring(a.ring_log, ns_per_cycle))
    if "mempool" in suites and a.mempool_criterion_dir:
        notes.append(f"burst mempool: best of {len(a.mempool_criterion_dir)} "
                     "cargo bench run(s)")
    if "mempool" in suites and a.mempool_log:
        dpdk.update(dpdk_mempool(a.mempool_log, a.mempool_keep,
                                 a.mempool_constant_n, a.mempool_skip_divisor))
    if "mempool" in suites and a.mbuf_log:
        dpdk.update(dpdk_mbuf(a.mbuf_log, ns_per_cycle))
    burst_l2fwd = {}
    if "l2fwd" in suites and a.l2fwd_log:
        dpdk_l2fwd, burst_l2fwd = l2fwd_results(a.l2fwd_log, a.l2fwd_period,
                                                a.l2fwd_lcore)
        dpdk.update(dpdk_l2fwd)
    l2fwd_sides = {s.split(":", 1)[0] for s in a.l2fwd_log}

    print(f"# machine: {cpu_model()}, {os.cpu_count()} cpus, "
          f"TSC {a.tsc_hz / 1e9:.3f} GHz ({a.tsc_source}); "
          f"DPDK {a.dpdk_version}; values are ns per element/object (per core), "
          "speedup = dpdk/burst, or Mpps (l2fwd), speedup = burst/dpdk; "
          "> 1 means burst is faster")

    speedups = []
    missing_burst, missing_dpdk = [], []
    for s in suites:
        for group, bench_id in SUITES[s]:
            case = f"{group}/{bench_id}"
            if s == "l2fwd":
                b, d = burst_l2fwd.get(case), dpdk.get(case)
                if "burst" in l2fwd_sides and b is None:
                    missing_burst.append(case)
                if "dpdk" in l2fwd_sides and d is None:
                    missing_dpdk.append(case)
                sp = "n/a"
                if b and d:
                    speedups.append((b / d, case))
                    sp = f"{b / d:.2f}"
                print(f"{case} burst={fmt_mpps(b)} dpdk={fmt_mpps(d)} speedup={sp}")
                continue
            dirs = [a.criterion_dir] if a.criterion_dir else []
            if s == "mempool" and a.mempool_criterion_dir:
                dirs = a.mempool_criterion_dir
            found = [v for v in (burst_value(c, group, bench_id) for c in dirs)
                     if v is not None]
            b = min(found) if found else None
            d = dpdk.get(case)
            if dirs and b is None:
                missing_burst.append(case)
            if (a.ring_log or a.mempool_log or a.mbuf_log) and d is None:
                missing_dpdk.append(case)
            sp = "n/a"
            if b and d:
                speedups.append((d / b, case))
                sp = f"{d / b:.2f}"
            print(f"{case} burst={fmt(b)} dpdk={fmt(d)} speedup={sp}")

    for n in notes:
        print(f"# {n}")
    if missing_burst:
        print(f"# no burst result for {len(missing_burst)} case(s): "
              + " ".join(missing_burst))
    if missing_dpdk:
        print(f"# no dpdk result for {len(missing_dpdk)} case(s): "
              + " ".join(missing_dpdk))

    total = sum(len(SUITES[s]) for s in suites)
    if speedups:
        geo = math.exp(sum(math.log(x) for x, _ in speedups) / len(speedups))
        faster = sum(1 for x, _ in speedups if x > 1)
        lo, hi = min(speedups), max(speedups)
        print(f"summary: {len(speedups)}/{total} cases compared, burst faster in "
              f"{faster}, dpdk faster in {len(speedups) - faster}, geomean "
              f"speedup={geo:.2f} (min {lo[0]:.2f} {lo[1]}, max {hi[0]:.2f} {hi[1]})")
    else:
        print(f"summary: 0/{total} cases compared (burst and dpdk results "
              "both needed for a speedup)")


if __name__ == "__main__":
    main()
