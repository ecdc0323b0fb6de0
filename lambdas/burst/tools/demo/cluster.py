"""The on-prem side of the demo, written as an admin (or a kubelet) would: nodes and jobs.

Nodes have no kubelet here: the demo registers them and reports their status. Pods are
bound by the real kube-scheduler.

How the jobs ask for boards. kube-scheduler knows nothing of accelerators: it binds a pod
to a node only if the node advertises every extended resource the pod requests, and a pod
that requests none could land on any FPGA node, busy or not. So each job requests the
board resource it runs on, as the InAccel operator translated "4 x
com.inaccel.xgboost.exact" in the seed tutorial: 1 x xilinx/u250 (4 replicas per board)
for the job the idle on-prem U250 takes, 2 x xilinx/aws-vu9p-f1 (2 replicas per board) for
the one that must burst. The jobs also carry the accelerator annotation (what the user
asked for); the planner plans on the request when a pod has one (fit.alternatives), so
kube-scheduler and the planner agree on every pod: the planner's "fits on onprem-1" is
where kube-scheduler binds, and its scale-up is a node kube-scheduler will use once the
boards are advertised, not before (the late device plugin window).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from burst.adapters.kube.client import Json, Kube
from burst.adapters.kube.convert import ACCELERATORS_ANNOTATION
from burst.core.errors import KubeConflictError, KubeNotFoundError
from burst.core.scaledown.unneeded import rfc3339

NAMESPACE = "default"
JOB_LABEL = "fpga-burst.io/demo-job"
NOT_READY = "node.kubernetes.io/not-ready"
# What a kubelet reports besides the boards: kube-scheduler needs pod slots, cpu, memory.
BASE_ALLOCATABLE = {"cpu": "16", "memory": "64Gi", "pods": "110"}
_CONDITION_TIME = "2026-01-01T00:00:00Z"


@dataclass(frozen=True)
class Job:
    name: str
    accelerators: Mapping[str, int]
    board: str  # the board resource it requests (see the module docstring)
    boards: int
    node_selector: Mapping[str, str]
    seconds: float  # how long it runs once bound


def prepare(admin: Kube) -> None:
    """The default ServiceAccount the admission plugin needs: no controller-manager runs."""
    with contextlib.suppress(KubeConflictError):
        admin.call("create serviceaccount", admin.core.create_namespaced_service_account,
                   NAMESPACE, {"metadata": {"name": "default"}})


def register_node(admin: Kube, name: str, labels: Mapping[str, str],
                  boards: Mapping[str, int], provider_id: str | None = None,
                  taints: Sequence[Json] = (), base: Mapping[str, str] = BASE_ALLOCATABLE) -> None:
    """Create the Node and report it Ready with `boards`, as kubelet and device plugin would;
    `taints` as kubelet's --register-with-taints would set them; `base`: its cpu, memory
    and pods."""
    spec: Json = {"taints": [dict(t) for t in taints]} if taints else {}
    if provider_id:
        spec["providerID"] = provider_id
    body: Json = {"apiVersion": "v1", "kind": "Node",
                  "metadata": {"name": name, "labels": dict(labels)}, "spec": spec}
    created = admin.call("create node", admin.core.create_node, body)
    created["status"] = _status(boards, base)
    reported = admin.call("report node status", admin.core.replace_node_status, name, created)
    # The API server's TaintNodesByCondition admission taints every new Node not-ready; the
    # node lifecycle controller lifts it once the kubelet reports Ready. No controller-manager
    # runs here, so the demo does its part.
    spec = reported.get("spec") or {}
    spec["taints"] = [t for t in spec.get("taints") or () if t.get("key") != NOT_READY]
    reported["spec"] = spec
    admin.call("lift not-ready taint", admin.core.replace_node, name, reported)


def advertise(admin: Kube, name: str, boards: Mapping[str, int],
              startup_taint: str | None = None) -> bool:
    """The device plugin's part: add `boards` to the node's capacity, then lift
    `startup_taint` (the key a node's set-up removes once it is done). False if the node
    is gone."""
    try:
        node = admin.call("read node", admin.core.read_node, name)
        node["status"] = _status(boards)
        node = admin.call("report node status", admin.core.replace_node_status, name, node)
        taints = (node.get("spec") or {}).get("taints") or []
        kept = [t for t in taints if t.get("key") != startup_taint]
        if len(kept) != len(taints):
            node["spec"]["taints"] = kept
            admin.call("lift startup taint", admin.core.replace_node, name, node)
    except KubeNotFoundError:
        return False
    return True


def _status(boards: Mapping[str, int], base: Mapping[str, str] = BASE_ALLOCATABLE) -> Json:
    resources = {**base, **{b: str(n) for b, n in boards.items()}}
    return {
        "capacity": resources,
        "allocatable": resources,
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "lastHeartbeatTime": _CONDITION_TIME,
                        "lastTransitionTime": _CONDITION_TIME}],
    }


def submit(admin: Kube, job: Job) -> None:
    body: Json = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": job.name, "labels": {JOB_LABEL: job.name},
            "annotations": {ACCELERATORS_ANNOTATION: json.dumps(dict(job.accelerators))},
        },
        "spec": {
            "containers": [{
                "name": "xgboost", "image": "registry.invalid/inaccel/xgboost:demo",
                "resources": {"limits": {job.board: str(job.boards)}},
            }],
            "nodeSelector": dict(job.node_selector),
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": False,
        },
    }
    admin.call("create pod", admin.core.create_namespaced_pod, NAMESPACE, body)


def jobs(admin: Kube) -> list[Json]:
    listed: dict[str, Any] = admin.call(
        "list jobs", admin.core.list_namespaced_pod, NAMESPACE, label_selector=JOB_LABEL)
    return list(listed.get("items") or ())


def set_phase(admin: Kube, pod: Json, phase: str) -> None:
    """Report the pod's phase as its kubelet would (Running: Ready; Succeeded: done). The
    other status fields (a pod IP, say) are kept, as a kubelet keeps them; `startTime`, when
    the kubelet took the pod, is set the first time."""
    ready = "True" if phase == "Running" else "False"
    status = pod.get("status") or {}
    pod["status"] = {
        **status,
        "startTime": status.get("startTime") or rfc3339(datetime.now(UTC)),
        "phase": phase,
        "conditions": [{"type": "PodScheduled", "status": "True",
                        "lastTransitionTime": _CONDITION_TIME},
                       {"type": "Ready", "status": ready,
                        "lastTransitionTime": _CONDITION_TIME}],
    }
    meta = pod["metadata"]
    admin.call("report pod status", admin.core.replace_namespaced_pod_status,
               meta["name"], meta["namespace"], pod)


def fpga_nodes(admin: Kube) -> list[Json]:
    listed: dict[str, Any] = admin.call("list nodes", admin.core.list_node)
    return list(listed.get("items") or ())
