"""Give back what boots for nobody (issue 26, item 5): the default policy with
`give_back_launching` on (the default) and off, on the economics cluster and traces
(benchmarks/cpu/economics.py): instances launched (billed), those no pod ever ran on,
instances terminated while still launching (`given`: by the give-back; with it off, by
scale-down once their Node registered idle, boards or not), board-hours paid while booting
and in all, cost, wait p95, and the ratio of cost on / off. Off is the controller as it was
before the give-back.

In the simulator an instance given back boots no further and its bill ends when its
terminate hook completes (the scaler's next tick), per billing.py's EC2 rules: nothing if
that is before `running`, else per second with the 60 s minimum.

Run: .venv/bin/python benchmarks/cpu/giveback.py [--alibaba FILE] [--days 3 | --window busiest:7d]
     [--jobs 600] [--seeds 3] [--boot 240] [--device-plugin 60] [--mode watch]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from economics import BOOT, DEVICE_PLUGIN, cluster, traces

from burst.core.errors import ConfigError
from burst.core.model import Policy
from burst.tools.sim.engine import PolicyResult, simulate
from burst.tools.sim.run import MODES, parse_run
from burst.tools.sim.timing import parse
from burst.tools.sim.world import Timings

SPECS = ("base", "give-back=off")


def row(name: str, results: list[PolicyResult]) -> str:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    return (f"  {name:<15}{med([r.bill.launches for r in results]):>8.0f}"
            f"{med([r.bill.unused for r in results]):>8.0f}"
            f"{med([r.given_back for r in results]):>7.0f}"
            f"{med([r.bill.booting for r in results]):>9.1f}"
            f"{med([r.bill.paid for r in results]):>9.1f}"
            f"{med([r.bill.cost for r in results]):>10,.0f}"
            f"{med([r.percentile(0.95) / 60 for r in results]):>8.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=600, help="jobs per synthetic day")
    parser.add_argument("--alibaba", type=Path, default=os.environ.get("BURST_ALIBABA_TRACE"))
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--window", help="one window of the trace instead (busiest:7d)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per run (medians shown)")
    parser.add_argument("--mode", choices=MODES, default=MODES[0])
    parser.add_argument("--boot", default=BOOT)
    parser.add_argument("--device-plugin", default=DEVICE_PLUGIN)
    parser.add_argument("--synthetic", default="", help="only these synthetic kinds, "
                        "comma-separated (default: all)")
    args = parser.parse_args()
    try:
        timings = Timings(parse(args.boot, "--boot"), parse(args.device_plugin, "--device-plugin"))
    except ConfigError as exc:
        parser.error(str(exc))
    kinds = {k for k in args.synthetic.split(",") if k}
    print(f"boot {args.boot} s, device plugin {args.device_plugin} s; {args.seeds} seeds, "
          f"medians; scaler mode {args.mode}")
    for label, jobs in traces(args.alibaba, args.days, args.jobs, args.window):
        if kinds and label.startswith("synthetic") and label.split()[1] not in kinds:
            continue
        start = time.perf_counter()
        found: dict[str, list[PolicyResult]] = {}
        for spec in SPECS:
            policy, factory = parse_run(spec, Policy(), args.mode)
            found[spec] = [simulate(spec, cluster(), policy, jobs, timings, seed, factory)
                           for seed in range(args.seeds)]
        took = time.perf_counter() - start
        print(f"\n{label}: {len(jobs)} jobs ({took:.0f} s)")
        print(f"  {'give-back':<15}{'inst':>8}{'unused':>8}{'given':>7}{'boot bh':>9}"
              f"{'paid bh':>9}"
              f"{'cost $':>10}{'p95 m':>8}")
        on, off = found["base"], found["give-back=off"]
        print(row("on (default)", on))
        print(row("off", off))
        ratio = statistics.median(a.bill.cost / b.bill.cost for a, b in zip(on, off, strict=True)
                                  if b.bill.cost)
        print(f"  cost on / off: {ratio:.3f} (median of the seeds' ratios)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
