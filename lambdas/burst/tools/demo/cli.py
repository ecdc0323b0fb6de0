"""`burst demo [--report DIR] [--fast]`: the seed evaluation, end to end, on this machine.

Imports the demo only when run: `burst plan` must not pay for moto and matplotlib.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    p = commands.add_parser("demo", help="run the seed evaluation locally, end to end")
    p.add_argument("--report", type=Path, default=Path("report"),
                   help="folder for summary.md and timeline.png (default: report/)")
    p.add_argument("--fast", action="store_true", help="shorter waits (as the test runs it)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from burst.tools.demo import fallback, report, setup, story

    started = time.monotonic()
    try:
        told = story.run(args.report, story.FAST if args.fast else story.NORMAL)
    except setup.ControlPlaneUnavailableError as exc:
        print(f"\nburst demo: the test control plane cannot run here: {exc}\n"
              "burst demo: running the same story on the simulator instead "
              "(burst simulate; needs no Go and no control plane)\n", flush=True)
        fallback.run(args.report, str(exc))
        print(f"\nreport: {args.report}/summary.md, {args.report}/timeline.png (simulated)")
        return 0
    report.write(told, args.report)
    print(f"\nreport: {args.report}/summary.md, {args.report}/timeline.png "
          f"({time.monotonic() - started:.0f} s in all)")
    return 0 if told.finished else 1
