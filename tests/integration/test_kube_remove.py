"""Removing a node safely: cordon/taint, drain through the Eviction API, delete the Node."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from burst.adapters.kube import drain, nodes
from burst.adapters.kube.adapter import KubeCluster
from burst.adapters.kube.client import Json, Kube
from burst.core.errors import KubeNotFoundError
from burst.core.model import SAFE_TO_EVICT, Taint
from burst.tools.harness import objects
from burst.tools.harness.clock import FakeClock
from burst.tools.harness.objects import U250

BURST = objects.BURST_PROVIDER_ID  # the controller may change only burst nodes
TAINT = Taint("fpga-burst.io/removing", "true", "NoSchedule")


def _read(admin: Kube, name: str) -> Json:
    return admin.call("read node", admin.core.read_node, name)


def test_cordon_with_a_taint_is_applied_once_and_undone_by_uncordon(
    admin: Kube, kube: Kube, node_name: str
) -> None:
    objects.node(admin, node_name, provider_id=BURST)

    assert nodes.cordon(kube, node_name, TAINT) is True
    assert nodes.cordon(kube, node_name, TAINT) is False  # idempotent
    spec = _read(admin, node_name)["spec"]
    assert spec["unschedulable"] is True
    assert {"key": TAINT.key, "value": "true", "effect": "NoSchedule"} in spec["taints"]

    assert nodes.uncordon(kube, node_name, TAINT.key) is True
    spec = _read(admin, node_name)["spec"]
    assert not spec.get("unschedulable")
    assert all(t["key"] != TAINT.key for t in spec.get("taints") or ())


def test_a_concurrent_writer_makes_the_update_conflict_and_both_changes_survive_the_retry(
    admin: Kube, kube: Kube, node_name: str
) -> None:
    """
    GIVEN the controller has read a node to cordon it
    WHEN  someone else (a kubelet, kubectl) writes the node before the controller does
    THEN  the API server answers 409, the controller re-reads and re-applies its change,
          and the other writer's change is not lost
    """
    objects.node(admin, node_name, provider_id=BURST)
    calls = 0

    def cordon_after_a_rival_write(node: Json) -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            rival = _read(admin, node_name)
            rival["metadata"].setdefault("labels", {})["rival"] = "was-here"
            admin.call("rival update", admin.core.replace_node, node_name, rival)
        node["spec"]["unschedulable"] = True
        return True

    assert nodes.update_node(kube, node_name, cordon_after_a_rival_write) is True

    after = _read(admin, node_name)
    assert calls == 2
    assert after["spec"]["unschedulable"] is True
    assert after["metadata"]["labels"]["rival"] == "was-here"


def test_annotations_are_set_and_removed(admin: Kube, kube: Kube, node_name: str) -> None:
    objects.node(admin, node_name, provider_id=BURST)
    key = "fpga-burst.io/unneeded-since"
    assert nodes.annotate(kube, node_name, {key: "2026-01-01T00:00Z"})
    assert not nodes.annotate(kube, node_name, {key: "2026-01-01T00:00Z"})
    assert nodes.annotate(kube, node_name, {key: None})
    assert key not in (
        _read(admin, node_name)["metadata"].get("annotations") or {})


def test_drain_evicts_ordinary_pods_skips_daemonset_and_mirror_pods_then_the_node_is_deleted(
    admin: Kube, kube: Kube, namespace: str, node_name: str
) -> None:
    objects.node(admin, node_name, provider_id=BURST, allocatable={U250: "1"})
    ds = objects.daemonset(admin, namespace, "agent")
    objects.pod(admin, namespace, "job-a", node=node_name, limits={U250: "1"})
    objects.pod(admin, namespace, "job-b", node=node_name)
    # A DaemonSet pod is not evicted, so its safe-to-evict does not stop the drain.
    objects.pod(admin, namespace, "agent-x", node=node_name,
                meta=objects.Meta(owner=objects.owner(ds), annotations={SAFE_TO_EVICT: "false"}))
    objects.pod(admin, namespace, "static", node=node_name,
                meta=objects.Meta(annotations={"kubernetes.io/config.mirror": "hash"}))
    objects.pod(admin, namespace, "elsewhere", node=f"{node_name}-other")
    clock = FakeClock()

    result = drain.drain(kube, node_name, deadline=60, clock=clock.monotonic, sleep=clock.sleep)

    assert result.done
    assert sorted(result.evicted) == [f"{namespace}/job-a", f"{namespace}/job-b"]
    assert sorted(result.skipped) == [f"{namespace}/agent-x", f"{namespace}/static"]
    assert sorted(objects.pods_in(admin, namespace)) == ["agent-x", "elsewhere", "static"]
    assert _read(admin, node_name)["spec"]["unschedulable"] is True

    assert nodes.delete_node(kube, node_name) is True
    assert nodes.delete_node(kube, node_name) is False
    with pytest.raises(KubeNotFoundError):
        _read(admin, node_name)


def test_workload_lists_the_pods_a_drain_would_evict_not_daemonset_mirror_or_finished_ones(
    admin: Kube, kube: Kube, namespace: str, node_name: str
) -> None:
    """
    GIVEN a node with a Running FPGA pod, a DaemonSet pod, a mirror pod and a Succeeded pod
    WHEN  the scaler reads its workload again before terminating it (NodeDrainer.workload)
    THEN  only the FPGA pod counts: it keeps the node; without it the node is empty
    """
    objects.node(admin, node_name, provider_id=BURST, allocatable={U250: "1"})
    ds = objects.daemonset(admin, namespace, "agent")
    objects.pod(admin, namespace, "job", node=node_name, limits={U250: "1"})
    objects.running(admin, namespace, "job")
    objects.pod(admin, namespace, "agent-x", node=node_name,
                meta=objects.Meta(owner=objects.owner(ds)))
    objects.pod(admin, namespace, "static", node=node_name,
                meta=objects.Meta(annotations={"kubernetes.io/config.mirror": "hash"}))
    objects.pod(admin, namespace, "done", node=node_name, limits={U250: "1"})
    objects.finished(admin, namespace, "done")
    objects.pod(admin, namespace, "elsewhere", node=f"{node_name}-other", limits={U250: "1"})
    cluster = KubeCluster(kube, objects.BOARDS)

    assert cluster.workload(node_name) == (f"{namespace}/job",)

    admin.call("delete pod", admin.core.delete_namespaced_pod, "job", namespace)
    assert cluster.workload(node_name) == ()


def test_a_pod_marked_not_safe_to_evict_is_held_and_does_not_stop_the_others_eviction(
    admin: Kube, kube: Kube, namespace: str, node_name: str
) -> None:
    """
    GIVEN a node with a pod annotated safe-to-evict "false" and an ordinary pod
    WHEN  it is drained (a termination fpga-burst did not choose: the node goes anyway)
    THEN  the ordinary pod is evicted, the marked one is held and named with why, and the
          drain is done (nothing left to evict) but the node is not empty
    """
    objects.node(admin, node_name, provider_id=BURST)
    objects.pod(admin, namespace, "precious", node=node_name,
                meta=objects.Meta(annotations={SAFE_TO_EVICT: "false"}))
    objects.pod(admin, namespace, "ordinary", node=node_name)

    result = drain.drain(kube, node_name, deadline=60, clock=FakeClock().monotonic)

    assert result.evicted == (f"{namespace}/ordinary",)
    assert result.held == {f"{namespace}/precious": f"annotated {SAFE_TO_EVICT}=false"}
    assert result.done and not result.empty
    assert sorted(objects.pods_in(admin, namespace)) == ["precious"]
    assert _read(admin, node_name)["spec"]["unschedulable"] is True


def _cordon(admin: Kube, name: str) -> tuple[bool, list[str]]:
    spec = _read(admin, name)["spec"]
    # The API server's own not-ready taint aside (no node controller runs here).
    return (bool(spec.get("unschedulable")),
            [t["key"] for t in spec.get("taints") or () if t["key"].startswith("fpga-burst.io/")])


def _owners(admin: Kube, name: str) -> str | None:
    return (_read(admin, name)["metadata"].get("annotations") or {}).get(nodes.CORDONED_BY)


def test_uncordon_leaves_a_cordon_someone_else_made(
    admin: Kube, kube: Kube, node_name: str
) -> None:
    """
    GIVEN a node an operator cordoned (kubectl cordon: spec.unschedulable, nothing else)
    WHEN  fpga-burst taints it for removal and then, the node needed again, takes that back
    THEN  its taint goes but the operator's cordon stays
    """
    objects.node(admin, node_name, provider_id=BURST)
    operator = _read(admin, node_name)
    operator["spec"]["unschedulable"] = True
    admin.call("kubectl cordon", admin.core.replace_node, node_name, operator)

    assert nodes.cordon(kube, node_name, TAINT) is True  # the taint is new
    assert _cordon(admin, node_name) == (True, [TAINT.key])
    assert nodes.uncordon(kube, node_name, TAINT.key) is True

    assert _cordon(admin, node_name) == (True, [])


def test_a_cordon_two_of_fpga_bursts_reasons_hold_is_undone_only_when_both_are_gone(
    admin: Kube, kube: Kube, node_name: str
) -> None:
    """
    GIVEN a schedulable node fpga-burst taints for removal, then an interruption taints too
    WHEN  scale-down takes its taint back (the node is needed again)
    THEN  the interruption's cordon stays; once that reason is given back too, the node is
          schedulable again and no ownership annotation is left
    """
    objects.node(admin, node_name, provider_id=BURST)
    interrupted = Taint("fpga-burst.io/interrupted", "spot-interruption", "NoSchedule")

    assert nodes.cordon(kube, node_name, TAINT) is True
    assert (_cordon(admin, node_name), _owners(admin, node_name)) == (
        (True, [TAINT.key]), TAINT.key)
    assert nodes.cordon(kube, node_name, interrupted) is True
    # The interruption's drain cordons too; that adds no reason of its own to undo.
    assert drain.drain(kube, node_name, deadline=60, clock=FakeClock().monotonic).empty
    assert nodes.uncordon(kube, node_name, TAINT.key) is True
    assert (_cordon(admin, node_name), _owners(admin, node_name)) == (
        (True, [interrupted.key]), interrupted.key)

    assert nodes.uncordon(kube, node_name, interrupted.key) is True
    assert (_cordon(admin, node_name), _owners(admin, node_name)) == ((False, []), None)
    assert nodes.uncordon(kube, node_name, interrupted.key) is False


def _pdb(admin: Kube, namespace: str, app: str) -> None:
    from kubernetes import client as k8s

    body = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": app},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": app}}},
    }
    admin.call("create pdb", k8s.PolicyV1Api(admin.api_client)
               .create_namespaced_pod_disruption_budget, namespace, body)


def _guarded_pod(admin: Kube, namespace: str, node_name: str) -> None:
    """A running pod on a burst node, under a PodDisruptionBudget that allows no disruption."""
    objects.node(admin, node_name, provider_id=BURST)
    objects.pod(admin, namespace, "guarded", node=node_name,
                meta=objects.Meta(labels={"app": "db"}))
    objects.running(admin, namespace, "guarded")
    _pdb(admin, namespace, "db")


def _delete_pdb(admin: Kube, namespace: str, app: str) -> Callable[[float], None]:
    from kubernetes import client as k8s

    def sleep_then_delete(seconds: float) -> None:
        admin.call("delete pdb", k8s.PolicyV1Api(admin.api_client)
                   .delete_namespaced_pod_disruption_budget, app, namespace)

    return sleep_then_delete


def test_a_pdb_refusal_is_retried_with_backoff_and_reported_as_blocked_at_the_deadline(
    admin: Kube, kube: Kube, namespace: str, node_name: str
) -> None:
    """
    GIVEN a pod protected by a PodDisruptionBudget that allows no disruption
    WHEN  the node is drained with a deadline
    THEN  the eviction is retried (429) with growing waits until the deadline, and the
          result says the pod remains, blocked by its budget: no error, no deletion
    """
    _guarded_pod(admin, namespace, node_name)
    clock = FakeClock()

    result = drain.drain(kube, node_name, deadline=30, clock=clock.monotonic, sleep=clock.sleep,
                         backoff=drain.Backoff(initial=1, maximum=8))

    assert not result.done
    assert result.remaining == (f"{namespace}/guarded",)
    assert "disruption budget" in result.blocked[f"{namespace}/guarded"]
    assert clock.sleeps[:4] == [1, 2, 4, 8] and len(clock.sleeps) > 4
    assert "guarded" in objects.pods_in(admin, namespace)


def test_a_drain_blocked_by_a_pdb_finishes_once_the_budget_allows_it(
    admin: Kube, kube: Kube, namespace: str, node_name: str
) -> None:
    _guarded_pod(admin, namespace, node_name)
    clock = FakeClock()

    result = drain.drain(kube, node_name, deadline=30, clock=clock.monotonic,
                         sleep=_delete_pdb(admin, namespace, "db"))

    assert result.done and result.evicted == (f"{namespace}/guarded",)
    assert "guarded" not in objects.pods_in(admin, namespace)


def test_termination_grace_is_honoured_and_drain_continues_on_the_next_call(
    admin: Kube, kube: Kube, namespace: str, node_name: str
) -> None:
    """
    GIVEN a pod with a 30 s termination grace period, on a node whose kubelet is slow
    WHEN  drain runs out of time while the pod is terminating
    THEN  the pod was evicted with its own grace period and is reported remaining;
          once the kubelet has removed it, a second drain call reports the node done
    """
    objects.node(admin, node_name, provider_id=BURST)
    objects.pod(admin, namespace, "slow", node=node_name, grace=30)
    clock = FakeClock()

    first = drain.drain(kube, node_name, deadline=5, clock=clock.monotonic, sleep=clock.sleep)

    assert first.evicted == (f"{namespace}/slow",) and first.remaining == (f"{namespace}/slow",)
    terminating = objects.pods_in(admin, namespace)["slow"]
    assert terminating["metadata"]["deletionGracePeriodSeconds"] == 30
    # What the kubelet does once the container has stopped.
    admin.call("kubelet removes pod", admin.core.delete_namespaced_pod, "slow", namespace,
               grace_period_seconds=0)

    second = drain.drain(kube, node_name, deadline=clock.mono + 5, clock=clock.monotonic,
                         sleep=clock.sleep)

    assert second.done and second.evicted == ()
