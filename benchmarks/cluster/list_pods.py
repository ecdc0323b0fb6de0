"""Listing 10,000 pending pods: the client's model objects against raw JSON.
Goal (issue 3): large lists are not slow; the adapter uses the faster way.

Starts the harness's control plane (no scheduler, so the pods stay untouched), creates N
pending FPGA pods, then lists them the way observe.pending_pods does (field selector, pages
of 500) both ways, several times, and prints the medians. The adapter uses the faster one
(burst.adapters.kube.client.Kube.call: `_preload_content=False` + json.loads).

    FPGA_BURST_CONTROLPLANE_BIN=$(tools/controlplane/build.sh) \
        .venv/bin/python benchmarks/cluster/list_pods.py [--pods 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from burst.adapters.kube import client, observe
from burst.adapters.kube.client import Kube
from burst.tools.harness import controlplane, objects

NAMESPACE = "bench"
BOARDS = frozenset({"xilinx/u250"})


def _pod(i: int) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"job-{i:05d}",
            "labels": {"app": "fpga-job", "batch": str(i // 100)},
            "annotations": {"fpga-burst.io/accelerators": '{"com.inaccel.xgboost.exact": 1}'},
        },
        "spec": {
            "containers": [{
                "name": "main",
                "image": "registry.invalid/fpga-job:1",
                "args": ["--input", f"s3://bucket/part-{i}"],
                "resources": {"limits": {"xilinx/u250": "1", "cpu": "2", "memory": "4Gi"}},
            }],
            "nodeSelector": {"fpga": "u250"},
            "automountServiceAccountToken": False,
        },
    }


def _populate(admin: Kube, count: int) -> None:
    objects.namespace(admin, NAMESPACE)
    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(
            lambda i: admin.call("create pod", admin.core.create_namespaced_pod, NAMESPACE,
                                 _pod(i)),
            range(count),
        ))


def _with_models(kube: Kube) -> int:
    """The client's default: every page deserialized into V1Pod objects."""
    count, token = 0, None
    while True:
        page = kube.core.list_pod_for_all_namespaces(
            field_selector=observe.PENDING, limit=500, _continue=token, _request_timeout=60)
        count += len(page.items)
        token = page.metadata._continue
        if not token:
            return count


def _raw_json(kube: Kube) -> int:
    count, token = 0, None
    while True:
        response = kube.core.list_pod_for_all_namespaces(
            field_selector=observe.PENDING, limit=500, _continue=token, _request_timeout=60,
            _preload_content=False)
        page = json.loads(response.data)
        count += len(page["items"])
        token = page["metadata"].get("continue")
        if not token:
            return count


def _adapter(kube: Kube) -> int:
    """What the controller runs: raw JSON pages, filtered and turned into model.Pod."""
    return len(observe.pending_pods(kube, BOARDS))


def _median(fn: Callable[[Kube], int], kube: Kube, repeat: int, expected: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        got = fn(kube)
        times.append(time.perf_counter() - start)
        assert got == expected, f"{fn.__name__} listed {got}, expected {expected}"
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fpga-burst-bench-") as tmp:
        cp = controlplane.start(Path(tmp), scheduler=False)
        try:
            with client.from_kubeconfig(cp.admin_kubeconfig) as kube:
                start = time.perf_counter()
                _populate(kube, args.pods)
                print(f"created {args.pods} pending pods in {time.perf_counter() - start:.1f} s")
                _raw_json(kube)  # warm up connections and the API server's caches
                models = _median(_with_models, kube, args.repeat, args.pods)
                raw = _median(_raw_json, kube, args.repeat, args.pods)
                adapter = _median(_adapter, kube, args.repeat, args.pods)
        finally:
            cp.stop()
    print(f"list {args.pods} pending pods, pages of 500, median of {args.repeat}:")
    print(f"  client model objects (V1Pod):        {models:7.3f} s")
    print(f"  raw JSON (_preload_content=False):   {raw:7.3f} s")
    print(f"  adapter: raw JSON + model.Pod        {adapter:7.3f} s")
    print(f"  model objects / raw JSON:            {models / raw:7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
