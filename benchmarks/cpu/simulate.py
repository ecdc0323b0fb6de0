"""Simulator benchmark: a 24-hour trace of 10,000 jobs on virtual time (target: < 10 s).

The cluster: 4 on-prem nodes with an Alveo U250 each, five AWS FPGA node groups (F1 and
F2, up to 100 instances each). The jobs: XGBoost-like, 2 to 8 accelerator replicas, 5 to 60
minutes, arriving at random over the day with bursts. Every scaler tick (one a minute) runs
the controller's own shell, planner and scale-down over the simulated ports, in watch mode
(the deployment's default: it also reconciles between ticks, some 9,300 reconciles in all).

It prints the median wall time of `--repeat` runs and its ratio to the 10 s goal, with the
median CPU time of the process and the machine's cores and load average: on a shared
machine the wall time grows with the load, the CPU time much less.

Measured 2026-12-07, 2 cores shared (load 2-5), CPU median of 3: 3,000 jobs 5.9 s (7.4 s
before the run-time estimate was kept per record of ended runs, its per-run loops went
to map/accumulate, and the planner stopped retrying an order it had tried); 10,000 jobs
40.4 s (50.0 s before). Still missed: scale-down's per-node checks and the planner are
most of what is left.

Run: .venv/bin/python benchmarks/cpu/simulate.py [--jobs 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

from burst.core.catalog import F1_BOARD, F2_BOARD, default_catalog
from burst.core.model import Catalog, Node, NodeGroup, Policy
from burst.tools.sim.engine import simulate
from burst.tools.sim.site import Site
from burst.tools.sim.trace import Job
from burst.tools.sim.world import Timings

LABELS = {"inaccel/fpga": "enabled"}
ACCELERATOR = "com.inaccel.xgboost.exact"


def cluster(max_size: int = 100) -> Site:
    types = ("f1.2xlarge", "f1.4xlarge", "f1.16xlarge", "f2.6xlarge", "f2.12xlarge")
    groups = tuple(NodeGroup(t.replace(".", "-"), t, 0, max_size, 0, labels=LABELS) for t in types)
    onprem = tuple(
        Node(f"onprem-{i}", labels=LABELS, allocatable={"xilinx/u250": 1}) for i in range(4)
    )
    catalog = Catalog(
        accelerators={ACCELERATOR: {"xilinx/u250": 4, F1_BOARD: 2, F2_BOARD: 3}},
        instance_types=default_catalog().instance_types,
    )
    return Site(groups, onprem, catalog)


def trace(count: int, rng: random.Random) -> tuple[Job, ...]:
    jobs = []
    for i in range(count):
        submit = rng.uniform(0, 86400)
        if rng.random() < 0.1:  # a tenth of the jobs come in bursts, at the top of an hour
            submit = float(int(submit // 3600) * 3600)
        jobs.append(
            Job(
                f"ml/job-{i:05}",
                submit,
                rng.uniform(300, 3600),
                accelerators={ACCELERATOR: rng.choice([2, 4, 4, 8])},
                node_selector=LABELS,
            )
        )
    return tuple(sorted(jobs, key=lambda j: (j.submit, j.name)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    site = cluster()
    jobs = trace(args.jobs, random.Random(1))
    samples, cpu = [], []
    load = os.getloadavg()[0]
    for _ in range(args.repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        outcome = simulate("bench", site, Policy(), jobs, Timings())
        samples.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    median = statistics.median(samples)
    print(
        f"simulated {len(jobs)} jobs over 24 h in watch mode ({len(outcome.samples)} scaler "
        f"ticks), median of {args.repeat}: {median:.2f} s wall, "
        f"{statistics.median(cpu):.2f} s CPU  (target < 10 s: "
        f"{'met' if median < 10 else 'MISSED'}, ratio {median / 10:.2f}); "
        f"{os.cpu_count()} cores, load average {load:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after"
    )
    print(
        f"  jobs run {len(outcome.waits)}, never run {outcome.unfinished}; "
        f"wait p50 {outcome.p50 / 60:.1f} min, p95 {outcome.percentile(0.95) / 60:.1f} min; "
        f"FPGA-hours paid {outcome.fpga_hours_paid:.0f}, used {outcome.fpga_hours_used:.0f}; "
        f"cost ${outcome.cost:,.0f}; scale-ups {outcome.scale_ups}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
