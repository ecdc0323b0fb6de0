"""Load: one scaler tick on a large cluster, then a second with the state unchanged.
Goal (issue 15): a tick with 30,000 pending pods and 1,000 nodes in under 30 s and 512 MB,
with bounded Events and logs.

The cluster is the harness's stage (the test control plane without kube-scheduler, so pods
stay where they are put, and a moto_server), built once and grown across sizes:
- 1,000 nodes: 200 on-prem (2 x U250 each, one taken by a bound pod) and 800 burst nodes
  in 20 node groups (F1 and F2, 40 registered instances each, all boards taken by bound
  pods); each group has capacity already on its way (desired above registered);
- pending pods of mixed shapes: 1 to 8 F1 or F2 boards, U250 boards, accelerators by name,
  some with a node selector, some no group can host.

For each size (pending pods; 1k, 10k, 30k by default) the tick state is reset (desired
capacities back, Events and the status ConfigMap deleted), then the scaler handler runs,
watch off, with the adapters it builds itself, each time in a fresh process (a cold
Lambda: its peak RSS is the tick's): tick 1 decides and tells what its Event budget allows;
the next ticks, with nothing changed, tell the rest; the first one with nothing left to
tell is the unchanged state's cost. Printed per tick: wall time and its split (observe: cluster and
AWS reads; plan; AWS writes; Events; status; scale-down), peak RSS, API calls, Events
written and stored, log bytes. Setup time is printed apart.

    FPGA_BURST_CONTROLPLANE_BIN=$(tools/controlplane/build.sh) \
        .venv/bin/python benchmarks/cluster/load.py [--sizes 1000,10000,30000] [--threads 8]
        [--only plan|ticks] [--upcoming 3000] [--repeat 3]

First, the planner alone on the same shapes as a Snapshot, with `--upcoming` instances on
their way: its time against the number of pods (the scaling curve).

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from load_plan import (  # beside this script
    BOARDS,
    GROUPS,
    MAX_SIZE,
    ON_ITS_WAY,
    ONPREM,
    REGISTERED,
    U250,
    plan_curve,
    pod_body,
)

from burst.adapters.kube.client import Kube
from burst.adapters.kube.tell import STATUS_NAME, STATUS_NAMESPACE
from burst.core.errors import KubeNotFoundError
from burst.tools.harness import moto, objects
from burst.tools.harness.context import LambdaContext
from burst.tools.harness.events import scheduled_event
from burst.tools.harness.stage import stage

NAMESPACE = "load"


# -- building the cluster ----------------------------------------------------------------


def parallel(threads: int, work: list[Callable[[], Any]]) -> None:
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(w) for w in work]:
            future.result()



def make_node(admin: Kube, name: str, boards: dict[str, int], provider: str | None,
              labels: dict[str, str]) -> None:
    body = {"metadata": {"name": name, "labels": labels},
            "spec": {"providerID": provider} if provider else {}}
    admin.call("create node", admin.core.create_node, body)
    status = {"status": {
        "capacity": {k: str(v) for k, v in boards.items()},
        "allocatable": {k: str(v) for k, v in boards.items()},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                        "lastTransitionTime": "2026-01-01T00:00:00Z"}],
    }}
    admin.call("node status", admin.core.patch_node_status, name, status)


def build_cluster(admin: Kube, aws: moto.MotoView, threads: int) -> dict[str, int]:
    """Nodes, bound pods and node groups; the groups' desired capacities to reset to."""
    desired = {}
    work: list[Callable[[], Any]] = []
    for i in range(ONPREM):
        name = f"onprem-{i:03}"
        work.append(lambda n=name: make_node(admin, n, {U250: 2}, None, {}))
    for name, itype in GROUPS:
        aws.group(name, itype, {"zone": "ab"[int(name[-2:]) % 2]}, max_size=MAX_SIZE,
                  desired=REGISTERED)
        board, count = BOARDS[itype]
        for inst in aws.instances(name):
            node = f"ip-{inst['InstanceId']}"
            provider = f"aws:///{inst['AvailabilityZone']}/{inst['InstanceId']}"
            work.append(lambda n=node, p=provider, b=board, c=count, z=name: make_node(
                admin, n, {b: c}, p, {"zone": "ab"[int(z[-2:]) % 2]}))
        desired[name] = REGISTERED + ON_ITS_WAY
        aws.asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=desired[name])
    parallel(threads, work)
    bound = []
    nodes = admin.call("nodes", admin.core.list_node)["items"]
    for n in nodes:
        name = n["metadata"]["name"]
        board, count = next(iter(n["status"]["allocatable"].items()))
        used = "1" if name.startswith("onprem-") else count
        bound.append(lambda nm=name, b=board, u=used: admin.call(
            "bound pod", admin.core.create_namespaced_pod, NAMESPACE,
            pod_body(f"bound-{nm}", 0, node=nm, limits={b: u})))
    parallel(threads, bound)
    return desired


def add_pending(admin: Kube, start: int, stop: int, threads: int) -> None:
    def create(chunk: range) -> None:
        for i in chunk:
            admin.call("pending pod", admin.core.create_namespaced_pod, NAMESPACE,
                       pod_body(f"job-{i:05}", i))
    step = 250
    chunks = [range(a, min(a + step, stop)) for a in range(start, stop, step)]
    parallel(threads, [lambda c=c: create(c) for c in chunks])


def launch_nothing() -> None:
    """From here on, a raised group launches no instances in moto: a real
    SetDesiredCapacity returns at once, moto's launches thousands of instances in the call
    (and every describe lists them); the capacity is still on its way as the scaler sees
    it (desired above the instances with a node)."""
    from moto.autoscaling.models import FakeAutoScalingGroup

    def none(self: Any, count_needed: int, propagated_tags: dict[str, str]) -> None:
        return None

    FakeAutoScalingGroup.replace_autoscaling_group_instances = none  # type: ignore[method-assign]


def reset(admin: Kube, aws: moto.MotoView, desired: dict[str, int]) -> None:
    """What a tick changed: desired capacities, Events, the status ConfigMap."""
    for name, size in desired.items():
        aws.asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=size)
    for ns in (NAMESPACE, "default"):
        admin.call("delete events", admin.core.delete_collection_namespaced_event, ns)
    with suppress(KubeNotFoundError):
        admin.call("delete status", admin.core.delete_namespaced_config_map, STATUS_NAME,
                   STATUS_NAMESPACE)


def stored_events(admin: Kube) -> int:
    page = admin.call("count events", admin.core.list_event_for_all_namespaces, limit=1)
    meta = page.get("metadata") or {}
    return len(page.get("items") or ()) + int(meta.get("remainingItemCount") or 0)


# -- one tick, measured (in a child process) ---------------------------------------------


class Split:
    """Seconds spent in each part of a tick, and calls counted, by wrapping the functions
    the shell calls (the code that runs is the handler's)."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def wrap(self, owner: Any, name: str, part: str) -> None:
        inner = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                with self.lock:
                    self.seconds[part] += time.perf_counter() - start

        setattr(owner, name, timed)

    def count(self, owner: Any, name: str, label: Callable[[tuple[Any, ...]], str]) -> None:
        inner = getattr(owner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                self.calls[label(args)] += 1
            return inner(*args, **kwargs)

        setattr(owner, name, counted)


@contextmanager
def log_bytes(name: str) -> Iterator[io.StringIO]:
    """The handler's log lines, kept (not printed) so their size can be counted."""
    sink = io.StringIO()
    handlers = logging.getLogger(name).handlers
    old = [h.setStream(sink) for h in handlers if isinstance(h, logging.StreamHandler)]
    try:
        yield sink
    finally:
        for h, stream in zip(handlers, old, strict=False):
            if isinstance(h, logging.StreamHandler) and stream is not None:
                h.setStream(stream)


def tick_child() -> None:
    import botocore.client

    from burst.core.scaledown import unneeded as scaledown_rule
    from burst.handlers import runtime, scaler
    from burst.loop import act, reconcile, tell

    split = Split()
    split.wrap(reconcile, "observe", "observe")
    split.wrap(reconcile, "make_plan", "plan")
    split.wrap(scaledown_rule, "unneeded", "plan")
    split.wrap(act.Act, "scale_up", "AWS")
    split.wrap(tell.Tell, "events", "Events")
    split.wrap(tell.Tell, "status", "status")
    split.wrap(act.Act, "scale_down", "scale-down")
    split.count(Kube, "call", lambda a: "kube " + a[1].split(" ")[0] + " " + a[1].split(" ")[1])
    split.count(botocore.client.BaseClient, "_make_api_call", lambda a: "aws " + a[1])
    with log_bytes(runtime.logger.name) as sink:
        start = time.perf_counter()
        out = scaler.run(scheduled_event(), LambdaContext(70.0))
        wall = time.perf_counter() - start
    runtime.metrics.clear_metrics()
    print(json.dumps({"wall": wall, "split": dict(split.seconds), "calls": dict(split.calls),
                      "log_bytes": len(sink.getvalue().encode()), "outcome": out["outcome"],
                      "rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: reset by exec, unlike getrusage's ru_maxrss, which
    can carry the parent's over)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the report ----------------------------------------------------------------------------


def written(tick: dict[str, Any]) -> int:
    return sum(v for k, v in tick["calls"].items()
               if k in ("kube create event", "kube patch event"))


def report(size: int, n: int, t: dict[str, Any], stored: int) -> None:
    split, calls = t["split"], t["calls"]
    kube = sum(v for k, v in calls.items() if k.startswith("kube"))
    aws = sum(v for k, v in calls.items() if k.startswith("aws"))
    rest = t["wall"] - sum(split.values())
    parts = "  ".join(f"{k} {split.get(k, 0.0):5.2f}" for k in
                      ("observe", "plan", "AWS", "Events", "status", "scale-down"))
    print(f"{size:>6} pods tick {n}: wall {t['wall']:6.2f} s  [{parts}  other {rest:5.2f}]"
          f"  peak RSS {t['rss_mb']:5.0f} MB")
    print(f"{'':>6}             API calls kube {kube} aws {aws}; Events written {written(t)}, "
          f"stored {stored}; log {t['log_bytes'] / 1024:.1f} KB; {t['outcome']}", flush=True)


def run_size(env: dict[str, str], admin: Kube, size: int, most: int) -> None:
    """Ticks, each in a fresh process (a cold Lambda: its peak RSS is the tick's), until
    one writes no Event (every pod told: the state is unchanged since), at most `most`."""
    first: dict[str, Any] | None = None
    for n in range(1, most + 1):
        done = subprocess.run([sys.executable, __file__, "--tick"], env=env,
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"tick failed:\n{done.stderr[-3000:]}")
        tick = json.loads(done.stdout.strip().splitlines()[-1])
        report(size, n, tick, stored_events(admin))
        first = first or tick
        if n > 1 and not written(tick):
            print(f"{'':>6}             tick {n} (nothing left to tell) / tick 1: "
                  f"{tick['wall'] / first['wall']:.1%}", flush=True)
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,30000")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--upcoming", type=int, default=3000,
                        help="instances on their way, for the planner's curve")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--most-ticks", type=int, default=40,
                        help="ticks per size, at most, to tell every pod")
    parser.add_argument("--only", choices=("plan", "ticks"))
    parser.add_argument("--tick", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tick:
        tick_child()
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.only != "ticks":
        plan_curve(sizes, args.upcoming, args.repeat)
    if args.only != "plan":
        ticks(sizes, args.threads, args.most_ticks)


def ticks(sizes: list[int], threads: int, most_ticks: int) -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto_server's request lines
    with tempfile.TemporaryDirectory() as tmp:
        setup = time.perf_counter()
        with stage(Path(tmp), scheduler=False) as on:
            admin = on.admin
            objects.namespace(admin, NAMESPACE)
            aws = moto.MotoView(on.endpoint)
            aws.store_credentials(on.identities)
            desired = build_cluster(admin, aws, threads)
            launch_nothing()
            print(f"setup: control plane, moto, 1,000 nodes, {len(GROUPS)} groups, bound "
                  f"pods: {time.perf_counter() - setup:.1f} s", flush=True)
            env = {**os.environ, **moto.environment(on.endpoint)}
            made = 0
            for size in sizes:
                start = time.perf_counter()
                add_pending(admin, made, size, threads)
                made = max(made, size)
                reset(admin, aws, desired)
                print(f"setup: {size} pending pods: {time.perf_counter() - start:.1f} s",
                      flush=True)
                run_size(env, admin, size, most_ticks)

if __name__ == "__main__":
    main()
