"""`burst simulate`: run a job trace against a scenario's node groups, per policy.

The scenario gives the node groups (their desired capacity starts at 0), the on-prem
nodes, the catalog and the base policy; its pods and managed nodes are not used: the trace
says which jobs arrive when. A policy is the base policy with some fields changed:
  unneeded=2m  delay=10m  expanders=priority+price  max_boards=16  max_price=40
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from burst.core.errors import ConfigError
from burst.core.model import Policy
from burst.core.policy import parse_policy as parse_policy_fields
from burst.tools import scenario
from burst.tools.sim.engine import PolicyResult, simulate
from burst.tools.sim.trace import load
from burst.tools.sim.world import Timings

DEFAULT_COMPARE = ("unneeded=2m", "unneeded=10m", "unneeded=30m")


def register(commands: Any) -> None:
    p = commands.add_parser("simulate", help="simulate a job trace on virtual time")
    p.add_argument("--scenario", required=True, type=Path, help="node groups, on-prem nodes")
    p.add_argument("--trace", required=True, type=Path, help="jobs CSV (see README)")
    p.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="SPEC",
        help="a policy to run, e.g. unneeded=2m,expanders=price (repeatable)",
    )
    p.add_argument(
        "--compare",
        action="store_true",
        help=f"print policies side by side (default set: {' '.join(DEFAULT_COMPARE)})",
    )
    p.add_argument("--boot", type=float, default=240.0, help="seconds to register (240)")
    p.add_argument(
        "--device-plugin",
        type=float,
        default=60.0,
        help="seconds from registering to boards advertised (60)",
    )
    p.add_argument(
        "--failure-rate",
        action="append",
        default=[],
        metavar="GROUP=P",
        help="probability that a launch in GROUP fails (repeatable)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chart", type=Path, help="write a PNG chart of the first policy")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    loaded = scenario.load(args.scenario)
    jobs = load(args.trace)
    specs = args.policy or (list(DEFAULT_COMPARE) if args.compare else ["base"])
    policies = [(spec, parse_policy(spec, loaded.policy)) for spec in specs]
    timings = Timings(args.boot, args.device_plugin, _rates(args.failure_rate))
    snapshot = loaded.snapshot
    groups = tuple(replace(g, desired=g.min_size, instances=()) for g in snapshot.node_groups)
    onprem = tuple(n for n in snapshot.nodes if n.node_group is None)
    outcomes = [
        simulate(name, groups, onprem, snapshot.catalog, policy, jobs, timings, args.seed)
        for name, policy in policies
    ]
    print(table(outcomes))
    if args.chart:
        from burst.tools.sim.chart import write_chart  # matplotlib only when a chart is asked for

        write_chart(outcomes[0], args.chart)
        print(f"chart: {args.chart}")
    return 0


# Spec key -> the policy field it sets, and how its text becomes the field's value.
_SPEC_KEYS = {
    "unneeded": "scale_down_unneeded_time_seconds",
    "delay": "scale_down_delay_after_add_seconds",
    "expanders": "expanders",
    "max_boards": "max_boards",
    "max_price": "max_price_per_hour",
}


def parse_policy(spec: str, base: Policy) -> Policy:
    """`key=value` pairs joined by commas, over `base`; raises ConfigError naming the key.

    The spec is only syntax: it becomes the policy fields burst.core.policy checks.
    """
    if spec == "base":
        return base
    fields: dict[str, Any] = {}
    for part in spec.split(","):
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep:
            raise ConfigError("--policy", spec, f"{part!r} is not key=value")
        if key not in _SPEC_KEYS:
            known = ", ".join(_SPEC_KEYS)
            raise ConfigError("--policy", spec, f"unknown key {key!r} ({known})")
        fields[_SPEC_KEYS[key]] = _value(key, value, spec)
    return parse_policy_fields(fields, f"--policy {spec}", path="", base=base)


def _value(key: str, text: str, spec: str) -> Any:
    if key == "expanders":
        return text.split("+")
    if key in ("unneeded", "delay"):
        return _seconds(text, spec, key)
    try:
        return int(text) if key == "max_boards" else float(text)
    except ValueError:
        raise ConfigError("--policy", spec, f"{key}: {text!r} is not a number") from None


def _seconds(text: str, spec: str, key: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    scale = units.get(text[-1:], 0)
    number = text[:-1] if scale else text
    try:
        return float(number) * (scale or 1)
    except ValueError:
        raise ConfigError("--policy", spec, f"{key}: {text!r} is not a duration like 10m") from None


def _rates(items: Sequence[str]) -> dict[str, float]:
    rates = {}
    for item in items:
        group, sep, value = item.partition("=")
        try:
            rate = float(value)
        except ValueError:
            rate = -1.0
        if not sep or not 0 <= rate <= 1:
            raise ConfigError("--failure-rate", item, "must be GROUP=P with P from 0 to 1")
        rates[group] = rate
    return rates


def table(outcomes: Sequence[PolicyResult]) -> str:
    rows = [
        ("policy", *(o.policy for o in outcomes)),
        ("jobs run", *(str(len(o.waits)) for o in outcomes)),
        ("jobs never run", *(str(o.unfinished) for o in outcomes)),
        ("wait p50", *(_mins(o.p50) for o in outcomes)),
        ("wait p95", *(_mins(o.percentile(0.95)) for o in outcomes)),
        ("wait max", *(_mins(max(o.waits, default=0.0)) for o in outcomes)),
        ("FPGA-hours paid", *(f"{o.fpga_hours_paid:.1f}" for o in outcomes)),
        ("FPGA-hours used", *(f"{o.fpga_hours_used:.1f}" for o in outcomes)),
        ("utilisation", *(_share(o.fpga_hours_used, o.fpga_hours_paid) for o in outcomes)),
        ("cost", *(f"${o.cost:,.2f}" for o in outcomes)),
        ("scale-ups", *(str(o.scale_ups) for o in outcomes)),
        ("failed launches", *(str(o.failed_launches) for o in outcomes)),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.rjust(w) if i else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    )


def _mins(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"
