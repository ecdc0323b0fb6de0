"""The scaler's minute: 24 h of 1-minute ticks through Lambda's async queue, before and after;
and the idle cost of watch and poll mode. Goal: no tick dropped (the FailedEvents alarm
stays OK) in either mode, and each mode's idle cost stated (issue 12).

Lambda's asynchronous invocation, as documented ("How Lambda handles errors and retries with
asynchronous invocation", https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html):
an event that finds no concurrency free is throttled; Lambda returns it to the queue and
tries again, the interval growing from 1 s (doubling here) up to 5 minutes; an event older
than the function's maximum event age (60 s for the scaler) is discarded to the failure
destination. Retry attempts (0) count function errors only, not throttles.

The model: EventBridge puts tick k (time 60 k) in the queue `lag` seconds later (mostly
0.2-2 s, 1 % of ticks up to 20 s). One execution at a time (reserved concurrency 1).
An invocation may start cold (`--init` seconds, `--cold-every` invocations on average),
reconciles once (`--reconcile` s), then in watch mode runs the real burst.loop.watch.watch
on a simulated clock over an idle cluster (each watch lasts the whole seconds the API server
is asked for, as burst.adapters.kube.client.Kube.watch asks), until
  before: the Lambda deadline (then a 70 s timeout) less the margin,
  now:    burst.loop.watch.must_end (the next tick's due time, or the deadline) less it,
then answers. A pod arriving at a random moment is acted on after the watch's settle time
and a reconcile if it arrives while watching, else at the next invocation's first pass.

--measure runs the scaler handler itself, as Lambda would, on an idle cluster: the
harness's stage (the test control plane, $FPGA_BURST_CONTROLPLANE_BIN, and a moto_server);
poll-mode ticks and one watch tick, timed. Their durations give GB-seconds per idle hour
and $/month at the list prices below; the model then uses the measured reconcile time.

    .venv/bin/python benchmarks/cpu/scaler_minute.py [--hours 24] [--measure [--ticks 30]]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import heapq
import io
import json
import logging
import os
import random
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from burst.core.policy import SCALER_PERIOD, TOKEN_PERIOD
from burst.loop import config as config_mod
from burst.loop.clock import Clock
from burst.loop.result import Reconciled
from burst.loop.watch import must_end, watch
from burst.tools.deploy.functions import (
    MEMORY_MB,
    SCALER_MAX_EVENT_AGE,
    SCALER_TIMEOUTS,
    TIMEOUTS,
)
from burst.tools.harness.clock import FakeClock

PERIOD = SCALER_PERIOD.total_seconds()
MAX_EVENT_AGE = SCALER_MAX_EVENT_AGE.total_seconds()
FIRST_RETRY, MAX_RETRY = 1.0, 300.0  # the documented throttle retry interval's bounds
EPOCH = datetime(2026, 12, 1, tzinfo=UTC)
# AWS Lambda list prices, US East (N. Virginia), arm64, first 7.5 billion GB-s a month;
# https://aws.amazon.com/lambda/pricing/ as of 2026-12-02. The free tier (400,000 GB-s and
# 1 M requests a month, per account) is left out: other functions may use it.
PRICE_GB_SECOND = 0.0000133334
PRICE_REQUEST = 0.20 / 1_000_000
HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class Behaviour:
    name: str
    timeout: float
    watching: bool
    until_next_tick: bool  # bounded by must_end, not only by the Lambda deadline


BEHAVIOURS = (
    Behaviour("before: watch to the deadline (70 s)", 70.0, True, False),
    Behaviour("now, watch mode", SCALER_TIMEOUTS["watch"].total_seconds(), True, True),
    Behaviour("now, poll mode", SCALER_TIMEOUTS["poll"].total_seconds(), False, True),
)


@dataclass
class IdleWatcher:
    """No pod changes: each watch lasts as long as the API server was asked to keep it."""

    clock: FakeClock
    windows: list[tuple[float, float]]
    rtt: float = 0.01

    def next_pending_change(self, since: str, timeout: float) -> str | None:
        start = self.clock.mono
        self.clock.advance(max(1, int(timeout)) + self.rtt)
        self.windows.append((start, self.clock.mono))
        return None


@dataclass
class IdleShell:
    config: config_mod.RuntimeConfig
    clock: Clock

    def reconcile(self, stop_at: float | None = None) -> Reconciled:
        raise AssertionError("an idle cluster never changes, so watch never reconciles")


@dataclass
class Day:
    """What happened to the ticks of one simulated run."""

    ticks: int = 0
    ran: int = 0
    late: int = 0  # throttled at least once, then ran
    dropped: int = 0
    timed_out: int = 0
    busy: float = 0.0  # seconds of execution, all invocations
    worst_start: float = 0.0  # tick time -> handler start
    windows: list[tuple[float, float]] = field(default_factory=list)
    passes: list[float] = field(default_factory=list)  # when each first reconcile ended


@dataclass(frozen=True)
class Model:
    hours: float
    reconcile: float
    init: float
    cold_every: int
    response: float
    seed: int


def lags(rng: random.Random) -> Iterator[float]:
    while True:
        yield rng.uniform(2.0, 20.0) if rng.random() < 0.01 else rng.uniform(0.2, 2.0)


def invocation(b: Behaviour, m: Model, cfg: config_mod.RuntimeConfig, tick: float,
               start: float, rng: random.Random, day: Day) -> float:
    """Runs one invocation from `start`; when its execution ends."""
    clock = FakeClock(EPOCH + timedelta(seconds=start), start)
    if rng.random() < 1.0 / m.cold_every:
        clock.advance(m.init)
    deadline = start + b.timeout
    end = must_end(EPOCH + timedelta(seconds=tick), deadline, clock) if b.until_next_tick \
        else deadline
    clock.advance(m.reconcile * rng.uniform(0.8, 1.3))
    day.passes.append(clock.mono)
    if b.watching:
        watch(IdleShell(cfg, clock), IdleWatcher(clock, day.windows), "1", end)
    clock.advance(m.response)
    if clock.mono > deadline:
        day.timed_out += 1
        return deadline
    return clock.mono


def simulate(b: Behaviour, m: Model, cfg: config_mod.RuntimeConfig) -> Day:
    """A discrete-event run of Lambda's async queue for one function of concurrency 1."""
    rng = random.Random(m.seed)
    day = Day(ticks=int(m.hours * 3600 / PERIOD))
    queue: list[tuple[float, int, float, float]] = []  # (attempt, tick, enqueued, interval)
    lag = lags(rng)
    for k in range(day.ticks):
        enqueued = k * PERIOD + next(lag)
        heapq.heappush(queue, (enqueued, k, enqueued, FIRST_RETRY))
    free_at, throttled = 0.0, set()
    while queue:
        at, k, enqueued, interval = heapq.heappop(queue)
        if at < free_at:  # throttled (429): back to the queue, or too old: dropped
            throttled.add(k)
            if at + interval - enqueued > MAX_EVENT_AGE:
                day.dropped += 1
            else:
                heapq.heappush(queue, (at + interval, k, enqueued,
                                       min(MAX_RETRY, 2 * interval)))
            continue
        day.ran += 1
        day.late += k in throttled
        day.worst_start = max(day.worst_start, at - k * PERIOD)
        free_at = invocation(b, m, cfg, k * PERIOD, at, rng, day)
        day.busy += free_at - at
    return day


def pod_waits(day: Day, cfg: config_mod.RuntimeConfig, m: Model, samples: int,
              seed: int) -> list[float]:
    """Seconds from a pod's arrival to the reconcile that acts on it, at random moments."""
    rng = random.Random(seed)
    act = cfg.watch.idle.total_seconds() + m.reconcile
    starts = [a for a, _ in day.windows]
    passes = sorted(day.passes)
    horizon = day.ticks * PERIOD - 2 * PERIOD
    waits = []
    for _ in range(samples):
        t = rng.uniform(0.0, horizon)
        i = bisect.bisect_right(starts, t) - 1
        if i >= 0 and day.windows[i][0] <= t < day.windows[i][1]:
            waits.append(act)
            continue
        nxt = [passes[j] - t for j in [bisect.bisect_left(passes, t)] if j < len(passes)]
        nxt += [starts[i + 1] - t + act] if i + 1 < len(starts) else []
        waits.append(min(nxt))
    return waits


def coverage(day: Day) -> tuple[float, float]:
    """Share of the run some invocation was watching, and the longest time nobody was."""
    total = day.ticks * PERIOD
    watched = sum(b - a for a, b in day.windows)
    gaps = [b[0] - a[1] for a, b in zip(day.windows, day.windows[1:], strict=False)]
    return watched / total, max(gaps, default=total)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def month(gb_s_per_hour: float, requests_per_hour: float) -> float:
    return HOURS_PER_MONTH * (gb_s_per_hour * PRICE_GB_SECOND
                              + requests_per_hour * PRICE_REQUEST)


def run_model(m: Model, cfg: config_mod.RuntimeConfig) -> dict[str, float]:
    """Prints the table; GB-seconds per idle hour of the scaler, by behaviour name."""
    print(f"\nmodel: {m.hours:g} h of {PERIOD:.0f} s ticks, max event age {MAX_EVENT_AGE:.0f} s,"
          f" concurrency 1; reconcile {m.reconcile:.2f} s, cold start +{m.init:g} s about "
          f"every {m.cold_every} invocations, watch margin {cfg.watch.margin.total_seconds():g} s")
    head = (f"{'behaviour':<40} {'run':>5} {'late':>5} {'dropped':>7} {'timeouts':>8} "
            f"{'worst start':>11} {'watching':>8} {'longest gap':>11} {'pod wait p50/p99':>17}")
    print(head)
    gb_hours: dict[str, float] = {}
    for b in BEHAVIOURS:
        day = simulate(b, m, cfg)
        share, gap = coverage(day)
        waits = pod_waits(day, cfg, m, 20_000, m.seed + 1)
        gaps = f"{gap:>9.1f} s" if day.windows else f"{'-':>11}"
        print(f"{b.name:<40} {day.ran:>5} {day.late:>5} {day.dropped:>7} {day.timed_out:>8} "
              f"{day.worst_start:>9.1f} s {share:>7.1%} {gaps} "
              f"{pct(waits, 0.5):>6.1f} / {pct(waits, 0.99):>4.1f} s")
        gb_hours[b.name] = day.busy * MEMORY_MB / 1024 / m.hours
    return gb_hours


def cost_table(gb_hours: dict[str, float], tokens_seconds: float | None) -> None:
    ticks = 3600 / PERIOD
    print(f"\nidle cost, scaler ({MEMORY_MB} MB arm64), at ${PRICE_GB_SECOND}/GB-s and "
          f"${PRICE_REQUEST * 1e6:.2f}/M requests (us-east-1 list prices, 2026-12-02), "
          f"{HOURS_PER_MONTH} h/month, free tier not counted:")
    for name, gb_s in gb_hours.items():
        print(f"  {name:<40} {gb_s:8.1f} GB-s/h  ${month(gb_s, ticks):6.2f}/month")
    if tokens_seconds is not None:
        per_hour = 3600 / TOKEN_PERIOD.total_seconds()
        gb_s = per_hour * tokens_seconds * MEMORY_MB / 1024
        print(f"  {'tokens function (every 15 min)':<40} {gb_s:8.2f} GB-s/h  "
              f"${month(gb_s, per_hour):6.2f}/month")


def timed(call: Callable[[], dict[str, Any]]) -> float:
    """Seconds `call` (a handler) takes; its EMF lines and summary are not printed."""
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Powertools: "No application metrics to publish"
        summary = call()
    took = time.perf_counter() - start
    if summary.get("outcome") != "ok":
        raise SystemExit(f"scaler_minute: the handler answered {json.dumps(summary)}")
    return took


def measure(ticks: int) -> dict[str, Any]:
    """The handlers' durations through their Lambda entry points (settings from the
    environment, credentials from Secrets Manager, adapters built per invocation) on an idle
    cluster: one node group, nothing pending."""
    from burst.handlers import runtime, scaler, tokens
    from burst.tools.harness import moto
    from burst.tools.harness.context import LambdaContext
    from burst.tools.harness.events import scheduled_event
    from burst.tools.harness.stage import stage

    logging.disable(logging.INFO)  # the handlers' decision lines would drown the figures
    with tempfile.TemporaryDirectory() as tmp, stage(Path(tmp)) as on:
        aws = moto.MotoView(on.endpoint)
        aws.store_credentials(on.identities)
        aws.group("f2-12xlarge", "f2.12xlarge", {}, max_size=4)
        key = aws.client("kms").create_key()
        os.environ.update(moto.environment(on.endpoint))  # poll mode
        os.environ.update({"FPGA_BURST_JOIN_PARAMETER": "/fpga-burst/onprem/join",
                           "FPGA_BURST_JOIN_KEY_ID": key["KeyMetadata"]["KeyId"]})
        runtime.config.cache_clear()
        poll_timeout = SCALER_TIMEOUTS["poll"].total_seconds()
        print(f"measuring {ticks} poll-mode ticks, then one watch-mode tick (about a "
              "minute) ...", flush=True)
        poll = [timed(lambda: scaler.handler(scheduled_event(),
                                             LambdaContext(poll_timeout, "scaler")))
                for _ in range(ticks)]
        tokens_timeout = TIMEOUTS["tokens"].total_seconds()
        with moto.acting_as("tokens"):  # its own identity: it reads bootstrap tokens
            published = [timed(lambda: tokens.handler({}, LambdaContext(tokens_timeout,
                                                                        "tokens")))
                         for _ in range(6)]
        os.environ.update(moto.environment(on.endpoint, watch={"enabled": True}))
        runtime.config.cache_clear()
        watch_timeout = SCALER_TIMEOUTS["watch"].total_seconds()
        watched = [timed(lambda: scaler.handler(scheduled_event(),
                                                LambdaContext(watch_timeout, "scaler")))]
    return {"poll": poll, "poll_median": statistics.median(poll),
            "poll_mean": statistics.mean(poll), "watch": watched,
            "watch_mean": statistics.mean(watched),
            # the first run makes and publishes a token; the rest find it fresh
            "tokens_mean": statistics.mean(published[1:])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--reconcile", type=float, default=0.5,
                        help="an idle reconcile's seconds (--measure: the measured median)")
    parser.add_argument("--init", type=float, default=2.5, help="a cold start's seconds")
    parser.add_argument("--cold-every", type=int, default=120)
    parser.add_argument("--response", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--measure", action="store_true",
                        help="time the handler on the test control plane and moto_server")
    parser.add_argument("--ticks", type=int, default=30, help="poll-mode ticks to time")
    args = parser.parse_args()
    cfg = config_mod.load({}, cluster_name="model", config={})
    model = Model(args.hours, args.reconcile, args.init, args.cold_every, args.response,
                  args.seed)
    measured: dict[str, Any] = {}
    if args.measure:
        measured = measure(args.ticks)
        model = replace(model, reconcile=measured["poll_mean"])
    gb_hours = run_model(model, cfg)
    if measured:
        ticks = 3600 / PERIOD
        gb_hours["measured, poll mode"] = ticks * measured["poll_mean"] * MEMORY_MB / 1024
        gb_hours["measured, watch mode"] = ticks * measured["watch_mean"] * MEMORY_MB / 1024
    cost_table(gb_hours, measured.get("tokens_mean"))
    if measured:
        print(f"\nmeasured: poll-mode tick p50 {measured['poll_median']:.3f} s, mean "
              f"{measured['poll_mean']:.3f} s, max {max(measured['poll']):.3f} s "
              f"({len(measured['poll'])} ticks); watch-mode tick "
              f"{statistics.mean(measured['watch']):.1f} s; tokens run "
              f"{measured['tokens_mean']:.3f} s")


if __name__ == "__main__":
    main()
