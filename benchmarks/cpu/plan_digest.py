"""Plans of generated clusters, to show that two versions of the planner decide alike.

Goal: a change to the planner that must not change the default policy's decisions (the
expander chain of issue 22) leaves every plan as it was. The script generates `--clusters`
seeded random clusters and plans each with the default policy of whichever `burst` is
imported. Every other cluster is a mixed one (node groups of the built-in and of made-up
instance types with uneven prices, priorities, labels and taints, max sizes, capacity on
its way, late device plugins, on-prem nodes with bound pods, Spot prices, regions with
penalties, policy caps, vCPU quotas); the others are the economics benchmark's kind (F2
groups of 1, 2 and 8 boards, many pods of 1, 2, 4 and 8 boards), where whether pods share
an instance is decided most often.

    --out FILE       writes one line per cluster: its seed and its plan, exactly (every
                     field and float of the Plan) and as `burst plan --output json` prints it
    --against FILE   then compares with a FILE written by another version and prints how
                     many plans are identical; the first differences are shown
    --expanders A,B  plans with this chain instead of the default (to see how many plans
                     a different chain changes: that the clusters tell chains apart)

Run against another checkout by putting its `lambdas/` first on the import path, e.g.
    git worktree add /tmp/base main
    PYTHONPATH=/tmp/base/lambdas .venv/bin/python benchmarks/cpu/plan_digest.py --out base.jsonl
    .venv/bin/python benchmarks/cpu/plan_digest.py --out mine.jsonl --against base.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import burst
from burst.core import model
from burst.core.catalog import F1_BOARD, F2_BOARD, INSTANCE_TYPES
from burst.core.model import Node, NodeGroup, Pod, Policy, Snapshot
from burst.core.scaleup.planner import plan
from burst.tools.report import to_json

U250 = "xilinx/u250"
BOARDS = (F1_BOARD, F2_BOARD, U250)
TAINT = model.Taint("fpga-burst.io/aws", "true", "NoSchedule")
# Made-up types whose price is not linear in boards: there the lifetime rule (split a
# shared instance when separate ones are expected cheaper) and the price per hour part.
MADE_UP = {
    "odd.1": model.InstanceType("odd.1", {F2_BOARD: 1}, 1.20, vcpus=8),
    "odd.3": model.InstanceType("odd.3", {F2_BOARD: 3}, 3.30, vcpus=24),
    "odd.4": model.InstanceType("odd.4", {F2_BOARD: 4}, 3.00, vcpus=32),
    "odd.u250x2": model.InstanceType("odd.u250x2", {U250: 2}, 2.70, vcpus=16),
    "odd.mixed": model.InstanceType("odd.mixed", {F1_BOARD: 2, U250: 2}, 4.10, vcpus=32),
}
TYPES = {**INSTANCE_TYPES, **MADE_UP}
CATALOG = model.Catalog(
    accelerators={
        "acc.a": {F1_BOARD: 2, F2_BOARD: 3, U250: 4},
        "acc.b": {F1_BOARD: 1},
        "acc.c": {F2_BOARD: 1, U250: 1},
    },
    instance_types=TYPES,
)
REGIONS = ("", "us-east-1", "eu-west-1")


def cluster(seed: int) -> tuple[Snapshot, Policy]:
    rng = random.Random(seed)
    if seed % 2:
        return _family(rng), Policy(max_boards=rng.choice([None, None, 24, 64]))
    groups = tuple(_group(i, rng) for i in range(rng.randint(1, 6)))
    nodes: list[Node] = []
    pods: list[Pod] = []
    for i in range(rng.choice([0, 0, 1, 2, 3])):
        nodes.append(Node(f"onprem-{i}", labels={"zone": rng.choice("ab")},
                          allocatable={rng.choice(BOARDS): rng.randint(1, 4)}))
    for group in groups:
        for j in range(rng.randint(0, group.desired)):  # registered of those asked for
            boards = TYPES[group.instance_type].boards
            late = rng.random() < 0.2  # its device plugin has not advertised them yet
            nodes.append(Node(
                f"{group.name}-n{j}", node_group=group.name, ready=rng.random() < 0.9,
                unschedulable=rng.random() < 0.1, labels=group.labels, taints=group.taints,
                allocatable={} if late else boards, instance_id=f"i-{group.name}-{j}",
            ))
    for node in nodes:
        for board, count in node.allocatable.items():
            for k in range(rng.randint(0, count)):
                pods.append(Pod(f"bound/{node.name}-{k}", node=node.name, requests={board: 1}))
    pods.extend(_pending(i, rng) for i in range(rng.randint(1, 16)))
    quota = None
    if rng.random() < 0.15:
        quota = model.VcpuQuota({"on-demand": rng.choice([64, 128, 256]), "spot": 96})
    policy = Policy(
        max_boards=rng.choice([None, None, None, 4, 8, 16]),
        max_price_per_hour=rng.choice([None, None, None, 6.0, 12.5, 30.0]),
        region_penalties={"eu-west-1": 0.4} if rng.random() < 0.3 else {},
    )
    return Snapshot(groups, tuple(nodes), tuple(pods), CATALOG, quota), policy


def _family(rng: random.Random) -> Snapshot:
    """F2 groups of 1, 2 and 8 boards, some capped low, and up to 60 pending pods."""
    groups = tuple(
        NodeGroup(f"f2-{size}", size, 0, rng.choice([1, 3, 10, 60]), 0,
                  priority=rng.choice([0, 0, 0, 5]))
        for size in ("f2.6xlarge", "f2.12xlarge", "f2.48xlarge") if rng.random() < 0.85
    )
    onprem = tuple(Node(f"onprem-{i}", allocatable={U250: 2}) for i in range(rng.randint(0, 2)))
    pods = tuple(
        Pod(f"jobs/p{i:02}", accelerators={"acc.c": rng.choice([1, 1, 1, 2, 4, 8])})
        if rng.random() < 0.5 else Pod(f"jobs/p{i:02}", requests={F2_BOARD: rng.choice([1, 2, 8])})
        for i in range(rng.randint(1, 60))
    )
    return Snapshot(groups, onprem, pods, CATALOG)


def _group(i: int, rng: random.Random) -> NodeGroup:
    instance_type = rng.choice(sorted(TYPES))
    labels = {"zone": rng.choice("ab")}
    price = None
    if rng.random() < 0.15:
        labels["karpenter.sh/capacity-type"] = "spot"
        price = round(TYPES[instance_type].price_per_hour * rng.uniform(0.3, 0.7), 3)
    max_size = rng.randint(0, 6)
    return NodeGroup(
        name=f"g{i}-{instance_type.replace('.', '-')}",
        instance_type=instance_type,
        min_size=0,
        max_size=max_size,
        desired=rng.randint(0, min(max_size, 2)) if rng.random() < 0.3 else 0,
        labels=labels,
        taints=(TAINT,) if rng.random() < 0.3 else (),
        priority=rng.choice([0, 0, 0, 5, 10]),
        backoff="launch failed" if rng.random() < 0.05 else None,
        price_per_hour=price,
        region=rng.choice(REGIONS),
    )


def _pending(i: int, rng: random.Random) -> Pod:
    selector = {"zone": rng.choice("ab")} if rng.random() < 0.4 else {}
    tolerations = (model.Toleration(TAINT.key, "Exists"),) if rng.random() < 0.5 else ()
    name = f"jobs/p{i:02}"
    if rng.random() < 0.5:
        board = rng.choice(BOARDS)
        return Pod(name, requests={board: rng.choice([1, 1, 1, 2, 3, 4, 8])},
                   node_selector=selector, tolerations=tolerations)
    accelerator = rng.choice(sorted(CATALOG.accelerators))
    return Pod(name, accelerators={accelerator: rng.randint(1, 8)},
               node_selector=selector, tolerations=tolerations)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=3000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--against", type=Path)
    parser.add_argument("--expanders", help="a chain to plan with, e.g. priority,price")
    args = parser.parse_args()
    chain = tuple(args.expanders.split(",")) if args.expanders else Policy().expanders
    print(f"burst from {Path(burst.__file__).parent}; expanders: {', '.join(chain)}")
    start = time.perf_counter()
    scaled_up = 0
    with args.out.open("w") as out:
        for seed in range(args.clusters):
            snapshot, policy = cluster(seed)
            result = plan(snapshot, replace(policy, expanders=chain))
            scaled_up += bool(result.scale_ups)
            line = {"seed": seed, "plan": repr(result), "json": to_json(result)}
            out.write(json.dumps(line, sort_keys=True) + "\n")
    took = time.perf_counter() - start
    print(f"{args.clusters} clusters planned in {took:.1f} s; {scaled_up} scale up")
    if args.against is None:
        return 0
    return compare(args.out, args.against)


def compare(mine: Path, other: Path) -> int:
    ours = [json.loads(line) for line in mine.read_text().splitlines()]
    theirs = [json.loads(line) for line in other.read_text().splitlines()]
    if len(ours) != len(theirs):
        print(f"{mine} has {len(ours)} plans, {other} {len(theirs)}: not the same clusters")
        return 1
    differ = [(a, b) for a, b in zip(ours, theirs, strict=True) if a != b]
    print(f"{len(ours) - len(differ)} of {len(ours)} plans identical to {other} "
          f"(every field, floats exact); {len(differ)} differ")
    for a, b in differ[:5]:
        print(f"  seed {a['seed']}:\n    {other}: {b['json']}\n    {mine}: {a['json']}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
