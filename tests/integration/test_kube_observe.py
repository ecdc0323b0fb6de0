"""observe: what the controller reads from a real API server, as its restricted identity."""

from __future__ import annotations

import contextlib
import json

from burst.adapters.kube import observe
from burst.adapters.kube.adapter import KubeCluster
from burst.adapters.kube.client import Kube
from burst.core.errors import KubeNotFoundError
from burst.core.model import Pod, Taint, Toleration
from burst.ports.cluster import BootstrapTokens, ClusterReader, NodeDrainer, NodeWriter, Teller
from burst.tools.harness import objects
from burst.tools.harness.objects import BOARDS, F1, U250


def _ours(pods: tuple[Pod, ...], namespace: str) -> dict[str, Pod]:
    return {p.name.split("/")[1]: p for p in pods if p.name.startswith(f"{namespace}/")}


def test_pending_pods_are_the_unbound_ones_that_request_boards_or_name_accelerators(
    admin: Kube, kube: Kube, namespace: str, node_name: str
) -> None:
    """
    GIVEN pods that request boards (limits only), name accelerators in the annotation,
          need no FPGA at all, or are already bound to a node
    WHEN  the controller lists pending pods
    THEN  it gets exactly the unbound FPGA pods, with their boards, accelerators,
          node selector, tolerations, UID and creation time
    """
    boards = objects.pod(
        admin, namespace, "boards", limits={U250: "2"},
        nodeSelector={"fpga": "u250"},
        tolerations=[{"key": "fpga", "operator": "Exists", "effect": "NoSchedule"}],
    )
    objects.pod(admin, namespace, "accel", meta=objects.Meta(
        annotations={"fpga-burst.io/accelerators": json.dumps({"xgboost": 4})}))
    objects.pod(admin, namespace, "plain", limits={"cpu": "1"})
    objects.pod(admin, namespace, "bound", limits={U250: "1"}, node=node_name)
    objects.pod(admin, namespace, "badnote",
                meta=objects.Meta(annotations={"fpga-burst.io/accelerators": "4"}))

    pending = _ours(observe.pending_pods(kube, BOARDS), namespace)

    assert set(pending) == {"boards", "accel"}
    assert pending["boards"].requests == {U250: 2}
    assert pending["boards"].node_selector == {"fpga": "u250"}
    # The API server's DefaultTolerationSeconds admission adds not-ready/unreachable ones.
    assert Toleration("fpga", "Exists", "", "NoSchedule") in pending["boards"].tolerations
    assert pending["boards"].uid == boards["metadata"]["uid"]
    assert pending["boards"].pending
    # The creation time: what adaptive scale-down learns arrivals from.
    created = pending["boards"].created
    assert created is not None
    assert created.isoformat().replace("+00:00", "Z") == boards["metadata"]["creationTimestamp"]
    assert pending["accel"].accelerators == {"xgboost": 4}
    assert pending["accel"].requests == {}


def test_pending_pods_come_back_complete_when_listed_in_pages_smaller_than_the_answer(
    admin: Kube, kube: Kube, namespace: str
) -> None:
    for i in range(7):
        objects.pod(admin, namespace, f"p{i}", limits={F1: "1"})

    pending = _ours(observe.pending_pods(kube, BOARDS, page_size=2), namespace)

    assert sorted(pending) == [f"p{i}" for i in range(7)]
    assert all(p.requests == {F1: 1} for p in pending.values())


def test_fpga_nodes_are_ours_by_provider_id_or_anyone_advertising_boards(
    admin: Kube, kube: Kube, node_name: str, admin_nodes: list[str]
) -> None:
    """
    GIVEN a burst node (providerID aws:///<az>/<id>, in a node group), an on-prem node
          with U250 boards, and a node with neither
    WHEN  the controller lists FPGA nodes
    THEN  it gets the first two, with instance id, node group, Ready, taints, boards
    """
    burst, onprem, other = (f"{node_name}-burst", f"{node_name}-onprem", f"{node_name}-other")
    admin_nodes += [burst, onprem, other]
    objects.node(
        admin, burst, provider_id="aws:///us-east-1a/i-0123456789abcdef0",
        allocatable={F1: "1", "cpu": "8"}, labels={"fpga": "f1"},
        taints=[{"key": "fpga-burst.io/burst", "value": "true", "effect": "NoSchedule"}],
    )
    objects.node(admin, onprem, allocatable={U250: "2"}, ready=False)
    objects.node(admin, other, allocatable={"cpu": "4"})

    nodes = {
        n.name: n
        for n in observe.fpga_nodes(kube, BOARDS, {"i-0123456789abcdef0": "f1-group"})
    }

    assert burst in nodes and onprem in nodes and other not in nodes
    b = nodes[burst]
    assert (b.instance_id, b.node_group, b.ready, b.unschedulable) == (
        "i-0123456789abcdef0", "f1-group", True, False)
    assert b.allocatable == {F1: 1}
    # TaintNodesByCondition admission adds not-ready at registration; no controller lifts it.
    assert Taint("fpga-burst.io/burst", "true", "NoSchedule") in b.taints
    assert b.labels["fpga"] == "f1"
    assert b.created is not None
    o = nodes[onprem]
    assert (o.instance_id, o.node_group, o.ready, o.allocatable) == (None, None, False, {U250: 2})


def test_pods_per_node_include_every_unfinished_pod_bound_to_it_and_nothing_else(
    admin: Kube, kube: Kube, namespace: str, node_name: str
) -> None:
    objects.pod(admin, namespace, "a", node=node_name, limits={U250: "1"})
    objects.pod(admin, namespace, "b", node=node_name)
    objects.pod(admin, namespace, "elsewhere", node=f"{node_name}-x")
    objects.pod(admin, namespace, "pending", limits={U250: "1"})

    on_node = observe.pods_on_node(kube, node_name, BOARDS)
    by_node = observe.bound_pods(kube, [node_name], BOARDS)

    assert sorted(p.name for p in on_node) == [f"{namespace}/a", f"{namespace}/b"]
    assert sorted(p.name for p in by_node[node_name]) == [f"{namespace}/a", f"{namespace}/b"]
    assert {p.name: p.requests for p in on_node}[f"{namespace}/a"] == {U250: 1}
    assert all(p.node == node_name for p in on_node)


def test_observe_through_the_port_gives_nodes_pending_pods_and_pods_bound_to_fpga_nodes(
    admin: Kube, kube: Kube, namespace: str, node_name: str
) -> None:
    objects.node(admin, node_name, provider_id="aws:///us-east-1a/i-0fedcba9876543210",
                 allocatable={F1: "1"})
    objects.pod(admin, namespace, "waiting", limits={F1: "1"})
    objects.pod(admin, namespace, "running", limits={F1: "1"}, node=node_name)
    objects.pod(admin, namespace, "on-some-cpu-node", node=f"{node_name}-cpu")
    cluster = KubeCluster(kube, BOARDS)
    reader: ClusterReader = cluster
    # the same class serves every cluster port (mypy checks these annotations)
    writers: tuple[NodeWriter, NodeDrainer, Teller, BootstrapTokens] = (cluster,) * 4
    assert all(w is cluster for w in writers)

    view = reader.observe({"i-0fedcba9876543210": "f1"})

    ours = {p.name.split("/")[1]: p for p in view.pods if p.name.startswith(f"{namespace}/")}
    assert set(ours) == {"waiting", "running"}
    assert ours["running"].node == node_name and ours["waiting"].pending
    assert {n.name: n.node_group for n in view.nodes}[node_name] == "f1"
    assert view.pending_version


def test_waiting_for_pending_pods_wakes_for_a_new_fpga_pod_and_not_for_other_pods(
    admin: Kube, kube: Kube, namespace: str
) -> None:
    """
    GIVEN the controller has observed the cluster
    WHEN  a pod without FPGA needs is created, and then (in a second case) an FPGA pod
    THEN  the watch from the observed version times out for the first, wakes for the second
    """
    cluster = KubeCluster(kube, BOARDS)
    since = cluster.observe({}).pending_version
    objects.pod(admin, namespace, "cpu-only", limits={"cpu": "1"})

    assert cluster.wait_for_pending(since, timeout=1) is False

    objects.pod(admin, namespace, "fpga", limits={U250: "1"})
    assert cluster.wait_for_pending(since, timeout=30) is True


def test_bound_pods_carry_what_drainability_weighs_budgets_read_only_in_kube_system(
    admin: Kube, kube: Kube, namespace: str, node_name: str
) -> None:
    """
    GIVEN on a burst node: a bare pod a budget of its namespace covers, a bare pod with an
          emptyDir, and two ReplicaSet-owned kube-system pods, one of them covered by a
          kube-system PodDisruptionBudget
    WHEN  the controller observes (its own identity: the budget list is granted to it)
    THEN  each pod carries its controller kind, local volumes and whether a budget covers
          it (asked for kube-system pods only)
    """
    objects.node(admin, node_name, allocatable={U250: "1"})
    web = objects.pod(admin, namespace, "web", node=node_name,
                      meta=objects.Meta(labels={"app": "web"}))
    objects.pod(admin, namespace, "bare", node=node_name,
                volumes=[{"name": "scratch", "emptyDir": {}}],
                meta=objects.Meta(labels={"app": "web"}))
    admin.call("create pdb", admin.policy.create_namespaced_pod_disruption_budget, namespace,
               {"metadata": {"name": "web"},
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}})
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1",
          "uid": web["metadata"]["uid"], "controller": True}  # any uid: no GC runs here
    system = [f"{node_name}-dns", f"{node_name}-metrics"]
    admin.call("create pdb", admin.policy.create_namespaced_pod_disruption_budget,
               "kube-system", {"metadata": {"name": system[0]}, "spec": {
                   "minAvailable": 1, "selector": {"matchExpressions": [
                       {"key": "app", "operator": "In", "values": [system[0]]}]}}})
    try:
        for name in system:
            # No controller made kube-system's default ServiceAccount here; fpga-burst-scaler is.
            objects.pod(admin, "kube-system", name, node=node_name,
                        serviceAccountName="fpga-burst-scaler",
                        meta=objects.Meta(labels={"app": name}, owner=rs))
        pods = {p.name: p for p in observe.bound_pods(kube, [node_name], BOARDS)[node_name]}
    finally:
        for name in system:
            with contextlib.suppress(KubeNotFoundError):
                admin.call("delete pod", admin.core.delete_namespaced_pod, name, "kube-system")
        admin.call("delete pdb", admin.policy.delete_namespaced_pod_disruption_budget,
                   system[0], "kube-system")

    assert (pods[f"{namespace}/web"].controller, pods[f"{namespace}/web"].local_volumes) == (
        "", ())
    assert pods[f"{namespace}/bare"].local_volumes == ("scratch",)
    # A budget outside kube-system is not read: no drainability rule asks for it.
    assert not pods[f"{namespace}/web"].disruption_budget
    assert pods[f"kube-system/{system[0]}"].disruption_budget
    assert pods[f"kube-system/{system[0]}"].controller == "ReplicaSet"
    assert not pods[f"kube-system/{system[1]}"].disruption_budget
