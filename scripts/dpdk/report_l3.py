#!/usr/bin/env python3
"""report_l3.py - the lpm and l3fwd rows of compare-dpdk.sh, in report.py's format.

  lpm/<case> burst=<ns> dpdk=<ns> speedup=<dpdk/burst>
      DPDK's lpm_perf_autotest (1M routes of a real router's depth distribution,
      random addresses) in cycles per lookup, converted with the TSC frequency,
      vs the criterion groups lpm/* of benches/net.rs (the same distribution):
        lookup_single  "Average LPM Lookup"   (rte_lpm_lookup)
        lookup_bulk32  "BULK LPM Lookup"      (rte_lpm_lookup_bulk, 32)
        lookup_x4      "LPM LookupX4"         (rte_lpm_lookupx4)
  lpm6/<case> burst=<ns> dpdk=<ns> speedup=<dpdk/burst>
      DPDK's lpm6_perf_autotest (1000 routes of depths 1-128, 100 addresses under
      each, looked up in route order) vs the criterion group lpm6/* (the same):
        lookup_single  "Average LPM Lookup"   (rte_lpm6_lookup)
        lookup_bulk32  "BULK LPM Lookup"      (rte_lpm6_lookup_bulk_func)
  l3fwd/<case> burst=<Mpps> dpdk=<Mpps> speedup=<burst/dpdk>
      one l3fwd on one lcore, net_pcap infinite_rx -> net_null, the median of
      the runs' "l3fwd_rate:" lines (scripts/dpdk/l3fwd_run.py); cases
      lpm_pcap_null (--lookup lpm) and em_pcap_null (--lookup em)

Speedup > 1 means burst is faster. Reuses report.py's helpers.
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import burst_value, cpu_model, fmt, fmt_mpps, median, warn  # noqa: E402

LPM_CASES = [
    ("lookup_single", r"Average LPM Lookup:\s*([0-9.]+) cycles"),
    ("lookup_bulk32", r"BULK LPM Lookup:\s*([0-9.]+) cycles"),
    ("lookup_x4", r"LPM LookupX4:\s*([0-9.]+) cycles"),
]
LPM6_CASES = LPM_CASES[:2]
L3FWD_CASES = ["lpm_pcap_null", "em_pcap_null"]


def dpdk_lpm(path, ns_per_cycle, cases=LPM_CASES):
    with open(path, errors="replace") as f:
        text = f.read()
    out = {}
    for case, pat in cases:
        m = re.search(pat, text)
        if m:
            out[case] = float(m.group(1)) * ns_per_cycle
        else:
            warn(f"{path}: no '{pat}' line")
    return out


def l3fwd_rates(specs):
    """SIDE:CASE:LOG specs -> {side: {case: median Mpps}}."""
    runs = {}
    for spec in specs:
        side, case, path = spec.split(":", 2)
        with open(path, errors="replace") as f:
            m = re.search(r"^l3fwd_rate: ([0-9.]+) pps", f.read(), re.M)
        if m:
            runs.setdefault(side, {}).setdefault(case, []).append(float(m.group(1)) / 1e6)
        else:
            warn(f"{path}: no l3fwd_rate line")
    return {s: {c: median(v) for c, v in cases.items()} for s, cases in runs.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suites", default="lpm,l3fwd")
    ap.add_argument("--tsc-hz", type=float, required=True)
    ap.add_argument("--tsc-source", default="given")
    ap.add_argument("--dpdk-version", default="?")
    ap.add_argument("--lpm-log")
    ap.add_argument("--lpm6-log")
    ap.add_argument("--criterion-dir")
    ap.add_argument("--l3fwd-log", action="append", default=[],
                    help="SIDE:CASE:LOG of one l3fwd_run.py run")
    ap.add_argument("--note", action="append", default=[])
    a = ap.parse_args()
    suites = a.suites.split(",")
    print(f"# machine: {cpu_model()}, {os.cpu_count()} cpus, "
          f"TSC {a.tsc_hz / 1e9:.3f} GHz ({a.tsc_source}); DPDK {a.dpdk_version}; "
          "lpm: ns per lookup, speedup = dpdk/burst; l3fwd: Mpps, speedup = burst/dpdk; "
          "> 1 means burst is faster")
    speedups = []
    rows = 0
    if "lpm" in suites:
        for group, log, cases in (("lpm", a.lpm_log, LPM_CASES),
                                  ("lpm6", a.lpm6_log, LPM6_CASES)):
            dpdk = dpdk_lpm(log, 1e9 / a.tsc_hz, cases) if log else {}
            for case, _ in cases:
                b = burst_value(a.criterion_dir, group, case) if a.criterion_dir else None
                d = dpdk.get(case)
                sp = "n/a"
                if b and d:
                    speedups.append(d / b)
                    sp = f"{d / b:.2f}"
                rows += 1
                print(f"{group}/{case} burst={fmt(b)} dpdk={fmt(d)} speedup={sp}")
    if "l3fwd" in suites:
        rates = l3fwd_rates(a.l3fwd_log)
        for case in L3FWD_CASES:
            b = rates.get("burst", {}).get(case)
            d = rates.get("dpdk", {}).get(case)
            sp = "n/a"
            if b and d:
                speedups.append(b / d)
                sp = f"{b / d:.2f}"
            rows += 1
            print(f"l3fwd/{case} burst={fmt_mpps(b)} dpdk={fmt_mpps(d)} speedup={sp}")
    for n in a.note:
        print(f"# {n}")
    faster = sum(1 for s in speedups if s >= 1.0)
    print(f"summary: {len(speedups)}/{rows} cases compared, burst faster or equal in "
          f"{faster}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
