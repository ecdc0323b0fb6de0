"""Spot interruption warnings, AWS Health scheduled changes and rebalance recommendations end
to end: the lifecycle and scaler handlers as Lambda invokes them, on the real control plane
(the controller's own identity, the API server's Eviction API and PodDisruptionBudgets)
and a moto_server for AWS. The events are AWS's documented samples from events/, with the
instance id of a moto instance of the test's group put in (and, for AWS Health, the
change's start and status).

No disruption controller runs here, so the test writes the PDB's status as it would:
one disruption allowed for two healthy pods. The API server's eviction handler then
allows exactly one eviction and refuses the next (429) until the budget is recomputed.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from scaler_env import EVENTS, acting_as
from test_e2e_scaler import (
    aws,
    burst_node,
    group_taint,
    make_group,
    test_id,
    tick,
)

from burst.adapters.kube.adapter import KubeCluster
from burst.adapters.kube.client import Json, Kube
from burst.core.errors import KubeThrottledError
from burst.core.model import SAFE_TO_EVICT, Taint
from burst.core.names import EventReason
from burst.core.notices.marks import INTERRUPTED, REBALANCING, SCHEDULED
from burst.core.scaledown.unneeded import TO_BE_DELETED
from burst.handlers import lifecycle, runtime
from burst.tools.harness import objects
from burst.tools.harness.context import LambdaContext
from burst.tools.harness.moto import MotoView
from burst.tools.harness.objects import F1

__all__ = ["aws", "test_id"]  # fixtures shared with the scaler's e2e tests


def notice(name: str, *instances: str, start: datetime | None = None,
           status: str | None = None) -> dict[str, Any]:
    """A sample from events/ about `instances`, stamped now; an AWS Health one starting at
    `start` (default now) with `status` (default the sample's)."""
    event: dict[str, Any] = copy.deepcopy(json.loads((EVENTS / name).read_text()))
    now = datetime.now(UTC)
    event["time"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    if "instance-id" in event["detail"]:
        (event["detail"]["instance-id"],) = instances
    else:
        event["detail"]["affectedEntities"] = [{"entityValue": i} for i in instances]
        event["detail"]["startTime"] = format_datetime(start or now, usegmt=True)
        event["detail"]["statusCode"] = status or event["detail"]["statusCode"]
    return event


def invoke(event: dict[str, Any], seconds: float = 40.0) -> dict[str, Any]:
    """The lifecycle function, under its own IAM policy and Kubernetes identity."""
    with acting_as("lifecycle"):
        return lifecycle.handler(event, LambdaContext(seconds=seconds,
                                                      function_name="lifecycle"))


def fpga_pod(admin: Kube, namespace: str, name: str, node: str, test_id: str,
             boards: int = 1, labels: dict[str, str] | None = None) -> None:
    """A running FPGA pod bound to `node`, placeable only on this test's groups."""
    objects.pod(admin, namespace, name, node=node, limits={F1: str(boards)},
                nodeSelector={"fpga-burst-e2e": test_id},
                tolerations=[{**group_taint(test_id), "operator": "Equal"}],
                meta=objects.Meta(labels=labels or {}))
    objects.running(admin, namespace, name)


def budget(admin: Kube, namespace: str, *, allowed: int, healthy: int) -> Json:
    """A PDB over the pods labelled app=guarded, its status as the disruption controller
    would write it."""
    admin.call("create pdb", admin.policy.create_namespaced_pod_disruption_budget, namespace,
               {"metadata": {"name": "guarded"},
                "spec": {"minAvailable": healthy - allowed,
                         "selector": {"matchLabels": {"app": "guarded"}}}})
    pdb = admin.call("read pdb", admin.policy.read_namespaced_pod_disruption_budget,
                     "guarded", namespace)
    pdb["status"] = {"observedGeneration": pdb["metadata"]["generation"],
                     "disruptionsAllowed": allowed, "currentHealthy": healthy,
                     "desiredHealthy": healthy - allowed, "expectedPods": healthy}
    return admin.call("write pdb status",
                      admin.policy.replace_namespaced_pod_disruption_budget_status,
                      "guarded", namespace, pdb)


def node_of(admin: Kube, name: str) -> Json:
    return admin.call("read node", admin.core.read_node, name)


def node_reasons(admin: Kube, name: str) -> list[str]:
    found = admin.call("list events", admin.core.list_event_for_all_namespaces,
                       field_selector=f"involvedObject.kind=Node,involvedObject.name={name}")
    return [e["reason"] for e in found["items"]]


@pytest.fixture
def spot(request: pytest.FixtureRequest, aws: MotoView, admin: Kube, node_name: str,
         test_id: str) -> tuple[str, str]:
    """A managed group of one instance whose Ready node advertises its two boards. The test
    that scales it up uses the group the IAM test deployment names (iam-deploy.yaml), so
    its SetDesiredCapacity is checked against the scaler's policy."""
    scales = "rebalance" in request.node.name
    group = "onprem-spot-rebalance" if scales else f"spot-{test_id[-8:]}"
    make_group(aws, group, "f1.4xlarge", test_id, desired=1)
    (instance,) = aws.instances(group)
    burst_node(admin, node_name, instance, test_id, boards={F1: "2"})
    return group, str(instance["InstanceId"])


@pytest.mark.parametrize("sample", ["spot-interruption-warning.json",
                                    "health-scheduled-change.json"])
def test_an_interruption_cordons_and_evicts_at_once_and_never_breaks_a_pdb(
    spot: tuple[str, str], aws: MotoView, admin: Kube, node_name: str, namespace: str,
    test_id: str, sample: str,
) -> None:
    group, instance = spot
    # GIVEN two FPGA pods guarded by a PDB that allows one disruption, and one plain pod
    for name in ("a", "b"):
        fpga_pod(admin, namespace, name, node_name, test_id, labels={"app": "guarded"})
    objects.pod(admin, namespace, "web", node=node_name)
    objects.running(admin, namespace, "web")
    budget(admin, namespace, allowed=1, healthy=2)
    # WHEN the notice comes (an invocation with 15 s to drain before its margin)
    start = datetime.now(UTC)  # a Health change due now; its updates repeat its start
    first = invoke(notice(sample, instance, start=start), seconds=lifecycle.MARGIN_SECONDS + 15)
    # THEN the node is cordoned, tainted and annotated, and told why
    node = node_of(admin, node_name)
    mark = INTERRUPTED if sample.startswith("spot") else SCHEDULED
    assert node["spec"]["unschedulable"] is True
    assert mark in {t["key"] for t in node["spec"]["taints"]}
    assert mark in node["metadata"]["annotations"]
    reason = (EventReason.SPOT_INTERRUPTION if sample.startswith("spot")
              else EventReason.SCHEDULED_CHANGE)
    assert reason in node_reasons(admin, node_name)
    # AND the plain pod and exactly one guarded pod are evicted: the PDB holds the other
    left = objects.pods_in(admin, namespace)
    assert "web" not in left and len({"a", "b"} & set(left)) == 1
    assert (first["result"], len(first["evicted"]), len(first["remaining"])) == (
        "draining", 2, 1)
    assert "PodDisruptionBudget" in first["reason"] or "disruption" in first["reason"].lower()
    # AND neither the Node nor the instance is touched: the terminate hook does that later
    assert aws.desired(group) == 1 and len(aws.instances(group)) == 1
    # WHEN the same notice comes again while the budget still refuses: nothing new happens
    again = invoke(notice(sample, instance, start=start), seconds=lifecycle.MARGIN_SECONDS + 8)
    assert again["result"] == "draining" and again.get("evicted", []) == []
    assert len({"a", "b"} & set(objects.pods_in(admin, namespace))) == 1
    # WHEN the budget allows it again, the scaler's tick finishes the drain
    admin.call("delete pdb", admin.policy.delete_namespaced_pod_disruption_budget,
               "guarded", namespace)
    tick()
    assert not {"a", "b"} & set(objects.pods_in(admin, namespace))
    # AND a late duplicate finds the node drained
    assert invoke(notice(sample, instance, start=start))["result"] == "already-done"


def taints(node: Json) -> set[str]:
    return {t["key"] for t in node["spec"].get("taints") or []}


def test_a_health_change_ahead_cordons_now_drains_nothing_and_its_closing_undoes_the_cordon(
    spot: tuple[str, str], admin: Kube, node_name: str, namespace: str, test_id: str,
) -> None:
    _, instance = spot
    fpga_pod(admin, namespace, "job", node_name, test_id)
    start = datetime.now(UTC) + timedelta(days=14)
    # WHEN AWS Health announces a retirement two weeks ahead
    ahead = invoke(notice("health-scheduled-change.json", instance, start=start,
                          status="upcoming"))
    # THEN the node is cordoned and told, and its pod keeps running
    assert ahead["result"] == "scheduled", ahead
    node = node_of(admin, node_name)
    assert node["spec"]["unschedulable"] is True and SCHEDULED in taints(node)
    assert EventReason.SCHEDULED_CHANGE in node_reasons(admin, node_name)
    assert "job" in objects.pods_in(admin, namespace)
    # AND the scaler's tick leaves it there: its drain begins at the start less the lead
    tick()
    assert "job" in objects.pods_in(admin, namespace)
    # WHEN the change closes
    closed = invoke(notice("health-scheduled-change.json", instance, start=start,
                           status="closed"))
    # THEN the cordon it made is undone, and the pod never moved
    assert closed["result"] == "released", closed
    node = node_of(admin, node_name)
    assert not node["spec"].get("unschedulable") and SCHEDULED not in taints(node)
    assert SCHEDULED not in node["metadata"].get("annotations", {})
    assert "job" in objects.pods_in(admin, namespace)


def test_a_closed_health_change_leaves_an_operators_cordon_and_takes_only_its_own_taint(
    spot: tuple[str, str], admin: Kube, node_name: str,
) -> None:
    _, instance = spot
    # GIVEN an operator cordoned the node (kubectl cordon) before the notice came
    node = node_of(admin, node_name)
    node["spec"]["unschedulable"] = True
    admin.call("cordon node", admin.core.replace_node, node_name, node)
    start = datetime.now(UTC) + timedelta(days=14)
    invoke(notice("health-scheduled-change.json", instance, start=start, status="upcoming"))
    assert SCHEDULED in taints(node_of(admin, node_name))
    # WHEN the change closes
    closed = invoke(notice("health-scheduled-change.json", instance, start=start,
                           status="closed"))
    # THEN its taint and mark go, and the operator's cordon stays
    assert closed["result"] == "released", closed
    node = node_of(admin, node_name)
    assert node["spec"]["unschedulable"] is True and SCHEDULED not in taints(node)
    assert SCHEDULED not in node["metadata"].get("annotations", {})


class CordonThrottled(KubeCluster):
    """The API server's flow control refuses one cordon of `node` (429), once."""

    throttled: str = ""

    def cordon(self, node: str, taint: Taint | None = None) -> bool:
        if node == self.throttled:
            self.throttled = ""
            raise KubeThrottledError(f"patch node {node}: 429 Too Many Requests")
        return super().cordon(node, taint)


def test_a_notice_naming_several_instances_handles_each_and_raises_an_error_after_the_rest(
    aws: MotoView, admin: Kube, namespace: str, test_id: str, admin_nodes: list[str],
) -> None:
    group = f"spot-{test_id[-8:]}"
    make_group(aws, group, "f1.4xlarge", test_id, desired=2)
    names = [f"{test_id}-a", f"{test_id}-b"]
    admin_nodes.extend(names)
    instances = [str(i["InstanceId"]) for i in aws.instances(group)]
    for name, instance in zip(names, aws.instances(group), strict=True):
        burst_node(admin, name, instance, test_id, boards={F1: "2"})
        fpga_pod(admin, namespace, f"job-{name[-1]}", name, test_id)
    event = notice("health-scheduled-change.json", *instances)
    cfg = runtime.config()
    built = runtime.adapters(cfg)
    flaky = CordonThrottled(built.cluster.kube, cfg.boards)
    flaky.throttled = names[0]
    # WHEN one Health event names both, and the first one's cordon is throttled
    try:
        with pytest.raises(KubeThrottledError):
            lifecycle.run(event, LambdaContext(seconds=40, function_name="lifecycle"),
                          cfg=cfg, adapters=replace(built, cluster=flaky))
    finally:
        built.close()
    # THEN the second was drained all the same, and the error reached Lambda after it
    assert "job-b" not in objects.pods_in(admin, namespace)
    assert node_of(admin, names[1])["spec"]["unschedulable"] is True
    assert "job-a" in objects.pods_in(admin, namespace)
    # WHEN Lambda retries the event: the first is done, the second found done already
    again = invoke(event)
    assert [i["result"] for i in again["instances"]] == ["drained", "already-done"]
    assert "job-a" not in objects.pods_in(admin, namespace)
    runtime.metrics.clear_metrics()


def test_a_spot_warning_evicts_within_budgets_holds_the_unsafe_pod_and_deletes_nothing_early(
    spot: tuple[str, str], aws: MotoView, admin: Kube, node_name: str, namespace: str,
) -> None:
    group, instance = spot
    # GIVEN a pod whose PodDisruptionBudget allows no disruption now, a pod annotated
    # safe-to-evict "false", and a plain Deployment pod (owned by its ReplicaSet)
    owner = objects.owner(objects.replicaset(admin, namespace, "web"))
    objects.pod(admin, namespace, "guarded", node=node_name,
                meta=objects.Meta(labels={"app": "guarded"}, owner=owner))
    objects.pod(admin, namespace, "precious", node=node_name,
                meta=objects.Meta(owner=owner, annotations={SAFE_TO_EVICT: "false"}))
    objects.pod(admin, namespace, "web", node=node_name,
                meta=objects.Meta(labels={"app": "web"}, owner=owner))
    for name in ("guarded", "precious", "web"):
        objects.running(admin, namespace, name)
    budget(admin, namespace, allowed=0, healthy=1)
    # WHEN the Spot warning comes
    first = invoke(notice("spot-interruption-warning.json", instance),
                   seconds=lifecycle.MARGIN_SECONDS + 6)
    # THEN the plain pod is evicted, the guarded one waits on its budget, the unsafe one is
    # held, and the summary says which pods are left and why
    assert sorted(objects.pods_in(admin, namespace)) == ["guarded", "precious"]
    assert first["result"] == "draining" and first["evicted"] == [f"{namespace}/web"]
    left = first["left"]
    assert "disruption budget" in left.pop(f"{namespace}/guarded")
    assert left == {f"{namespace}/precious": f"held: annotated {SAFE_TO_EVICT}=false"}
    # AND nothing is deleted early: the Node and the instance are there
    assert node_of(admin, node_name)["metadata"]["name"] == node_name
    assert aws.desired(group) == 1 and len(aws.instances(group)) == 1
    # WHEN the scaler ticks, the budget still refusing: its own scale-down never picks the
    # node, and the drain goes on
    tick()
    assert TO_BE_DELETED not in {t["key"] for t in node_of(admin, node_name)["spec"]["taints"]}
    assert aws.desired(group) == 1 and len(aws.instances(group)) == 1
    # WHEN the budget allows it: the guarded pod goes, the unsafe one stays held
    admin.call("delete pdb", admin.policy.delete_namespaced_pod_disruption_budget,
               "guarded", namespace)
    tick()
    assert sorted(objects.pods_in(admin, namespace)) == ["precious"]
    held = invoke(notice("spot-interruption-warning.json", instance))
    assert held["result"] == "held" and held["left"] == {
        f"{namespace}/precious": f"held: annotated {SAFE_TO_EVICT}=false"}
    assert node_of(admin, node_name)["metadata"]["name"] == node_name
    assert aws.desired(group) == 1 and len(aws.instances(group)) == 1


def test_a_notice_for_a_gone_node_or_a_foreign_instance_is_ignored_and_says_why(
    spot: tuple[str, str], admin: Kube, node_name: str,
) -> None:
    _, instance = spot
    foreign = invoke(notice("spot-interruption-warning.json", "i-0123456789abcdef0"))
    assert foreign["result"] == "not-ours" and "managed node group" in foreign["reason"]
    admin.call("delete node", admin.core.delete_node, node_name)
    late = invoke(notice("spot-interruption-warning.json", instance))
    assert late["result"] == "late" and "no node" in late["reason"]
    assert invoke(notice("rebalance-recommendation.json", instance))["result"] == "late"


def test_a_rebalance_asks_for_the_replacement_first_then_drains_once_its_boards_are_there(
    spot: tuple[str, str], aws: MotoView, admin: Kube, node_name: str, namespace: str,
    test_id: str, admin_nodes: list[str],
) -> None:
    group, instance = spot
    fpga_pod(admin, namespace, "job", node_name, test_id, boards=2)
    # WHEN the rebalance recommendation comes
    marked = invoke(notice("rebalance-recommendation.json", instance))
    # THEN the node is marked and cordoned, nothing is evicted yet
    assert marked["result"] == "marked"
    node = node_of(admin, node_name)
    assert node["spec"]["unschedulable"] is True
    assert REBALANCING in node["metadata"]["annotations"]
    assert REBALANCING in {t["key"] for t in node["spec"]["taints"]}
    assert EventReason.REBALANCE_RECOMMENDATION in node_reasons(admin, node_name)
    assert "job" in objects.pods_in(admin, namespace)
    # AND a duplicate changes nothing
    assert invoke(notice("rebalance-recommendation.json", instance))["result"] == "already-done"
    # WHEN the scaler ticks: it asks for the replacement, and keeps the pod where it runs
    tick()
    assert aws.desired(group) == 2
    assert "job" in objects.pods_in(admin, namespace)
    # AND again while the replacement boots: no second scale-up, still no drain
    tick()
    assert aws.desired(group) == 2 and "job" in objects.pods_in(admin, namespace)
    # WHEN the replacement's node joins and advertises its boards
    replacement = next(i for i in aws.instances(group) if i["InstanceId"] != instance)
    admin_nodes.append(f"{node_name}-r")
    burst_node(admin, f"{node_name}-r", replacement, test_id, boards={F1: "2"})
    tick()
    # THEN the rebalancing node is drained (the pod's controller would recreate it there)
    assert "job" not in objects.pods_in(admin, namespace)
    # AND a Spot warning that comes after all that finds the node empty
    assert invoke(notice("spot-interruption-warning.json", instance))["result"] == "drained"
    runtime.metrics.clear_metrics()
