"""The shared stage every controller is measured on: the test control plane, moto_server
with the F2 node groups tagged as `cdk deploy` tags them, and the stand-ins for what no
controller does here — instances that boot into Nodes (late device plugin included) and
kubelets that run the pods kube-scheduler binds.

Every controller sees the same stage: it reads pods and nodes from the kube-apiserver and
writes desired capacity to moto; the Fleet turns what moto launched into Nodes and removes
the Node of an instance moto terminated. (Karpenter asks with NodeClaims instead;
karpenter.Nodes plays the Fleet's part for them.) What happened is recorded on one
monotonic clock (`Record`) at `POLL` seconds' resolution.
"""

from __future__ import annotations

import contextlib
import heapq
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from burst.adapters.kube.client import Json, Kube
from burst.core import asgtags
from burst.core.catalog import F2_BOARD, INSTANCE_TYPES
from burst.core.errors import KubeConflictError, KubeNotFoundError
from burst.tools.demo import cluster  # the demo's kubelet and device plugin
from burst.tools.harness import moto
from burst.tools.harness.moto import failed_launch

NAMESPACE = "default"
CLUSTER = moto.CLUSTER
REGION = moto.REGION
ZONE = f"{REGION}a"
FPGA_LABELS = {"inaccel/fpga": "enabled"}
# The CA FAQ's "Startup taints": a node carrying one is counted as upcoming, not as a
# Ready node that cannot take the pod (cluster-autoscaler/FAQ.md, 1.36.1).
STARTUP_TAINT = {"key": "startup-taint.cluster-autoscaler.kubernetes.io/device-plugin",
                 "value": "starting", "effect": "NoSchedule"}
POLL = 0.2


@dataclass(frozen=True)
class Group:
    name: str
    instance_type: str
    max_size: int

    @property
    def boards(self) -> int:
        return INSTANCE_TYPES[self.instance_type].boards[F2_BOARD]

    @property
    def price(self) -> float:
        return INSTANCE_TYPES[self.instance_type].price_per_hour


def f2_groups(max_size: int) -> tuple[Group, ...]:
    return tuple(Group(t.replace(".", "-"), t, max_size)
                 for t in ("f2.6xlarge", "f2.12xlarge", "f2.48xlarge"))


def create_groups(endpoint: str, groups: tuple[Group, ...]) -> None:
    """Launch template + ASG per group, with the tags burst/tools/deploy/tags.py writes:
    discovery, labels, instance type and the board resource (scale from zero)."""
    aws = moto.MotoView(endpoint)
    for group in groups:
        template = aws.ec2.create_launch_template(
            LaunchTemplateName=f"lt-{group.name}",
            LaunchTemplateData={"ImageId": "ami-03cf127a", "InstanceType": group.instance_type},
        )["LaunchTemplate"]
        tags = {asgtags.ENABLED_TAG: "true", asgtags.cluster_tag(CLUSTER): "owned",
                f"{asgtags.LABEL_PREFIX}node.kubernetes.io/instance-type": group.instance_type,
                f"{asgtags.RESOURCES_PREFIX}{F2_BOARD}": str(group.boards),
                **{f"{asgtags.LABEL_PREFIX}{k}": v for k, v in FPGA_LABELS.items()}}
        aws.asg.create_auto_scaling_group(
            AutoScalingGroupName=group.name,
            LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"],
                            "Version": "$Latest"},
            MinSize=0, MaxSize=group.max_size, DesiredCapacity=0, AvailabilityZones=[ZONE],
            Tags=[{"Key": k, "Value": v, "PropagateAtLaunch": False, "ResourceId": group.name,
                   "ResourceType": "auto-scaling-group"} for k, v in tags.items()],
        )


@contextlib.contextmanager
def shortage(groups: Mapping[str, str], count: int) -> Iterator[set[str]]:
    """EC2 has no capacity for the first `count` of these groups ({name: instance type})
    that a controller raises, whichever it prefers; yields their names as they are found.
    For those, a raise of desired capacity launches nothing, and DescribeScalingActivities
    reports a failed launch with EC2's InsufficientInstanceCapacity text, newest first, as
    AWS does. moto launches whatever is asked and answers DescribeScalingActivities with
    [], so both are replaced in the moto_server of this process (moto.moto_server
    runs in it); every controller reads the same answers over HTTP."""
    from moto.autoscaling.models import FakeAutoScalingGroup
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import ActionResult

    short: set[str] = set()
    activities: dict[str, list[dict[str, Any]]] = {name: [] for name in groups}
    launch = FakeAutoScalingGroup.set_desired_capacity
    describe = AutoScalingResponse.describe_scaling_activities

    def set_desired_capacity(group: Any, new_capacity: int | None) -> None:
        raised = new_capacity is not None and new_capacity > len(group.active_instances())
        if raised and group.name in groups and len(short) < count:
            short.add(group.name)
        if group.name not in short or new_capacity is None:
            return launch(group, new_capacity)
        if raised:
            message = (f"We currently do not have sufficient {groups[group.name]} capacity in "
                       f"the Availability Zone you requested ({ZONE}). Our system will be "
                       "working on provisioning additional capacity.")
            # Started after the request, as on AWS: CA skips activities older than its
            # own last update of the group.
            activities[group.name].insert(0, failed_launch(
                group.name, message, datetime.now(UTC) + timedelta(seconds=3)))
        group.desired_capacity = new_capacity  # and nothing launches
        return None

    def describe_scaling_activities(response: Any) -> ActionResult:
        name = response._get_param("AutoScalingGroupName")
        if name not in short:
            return describe(response)
        return ActionResult({"Activities": list(activities[name])})

    FakeAutoScalingGroup.set_desired_capacity = set_desired_capacity  # type: ignore[method-assign]
    AutoScalingResponse.describe_scaling_activities = describe_scaling_activities  # type: ignore[method-assign]
    try:
        yield short
    finally:
        FakeAutoScalingGroup.set_desired_capacity = launch  # type: ignore[method-assign]
        AutoScalingResponse.describe_scaling_activities = describe  # type: ignore[method-assign]


@dataclass
class Record:
    """What happened, on one monotonic clock."""

    desired: list[tuple[float, dict[str, int]]] = field(default_factory=list)  # on change
    created: dict[str, float] = field(default_factory=dict)  # pod -> created
    unschedulable: dict[str, float] = field(default_factory=dict)  # pod -> first seen so
    running: dict[str, tuple[float, str]] = field(default_factory=dict)  # pod -> (t, node)
    finished: dict[str, float] = field(default_factory=dict)
    # instance (or NodeClaim) -> (first seen, group); -> its Node's name
    launched: dict[str, tuple[float, str]] = field(default_factory=dict)
    nodes: dict[str, str] = field(default_factory=dict)
    terminated: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def total_desired(self) -> int:
        with self.lock:
            return sum(self.desired[-1][1].values()) if self.desired else 0


def node_name(group: str, instance: str) -> str:
    return f"{group}-{instance}"


@dataclass
class Fleet:
    """Instances moto launched become Nodes `boot` s later, boards `device_plugin` s after
    that; a Node goes when moto no longer lists its instance. Polls moto every POLL s."""

    admin: Kube
    endpoint: str
    groups: tuple[Group, ...]
    record: Record
    boot: float
    device_plugin: float
    startup_taint: bool
    stop: threading.Event = field(default_factory=threading.Event)
    _due: list[tuple[float, int, str, str, str]] = field(default_factory=list)
    _seq: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        aws = moto.MotoView(self.endpoint)
        threading.Thread(target=self._act, daemon=True).start()
        names = [g.name for g in self.groups]
        while not self.stop.is_set():
            try:
                found = aws.asg.describe_auto_scaling_groups(AutoScalingGroupNames=names)
                self._observe(found["AutoScalingGroups"])
            except Exception as exc:
                print(f"  fleet poll failed: {exc}", file=sys.stderr)
            self.stop.wait(POLL)

    def _observe(self, described: list[dict[str, Any]]) -> None:
        now = time.monotonic()
        desired = {g["AutoScalingGroupName"]: int(g["DesiredCapacity"]) for g in described}
        live = {i["InstanceId"]: g["AutoScalingGroupName"] for g in described
                for i in g["Instances"] if i["LifecycleState"] not in ("Terminating",
                                                                       "Terminated")}
        with self.record.lock:
            if not self.record.desired or self.record.desired[-1][1] != desired:
                self.record.desired.append((now, desired))
            new = [i for i in live if i not in self.record.launched]
            gone = [i for i in self.record.launched
                    if i not in live and i not in self.record.terminated]
            for instance in new:
                self.record.launched[instance] = (now, live[instance])
                self.record.nodes[instance] = node_name(live[instance], instance)
            for instance in gone:
                self.record.terminated[instance] = now
        for instance in new:
            self._schedule(now + self.boot, "register", live[instance], instance)
            self._schedule(now + self.boot + self.device_plugin, "advertise", live[instance],
                           instance)
        for instance in gone:
            self._schedule(now, "delete", self.record.launched[instance][1], instance)

    def _schedule(self, at: float, what: str, group: str, instance: str) -> None:
        with self._lock:
            self._seq += 1
            heapq.heappush(self._due, (at, self._seq, what, group, instance))

    def _act(self) -> None:
        by_name = {g.name: g for g in self.groups}
        while not self.stop.is_set():
            with self._lock:
                due = self._due[0] if self._due and self._due[0][0] <= time.monotonic() \
                    else None
                if due:
                    heapq.heappop(self._due)
            if due is None:
                time.sleep(0.05)
                continue
            _, _, what, group, instance = due
            try:
                self._do(what, by_name[group], instance)
            except Exception as exc:
                print(f"  fleet {what} {instance} failed: {exc}", file=sys.stderr)

    def _do(self, what: str, group: Group, instance: str) -> None:
        name = node_name(group.name, instance)
        boards = {F2_BOARD: group.boards}
        if what == "register":
            if instance in self.record.terminated:
                return
            labels = {**FPGA_LABELS, "node.kubernetes.io/instance-type": group.instance_type,
                      "kubernetes.io/hostname": name}
            late = self.device_plugin > 0
            taints = [dict(STARTUP_TAINT)] if late and self.startup_taint else []
            cluster.register_node(self.admin, name, labels, {} if late else boards,
                                  f"aws:///{ZONE}/{instance}", taints)
        elif what == "advertise" and self.device_plugin > 0:
            with contextlib.suppress(KubeConflictError):
                cluster.advertise(self.admin, name, boards, STARTUP_TAINT["key"])
        elif what == "delete":
            try:
                self.admin.call("delete node", self.admin.core.delete_node, name)
            except KubeNotFoundError:
                return


@dataclass
class Kubelets:
    """Pods kube-scheduler bound are reported Running, and Succeeded after `job` seconds
    (None: they run to the end of the run). Records when each pod was first seen
    unschedulable (PodScheduled=False), ran and finished."""

    admin: Kube
    record: Record
    job: float | None
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self._tick()
            except Exception as exc:
                print(f"  kubelet stand-in failed: {exc}", file=sys.stderr)
            self.stop.wait(POLL)

    def _tick(self) -> None:
        listed = self.admin.call("list pods", self.admin.core.list_namespaced_pod, NAMESPACE)
        now = time.monotonic()
        for pod in listed.get("items") or ():
            name = pod["metadata"]["name"]
            node = pod["spec"].get("nodeName")
            phase = (pod.get("status") or {}).get("phase")
            conditions = (pod.get("status") or {}).get("conditions") or ()
            if any(c.get("type") == "PodScheduled" and c.get("status") == "False"
                   for c in conditions):
                self.record.unschedulable.setdefault(name, now)
            if node and phase in ("Pending", "Running") and name not in self.record.running:
                if phase == "Pending":  # kwok reports the pods of its own nodes Running
                    set_phase(self.admin, pod, "Running")
                with self.record.lock:
                    self.record.running[name] = (now, node)
            elif phase == "Running" and self.job is not None and \
                    name in self.record.running and now - self.record.running[name][0] >= self.job:
                set_phase(self.admin, pod, "Succeeded")
                with self.record.lock:
                    self.record.finished[name] = now


def set_phase(admin: Kube, pod: Json, phase: str) -> None:
    try:
        cluster.set_phase(admin, pod, phase)
    except (KubeConflictError, KubeNotFoundError):
        return  # seen again on the next poll


prepare = cluster.prepare


def create_pod(admin: Kube, record: Record, name: str, board: str, boards: int) -> None:
    body: Json = {
        "metadata": {"name": name, "labels": {"fpga-burst.io/bench": "peers"}},
        "spec": {"containers": [{"name": "job", "image": "registry.invalid/fpga-job:1",
                                 "resources": {"limits": {board: str(boards)}}}],
                 "nodeSelector": dict(FPGA_LABELS), "restartPolicy": "Never",
                 "terminationGracePeriodSeconds": 0,
                 "automountServiceAccountToken": False},
    }
    with record.lock:
        record.created[name] = time.monotonic()
    admin.call("create pod", admin.core.create_namespaced_pod, NAMESPACE, body)
