"""Economics: fpga-burst's fixed scale-down timers beside CA-like and Karpenter-like baselines.

Traces: a synthetic diurnal day, a bursty day, and, if given (--alibaba or the
BURST_ALIBABA_TRACE environment variable), the busiest 24 h of an Alibaba
cluster-trace-gpu-v2023 pod list (one GPU -> one VU9P board; see README). Per policy:
jobs run, wait p50/p95, board-hours paid/used, utilisation, idle split, cost, and cost
and p95 as ratios to the best (cheapest) fixed timer.

Run: .venv/bin/python benchmarks/economics.py [--jobs 1500] [--alibaba FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from simulate import LABELS, cluster  # the same cluster as the simulator benchmark

from burst.core.catalog import F1_BOARD
from burst.core.model import Policy
from burst.tools.sim import alibaba, generate
from burst.tools.sim.engine import simulate
from burst.tools.sim.run import DEFAULT_COMPARE, FIXED_TIMERS, parse_run
from burst.tools.sim.timing import parse
from burst.tools.sim.trace import Job
from burst.tools.sim.world import Timings

DEMANDS = [{"com.inaccel.xgboost.exact": n} for n in (2, 4, 4, 8)]


def run(label: str, jobs: tuple[Job, ...]) -> None:
    groups, onprem, catalog = cluster(max_size=40)
    timings = Timings(parse("lognormal:240,0.25", "--boot"), parse("uniform:30,120", "-"))
    start = time.perf_counter()
    outcomes = []
    for spec in DEFAULT_COMPARE:
        policy, factory = parse_run(spec, Policy())
        outcomes.append(simulate(spec, groups, onprem, catalog, policy, jobs, timings, 1, factory))
    took = time.perf_counter() - start
    timers = [o for o in outcomes if o.policy in FIXED_TIMERS]
    best = min(timers, key=lambda o: o.cost)
    print(
        f"\n{label}: {len(jobs)} jobs, {len(outcomes)} policies in {took:.1f} s; "
        f"best fixed timer: {best.policy}"
    )
    print(
        f"  {'policy':<22}{'run':>6}{'p50 m':>7}{'p95 m':>7}{'paid':>8}{'used':>8}{'util':>6}"
        f"{'boot':>7}{'wait':>7}{'strand':>7}{'cost $':>9}{'cost/best':>10}{'p95/best':>9}"
    )
    for o in outcomes:
        b = o.bill
        print(
            f"  {o.policy:<22}{len(o.waits):>6}{o.p50 / 60:>7.1f}{o.percentile(0.95) / 60:>7.1f}"
            f"{b.paid:>8.0f}{b.used:>8.0f}{_pct(b.used, b.paid):>6}{b.booting:>7.0f}"
            f"{b.waiting:>7.0f}{b.stranded:>7.0f}{b.cost:>9,.0f}{_ratio(o.cost, best.cost):>10}"
            f"{_ratio(o.percentile(0.95), best.percentile(0.95)):>9}"
        )


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def _ratio(value: float, best: float) -> str:
    return f"{value / best:.2f}" if best else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1500)
    parser.add_argument("--alibaba", type=Path, default=os.environ.get("BURST_ALIBABA_TRACE"))
    args = parser.parse_args()
    for kind in ("diurnal", "bursty"):
        run(f"synthetic {kind} day", generate.generate(kind, args.jobs, 1, DEMANDS, LABELS))
    if args.alibaba:
        options = alibaba.Import({"": F1_BOARD}, "busiest:24h", LABELS)
        run(f"Alibaba {args.alibaba.name}, busiest 24 h", alibaba.load(args.alibaba, options).jobs)
    else:
        print("\n(no Alibaba trace: pass --alibaba FILE or set BURST_ALIBABA_TRACE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
