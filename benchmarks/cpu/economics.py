"""Economics: fpga-burst's default policy beside fixed scale-down timers and the CA-like and
Karpenter-like baselines, on real and synthetic traces. Goals (issue 11): wait p95 <= boot
+ device plugin + 60 s; cost <= every fixed timer of the same run; utilisation >= 90 %.

The cluster (the economics issue's setup): 2 on-prem nodes with 2 Alveo U250 each; F2 node
groups of 1, 2 and 8 boards (f2.6xlarge, f2.12xlarge, f2.48xlarge, up to 60 instances
each). A job's GPUs become replicas of one accelerator that takes a board of either kind.

Traces: the Alibaba cluster-trace-gpu-v2023 pod list, if given (--alibaba FILE or
BURST_ALIBABA_TRACE; not in this repository, see docs/economics.md): its busiest 24 h and the next
busiest days (3 in all, --days for more); and synthetic stress days (diurnal, bursty,
long-tailed).

Then the default with its bound on waiting for a board about to be freed (45 s) off, 2 and
5 min. Per policy: jobs run, wait p50/p95/max, board-hours paid and used, utilisation, the
idle split, instances paid and those no pod ever ran on, cost, and the ratios of cost and
p95 wait to the best fixed timer of the same run.

Run: .venv/bin/python benchmarks/cpu/economics.py [--alibaba FILE] [--days 3 | --window busiest:7d]
     [--jobs 600] [--boot 240] [--device-plugin 60]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from burst.core.catalog import F2_BOARD, default_catalog
from burst.core.errors import ConfigError
from burst.core.model import Catalog, Node, NodeGroup, Policy
from burst.tools.sim import alibaba, billing, generate
from burst.tools.sim.engine import PolicyResult, simulate
from burst.tools.sim.run import DEFAULT_COMPARE, FIXED_TIMERS, MODES, between_ticks, parse_run
from burst.tools.sim.site import Site
from burst.tools.sim.timing import parse
from burst.tools.sim.trace import Job
from burst.tools.sim.world import Timings

LABELS = {"inaccel/fpga": "enabled"}
ACCELERATOR = "gpu"  # one replica a board, on a U250 or an F2 board
BOOT, DEVICE_PLUGIN = "240", "60"  # seconds, as the issue measured
DAY = 86400
# The default's bound on waiting for a board about to be freed (45 s), off, and longer.
DEFER_BOUNDS = ("defer=0", "defer=2m", "defer=5m")


def cluster() -> Site:
    types = (("f2-6xlarge", "f2.6xlarge"), ("f2-12xlarge", "f2.12xlarge"),
             ("f2-48xlarge", "f2.48xlarge"))
    groups = tuple(NodeGroup(name, t, 0, 60, 0, labels=LABELS) for name, t in types)
    onprem = tuple(
        Node(f"onprem-{i}", labels=LABELS, allocatable={"xilinx/u250": 2}) for i in range(2)
    )
    catalog = Catalog(
        accelerators={ACCELERATOR: {"xilinx/u250": 1, F2_BOARD: 1}},
        instance_types=default_catalog().instance_types,
    )
    return Site(groups, onprem, catalog)


def run(label: str, jobs: Sequence[Job], timings: Timings,
        mode: str = MODES[0]) -> dict[str, PolicyResult]:
    site = cluster()
    start = time.perf_counter()
    outcomes: dict[str, PolicyResult] = {}
    for spec in (*DEFAULT_COMPARE, *DEFER_BOUNDS):
        policy, factory = parse_run(spec, Policy(), mode)
        outcomes[spec] = simulate(spec, site, policy, jobs, timings, 1, factory)
    took = time.perf_counter() - start
    best = min((outcomes[s] for s in FIXED_TIMERS), key=lambda o: o.cost)
    print(f"\n{label}: {len(jobs)} jobs, {len(outcomes)} policies in {took:.1f} s; "
          f"best fixed timer: {best.policy}")
    print(f"  {'policy':<22}{'run':>5}{'p50 m':>7}{'p95 m':>7}{'max m':>7}{'paid':>8}{'used':>8}"
          f"{'util':>6}{'boot':>7}{'idle':>7}{'strand':>7}{'inst':>6}{'unused':>7}{'cost $':>9}"
          f"{'/best':>7}{'p95/b':>7}")
    for o in outcomes.values():
        b = o.bill
        print(
            f"  {o.policy:<22}{len(o.waits):>5}{o.p50 / 60:>7.1f}"
            f"{o.percentile(0.95) / 60:>7.1f}{max(o.waits, default=0.0) / 60:>7.1f}"
            f"{b.paid:>8.1f}{b.used:>8.1f}"
            f"{_pct(b.used, b.paid):>6}{b.booting:>7.1f}{b.waiting:>7.1f}{b.stranded:>7.1f}"
            f"{b.launches:>6}{b.unused:>7}"
            f"{b.cost:>9,.0f}{_ratio(o.cost, best.cost):>7}"
            f"{_ratio(o.percentile(0.95), best.percentile(0.95)):>7}"
        )
    return outcomes


def busiest_days(path: Path, count: int) -> list[tuple[int, int]]:
    """(day, pods) of the `count` days whose pods asked for the most GPUs."""
    gpus: Counter[int] = Counter()
    pods: Counter[int] = Counter()
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if int(row["num_gpu"] or 0) and row["scheduled_time"]:
                day = int(float(row["creation_time"]) // DAY)
                gpus[day] += int(row["num_gpu"])
                pods[day] += 1
    return [(day, pods[day]) for day, _ in gpus.most_common(count)]


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def _ratio(value: float, best: float) -> str:
    return f"{value / best:.2f}" if best else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=600, help="jobs per synthetic day")
    parser.add_argument("--alibaba", type=Path, default=os.environ.get("BURST_ALIBABA_TRACE"))
    parser.add_argument("--days", type=int, default=3, help="the trace's busiest days to run")
    parser.add_argument("--window", help="instead of days, one window of the trace, as "
                        "burst simulate's --window (e.g. busiest:7d)")
    parser.add_argument("--mode", choices=MODES, default=MODES[0],
                        help="the scaler's mode (default watch, as deployed)")
    parser.add_argument("--boot", default=BOOT, help="as burst simulate's --boot")
    parser.add_argument("--device-plugin", default=DEVICE_PLUGIN,
                        help="as burst simulate's --device-plugin")
    args = parser.parse_args()
    try:
        timings = Timings(parse(args.boot, "--boot"), parse(args.device_plugin, "--device-plugin"))
    except ConfigError as exc:
        parser.error(str(exc))
    scaler = between_ticks(args.mode)
    print(f"assumptions: boot {args.boot} s, device plugin {args.device_plugin} s (seeded "
          "draws: a number is a constant); scaler: one tick a "
          f"minute{scaler}; billing: {billing.RULE}; prices: burst/core/catalog.py "
          "(us-east-1 on-demand list prices); on-prem 2 x 2 U250; F2 groups of 1, 2, 8 boards, "
          "max 60")
    for label, jobs in traces(args.alibaba, args.days, args.jobs, args.window):
        run(label, jobs, timings, args.mode)
    return 0


def traces(path: Path | None, days: int, synthetic_jobs: int,
           window: str | None = None) -> Iterator[tuple[str, list[Job]]]:
    """(label, jobs) of the trace's `days` busiest days, if given, then the synthetic days;
    with `window`, that window of the trace alone."""
    if path and window:
        jobs = list(alibaba.load(path, alibaba.Import({"": ACCELERATOR}, window, LABELS)).jobs)
        yield f"Alibaba {path.name}, window {window} ({len(jobs)} GPU pods)", jobs
        return
    if path:
        for day, pods in busiest_days(path, days):
            window = f"{day * DAY}:{(day + 1) * DAY}"
            options = alibaba.Import({"": ACCELERATOR}, window, LABELS)
            yield (f"Alibaba {path.name}, day {day} ({pods} GPU pods)",
                   list(alibaba.load(path, options).jobs))
    else:
        print("\n(no Alibaba trace: pass --alibaba FILE or set BURST_ALIBABA_TRACE)")
    for kind in generate.KINDS:
        yield f"synthetic {kind} day", list(generate.generate(
            kind, synthetic_jobs, 1, [{ACCELERATOR: n} for n in (1, 1, 2, 8)], LABELS))


if __name__ == "__main__":
    sys.exit(main())
