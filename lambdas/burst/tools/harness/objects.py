"""Objects in the test control plane, made as an admin would (or a kubelet: node and pod
status)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from burst.adapters.kube.client import Json, Kube

U250 = "xilinx/u250"
F1 = "xilinx/aws-vu9p-f1"
BOARDS = frozenset({U250, F1})


def namespace(admin: Kube, name: str) -> str:
    """A namespace with its default ServiceAccount, which pods need and which no
    controller-manager makes here."""
    admin.call("create namespace", admin.core.create_namespace, {"metadata": {"name": name}})
    admin.call("create sa", admin.core.create_namespaced_service_account, name,
               {"metadata": {"name": "default"}})
    return name


@dataclass(frozen=True)
class Meta:
    """A pod's metadata besides its name."""

    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    owner: Json | None = None  # its one ownerReference (owner())


def pod(
    admin: Kube,
    namespace: str,
    name: str,
    *,
    node: str | None = None,
    limits: dict[str, str] | None = None,
    meta: Meta = Meta(),
    grace: int = 0,
    **spec: Any,
) -> Json:
    body: Json = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "annotations": dict(meta.annotations),
            "labels": dict(meta.labels),
            **({"ownerReferences": [meta.owner]} if meta.owner else {}),
        },
        "spec": {
            "containers": [{
                "name": "main",
                "image": "registry.invalid/fpga-job:1",
                "resources": {"limits": limits or {}},
            }],
            "terminationGracePeriodSeconds": grace,
            "automountServiceAccountToken": False,
            **({"nodeName": node} if node else {}),
            **spec,
        },
    }
    return admin.call("create pod", admin.core.create_namespaced_pod, namespace, body)


# A burst node's providerID: the only kind of Node the fpga-burst identities may update or
# delete (the admission policy in manifests/rbac.yaml).
BURST_PROVIDER_ID = "aws:///us-east-1a/i-0123456789abcdef0"


def node(
    admin: Kube,
    name: str,
    *,
    provider_id: str | None = None,
    allocatable: dict[str, str] | None = None,
    ready: bool = True,
    labels: dict[str, str] | None = None,
    taints: list[Json] | None = None,
) -> Json:
    """A Node as a kubelet registers it, then its status as the kubelet reports it."""
    body: Json = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            **({"providerID": provider_id} if provider_id else {}),
            **({"taints": taints} if taints else {}),
        },
    }
    created = admin.call("create node", admin.core.create_node, body)
    created["status"] = {
        "capacity": allocatable or {},
        "allocatable": allocatable or {},
        "conditions": [{
            "type": "Ready",
            "status": "True" if ready else "False",
            "reason": "KubeletReady" if ready else "KubeletNotReady",
            "lastHeartbeatTime": "2026-01-01T00:00:00Z",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        }],
    }
    return admin.call("update node status", admin.core.replace_node_status, name, created)


def _controller(kind: str, name: str, **spec: Any) -> Json:
    """An apps/v1 controller over pods labelled app=<name>."""
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {
            **spec,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": f"registry.invalid/{name}:1"}]},
            },
        },
    }


def daemonset(admin: Kube, namespace: str, name: str) -> Json:
    return admin.call("create daemonset", _apps(admin).create_namespaced_daemon_set,
                      namespace, _controller("DaemonSet", name))


def replicaset(admin: Kube, namespace: str, name: str) -> Json:
    """A ReplicaSet (as a Deployment makes); no controller runs here, so it makes no pods:
    the test makes them, owned by it."""
    return admin.call("create replicaset", _apps(admin).create_namespaced_replica_set,
                      namespace, _controller("ReplicaSet", name, replicas=1))


def owner(obj: Json) -> Json:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
    }


def _apps(admin: Kube) -> Any:
    from kubernetes import client as k8s

    return k8s.AppsV1Api(admin.api_client)


def pods_in(admin: Kube, namespace: str) -> dict[str, Json]:
    items = admin.call("list pods", admin.core.list_namespaced_pod, namespace)["items"]
    return {p["metadata"]["name"]: p for p in items}


def running(admin: Kube, namespace: str, name: str) -> Json:
    """Report the pod Running and Ready, as its kubelet would. Eviction ignores PDBs for
    pending pods, so a PDB only guards a pod in this state."""
    current = admin.call("read pod", admin.core.read_namespaced_pod, name, namespace)
    current["status"] = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True",
                        "lastTransitionTime": "2026-01-01T00:00:00Z"}],
    }
    return admin.call("update pod status", admin.core.replace_namespaced_pod_status, name,
                      namespace, current)


def finished(admin: Kube, namespace: str, name: str) -> Json:
    """Report the pod Succeeded, as its kubelet would once its containers exit 0."""
    current = admin.call("read pod", admin.core.read_namespaced_pod, name, namespace)
    current["status"] = {"phase": "Succeeded"}
    return admin.call("update pod status", admin.core.replace_namespaced_pod_status, name,
                      namespace, current)
