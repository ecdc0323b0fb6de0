"""`burst trace generate` and `burst trace import`: job traces in the CSV `burst simulate`
reads (trace.py). `simulate --trace` reads an Alibaba file directly too; `import` keeps
the converted jobs to look at or edit."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from burst.core.errors import ConfigError
from burst.tools.sim import alibaba, generate, trace
from burst.tools.sim.run import add_import_arguments, import_options


def register(commands: Any) -> None:
    p = commands.add_parser("trace", help="make job traces for `burst simulate`")
    sub = p.add_subparsers(dest="trace_command", required=True, metavar="SUBCOMMAND")
    gen = sub.add_parser("generate", help="a synthetic trace, seeded")
    gen.add_argument("--kind", required=True, choices=generate.KINDS)
    gen.add_argument("--jobs", type=int, default=1000)
    gen.add_argument("--hours", type=float, default=24.0)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument(
        "--demand",
        action="append",
        default=[],
        metavar="DEMAND",
        help="a job's demand as in the trace CSV, e.g. xilinx/u250=1 (repeatable: drawn at random)",
    )
    gen.add_argument("--selector", default="", help="node selector, key=value;key=value")
    gen.add_argument("--out", type=Path, help="file to write (default: standard output)")
    gen.set_defaults(run=_generate)
    imp = sub.add_parser("import", help="convert an Alibaba GPU trace (openb_pod_list_*.csv)")
    imp.add_argument("file", type=Path)
    add_import_arguments(imp)
    imp.add_argument("--out", type=Path, help="file to write (default: standard output)")
    imp.set_defaults(run=_import)


def _generate(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise ConfigError("--jobs", str(args.jobs), "must be at least 1")
    demands = [_demand(d) for d in args.demand or ["xilinx/u250=1"]]
    selector = trace.pairs(args.selector, "--selector")
    jobs = generate.generate(args.kind, args.jobs, args.seed, demands, selector, args.hours)
    _write(jobs, args.out)
    return 0


def _import(args: argparse.Namespace) -> int:
    imported = alibaba.load(args.file, import_options(args))
    for reason, count in sorted(imported.skipped.items()):
        print(f"burst: skipped {count} pods: {reason}", file=sys.stderr)
    _write(imported.jobs, args.out)
    return 0


def _demand(text: str) -> dict[str, int]:
    out = {}
    for key, value in trace.pairs(text, "--demand").items():
        if not value.isdigit() or int(value) < 1:
            raise ConfigError("--demand", text, f"{key}: {value!r} is not a whole number >= 1")
        out[key] = int(value)
    if not out:
        raise ConfigError("--demand", text, "is empty")
    return out


def _write(jobs: tuple[trace.Job, ...], out: Path | None) -> None:
    if out is None:
        trace.write(jobs, sys.stdout)
        return
    with out.open("w", newline="", encoding="utf-8") as handle:
        trace.write(jobs, handle)
