"""Failover: from a failed scaling activity to replacement capacity asked of the next group.

Against a throwaway control plane (tools/controlplane) and a moto_server, the scaler run as
burst.handlers.scaler.run with the adapters the handler builds. Two f1.4xlarge groups: a
Spot group (cheaper, so asked first) and an on-demand group. moto answers
DescribeScalingActivities with []; awsfakes.ActivityFeed answers it from the test's state,
so the Spot group's launch "fails" at a chosen moment (a failed activity ending now, with
EC2's "There is no Spot capacity available" message).

- watch mode (the stack's default), measured: an invocation raises the Spot group for a
  pending pod, then watches; the failure comes at a random moment of its watch window; the
  figure is failure -> SetDesiredCapacity on the on-demand group. Nothing about the pod
  changes, so only the recheck (`watch.recheck`, 10 s) finds it.
- across the whole minute (computed from the above): a failure in the last `margin` + 2 s
  before the next tick waits for that tick, then the tick's measured first reconcile.
- poll mode (one reconcile per tick): the failure waits for the next tick (uniform phase
  over the 60 s period) plus the measured tick start -> SetDesiredCapacity. EventBridge
  sends "EC2 Instance Launch Unsuccessful" to the lifecycle function, not the scaler: no
  tick comes sooner for it.

    .venv/bin/python benchmarks/failover.py [--runs 15] [--period 60]

Prints figures; asserts nothing. Goal (issue 13): p99 < 60 s.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "tools" / "controlplane"))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "integration"))
sys.path.insert(0, str(Path(__file__).parent))
import devcluster
import requests
import scaler_env
from awsfakes import ActivityFeed, failed_launch
from latency import F1, NAMESPACE, line, pct
from moto.server import ThreadedMotoServer

from burst.adapters.aws.adapter import Aws, AwsSettings
from burst.adapters.kube import client, credentials
from burst.adapters.kube.client import Kube
from burst.core.spot import CAPACITY_TYPE_LABEL, SPOT_PRICE_TAG
from burst.handlers import runtime, scaler
from burst.loop.config import WatchSettings

SPOT, ON_DEMAND = "a-spot", "b-on-demand"
NO_SPOT = ("There is no Spot capacity available that matches your request. "
           "Launching EC2 instance failed.")


class Sent:
    """When SetDesiredCapacity was sent to each group."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.lock = threading.Lock()

    def hook(self, params: dict[str, Any], **_: Any) -> None:
        with self.lock:
            self.at.setdefault(params["AutoScalingGroupName"], time.monotonic())

    def wait(self, group: str, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if group in self.at:
                    return self.at[group]
            time.sleep(0.02)
        return None


def fresh(admin: Kube, view: scaler_env.Aws, endpoint: str, creds: Any) -> None:
    requests.post(f"{endpoint}/moto-api/reset", timeout=10)
    view.store_credentials(creds)
    view.group(SPOT, "f1.4xlarge", {CAPACITY_TYPE_LABEL: "spot"})
    view.asg.create_or_update_tags(Tags=[{
        "ResourceId": SPOT, "ResourceType": "auto-scaling-group", "PropagateAtLaunch": False,
        "Key": SPOT_PRICE_TAG, "Value": "1.10"}])
    view.group(ON_DEMAND, "f1.4xlarge", {})
    for p in admin.call("list", admin.core.list_namespaced_pod, NAMESPACE)["items"]:
        admin.call("delete", admin.core.delete_namespaced_pod, p["metadata"]["name"], NAMESPACE,
                   grace_period_seconds=0)
    body = {"metadata": {"name": f"job-{time.monotonic_ns()}"},
            "spec": {"containers": [{"name": "main", "image": "registry.invalid/fpga-job:1",
                                     "resources": {"limits": {F1: "2"}}}],
                     "automountServiceAccountToken": False}}
    admin.call("create pod", admin.core.create_namespaced_pod, NAMESPACE, body)


def adapters(cfg: Any, sent: Sent) -> tuple[runtime.Adapters, ActivityFeed]:
    aws = Aws(settings=AwsSettings(region=cfg.region, endpoint_url=cfg.aws_endpoint_url))
    autoscaling = aws.client("autoscaling")
    autoscaling.meta.events.register(
        "provide-client-params.auto-scaling.SetDesiredCapacity", sent.hook)
    return runtime.adapters(cfg, aws), ActivityFeed(autoscaling)


def invoke(cfg: Any, built: runtime.Adapters, seconds: float) -> threading.Thread:
    def run() -> None:
        try:
            scaler.run(scaler_env.scheduled_event(), scaler_env.LambdaContext(seconds),
                       cfg=cfg, adapters=built)
        finally:
            built.close()
            runtime.metrics.clear_metrics()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def watched(admin: Kube, view: scaler_env.Aws, endpoint: str, creds: Any,
            window: float) -> float | None:
    """One run: failure at a random moment of the watch window -> on-demand asked."""
    cfg = runtime.config()
    fresh(admin, view, endpoint, creds)
    sent = Sent()
    built, feed = adapters(cfg, sent)
    start = time.monotonic()
    thread = invoke(cfg, built, window + cfg.watch.margin.total_seconds() + 2.0)
    try:
        if sent.wait(SPOT, 30) is None:
            return None
        time.sleep(max(0.0, start + random.uniform(2.0, window) - time.monotonic()))
        failed = time.monotonic()
        feed.fail(SPOT, failed_launch(SPOT, NO_SPOT, datetime.now(UTC)))
        done = sent.wait(ON_DEMAND, window + 15)
        return None if done is None else done - failed
    finally:
        thread.join()


def first_reconcile(admin: Kube, view: scaler_env.Aws, endpoint: str, creds: Any) -> float | None:
    """A tick that starts with the failure already reported: tick start -> on-demand asked."""
    cfg = replace(runtime.config(), watch=WatchSettings(enabled=False))
    fresh(admin, view, endpoint, creds)
    sent = Sent()
    built, feed = adapters(cfg, sent)
    feed.fail(SPOT, failed_launch(SPOT, NO_SPOT, datetime.now(UTC)))
    start = time.monotonic()
    invoke(cfg, built, 40).join()
    done = sent.at.get(ON_DEMAND)
    return None if done is None else done - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--period", type=float, default=60.0, help="the schedule's period")
    parser.add_argument("--window", type=float, default=14.0,
                        help="watch window of each measured invocation (s)")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    random.seed(args.seed)
    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        cp = devcluster.start(Path(tmp))
        port = scaler_env.free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            run(cp, f"http://127.0.0.1:{port}", args)
        finally:
            server.stop()
            cp.stop()


def run(cp: Any, endpoint: str, args: argparse.Namespace) -> None:
    os.environ.update(scaler_env.environment(endpoint, watch={"enabled": True}))
    runtime.config.cache_clear()
    cfg = runtime.config()
    with client.from_kubeconfig(cp.admin_kubeconfig) as admin:
        creds = credentials.provision(admin, credentials.DEFAULT_RBAC, timedelta(hours=1),
                                      str(cp.admin_kubeconfig))
        admin.call("ns", admin.core.create_namespace, {"metadata": {"name": NAMESPACE}})
        admin.call("sa", admin.core.create_namespaced_service_account, NAMESPACE,
                   {"metadata": {"name": "default"}})
        view = scaler_env.Aws(endpoint)
        print(f"{args.runs} runs per mode; watch.recheck {cfg.watch.recheck.total_seconds():.0f}"
              f" s, margin {cfg.watch.margin.total_seconds():.0f} s, period {args.period:.0f} s",
              flush=True)
        inside = [x for _ in range(args.runs)
                  if (x := watched(admin, view, endpoint, creds, args.window)) is not None]
        ticks = [x for _ in range(args.runs)
                 if (x := first_reconcile(admin, view, endpoint, creds)) is not None]
    # Over the minute: inside the watch window (from the tick to period - margin - 2 s) a
    # failure takes a measured `inside` figure; after it, it waits for the next tick.
    gap = cfg.watch.margin.total_seconds() + 2.0
    minute, polled = [], []
    for _ in range(2000):
        phase = random.uniform(0.0, args.period)
        tick = random.choice(ticks)
        polled.append(args.period - phase + tick)
        minute.append(random.choice(inside) if phase < args.period - gap
                      else args.period - phase + tick)
    print(line("watch, failure inside the watch window", inside))
    print(line("watch, failure at any moment (computed)", minute))
    print(line(f"poll ({args.period:.0f} s tick, computed)", polled))
    print(line("  of which: tick start -> SetDesiredCapacity", ticks))
    figures = {"watch_inside_p50": pct(inside, 0.5), "watch_inside_p99": pct(inside, 0.99),
               "watch_any_p99": pct(minute, 0.99), "poll_p99": pct(polled, 0.99),
               "goal_p99_s": 60}
    print(json.dumps({k: round(v, 2) for k, v in figures.items()}))
    print(f"ratio to the 60 s goal (p99): watch {figures['watch_any_p99'] / 60:.2f}, "
          f"poll {figures['poll_p99'] / 60:.2f}")


if __name__ == "__main__":
    main()
