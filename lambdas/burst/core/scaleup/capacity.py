"""Capacity the planner can place pods on: registered nodes, upcoming instances, templates.

A `Slot` is one node's worth of boards (a registered node, or an instance that was asked
for and has not advertised its boards yet). A `Template` is what a new instance of a node
group would bring. Slots are the planner's scratch space and are mutated while it places
pods; everything here is built from a `Snapshot` and never touches the outside world.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

from burst.core import regions
from burst.core.errors import DemandError
from burst.core.model import BoardResource, Catalog, Node, NodeGroup, Pod, Snapshot, Taint
from burst.core.quota import group_vcpus, remaining
from burst.core.scaleup.fit import alternatives
from burst.core.spot import ON_DEMAND, SPOT, capacity_type, price_per_hour

# An instance in these states has not finished its launch lifecycle hook.
LAUNCHING = frozenset({"Pending", "Pending:Wait", "Pending:Proceed"})
# Taints the node lifecycle controller keeps on a node until its kubelet reports Ready.
_NOT_READY_TAINTS = frozenset({"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"})


@dataclass
class Slot:
    name: str  # node name, or "<group>#upcoming-<i>"
    free: dict[BoardResource, int]
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    node_group: str | None = None
    registered: bool = True

    def copy(self) -> Slot:
        # By hand, not dataclasses.replace: every plan copies every slot, and replace()
        # was most of a simulated tick's copying cost.
        return Slot(
            self.name, dict(self.free), self.labels, self.taints, self.node_group, self.registered
        )


@dataclass(frozen=True)
class Template:
    """A node group's new instance: what it carries, costs, and how many more may come."""

    group: NodeGroup
    boards: Mapping[BoardResource, int]
    price: float
    headroom: int
    problem: str | None = None  # why the group cannot grow at all, if it cannot
    vcpus: int = 0  # what one instance takes of its capacity type's F vCPU quota
    capacity_type: str = ON_DEMAND
    # $/h per board its region adds when groups are weighed (burst.core.regions); never
    # part of the price the caps and reports count.
    penalty: float = 0.0

    @property
    def board_total(self) -> int:
        return sum(self.boards.values())

    @cached_property  # read in the planner's inner loops
    def cost(self) -> float:
        """What the planner weighs: the price plus the region's penalty for its boards.
        With no penalty it is the price exactly (x + 0.0 == x), so plans are unchanged."""
        return self.price + self.penalty * self.board_total


@dataclass
class Capacity:
    existing: list[Slot] = field(default_factory=list)
    upcoming: list[Slot] = field(default_factory=list)
    templates: list[Template] = field(default_factory=list)
    burst_boards: int = 0  # boards in managed groups, registered or on their way
    burst_price: float = 0.0
    # F vCPU quota left per capacity type (burst.core.quota); None: quotas not known.
    vcpus_left: dict[str, int] | None = None

    def fresh(self) -> Capacity:
        """A copy whose slots can be filled without touching this one's."""
        return replace(
            self,
            existing=[s.copy() for s in self.existing],
            upcoming=[s.copy() for s in self.upcoming],
        )


def group_boards(group: NodeGroup, catalog: Catalog) -> Mapping[BoardResource, int]:
    if group.boards:
        return group.boards
    instance_type = catalog.instance_types.get(group.instance_type)
    return instance_type.boards if instance_type else {}


def build(snapshot: Snapshot, penalties: Mapping[str, float] | None = None) -> Capacity:
    """`penalties`: Policy.region_penalties, for the templates' cost (none: price only)."""
    capacity = Capacity(existing=registered_slots(snapshot))
    by_group: dict[str, list[Node]] = {}
    for node in snapshot.nodes:
        if node.node_group is not None:
            by_group.setdefault(node.node_group, []).append(node)
    for group in snapshot.node_groups:
        template = _template(group, snapshot.catalog, penalties or {})
        capacity.templates.append(template)
        capacity.upcoming.extend(_upcoming(group, template, by_group.get(group.name, [])))
        capacity.burst_boards += group.desired * template.board_total
        capacity.burst_price += group.desired * template.price
    if snapshot.vcpu_quota is not None:
        capacity.vcpus_left = remaining(
            snapshot.vcpu_quota, snapshot.node_groups, snapshot.catalog
        )
    return capacity


def registered_slots(snapshot: Snapshot) -> list[Slot]:
    """The registered nodes that take pods, with their free boards: `build`'s existing
    slots alone, for callers that need no templates or upcoming instances."""
    used = _used_boards(snapshot)
    return [
        Slot(node.name, {board: count - used.get((node.name, board), 0)
                         for board, count in node.allocatable.items()},
             node.labels, node.taints, node.node_group)
        for node in snapshot.nodes if node.ready and not node.unschedulable
    ]


def _template(group: NodeGroup, catalog: Catalog, penalties: Mapping[str, float]) -> Template:
    boards = group_boards(group, catalog)
    price = price_per_hour(group, catalog)
    headroom = max(0, group.max_size - group.desired)
    problem = None
    if not boards:
        problem = f"instance type {group.instance_type} has no known FPGA boards"
    elif price is None:
        kind = "Spot " if capacity_type(group) == SPOT else ""
        problem = f"instance type {group.instance_type} has no known {kind}price"
    elif group.backoff:
        problem = f"backed off: {group.backoff}"
    elif headroom == 0:
        problem = f"at its max size ({group.max_size})"
    return Template(group, boards, price or 0.0, headroom, problem,
                    group_vcpus(group, catalog), capacity_type(group),
                    regions.penalty(penalties, group.region))


def _upcoming(group: NodeGroup, template: Template, registered: list[Node]) -> Iterable[Slot]:
    """Instances asked for but not yet usable: unregistered, boards not yet advertised, or
    still launching and not yet Ready (or still carrying the not-ready taint).

    The late device plugin and the not-ready window are why the last two matter: such a
    node would otherwise look like missing capacity and be asked for again.
    """
    launching = {i.instance_id for i in group.instances if i.lifecycle_state in LAUNCHING}
    # A cordoned node is registered (its instance is not on its way) but never capacity.
    late = [
        n
        for n in registered
        if not n.unschedulable
        and (
            not any(n.allocatable.get(b, 0) for b in template.boards)
            or (n.instance_id in launching and (not n.ready or _not_ready_taint(n)))
        )
    ]
    # A backed-off group's missing instances are failing to launch, not on their way:
    # counting them would keep its pods waiting for capacity that never comes.
    unregistered = 0 if group.backoff else max(0, group.desired - len(registered))
    for index in range(unregistered + len(late)):
        yield Slot(
            f"{group.name}#upcoming-{index}",
            dict(template.boards),
            group.labels,
            group.taints,
            group.name,
            registered=False,
        )


def _not_ready_taint(node: Node) -> bool:
    return any(t.key in _NOT_READY_TAINTS for t in node.taints)


def _used_boards(snapshot: Snapshot) -> dict[tuple[str, BoardResource], int]:
    """Boards taken on each node by the pods bound to it."""
    allocatable = {node.name: node.allocatable for node in snapshot.nodes}
    used: dict[tuple[str, BoardResource], int] = {}
    for pod in snapshot.pods:
        if pod.node is None or pod.node not in allocatable:
            continue
        for board, boards in bound_usage(pod, allocatable[pod.node], snapshot.catalog):
            used[(pod.node, board)] = used.get((pod.node, board), 0) + boards
    return used


def bound_usage(
    pod: Pod, allocatable: Mapping[BoardResource, int], catalog: Catalog
) -> Iterable[tuple[BoardResource, int]]:
    if pod.requests:
        return pod.requests.items()
    # A bound pod that names accelerators uses the alternative its node can offer.
    try:
        options = alternatives(pod, catalog)
    except DemandError:
        return ()
    return [(a.board, a.boards) for a in options if a.board in allocatable][:1]
