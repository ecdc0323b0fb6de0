"""The load benchmark's cluster (load.py): its shape (1,000 nodes in on-prem and 20 node
groups, pending pods of mixed shapes), and the planner alone on it as a Snapshot, with
instances on their way: its time against the number of pods (the scaling curve)."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from burst.core.catalog import F1_BOARD, F2_BOARD

U250 = "xilinx/u250"
ONPREM = 200
GROUPS = [(f"ng-{i:02}", ("f1.2xlarge", "f1.4xlarge", "f1.16xlarge", "f2.6xlarge",
                          "f2.12xlarge", "f2.48xlarge")[i % 6]) for i in range(20)]
BOARDS = {"f1.2xlarge": (F1_BOARD, 1), "f1.4xlarge": (F1_BOARD, 2), "f1.16xlarge": (F1_BOARD, 8),
          "f2.6xlarge": (F2_BOARD, 1), "f2.12xlarge": (F2_BOARD, 2), "f2.48xlarge": (F2_BOARD, 8)}
REGISTERED = 40  # instances per group with a node
ON_ITS_WAY = 10  # more instances per group asked for, not registered yet
MAX_SIZE = 2000
# (weight, container resources or None, accelerators annotation or None, node selector)
SHAPES: list[tuple[int, dict[str, str] | None, str | None, dict[str, str]]] = [
    (30, {F1_BOARD: "1"}, None, {}),
    (15, {F1_BOARD: "2"}, None, {}),
    (5, {F1_BOARD: "8"}, None, {}),
    (20, {F2_BOARD: "1"}, None, {}),
    (10, {F2_BOARD: "2"}, None, {"zone": "b"}),
    (10, None, '{"com.inaccel.xgboost.exact": 1}', {}),
    (5, {U250: "1"}, None, {}),
    (3, {U250: "4"}, None, {}),  # no node anywhere has 4 U250: never helped
    (2, {F1_BOARD: "16"}, None, {}),  # nor 16 F1 boards on one node
]


def pod_body(name: str, index: int, node: str | None = None,
             limits: dict[str, str] | None = None) -> dict[str, Any]:
    weights = [s[0] for s in SHAPES]
    pick = index % sum(weights)
    shape = next(s for i, s in enumerate(SHAPES) if pick < sum(weights[: i + 1]))
    _, resources, accelerators, selector = shape
    if limits is not None:
        resources, accelerators, selector = limits, None, {}
    return {
        "metadata": {"name": name, **({"annotations": {
            "fpga-burst.io/accelerators": accelerators}} if accelerators else {})},
        "spec": {
            "containers": [{"name": "main", "image": "registry.invalid/fpga-job:1",
                            "resources": {"limits": resources or {}}}],
            "automountServiceAccountToken": False,
            **({"nodeName": node} if node else {}),
            **({"nodeSelector": selector} if selector else {}),
        },
    }


def plan_snapshot(pods: int, upcoming: int) -> Any:
    """The benchmark's cluster as a Snapshot: 1,000 nodes (full as above), `upcoming`
    instances asked for across the 20 groups, `pods` pending pods of the mixed shapes."""
    from burst.core.catalog import INSTANCE_TYPES
    from burst.core.model import Catalog, Node, NodeGroup, Pod, Snapshot

    nodes, bound, groups = [], [], []
    for i in range(ONPREM):
        nodes.append(Node(f"onprem-{i:03}", allocatable={U250: 2}))
        bound.append(Pod(f"load/bound-{i}", node=f"onprem-{i:03}", requests={U250: 1}))
    for g, (name, itype) in enumerate(GROUPS):
        board, count = BOARDS[itype]
        zone = {"zone": "ab"[g % 2]}
        ids = [f"i-{g:02}{k:04}" for k in range(REGISTERED)]
        for k in ids:
            nodes.append(Node(f"ip-{k}", node_group=name, instance_id=k, labels=zone,
                              allocatable={board: count}))
            bound.append(Pod(f"load/bound-{k}", node=f"ip-{k}", requests={board: count}))
        desired = REGISTERED + upcoming // len(GROUPS)
        groups.append(NodeGroup(name, itype, 0, MAX_SIZE, desired, labels=zone))
    pending = []
    for i in range(pods):
        body = pod_body(f"job-{i:05}", i)
        spec = body["spec"]
        limits = spec["containers"][0]["resources"]["limits"]
        wanted = (body["metadata"].get("annotations") or {}).get("fpga-burst.io/accelerators")
        pending.append(Pod(f"load/job-{i:05}", requests={k: int(v) for k, v in limits.items()},
                           accelerators=json.loads(wanted) if wanted else {},
                           node_selector=spec.get("nodeSelector") or {}))
    catalog = Catalog(accelerators={"com.inaccel.xgboost.exact": {U250: 4, F1_BOARD: 2}},
                      instance_types=INSTANCE_TYPES)
    return Snapshot(tuple(groups), tuple(nodes), tuple(pending + bound), catalog)


def plan_curve(sizes: list[int], upcoming: int, repeat: int) -> None:
    import statistics

    from burst.core.model import Policy
    from burst.core.scaleup.planner import plan

    for size in sizes:
        snapshot = plan_snapshot(size, upcoming)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            result = plan(snapshot, Policy())
            times.append(time.perf_counter() - start)
        outcomes = Counter(d.outcome.value for d in result.pods)
        print(f"plan: {size:>6} pods, {upcoming} upcoming slots, 1,000 nodes: median "
              f"{statistics.median(times):6.3f} s of {repeat} ({dict(outcomes)})", flush=True)


