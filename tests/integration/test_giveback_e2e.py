"""Give back what boots for nobody, end to end: a real kube-apiserver (+ etcd), AWS as moto.

Pods go pending, the scaler scales up; the pods go away while the instances are still in
`Pending:Wait` (moto has no launch hooks, so the test puts its instances in that state in
moto's own in-process backend); the next tick terminates them with decrement and says why.
And the race: a pod binds to the instance's Node after the tick observed the cluster and
before it acts; the fresh read keeps the instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from test_e2e_scaler import (  # noqa: F401  (aws and test_id are fixtures)
    aws,
    bind,
    burst_node,
    make_group,
    read_node,
    test_id,
    tick,
    xgb_job,
)

from burst.adapters.kube.adapter import KubeCluster
from burst.adapters.kube.client import Kube
from burst.adapters.kube.tell import STATUS_NAME, STATUS_NAMESPACE
from burst.core.lifecycle import GIVEN_BACK
from burst.core.names import EventReason
from burst.core.scaledown.surplus import REASON
from burst.core.scaledown.unneeded import TO_BE_DELETED
from burst.handlers import runtime, scaler
from burst.ports.cluster import ClusterView
from burst.tools.harness import objects
from burst.tools.harness.context import LambdaContext
from burst.tools.harness.events import scheduled_event
from burst.tools.harness.moto import REGION, MotoView

GROUP = "onprem-f1-4xlarge"


def still_launching(group: str) -> None:
    """What a launch hook does to a new instance: hold it in Pending:Wait (moto's instances
    go InService at once; its backend runs in this process, so the test sets the state)."""
    from moto.autoscaling.models import autoscaling_backends
    from moto.core.models import DEFAULT_ACCOUNT_ID

    backend = autoscaling_backends[DEFAULT_ACCOUNT_ID][REGION]
    for state in backend.autoscaling_groups[group].instance_states:
        state.lifecycle_state = "Pending:Wait"


def launching_for(moto: MotoView, admin: Kube, namespace: str, label: str,
                  jobs: int) -> list[dict[str, Any]]:
    """`jobs` pending jobs of 2 F1 boards each; the tick asks for one f1.4xlarge each; the
    instances are held launching. Returns them."""
    make_group(moto, GROUP, "f1.4xlarge", label)
    for n in range(1, jobs + 1):
        xgb_job(admin, namespace, f"job-{n}", label)
    assert tick()["first"]["scaleUps"] == [{"nodeGroup": GROUP, "from": 0, "to": jobs}]
    still_launching(GROUP)
    return moto.instances(GROUP)


def delete_pod(admin: Kube, namespace: str, name: str) -> None:
    admin.call("delete pod", admin.core.delete_namespaced_pod, name, namespace,
               grace_period_seconds=0)


def status_of(admin: Kube) -> dict[str, Any]:
    status = admin.call("read status", admin.core.read_namespaced_config_map, STATUS_NAME,
                        STATUS_NAMESPACE)
    return dict(yaml.safe_load(status["data"]["status.yaml"]))


def events_on(admin: Kube, namespace: str, kind: str, name: str) -> list[tuple[str, str]]:
    items = admin.call("list events", admin.core.list_namespaced_event, namespace,
                       field_selector=f"involvedObject.kind={kind},involvedObject.name={name}")
    return [(e["reason"], e["message"]) for e in items["items"]]


def test_instances_still_launching_that_no_pending_pod_needs_are_terminated_with_decrement(
    aws: MotoView, admin: Kube, namespace: str, test_id: str,  # noqa: F811
    admin_nodes: list[str],
) -> None:
    # GIVEN two pending jobs of 2 F1 boards each: the scaler asks for two f1.4xlarge
    # AND both instances are still launching: one has no Node yet, the other's Node has
    # joined without its boards
    joined, unjoined = launching_for(aws, admin, namespace, test_id, jobs=2)
    burst = f"{test_id}-burst"
    admin_nodes.append(burst)
    burst_node(admin, burst, joined, test_id)
    # WHEN both jobs are deleted before the instances boot, and the next tick comes
    delete_pod(admin, namespace, "job-1")
    delete_pod(admin, namespace, "job-2")
    result = tick()["first"]
    # THEN both are terminated with decrement in that tick: the group's desired capacity
    # drops to 0 and no instance is left in it
    assert sorted(result["givenBack"]) == sorted([joined["InstanceId"], unjoined["InstanceId"]])
    assert aws.desired(GROUP) == 0 and aws.instances(GROUP) == []
    # AND the status says why, for each
    given = {g["instance"]: g["reason"] for g in status_of(admin)["givenBack"]}
    assert set(given) == {joined["InstanceId"], unjoined["InstanceId"]}
    assert all(why.endswith(REASON) for why in given.values())
    # AND an Event says it: on the joined Node, and on the status for the one without
    reason = EventReason.GIVEN_BACK.value
    assert [r for r, m in events_on(admin, "default", "Node", burst)
            if REASON in m] == [reason]
    on_status = events_on(admin, STATUS_NAMESPACE, "ConfigMap", STATUS_NAME)
    assert any(r == reason and unjoined["InstanceId"] in m and REASON in m
               for r, m in on_status)
    # AND the Node is marked, so nothing binds there and the terminate hook can say why
    node = read_node(admin, burst)
    assert node["metadata"]["annotations"][GIVEN_BACK] == REASON
    assert TO_BE_DELETED in {t["key"] for t in node["spec"]["taints"]}


class BindsAfterObserve(KubeCluster):
    """The real cluster adapter, and kube-scheduler binding `pod` to `node` just after the
    scaler's first observation: what the tick saw is stale by the time it acts."""

    def __init__(self, base: KubeCluster, scheduler: Kube, namespace: str, pod: str,
                 node: str) -> None:
        super().__init__(base.kube, base.boards)
        self.scheduler, self.namespace, self.pod, self.node = scheduler, namespace, pod, node
        self.calls = 0

    def observe(self, instance_groups: Mapping[str, str]) -> ClusterView:
        view = super().observe(instance_groups)
        self.calls += 1
        if self.calls == 1:
            bind(self.scheduler, self.namespace, self.pod, self.node)
        return view


def test_a_pod_bound_to_the_node_after_the_observation_keeps_the_instance(
    aws: MotoView, admin: Kube, namespace: str, test_id: str,  # noqa: F811
    admin_nodes: list[str],
) -> None:
    # GIVEN one pending job; the scaler asks for one f1.4xlarge; it is still launching and
    # its Node has joined without boards
    (instance,) = launching_for(aws, admin, namespace, test_id, jobs=1)
    burst = f"{test_id}-burst"
    admin_nodes.append(burst)
    burst_node(admin, burst, instance, test_id)
    # AND the job is gone, and a pod that needs no board waits for the node (not an FPGA pod)
    delete_pod(admin, namespace, "job-1")
    objects.pod(admin, namespace, "agent", schedulerName="fpga-burst-e2e",
                tolerations=[{"operator": "Exists"}])
    # WHEN it binds to the Node after the tick observed the cluster, before the tick acts
    cfg = runtime.config()
    built = runtime.adapters(cfg)
    racing = BindsAfterObserve(built.cluster, admin, namespace, "agent", burst)
    built.cluster = racing
    try:
        result = scaler.run(scheduled_event(), LambdaContext(50), cfg=cfg, adapters=built)
    finally:
        built.close()
    # THEN the tick saw the instance as surplus, read again, and kept it
    assert racing.calls >= 2
    assert result["first"]["givenBack"] == []
    assert aws.desired(GROUP) == 1
    assert [i["InstanceId"] for i in aws.instances(GROUP)] == [instance["InstanceId"]]
    # AND its mark is off again: the Node takes pods
    node = read_node(admin, burst)
    assert GIVEN_BACK not in (node["metadata"].get("annotations") or {})
    assert TO_BE_DELETED not in {t["key"] for t in node["spec"].get("taints") or []}
    assert not node["spec"].get("unschedulable")
