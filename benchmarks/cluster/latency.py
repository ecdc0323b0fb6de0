"""Latency from an FPGA pod's creation to the SetDesiredCapacity call it causes; cold import.
Goal (issue 4): in watch mode, p50 <= 2 s and p99 <= 5 s; poll mode for comparison.

Against the harness's stage (burst.tools.harness.stage: the test control plane, with
kube-scheduler, so each pod is marked unschedulable as in a real cluster, and a
moto_server); the scaler runs as burst.handlers.scaler.run with the adapters the handler
builds, one hook on the AWS client recording when SetDesiredCapacity is sent.

- watch mode: the EventBridge schedule simulated in real time: an invocation every
  `--period` seconds with a `--timeout`-second context (the stack's 60 s / 60 s), pods
  created one by one at random moments over `--ticks` periods. Pods that arrive between
  one invocation's watch window and the next tick wait for that tick: that gap is part of
  the figures. Figures inside the watch window are printed apart.
- poll mode (one reconcile per tick, no watch): computed, not waited for: each pod arrives
  at a uniformly random phase of the 60 s period, so it waits (period - phase) for the
  tick, plus the measured time from that tick's start to its SetDesiredCapacity call
  (a warm invocation, run right after creating the pod).
- cold import: `import burst.handlers.scaler` in a fresh interpreter, median of runs.

    FPGA_BURST_CONTROLPLANE_BIN=$(tools/controlplane/build.sh) \
        .venv/bin/python benchmarks/cluster/latency.py [--pods 36] [--ticks 2] [--imports 7]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import requests
from figures import line, pct  # beside this script

from burst.adapters.aws.adapter import Aws, AwsSettings
from burst.adapters.kube.client import Kube
from burst.handlers import runtime, scaler
from burst.loop.config import WatchSettings
from burst.ports.aws import ClusterCredentials
from burst.tools.harness import moto, objects
from burst.tools.harness.context import LambdaContext
from burst.tools.harness.events import scheduled_event
from burst.tools.harness.objects import F1
from burst.tools.harness.stage import Stage, stage

NAMESPACE = "bench"
GROUP = "f1-4xlarge"


class Calls:
    """When each SetDesiredCapacity was sent, and to what."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, int]] = []
        self.lock = threading.Lock()

    def hook(self, params: dict[str, Any], **_: Any) -> None:
        with self.lock:
            self.sent.append((time.monotonic(), int(params["DesiredCapacity"])))

    def first_reaching(self, size: int, after: float) -> float | None:
        with self.lock:
            return next((t for t, d in self.sent if d >= size and t >= after), None)


def create_pod(admin: Kube, name: str) -> float:
    body = {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": "registry.invalid/fpga-job:1",
                                 "resources": {"limits": {F1: "2"}}}],
                 "automountServiceAccountToken": False},
    }
    start = time.monotonic()
    admin.call("create pod", admin.core.create_namespaced_pod, NAMESPACE, body)
    return start


def adapters(calls: Calls) -> runtime.Adapters:
    cfg = runtime.config()
    aws = Aws(settings=AwsSettings(region=cfg.region, endpoint_url=cfg.aws_endpoint_url))
    aws.client("autoscaling").meta.events.register(
        "provide-client-params.auto-scaling.SetDesiredCapacity", calls.hook
    )
    return runtime.adapters(cfg, aws)


def reset(admin: Kube, aws: moto.MotoView, creds: Mapping[str, ClusterCredentials],
          max_size: int) -> None:
    requests.post(f"{aws.endpoint}/moto-api/reset", timeout=10)
    aws.store_credentials(creds)
    aws.group(GROUP, "f1.4xlarge", {}, max_size=max_size)
    pods = admin.call("list", admin.core.list_namespaced_pod, NAMESPACE)["items"]
    for p in pods:
        admin.call("delete", admin.core.delete_namespaced_pod, p["metadata"]["name"], NAMESPACE,
                   grace_period_seconds=0)
    deadline = time.monotonic() + 30
    while admin.call("list", admin.core.list_namespaced_pod, NAMESPACE)["items"]:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)


def invoke(cfg: Any, calls: Calls, seconds: float, out: list[dict[str, Any]],
           event: dict[str, Any] | None = None) -> None:
    built = adapters(calls)
    try:
        out.append(scaler.run(event or scheduled_event(), LambdaContext(seconds), cfg=cfg,
                              adapters=built))
    finally:
        built.close()
        runtime.metrics.clear_metrics()  # not flushed: EMF lines would drown the figures


def watch_mode(admin: Kube, args: argparse.Namespace) -> tuple[list[float], list[float]]:
    """Latencies of all pods, and of those created inside an invocation's watch window."""
    cfg = runtime.config()
    calls, results = Calls(), []
    start = time.monotonic()
    # Pods at random moments, at least 2 s apart so each is its own batch.
    span = args.period * args.ticks - 3.0
    gaps = [random.uniform(0.0, 1.0) for _ in range(args.pods)]
    scale = max(0.0, span - 2.0 * args.pods) / sum(gaps)
    arrivals = [1.0 + sum(2.0 + g * scale for g in gaps[:i]) for i in range(args.pods)]
    ticks = [start + args.period * i for i in range(args.ticks + 1)]
    # The watch ends between 1 and 2 s before deadline - margin (it stops with less than a
    # second left, and the API server counts watch timeouts in whole seconds).
    windows = [(t, t + args.timeout - cfg.watch.margin.total_seconds() - 2.0) for t in ticks]
    threads: list[threading.Thread] = []
    created: list[float] = []
    pending_ticks = list(ticks)
    for i, offset in enumerate(arrivals):
        while pending_ticks and pending_ticks[0] <= start + offset:
            threads.append(_tick(cfg, calls, args.timeout, results))
            pending_ticks.pop(0)
        time.sleep(max(0.0, start + offset - time.monotonic()))
        created.append(create_pod(admin, f"job-{i:03d}"))
    def served() -> bool:
        return all(calls.first_reaching(i + 1, t0) for i, t0 in enumerate(created))

    # Pods of the last gap wait for one more tick.
    while pending_ticks and not served():
        time.sleep(max(0.0, pending_ticks[0] - time.monotonic()))
        if not served():
            threads.append(_tick(cfg, calls, args.timeout, results))
        pending_ticks.pop(0)
    for t in threads:
        t.join()
    latencies, inside = [], []
    for i, t0 in enumerate(created):
        sent = calls.first_reaching(i + 1, t0)
        if sent is None:
            continue
        latencies.append(sent - t0)
        if any(a <= t0 <= b for a, b in windows):
            inside.append(sent - t0)
    return latencies, inside


_previous: list[threading.Thread] = []


def _tick(cfg: Any, calls: Calls, seconds: float, out: list[dict[str, Any]]) -> threading.Thread:
    # Reserved concurrency 1: a tick that finds the previous invocation still running is
    # throttled, and Lambda's async queue runs it the moment that one ends.
    before = _previous[-1] if _previous else None
    event = scheduled_event()  # stamped now: the tick's own time

    def queued() -> None:
        if before is not None:
            before.join()
        invoke(cfg, calls, seconds, out, event)

    thread = threading.Thread(target=queued)
    thread.start()
    _previous.append(thread)
    return thread


def poll_mode(admin: Kube, args: argparse.Namespace) -> tuple[list[float], list[float]]:
    cfg = replace(runtime.config(), watch=WatchSettings(enabled=False))
    calls, measured, latencies = Calls(), [], []
    for i in range(args.pods):
        phase = random.uniform(0.0, args.period)
        t0 = create_pod(admin, f"poll-{i:03d}")
        tick_start = time.monotonic()
        invoke(cfg, calls, args.timeout, [])
        sent = calls.first_reaching(i + 1, t0)
        if sent is None:
            continue
        measured.append(sent - tick_start)
        latencies.append((args.period - phase) + (sent - tick_start))
    return latencies, measured


def cold_imports(runs: int) -> tuple[float, float]:
    """Median seconds to import the handler module, and a fresh interpreter's whole run."""
    code = ("import time; t = time.perf_counter(); import burst.handlers.scaler; "
            "print(time.perf_counter() - t)")
    imports, wholes = [], []
    for _ in range(runs):
        t = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True)
        wholes.append(time.perf_counter() - t)
        imports.append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(imports), statistics.median(wholes)


def heaviest_imports(top: int = 6) -> list[tuple[str, float]]:
    argv = [sys.executable, "-X", "importtime", "-c", "import burst.handlers.scaler"]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    rows = []
    for row in done.stderr.splitlines():
        parts = [p.strip() for p in row.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[1].isdigit() and not parts[2].startswith(" "):
            name = parts[2]
            if "." not in name.strip():
                rows.append((name.strip(), int(parts[1]) / 1e6))
    return sorted(rows, key=lambda r: -r[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=36)
    parser.add_argument("--ticks", type=int, default=2, help="scheduled periods to simulate")
    parser.add_argument("--period", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=60.0, help="the scaler's timeout")
    parser.add_argument("--imports", type=int, default=7)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    random.seed(args.seed)
    imported, whole = cold_imports(args.imports)
    print(f"cold import of burst.handlers.scaler: median {imported:.3f} s "
          f"(fresh interpreter, whole run {whole:.3f} s; {args.imports} runs)")
    print("  heaviest top-level imports:",
          ", ".join(f"{n} {s:.3f} s" for n, s in heaviest_imports()))
    with tempfile.TemporaryDirectory() as tmp, stage(Path(tmp)) as on:
        run(on, args)


def run(on: Stage, args: argparse.Namespace) -> None:
    import logging

    logging.disable(logging.INFO)  # the handler's decision lines would drown the figures
    os.environ.update(moto.environment(on.endpoint, watch={"enabled": True}))
    runtime.config.cache_clear()
    admin = on.admin
    objects.namespace(admin, NAMESPACE)
    aws = moto.MotoView(on.endpoint)
    reset(admin, aws, on.identities, max_size=args.pods + 4)
    print(f"watch mode: {args.pods} pods over {args.ticks} x {args.period:.0f} s ticks, "
          f"{args.timeout:.0f} s invocations (margin {runtime.config().watch.margin}) ...",
          flush=True)
    everything, inside = watch_mode(admin, args)
    reset(admin, aws, on.identities, max_size=args.pods + 4)
    polled, measured = poll_mode(admin, args)
    print(line("watch mode, all pods (incl. gap to next tick)", everything))
    print(line("watch mode, pods inside a watch window", inside))
    print("  (window: from the tick to deadline - margin - 2 s; a pod after it waits for the "
          "next tick)")
    print(line(f"poll mode ({args.period:.0f} s tick; wait computed)", polled))
    print(line("  of which: tick start -> SetDesiredCapacity", measured))
    print(json.dumps({"watch_p50": pct(inside, 0.5) if inside else None,
                      "watch_p99": pct(inside, 0.99) if inside else None,
                      "poll_p50": pct(polled, 0.5) if polled else None,
                      "poll_p99": pct(polled, 0.99) if polled else None}))


if __name__ == "__main__":
    main()
