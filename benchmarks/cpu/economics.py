"""Economics: fpga-burst's default policy beside every comparator at its default and at its
best plausible setting (burst.tools.sim.run.COMPARATORS), on real and synthetic traces,
over paired seeds. Goals (issue 26): the default costs no more than the cheapest comparator
on the week and at most 2 % more on any day (median over seeds); wait p95 <= boot + device
plugin + 60 s; launches no pod ever ran on <= 10 %.

The cluster (the economics issue's setup): 2 on-prem nodes with 2 Alveo U250 each; F2 node
groups of 1, 2 and 8 boards (f2.6xlarge, f2.12xlarge, f2.48xlarge, up to 60 instances
each). A job's GPUs become replicas of one accelerator that takes a board of either kind.

Traces: the Alibaba cluster-trace-gpu-v2023 pod list, if given (--alibaba FILE or
BURST_ALIBABA_TRACE; not in this repository, see docs/economics.md): its busiest days (3,
--days for more) or one window (--window busiest:7d); without it, synthetic stress days
(diurnal, bursty, long-tailed).

Seeds are paired (burst.tools.sim.timing.luck): every policy of a seed sees the same boot,
device-plugin and failure draw for the same launch, so the ratio within a seed is the
policies' and the spread over seeds is luck's. With --boot-mismatch the runs are
made with the true boot and device-plugin times scaled (the policy's boot_estimate
stays at its setting). Per window and scale: median and range over seeds of the default's
cost ÷ the cheapest comparator (and which it was), ÷ the lower bound, wait p95, jobs never
run, launches no pod ran on; and each comparator's median cost ÷ the default's.

Run: .venv/bin/python benchmarks/cpu/economics.py [--alibaba FILE] [--days 3 | --window
     busiest:7d] [--seeds 5] [--boot lognormal:240,0.25] [--device-plugin uniform:30,90]
     [--boot-mismatch 0.7,1.3] [--json OUT.jsonl]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from burst.core.catalog import F2_BOARD, default_catalog
from burst.core.errors import ConfigError
from burst.core.model import Catalog, Node, NodeGroup, Policy
from burst.tools.sim import alibaba, billing, generate
from burst.tools.sim.compare import Bound, cheapest, lower_bound
from burst.tools.sim.engine import PolicyResult, simulate
from burst.tools.sim.run import COMPARATORS, MODES, between_ticks, parse_run
from burst.tools.sim.site import Site
from burst.tools.sim.timing import parse
from burst.tools.sim.trace import Job
from burst.tools.sim.world import Timings

LABELS = {"inaccel/fpga": "enabled"}
ACCELERATOR = "gpu"  # one replica a board, on a U250 or an F2 board
BOOT, DEVICE_PLUGIN = "240", "60"  # seconds, as the economics issue measured
# This benchmark's default draws them around those: a constant equal to the default's
# boot_estimate (300 s together) flatters it.
DRAWN_BOOT, DRAWN_DEVICE_PLUGIN = "lognormal:240,0.25", "uniform:30,90"
DAY = 86400
DEFAULT = "base"
# The default's bound on waiting for a board about to be freed (45 s), off, and longer.
DEFER_BOUNDS = ("defer=0", "defer=2m", "defer=5m")


@dataclass(frozen=True)
class Setup:
    """Everything a run rests on besides the trace and the policy; one place to add a
    setting of the simulated world (the scheduler model, when it is one)."""

    timings: Timings
    mode: str = MODES[0]
    seeds: tuple[int, ...] = (1, 2, 3, 4, 5)
    specs: tuple[str, ...] = (DEFAULT, *COMPARATORS)


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


def run_seed(jobs: Sequence[Job], setup: Setup, seed: int) -> dict[str, PolicyResult]:
    site = cluster()
    outcomes = {}
    for spec in setup.specs:
        policy, factory = parse_run(spec, Policy(), setup.mode)
        outcomes[spec] = simulate(spec, site, policy, jobs, setup.timings, seed, factory)
    return outcomes


@dataclass(frozen=True)
class Record:
    """One seed's figures of one window, as --json writes them and summarise reads them."""

    window: str
    scale: float  # true boot ÷ the given
    seed: int
    bound: float  # the lower bound's dollars
    cheapest: str  # the comparator that cost least
    cost: dict[str, float]  # spec -> dollars
    p95_min: float  # the default's
    max_min: float
    never_run: int
    jobs: int
    launches: int
    unused: int
    utilisation: float

    @property
    def best(self) -> float:
        return self.cost[self.cheapest]

    @property
    def unused_share(self) -> float:
        return self.unused / self.launches if self.launches else 0.0


def record(label: str, scale: float, seed: int, outcomes: dict[str, PolicyResult],
           bound: Bound) -> Record:
    base = outcomes[DEFAULT]
    best = cheapest(outcomes, COMPARATORS)
    return Record(
        label, scale, seed, bound.cost, best.policy, {s: o.cost for s, o in outcomes.items()},
        base.percentile(0.95) / 60, max(base.waits, default=0.0) / 60, base.unfinished,
        len(base.waits) + base.unfinished, base.bill.launches, base.bill.unused,
        base.bill.used / base.bill.paid if base.bill.paid else 0.0,
    )


def spread(values: Sequence[float], form: str = ".2f") -> str:
    """Median [least-most]."""
    return f"{statistics.median(values):{form}} [{min(values):{form}}-{max(values):{form}}]"


def summarise(records: Sequence[Record]) -> list[str]:
    """Median [range] over seeds of the figures the goals name."""
    base = [r.cost[DEFAULT] for r in records]
    which = Counter(r.cheapest for r in records)
    lines = [
        f"  default cost ${spread(base, ',.0f')}; ÷ cheapest comparator "
        f"{spread([r.cost[DEFAULT] / r.best for r in records])} "
        f"(cheapest: {', '.join(f'{s} x{n}' for s, n in which.most_common())})",
        f"  ÷ lower bound {spread([r.cost[DEFAULT] / r.bound for r in records])} "
        f"(bound ${records[0].bound:,.0f})",
        f"  wait p95 {spread([r.p95_min for r in records], '.1f')} min, max "
        f"{spread([r.max_min for r in records], '.1f')}; jobs never run "
        f"{spread([r.never_run for r in records], '.0f')} of {records[0].jobs}; "
        f"launches no pod ran on {spread([r.unused_share for r in records], '.0%')} "
        f"(of {spread([r.launches for r in records], '.0f')}); utilisation "
        f"{spread([r.utilisation for r in records], '.0%')}",
        "  each ÷ default, median [range]:",
    ]
    for spec in records[0].cost:
        if spec != DEFAULT:
            ratios = [r.cost[spec] / r.cost[DEFAULT] for r in records]
            lines.append(f"    {spec:<36}{spread(ratios)}")
    return lines


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


def main() -> int:
    args = _parser().parse_args()
    if args.summarise:
        return show([Record(**json.loads(line)) for line in args.summarise.open()])
    try:
        given = parse(args.boot, "--boot"), parse(args.device_plugin, "--device-plugin")
        scales = [float(x) for x in args.boot_mismatch.split(",")] if args.boot_mismatch else []
    except (ConfigError, ValueError) as exc:
        _parser().error(str(exc))
    seeds = tuple(range(args.first_seed, args.first_seed + args.seeds))
    specs = (DEFAULT, *COMPARATORS, *(DEFER_BOUNDS if args.defer else ()))
    print(f"assumptions: boot {args.boot} s, device plugin {args.device_plugin} s (paired "
          f"seeds {', '.join(map(str, seeds))}); the default's "
          f"boot_estimate {Policy().boot_estimate.total_seconds():g} s; scaler: one tick a "
          f"minute{between_ticks(args.mode)}; billing: {billing.RULE}; prices: "
          "burst/core/catalog.py (us-east-1 on-demand list prices); on-prem 2 x 2 U250; F2 "
          "groups of 1, 2, 8 boards, max 60")
    windows = list(traces(args.alibaba, args.days, args.jobs, args.window, args.skip_days,
                          args.synthetic or not args.alibaba))
    bounds = {label: lower_bound(jobs, cluster()) for label, jobs in windows}
    out = args.json.open("a") if args.json else None
    records = []
    # Seeds outermost: a run stopped early has every window at a few seeds.
    for seed in seeds:
        for scale in scales or [1.0]:
            setup = Setup(Timings(given[0].scaled(scale), given[1].scaled(scale)), args.mode,
                          seeds, specs)
            for label, jobs in windows:
                start = time.perf_counter()
                rec = record(label, scale, seed, run_seed(jobs, setup, seed), bounds[label])
                records.append(rec)
                print(f"{label}, true boot x{scale:g}, seed {seed}: {len(specs)} policies in "
                      f"{time.perf_counter() - start:.0f} s", flush=True)
                if out:
                    out.write(json.dumps(asdict(rec)) + "\n")
                    out.flush()
    return show(records)


def show(records: Sequence[Record]) -> int:
    """Prints the summary of every window and scale in `records`, in their order."""
    groups: dict[tuple[str, float], list[Record]] = {}
    for rec in records:
        groups.setdefault((rec.window, rec.scale), []).append(rec)
    for (label, scale), recs in groups.items():
        print(f"\n{label}, true boot x{scale:g}, "
              f"seeds {', '.join(str(r.seed) for r in recs)}:")
        print("\n".join(summarise(recs)), flush=True)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=600, help="jobs per synthetic day")
    parser.add_argument("--alibaba", type=Path, default=os.environ.get("BURST_ALIBABA_TRACE"))
    parser.add_argument("--days", type=int, default=3, help="the trace's busiest days to run")
    parser.add_argument("--skip-days", type=int, default=0,
                        help="leave out the first N of them (to split a long run)")
    parser.add_argument("--window", help="instead of days, one window of the trace, as "
                        "burst simulate's --window (e.g. busiest:7d)")
    parser.add_argument("--seeds", type=int, default=5, help="paired seeds: N of them")
    parser.add_argument("--first-seed", type=int, default=1, help="the first seed")
    parser.add_argument("--summarise", type=Path, metavar="JSONL",
                        help="only summarise the records a --json run wrote")
    parser.add_argument("--mode", choices=MODES, default=MODES[0],
                        help="the scaler's mode (default watch, as deployed)")
    parser.add_argument("--boot", default=DRAWN_BOOT, help="as burst simulate's --boot")
    parser.add_argument("--device-plugin", default=DRAWN_DEVICE_PLUGIN,
                        help="as burst simulate's --device-plugin")
    parser.add_argument("--boot-mismatch", default="", metavar="F,F",
                        help="run with the true boot and device plugin x each F instead "
                        "(include 1 to have the given too)")
    parser.add_argument("--defer", action="store_true",
                        help="also the default with its wait for freed boards off, 2, 5 min")
    parser.add_argument("--synthetic", action="store_true",
                        help="with --alibaba, the synthetic days too")
    parser.add_argument("--json", type=Path, help="append every seed's figures here")
    return parser


def traces(path: Path | None, days: int, synthetic_jobs: int, window: str | None = None,
           skip: int = 0, synthetic: bool = True) -> Iterator[tuple[str, list[Job]]]:
    """(label, jobs) of the trace's `days` busiest days (but the first `skip`), if given,
    then the synthetic days; with `window`, that window of the trace alone."""
    if path and window:
        jobs = list(alibaba.load(path, alibaba.Import({"": ACCELERATOR}, window, LABELS)).jobs)
        yield f"Alibaba {path.name}, window {window} ({len(jobs)} GPU pods)", jobs
        return
    if path:
        for day, pods in busiest_days(path, days)[skip:]:
            window = f"{day * DAY}:{(day + 1) * DAY}"
            options = alibaba.Import({"": ACCELERATOR}, window, LABELS)
            yield (f"Alibaba {path.name}, day {day} ({pods} GPU pods)",
                   list(alibaba.load(path, options).jobs))
    else:
        print("\n(no Alibaba trace: pass --alibaba FILE or set BURST_ALIBABA_TRACE)")
    if not synthetic:
        return
    for kind in generate.KINDS:
        yield f"synthetic {kind} day", list(generate.generate(
            kind, synthetic_jobs, 1, [{ACCELERATOR: n} for n in (1, 1, 2, 8)], LABELS))


if __name__ == "__main__":
    sys.exit(main())
