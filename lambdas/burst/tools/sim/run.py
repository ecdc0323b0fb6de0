"""`burst simulate`: run a job trace against a scenario's node groups, per policy.

The scenario gives the node groups (their desired capacity starts at 0), the on-prem
nodes, the catalog and the base policy; its pods and managed nodes are not used: the trace
says which jobs arrive when. A policy is the base policy with some fields changed:
  scale-down=adaptive|fixed  unneeded=2m  delay=10m  defer=2m  expanders=priority+price
  max_boards=16  max_price=40
(`unneeded=` is Cluster Autoscaler's fixed timer: it implies scale-down=fixed), or a
baseline controller instead of fpga-burst: controller=ca, controller=karpenter
(`unneeded=` then sets the baseline's own removal time).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from burst.core.errors import ConfigError
from burst.core.model import Catalog, Policy
from burst.core.policy import parse_policy
from burst.loop.config import WatchSettings
from burst.tools import scenario
from burst.tools.sim import alibaba, baselines, billing, compare, timing
from burst.tools.sim.engine import (
    TICK_S,
    ControllerFactory,
    PolicyResult,
    ShellController,
    poll_controller,
    simulate,
)
from burst.tools.sim.scheduler import DESCRIBED, SCHEDULERS
from burst.tools.sim.site import Site
from burst.tools.sim.trace import duration_s, pairs
from burst.tools.sim.world import Timings

# fpga-burst's default (adaptive scale-down) and its comparators, each at its default and
# at its best plausible setting: fixed timers with Cluster Autoscaler's delay after a
# scale-up (its default, 10 min) and without; the CA-like baseline as CA runs by default
# and with a startup taint (nodes awaiting their boards count as upcoming); Karpenter-like
# (its defaults are its best).
FIXED_TIMERS = tuple(f"unneeded={m}m,delay={d}" for m in (1, 2, 5, 10, 30) for d in ("10m", "0"))
BASELINES = ("controller=ca", "controller=ca,startup-taint=yes", "controller=karpenter")
COMPARATORS = (*FIXED_TIMERS, *BASELINES)
DEFAULT_COMPARE = ("base", *COMPARATORS)
CONTROLLERS = ("fpga-burst", "ca", "karpenter")
# A baseline's own spec keys, and the controller each belongs to.
_BASELINE_KEYS = {"startup-taint": "ca", "batch-idle": "karpenter", "batch-max": "karpenter"}
MODES = ("watch", "poll")  # the deployment's scaler.mode, its default first


def register(commands: Any) -> None:
    p = commands.add_parser("simulate", help="simulate a job trace on virtual time")
    p.add_argument("--scenario", required=True, type=Path, help="node groups, on-prem nodes")
    p.add_argument("--trace", required=True, type=Path, help="jobs CSV (see docs/simulation.md)")
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
    p.add_argument(
        "--boot",
        default="240",
        help="launch to node registered: seconds, lognormal:MEDIAN,SIGMA or uniform:LOW,HIGH",
    )
    p.add_argument(
        "--device-plugin", default="60", help="registered to boards advertised (same forms)"
    )
    p.add_argument(
        "--boot-scale", type=float, default=1.0, metavar="F",
        help="true boot and device-plugin times = the given x F (the policy's boot_estimate "
        "stays): e.g. 0.7 or 1.3",
    )
    p.add_argument(
        "--pending", type=float, default=15.0, help="seconds from launch to EC2 running (billed)"
    )
    add_import_arguments(p)
    p.add_argument(
        "--failure-rate",
        action="append",
        default=[],
        metavar="GROUP=P",
        help="probability that a launch in GROUP fails (repeatable)",
    )
    p.add_argument(
        "--interruption-rate",
        action="append",
        default=[],
        metavar="GROUP=R",
        help="Spot interruptions per instance-hour in GROUP, exponential (repeatable)",
    )
    p.add_argument(
        "--mode",
        choices=MODES,
        default=MODES[0],
        help="the scaler's mode, as the deployment's scaler.mode (default watch)",
    )
    p.add_argument(
        "--scheduler",
        choices=SCHEDULERS,
        default=SCHEDULERS[0],
        help="how kube-scheduler binds pods: LeastAllocated (kube), the bin-packing "
        "MostAllocated (kube-binpack), or on-prem first and best fit (ideal)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chart", type=Path, help="write a PNG chart of the first policy")
    p.set_defaults(run=run)


def add_import_arguments(p: argparse.ArgumentParser) -> None:
    """How an Alibaba GPU trace becomes FPGA jobs (alibaba.py)."""
    p.add_argument(
        "--gpu-as",
        action="append",
        default=[],
        metavar="[MODEL=]DEMAND",
        help="Alibaba trace: a GPU becomes one board (vendor/board) or replica (accelerator)",
    )
    p.add_argument("--window", default="", help="Alibaba trace: busiest:24h or START:END")
    p.add_argument(
        "--selector", default="", help="node selector for imported jobs, key=value;key=value"
    )


def import_options(args: argparse.Namespace) -> alibaba.Import:
    selector = pairs(args.selector, "--selector")
    return alibaba.Import(alibaba.parse_gpu_as(args.gpu_as), args.window, selector)


def run(args: argparse.Namespace) -> int:
    loaded = scenario.load(args.scenario)
    options = import_options(args)
    check_demands(options.gpu_as, loaded.snapshot.catalog)
    imported = alibaba.load(args.trace, options)
    specs = args.policy or (list(DEFAULT_COMPARE) if args.compare else ["base"])
    if args.compare and args.policy and not any("controller=" in s for s in specs):
        specs += list(BASELINES)
    runs = [(spec, *parse_run(spec, loaded.policy, args.mode)) for spec in specs]
    if args.boot_scale <= 0:
        raise ConfigError("--boot-scale", str(args.boot_scale), "must be > 0")
    timings = Timings(
        timing.parse(args.boot, "--boot").scaled(args.boot_scale),
        timing.parse(args.device_plugin, "--device-plugin").scaled(args.boot_scale),
        args.pending,
        _rates(args.failure_rate, "--failure-rate", 1.0),
        _rates(args.interruption_rate, "--interruption-rate", None),
        scheduler=args.scheduler,
    )
    site = Site.of(loaded.snapshot)
    outcomes = [
        simulate(name, site, policy, imported.jobs, timings, args.seed, factory)
        for name, policy, factory in runs
    ]
    bound = compare.lower_bound(imported.jobs, site)
    print(table(outcomes, bound))
    by_spec = {o.policy: o for o in outcomes}
    print("\n".join(compare.summary(by_spec, specs[0], COMPARATORS, bound)))
    print(assumptions(timings, specs, len(imported.jobs), imported.skipped, args.mode))
    if args.chart:
        from burst.tools.sim.chart import write_chart  # matplotlib only when a chart is asked for

        write_chart(outcomes[0], args.chart)
        print(f"chart: {args.chart}")
    return 0


def check_demands(gpu_as: Mapping[str, str], catalog: Catalog) -> None:
    """Every demand a GPU maps to must be a board or accelerator the catalog knows."""
    boards = {b for it in catalog.instance_types.values() for b in it.boards}
    boards |= {b for per in catalog.accelerators.values() for b in per}
    for model, demand in gpu_as.items():
        known = boards if "/" in demand else set(catalog.accelerators)
        if demand not in known:
            kind = "board" if "/" in demand else "accelerator"
            raise ConfigError(
                "--gpu-as",
                f"{model}={demand}" if model else demand,
                f"{kind} {demand!r} is not in the scenario's catalog "
                f"(known: {', '.join(sorted(known)) or 'none'})",
            )


def parse_run(spec: str, base: Policy, mode: str = MODES[0]) -> tuple[Policy, ControllerFactory]:
    """A --policy spec: the policy, and the controller that runs it (fpga-burst in `mode`,
    or a baseline with its own settings)."""
    own: dict[str, str] = {}
    rest = []
    for part in spec.split(","):
        key, _, value = (s.strip() for s in part.partition("="))
        if key == "controller" or key in _BASELINE_KEYS:
            own[key] = value
        else:
            rest.append(part)
    kind = own.pop("controller", "fpga-burst")
    if kind not in CONTROLLERS:
        raise ConfigError("--policy", spec, f"controller must be one of {', '.join(CONTROLLERS)}")
    for key in own:
        if _BASELINE_KEYS[key] != kind:
            raise ConfigError("--policy", spec, f"{key} is a setting of controller="
                              f"{_BASELINE_KEYS[key]}")
    policy = policy_from_spec(",".join(rest) or "base", base)
    if kind == "fpga-burst":
        return policy, ShellController if mode == "watch" else poll_controller
    return policy, baselines.baseline(kind, _settings(own, policy, spec))


def _settings(own: Mapping[str, str], policy: Policy, spec: str) -> baselines.Settings:
    """A baseline's settings from its spec keys (`unneeded=` sets its removal time)."""
    taint = own.get("startup-taint", "no")
    if taint not in ("yes", "no"):
        raise ConfigError("--policy", spec, f"startup-taint: {taint!r} is not yes or no")
    default = baselines.Settings()
    idle, most = (
        timedelta(seconds=duration_s(own[k], "--policy", spec)) if k in own else None
        for k in ("batch-idle", "batch-max")
    )
    return baselines.Settings(
        idle=policy.scale_down_unneeded_time if "unneeded=" in spec else None,
        startup_taint=taint == "yes",
        batch_idle=default.batch_idle if idle is None else idle,
        batch_max=default.batch_max if most is None else most,
    )


# Spec key -> the policy field it sets (the spec is syntax; burst.core.policy checks).
_SPEC_KEYS = {
    "scale-down": "scale_down",
    "unneeded": "scale_down_unneeded_time_seconds",
    "delay": "scale_down_delay_after_add_seconds",
    "defer": "defer_scale_up_seconds",
    "give-back": "give_back_launching",
    "expanders": "expanders",
    "max_boards": "max_boards",
    "max_price": "max_price_per_hour",
}


def policy_from_spec(spec: str, base: Policy) -> Policy:
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
            known = ", ".join([*_SPEC_KEYS, "controller"])
            raise ConfigError("--policy", spec, f"unknown key {key!r} ({known})")
        fields[_SPEC_KEYS[key]] = _value(key, value, spec)
    if "scale_down_unneeded_time_seconds" in fields:
        fields.setdefault("scale_down", "fixed")  # a timer is Cluster Autoscaler's rule
    return parse_policy(fields, f"--policy {spec}", path="", base=base)


def _value(key: str, text: str, spec: str) -> Any:
    if key == "expanders":
        return text.split("+")
    if key == "scale-down":
        return text
    if key == "give-back":  # on | off; anything else is left for parse_policy to refuse
        return {"on": True, "off": False}.get(text, text)
    if key in ("unneeded", "delay", "defer"):
        return duration_s(text, "--policy", spec)
    try:
        return int(text) if key == "max_boards" else float(text)
    except ValueError:
        raise ConfigError("--policy", spec, f"{key}: {text!r} is not a number") from None


def _rates(items: Sequence[str], flag: str, most: float | None) -> dict[str, float]:
    """GROUP=RATE pairs: a probability (`most` 1) or a rate per hour (`most` None)."""
    rates = {}
    for item in items:
        group, sep, value = item.partition("=")
        try:
            rate = float(value)
        except ValueError:
            rate = -1.0
        if not sep or rate < 0 or (most is not None and rate > most):
            bound = f"from 0 to {most:g}" if most is not None else "0 or more"
            raise ConfigError(flag, item, f"must be GROUP=RATE with RATE {bound}")
        rates[group] = rate
    return rates


def table(outcomes: Sequence[PolicyResult], bound: compare.Bound | None = None) -> str:
    rows = [
        ("policy", *(o.policy for o in outcomes)),
        ("jobs run", *(str(len(o.waits)) for o in outcomes)),
        ("jobs never run", *(str(o.unfinished) for o in outcomes)),
        ("wait p50", *(_mins(o.p50) for o in outcomes)),
        ("wait p95", *(_mins(o.percentile(0.95)) for o in outcomes)),
        ("wait max", *(_mins(max(o.waits, default=0.0)) for o in outcomes)),
        ("board-hours paid", *(f"{o.bill.paid:.1f}" for o in outcomes)),
        ("board-hours used", *(f"{o.bill.used:.1f}" for o in outcomes)),
        ("utilisation", *(_share(o.bill.used, o.bill.paid) for o in outcomes)),
        ("idle: booting", *(f"{o.bill.booting:.1f}" for o in outcomes)),
        ("idle: waiting scale-down", *(f"{o.bill.waiting:.1f}" for o in outcomes)),
        ("idle: stranded", *(f"{o.bill.stranded:.1f}" for o in outcomes)),
        ("idle: 60 s minimum", *(f"{o.bill.minimum:.1f}" for o in outcomes)),
        ("instances paid", *(str(o.bill.launches) for o in outcomes)),
        ("  no pod ever ran on", *(str(o.bill.unused) for o in outcomes)),
        ("cost", *(f"${o.cost:,.2f}" for o in outcomes)),
        *([("cost ÷ lower bound", *(compare.over_bound(o.cost, bound) for o in outcomes))]
          if bound else []),
        ("scale-ups", *(str(o.scale_ups) for o in outcomes)),
        ("failed launches", *(str(o.failed_launches) for o in outcomes)),
    ]
    if any(o.interruptions for o in outcomes):
        rows += [
            ("Spot interruptions", *(str(o.interruptions) for o in outcomes)),
            ("pods restarted", *(str(o.restarts) for o in outcomes)),
            ("board-hours of work lost", *(f"{o.lost:.1f}" for o in outcomes)),
        ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.rjust(w) if i else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    )


def assumptions(
    timings: Timings, specs: Sequence[str], jobs: int, skipped: Mapping[str, int],
    mode: str = MODES[0],
) -> str:
    """Everything the figures above rest on, printed beside them."""
    lines = [
        "assumptions:",
        f"  jobs simulated: {jobs}"
        + (
            f"; skipped: {', '.join(f'{n} {r}' for r, n in sorted(skipped.items()))}"
            if skipped
            else ""
        ),
        f"  boot (launch to node registered): {timings.boot}",
        f"  device plugin (registered to boards advertised): {timings.device_plugin}",
        f"  billing: {billing.RULE}; pending {timings.pending_s:g} s after launch",
        f"  pods bound as {DESCRIBED[timings.scheduler]}",
        *(
            [f"  Spot interruptions per instance-hour: {_pairs(timings.interruption_rate)}; "
             f"notice {timings.notice_s:g} s: the node is cordoned and its pods evicted at "
             "once and start over; Auto Scaling replaces the instance"]
            if timings.interruption_rate else []
        ),
        *(
            [f"  launch failure probability: {_pairs(timings.failure_rate)}"]
            if timings.failure_rate else []
        ),
        "  prices: the scenario's catalog; built-in: us-east-1 on-demand Linux, EC2 On-Demand "
        "pricing page (F1 2017, F2 Dec 2024/2025; burst/core/catalog.py)",
        f"  fpga-burst: the scaler's own shell every {TICK_S:g} s (EventBridge schedule)"
        + between_ticks(mode),
    ]
    for kind in ("ca", "karpenter"):
        if any(f"controller={kind}" in s for s in specs):
            lines.append(f"  {kind}: {baselines.ASSUMPTIONS[kind]}")
    return "\n".join(lines)


def between_ticks(mode: str) -> str:
    """What the scaler does between ticks in `mode`, in words (burst.tools.sim.engine._Watch)."""
    if mode != "watch":
        return "; poll mode: nothing between ticks"
    w = WatchSettings()
    return (f"; watch mode: also {w.idle.total_seconds():g} s after new pending pods settle "
            f"(batches of at most {w.max_batch.total_seconds():g} s) and every "
            f"{w.recheck.total_seconds():g} s while pods wait for instances asked for, "
            f"not in the last {w.margin.total_seconds():g} s before a tick")


def _pairs(rates: Mapping[str, float]) -> str:
    return ", ".join(f"{group} {rate:g}" for group, rate in sorted(rates.items()))


def _mins(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"
