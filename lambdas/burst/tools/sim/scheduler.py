"""kube-scheduler as the simulator plays it: which Node a pending pod is bound to.

`kube` (the default) and `kube-binpack` model kube-scheduler 1.37 (k8s.io/kubernetes
v1.37.2, the version tools/controlplane builds; files under pkg/scheduler/ cited below):
- **Queue order** (PrioritySort): priority, then the time the pod joined the queue. The
  simulator's pods carry no priority, so it is creation order: the world's `pending`.
- **Filters**: the pod's boards on one Node with room (NodeResourcesFit), its node selector
  (NodeAffinity), NoSchedule/NoExecute taints tolerated (TaintToleration): the planner's
  own rules, burst.core.scaleup.fit.
- **Scores**, weighted as apis/config/v1/default_plugins.go weighs them:
  NodeResourcesFit (weight 1) over cpu and memory, weight 1 each, with a pod that requests
  none counted as 100m and 200 MiB (util/pod_resources.go, the non-zero requests):
  `kube` LeastAllocated, `(allocatable - requested) * 100 / allocatable` per resource
  (least_allocated.go), `kube-binpack` MostAllocated, `requested * 100 / allocatable`
  (most_allocated.go), with the board resource weighted 3 as the configuration
  docs/planner.md advises (burst.tools.harness.controlplane.scheduler_config); integer
  arithmetic as upstream. TaintToleration (weight 3): 100 for a Node with the fewest
  PreferNoSchedule taints the pod does not tolerate, down to 0 for the most.
  NodeResourcesBalancedAllocation scores the pod's actual cpu and memory requests, which
  the simulator's pods do not make: the same on every Node, left out. NodeAffinity's
  preferences, InterPodAffinity, PodTopologySpread and ImageLocality have nothing to
  score here.
- **Ties**: kube-scheduler draws a random number per Node and takes the highest among equal
  scores (framework/sorted_nodes.go). Here one seeded `random.Random`, apart from the
  world's boot draws, chooses among the equally best: runs repeat exactly.
- The Node's cpu and memory are its instance type's (burst.core.catalog); an on-prem Node,
  whose size no scenario states, counts as ONPREM.
Left out: `percentageOfNodesToScore` (beyond 100 Nodes kube-scheduler scores a rotating
share of the feasible ones, not all), pod backoff, and pods' own cpu and memory requests.

`ideal` is the simulator's earlier scheduler: on-prem first, then best fit, as a cluster
whose burst nodes carry a PreferNoSchedule taint and whose scheduler packs boards would,
if it also knew the plan.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from burst.core.errors import DemandError
from burst.core.model import Catalog, Node, NodeGroup, Pod
from burst.core.scaleup.fit import Alternative, alternatives, placement_problem

KUBE, KUBE_BINPACK, IDEAL = "kube", "kube-binpack", "ideal"
SCHEDULERS = (KUBE, KUBE_BINPACK, IDEAL)  # the default first
# In words, beside the figures (`burst simulate` prints it under its table).
DESCRIBED = {
    KUBE: "kube-scheduler 1.37's default scoring (NodeResourcesFit LeastAllocated on cpu and "
          "memory from the instance types; equal scores drawn at random, seeded)",
    KUBE_BINPACK: "kube-scheduler scoring MostAllocated, the board resource weighted 3 (the "
                  "bin-packing set-up docs/planner.md advises)",
    IDEAL: "idealised: on-prem boards first, then the best fit, as if it knew the plan",
}

MAX_NODE_SCORE = 100
DEFAULT_MILLI_CPU = 100  # pkg/scheduler/util/pod_resources.go DefaultMilliCPURequest
DEFAULT_MEMORY = 200 * 1024 * 1024  # DefaultMemoryRequest
FIT_WEIGHT, TAINT_WEIGHT = 1, 3  # NodeResourcesFit, TaintToleration
BOARD_WEIGHT = 3  # the board resource in the bin-packing configuration
GIB = 1024**3


@dataclass(frozen=True)
class Room:
    """A Node's allocatable cpu (millicores) and memory (bytes)."""

    milli_cpu: int
    memory: int


# The test control plane's Node (burst.tools.demo.cluster.BASE_ALLOCATABLE): 16 cpu, 64 GiB.
ONPREM = Room(16_000, 64 * GIB)

Free = Mapping[str, Mapping[str, int]]  # node -> board -> free boards
Spot = tuple[str, str, int]  # node, board, boards


class Binder(Protocol):
    def place(self, pod: Pod, free: Free, nodes: Mapping[str, Node],
              pods_on: Mapping[str, int]) -> Spot | None: ...


def binder(kind: str, catalog: Catalog, groups: Mapping[str, NodeGroup], seed: int) -> Binder:
    """The scheduler named `kind` (SCHEDULERS); `groups` is read as it changes."""
    if kind == IDEAL:
        return Ideal(catalog)
    if kind not in SCHEDULERS:
        raise ValueError(f"scheduler {kind!r}: expected one of {', '.join(SCHEDULERS)}")
    return KubeScheduler(kind == KUBE_BINPACK, catalog, rooms_of(groups, catalog), seed)


class Ideal:
    """On-prem boards first, then best fit (the node left with the fewest free boards of
    the kind), then the node's name."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def place(self, pod: Pod, free: Free, nodes: Mapping[str, Node],
              pods_on: Mapping[str, int]) -> Spot | None:
        try:
            options = alternatives(pod, self.catalog)
        except DemandError:  # an unknown accelerator: the planner reports it; nothing runs it
            return None
        best: tuple[tuple[bool, int, str], str, str, int] | None = None
        for name, boards in free.items():
            node = nodes[name]
            for alt in options:
                left = boards.get(alt.board, 0) - alt.boards
                if left < 0 or placement_problem(pod, node.labels, node.taints):
                    continue
                rank = (node.node_group is not None, left, name)
                if best is None or rank < best[0]:
                    best = (rank, name, alt.board, alt.boards)
        return None if best is None else best[1:]


def rooms_of(groups: Mapping[str, NodeGroup], catalog: Catalog) -> Callable[[Node], Room]:
    """A Node's Room: its group's instance type's vCPUs and memory, else ONPREM."""

    def room(node: Node) -> Room:
        group = groups.get(node.node_group or "")
        it = catalog.instance_types.get(group.instance_type) if group else None
        if it is None or not it.vcpus or not it.memory_gib:
            return ONPREM
        return Room(it.vcpus * 1000, int(it.memory_gib * GIB))

    return room


class KubeScheduler:
    """Scores feasible Nodes as kube-scheduler does (see the module docstring)."""

    def __init__(self, packing: bool, catalog: Catalog, room: Callable[[Node], Room],
                 seed: int = 0) -> None:
        self.packing = packing
        self.catalog = catalog
        self.room = room
        self.rng = random.Random(f"kube-scheduler:{seed}")

    def best(self, pod: Pod, free: Free, nodes: Mapping[str, Node],
             pods_on: Mapping[str, int]) -> list[Spot]:
        """Every feasible Node of the highest score, in `free`'s order; [] if none fits.

        `pods_on`: pods bound to each Node (each counts its non-zero cpu and memory);
        `free` also tells the boards in use (allocatable - free).
        """
        try:
            options = alternatives(pod, self.catalog)
        except DemandError:  # an unknown accelerator: the planner reports it; nothing runs it
            return []
        feasible: list[tuple[Spot, int]] = []
        for name, boards in free.items():
            node = nodes[name]
            alt = next((a for a in options if boards.get(a.board, 0) >= a.boards), None)
            if alt is None or placement_problem(pod, node.labels, node.taints):
                continue
            fit = self._fit(node, boards, alt, pods_on.get(name, 0))
            feasible.append(((name, alt.board, alt.boards), fit * FIT_WEIGHT))
        if not feasible:
            return []
        soft = [_untolerated(pod, nodes[spot[0]]) for spot, _ in feasible]
        most = max(soft)
        totals = [
            score + TAINT_WEIGHT * (MAX_NODE_SCORE - n * MAX_NODE_SCORE // most if most else
                                    MAX_NODE_SCORE)
            for (_, score), n in zip(feasible, soft, strict=True)
        ]
        top = max(totals)
        return [spot for (spot, _), total in zip(feasible, totals, strict=True) if total == top]

    def place(self, pod: Pod, free: Free, nodes: Mapping[str, Node],
              pods_on: Mapping[str, int]) -> Spot | None:
        """Where the pod is bound: one of the best, drawn from the seeded stream."""
        best = self.best(pod, free, nodes, pods_on)
        if not best:
            return None
        return best[0] if len(best) == 1 else self.rng.choice(best)

    def _fit(self, node: Node, free: Mapping[str, int], alt: Alternative, pods: int) -> int:
        """NodeResourcesFit's score with the pod added (resource_allocation.go)."""
        room = self.room(node)
        # (requested with the pod, allocatable, weight) per resource scored
        scored = [
            ((pods + 1) * DEFAULT_MILLI_CPU, room.milli_cpu, 1),
            ((pods + 1) * DEFAULT_MEMORY, room.memory, 1),
        ]
        if self.packing:
            allocatable = node.allocatable.get(alt.board, 0)
            used = allocatable - free.get(alt.board, 0)
            scored.append((used + alt.boards, allocatable, BOARD_WEIGHT))
        total = weights = 0
        for requested, allocatable, weight in scored:
            if allocatable <= 0:
                continue
            total += weight * (_most(requested, allocatable) if self.packing
                               else _least(requested, allocatable))
            weights += weight
        return total // weights if weights else 0


def _least(requested: int, allocatable: int) -> int:
    if requested > allocatable:
        return 0
    return (allocatable - requested) * MAX_NODE_SCORE // allocatable


def _most(requested: int, allocatable: int) -> int:
    return min(requested, allocatable) * MAX_NODE_SCORE // allocatable


def _untolerated(pod: Pod, node: Node) -> int:
    """PreferNoSchedule taints of the Node the pod does not tolerate (TaintToleration)."""
    return sum(
        1 for t in node.taints
        if t.effect == "PreferNoSchedule" and not any(o.tolerates(t) for o in pod.tolerations)
    )
