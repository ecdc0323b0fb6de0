"""The peers harness's 500-pod mixed burst in the simulator, under each scheduler model.

500 pods of 1, 2 and 8 F2 boards (6:3:1) are created at once (as benchmarks/peers'
`500-pods`); three F2 node groups (f2.6xlarge, f2.12xlarge, f2.48xlarge) up to 400 each;
the jobs run an hour; boot and device plugin as `burst simulate` takes them (240 s, 60 s).
For each scheduler model (burst.tools.sim.scheduler) and seed: instances launched, those
that never ran a pod, the time until every pod ran, and the peak $/h of live instances
(sampled each minute). `--before` runs the planner without its mixed-burst step
(burst.core.scaleup.mixed), for comparison.

Run: .venv/bin/python benchmarks/cpu/mixed_burst.py [--seeds 5] [--before]
"""

from __future__ import annotations

import argparse
import statistics

from burst.core.catalog import F2_BOARD, default_catalog
from burst.core.model import NodeGroup, Policy
from burst.core.scaleup import planner
from burst.core.scaleup.bins import Packing
from burst.tools.sim.engine import PolicyResult, simulate
from burst.tools.sim.scheduler import SCHEDULERS
from burst.tools.sim.site import Site
from burst.tools.sim.timing import constant
from burst.tools.sim.trace import Job
from burst.tools.sim.world import Timings

LABELS = {"inaccel/fpga": "enabled"}
SIZES = (1, 1, 1, 1, 1, 1, 2, 2, 2, 8)  # as benchmarks/peers/workloads.py's _mixed


def site() -> Site:
    types = ("f2.6xlarge", "f2.12xlarge", "f2.48xlarge")
    groups = tuple(NodeGroup(t.replace(".", "-"), t, 0, 400, 0, labels=LABELS) for t in types)
    return Site(groups, (), default_catalog())


def jobs(count: int = 500, over: float = 0.0) -> tuple[Job, ...]:
    return tuple(
        Job(f"mixed-{i:03d}", over * i / count, 3600.0, {F2_BOARD: SIZES[i % len(SIZES)]},
            node_selector=LABELS)
        for i in range(count)
    )


def figures(result: PolicyResult) -> tuple[int, int, float, float]:
    peak = max((s.price_per_hour for s in result.samples), default=0.0)
    last = max(result.waits, default=float("nan"))
    return result.bill.launches, result.bill.unused, last, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--before", action="store_true",
                        help="the planner without its mixed-burst step")
    parser.add_argument("--boot", type=float, default=240.0)
    parser.add_argument("--device-plugin", type=float, default=60.0)
    parser.add_argument("--over", type=float, default=0.0,
                        help="seconds over which the pods are created (the harness: ~5-10)")
    args = parser.parse_args()
    if args.before:
        def unchanged(packing: Packing, *_: object) -> Packing:
            return packing

        vars(planner)["unify"] = unchanged  # the planner calls it by this module name
    print(f"planner: {'before (no mixed-burst step)' if args.before else 'this checkout'}")
    print("| scheduler | instances launched | never ran a pod | all running after | "
          "peak $/h |")
    print("|---|---|---|---|---|")
    for kind in SCHEDULERS:
        timings = Timings(constant(args.boot), constant(args.device_plugin), scheduler=kind)
        runs = [figures(simulate(kind, site(), Policy(), jobs(over=args.over), timings, seed))
                for seed in range(args.seeds)]
        launched, unused, last, peak = (sorted(x) for x in zip(*runs, strict=True))
        print(f"| {kind} | {_span(launched, '{:.0f}')} | {_span(unused, '{:.0f}')} | "
              f"{_span(last, '{:.0f} s')} | {_span(peak, '{:,.0f}')} |")
    print(f"medians [range] over {args.seeds} seeds (boots are constant: the seeds move only "
          "kube-scheduler's choice among equal scores)")


def _span(values: list[float], fmt: str) -> str:
    median = fmt.format(statistics.median(values))
    if values[0] == values[-1]:
        return median
    return f"{median} [{fmt.format(values[0])}-{fmt.format(values[-1])}]"


if __name__ == "__main__":
    main()
