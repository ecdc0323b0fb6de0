"""Instances still launching that no pending pod needs: `surplus(snapshot, plan)`. Pure.

The planner counts an instance asked for and not yet serving (no Node yet, or a Node whose
boards are not advertised yet) as upcoming capacity, and places pending pods on it before
buying more (burst.core.scaleup.capacity). What it did not place any pod on is
`Plan.idle_upcoming`, per group. That many of the group's launching instances are surplus:
their pods were deleted, or found boards elsewhere (on-prem, a node that freed one) while
they booted. Each is terminated with decrement at once, rather than paid through its boot
and then through scale-down's idle time.

Terminating an instance in `Pending:Wait` with decrement is what Cluster Autoscaler 1.36.1
does to instances that never registered: its AWS DeleteInstances
(cluster-autoscaler/cloudprovider/aws/auto_scaling_groups.go) calls
TerminateInstanceInAutoScalingGroup with ShouldDecrementDesiredCapacity=true on every
instance not already Terminating, Terminating:Wait, Terminating:Proceed or Terminated.
EC2 bills an instance from `running`, including its time before InService (EC2 Auto Scaling
user guide, "Amazon EC2 Auto Scaling instance lifecycle": "You are billed for instances as
soon as they are launched, including the time that they are not yet in service"), so every
second of boot given back is paid for no longer.

Never chosen: an instance not launching (InService, or in any Terminating state), one
whose Node has a pod bound to it (any pod but DaemonSet and mirror ones, FPGA or not),
one whose Node is useful already (burst.core.lifecycle.not_useful), a node of no group
(on-prem: it has no instance here), and anything in a group the plan scales up. Of a
group's candidates, those furthest from serving go first: no Node, then a Node not Ready,
then a Node without boards. The loop reads the cluster again before it acts
(burst.loop.act), so a pod bound since the observation keeps its node.
"""

from __future__ import annotations

from dataclasses import dataclass

from burst.core.lifecycle import not_useful
from burst.core.model import Node, NodeGroup, Plan, Snapshot
from burst.core.scaleup.capacity import LAUNCHING

REASON = "no pending pod needs it"


@dataclass(frozen=True)
class Surplus:
    """A launching instance to terminate with decrement, and why."""

    instance_id: str
    node_group: str
    node: str | None  # its Node, if one has joined
    reason: str = REASON


def busy_nodes(snapshot: Snapshot) -> frozenset[str]:
    """Nodes with a pod bound to them, DaemonSet and mirror pods aside (they die with it)."""
    return frozenset(p.node for p in snapshot.pods
                     if p.node is not None and not (p.daemonset or p.mirror))


def candidate(group: NodeGroup, instance_id: str, state: str, node: Node | None,
              busy: frozenset[str]) -> bool:
    """Whether the instance may be given back: launching, its Node (if any) neither useful
    nor running a pod."""
    if state not in LAUNCHING:
        return False
    return node is None or (node.name not in busy and not_useful(node, group) is not None)


def surplus(snapshot: Snapshot, plan: Plan) -> tuple[Surplus, ...]:
    """The launching instances `plan` (made on this snapshot's groups) leaves unused."""
    nodes = {n.instance_id: n for n in snapshot.nodes if n.instance_id}
    busy = busy_nodes(snapshot)
    scaling = {u.node_group for u in plan.scale_ups}
    found: list[Surplus] = []
    for group in snapshot.node_groups:
        idle = plan.idle_upcoming.get(group.name, 0)
        if idle <= 0 or group.name in scaling:
            continue
        chosen = sorted(
            (i for i in group.instances
             if candidate(group, i.instance_id, i.lifecycle_state, nodes.get(i.instance_id),
                          busy)),
            key=lambda i: (_progress(nodes.get(i.instance_id)), i.instance_id),
        )[:idle]
        found.extend(Surplus(i.instance_id, group.name, _name(nodes.get(i.instance_id)))
                     for i in chosen)
    return tuple(found)


def _progress(node: Node | None) -> int:
    if node is None:
        return 0
    return 1 if not node.ready else 2


def _name(node: Node | None) -> str | None:
    return node.name if node is not None else None
