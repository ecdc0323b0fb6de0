"""The controller's ports over the simulated world: what the shell calls instead of the
API server and AWS. Each class implements only the narrow ports the shell uses it through;
Events have no effect on a simulation and are dropped; the status is kept for the next tick."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from burst.core.model import InstanceType, NodeGroup, Pod, Taint
from burst.core.scaleup.backoff import ScalingActivity
from burst.loop.act import Writers
from burst.ports.aws import CapacityChange, LifecycleResult
from burst.ports.cluster import ClusterView, DrainResult
from burst.tools.sim.world import World


class SimCluster:
    """ClusterReader, NodeWriter and NodeDrainer."""

    def __init__(self, world: World) -> None:
        self.world = world

    def observe(self, instance_groups: Mapping[str, str]) -> ClusterView:
        pods = tuple(p.pod for p in self.world.pods.values())
        return ClusterView(nodes=tuple(self.world.nodes.values()), pods=pods)

    def read_status(self) -> Mapping[str, str]:
        return self.world.status

    def cordon(self, node: str, taint: Taint | None = None) -> bool:
        current = self.world.nodes.get(node)
        if current is None:
            return False
        taints = current.taints + ((taint,) if taint and taint not in current.taints else ())
        return self.world.change_node(node, unschedulable=True, taints=taints)

    def uncordon(self, node: str, taint_key: str | None = None) -> bool:
        current = self.world.nodes.get(node)
        if current is None:
            return False
        taints = tuple(t for t in current.taints if t.key != taint_key)
        return self.world.change_node(node, unschedulable=False, taints=taints)

    def annotate_node(self, node: str, changes: Mapping[str, str | None]) -> bool:
        current = self.world.nodes.get(node)
        if current is None:
            return False
        annotations = {**current.annotations, **{k: v for k, v in changes.items() if v}}
        for key in (k for k, v in changes.items() if v is None):
            annotations.pop(key, None)
        return self.world.change_node(node, annotations=annotations)

    def drain(self, node: str, deadline: float) -> DrainResult:
        # Only unneeded nodes are removed: no FPGA pod to evict.
        self.cordon(node)
        return DrainResult(node)

    def delete_node(self, node: str, uid: str | None = None) -> bool:
        return self.world.delete_node(node)

    def workload(self, node: str) -> tuple[str, ...]:
        return tuple(p.pod.name for p in self.world.pods.values()
                     if p.pod.node == node and not (p.pod.daemonset or p.pod.mirror))


class Unheard:
    """Teller: nobody reads a simulated pod's or node's Events. The status is kept, as in
    the ConfigMap: the next tick reads its arrivals back."""

    def __init__(self, world: World) -> None:
        self.world = world

    def record_pod_event(
        self, pod: Pod, reason: str, message: str, now: datetime, kind: str = "Normal"
    ) -> int:
        return 1

    def record_node_event(
        self, node: str, reason: str, message: str, now: datetime, kind: str = "Normal"
    ) -> int:
        return 1

    def record_status_event(
        self, reason: str, message: str, now: datetime, kind: str = "Normal"
    ) -> int:
        return 1

    def write_status(self, data: Mapping[str, str]) -> None:
        self.world.status = dict(data)


class SimAws:
    """NodeGroups, CapacityWriter and LifecycleActions."""

    def __init__(self, world: World) -> None:
        self.world = world

    def discover_node_groups(
        self, cluster: str, instance_types: Mapping[str, InstanceType] | None = None
    ) -> tuple[NodeGroup, ...]:
        return self.world.node_groups(self.world.moment)

    def scaling_activities(self, node_group: str, since: datetime) -> tuple[ScalingActivity, ...]:
        return tuple(a for a in self.world.activities[node_group] if a.start_time >= since)

    def raise_desired_capacity(self, node_group: str, target: int) -> CapacityChange:
        return self.world.raise_desired(node_group, target)

    def terminate_instance(self, instance_id: str) -> bool:
        return self.world.terminate(instance_id)

    def complete_lifecycle_action(
        self,
        node_group: str,
        hook: str,
        instance_id: str,
        result: LifecycleResult,
        token: str | None = None,
    ) -> None:
        self.world.complete(instance_id)

    def record_heartbeat(
        self, node_group: str, hook: str, instance_id: str, token: str | None = None
    ) -> None:
        return None


def writers(world: World) -> Writers:
    """What the shell changes in the simulated world."""
    cluster, aws = SimCluster(world), SimAws(world)
    return Writers(capacity=aws, actions=aws, nodes=cluster, drains=cluster, teller=Unheard(world))
