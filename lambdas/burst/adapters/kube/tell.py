"""Telling people: Events on pods and the status ConfigMap, both readable with kubectl.

Events are core/v1 Events (what `kubectl describe pod` and `describe node` list), from
component `fpga-burst`, with reasons as Cluster Autoscaler uses them. The same
reason and message on the same pod is one Event whose count and lastTimestamp go up, not a
new Event per tick: the Event's name is derived from (pod UID, reason, message).

The status lives in ConfigMap kube-system/fpga-burst-status, its data made by
burst.loop.status.status_data:

    kubectl -n kube-system get configmap fpga-burst-status -o jsonpath='{.data.status\\.yaml}'
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from burst.adapters.kube.client import Json, Kube
from burst.core.errors import KubeConflictError, KubeNotFoundError
from burst.core.model import Pod

log = logging.getLogger(__name__)

COMPONENT = "fpga-burst"
STATUS_NAMESPACE = "kube-system"
STATUS_NAME = "fpga-burst-status"
MESSAGE_LIMIT = 1024  # the API server's cap on an Event message
NODE_EVENT_NAMESPACE = "default"  # where kubectl looks for a cluster-scoped object's Events
RETRIES = 3


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_name(pod: Pod, reason: str, message: str) -> str:
    return _event_name(pod.name.split("/", 1)[1], pod.uid, reason, message)


def _event_name(name: str, uid: str, reason: str, message: str) -> str:
    digest = hashlib.sha256(f"{uid}\0{reason}\0{message}".encode()).hexdigest()[:12]
    return f"{name[:200]}.{COMPONENT}.{digest}"


def record_pod_event(
    kube: Kube, pod: Pod, reason: str, message: str, now: datetime, kind: str = "Normal"
) -> int:
    """Record `reason: message` on `pod`; returns the Event's count (1: a new Event).

    Idempotent per tick only in the sense that counts add up, as kubectl shows them.
    Raises KubeNotFoundError if the namespace is gone, and the transient errors.
    """
    namespace, name = pod.name.split("/", 1)
    involved: Json = {"apiVersion": "v1", "kind": "Pod", "namespace": namespace, "name": name,
                      **({"uid": pod.uid} if pod.uid else {})}
    event_id = event_name(pod, reason, message[:MESSAGE_LIMIT])
    return _record(kube, _event(involved, namespace, event_id, reason, message, now, kind), now)


def record_node_event(
    kube: Kube, node: str, reason: str, message: str, now: datetime, kind: str = "Normal"
) -> int:
    """Record `reason: message` on Node `node` (what `kubectl describe node` lists: Events of
    cluster-scoped objects live in the default namespace); returns the Event's count."""
    involved: Json = {"apiVersion": "v1", "kind": "Node", "name": node}
    name = _event_name(node, node, reason, message[:MESSAGE_LIMIT])
    event = _event(involved, NODE_EVENT_NAMESPACE, name, reason, message, now, kind)
    return _record(kube, event, now)


def record_status_event(
    kube: Kube, reason: str, message: str, now: datetime, kind: str = "Normal"
) -> int:
    """Record `reason: message` on the status ConfigMap, in its namespace; returns the
    Event's count. For what has no Node or pod to carry it (an instance given back before
    its Node joined)."""
    involved: Json = {"apiVersion": "v1", "kind": "ConfigMap", "namespace": STATUS_NAMESPACE,
                      "name": STATUS_NAME}
    name = _event_name(STATUS_NAME, STATUS_NAME, reason, message[:MESSAGE_LIMIT])
    event = _event(involved, STATUS_NAMESPACE, name, reason, message, now, kind)
    return _record(kube, event, now)


def _event(
    involved: Json, namespace: str, event_id: str, reason: str, message: str, now: datetime,
    kind: str,
) -> Json:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": event_id, "namespace": namespace},
        "involvedObject": involved,
        "reason": reason,
        "message": message[:MESSAGE_LIMIT],
        "type": kind,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": COMPONENT,
        "firstTimestamp": _time(now),
        "lastTimestamp": _time(now),
        "count": 1,
    }


def _record(kube: Kube, event: Json, now: datetime) -> int:
    involved, namespace = event["involvedObject"], event["metadata"]["namespace"]
    event_id = event["metadata"]["name"]
    what = f"{involved['kind'].lower()} {involved['name']}"
    for _ in range(RETRIES):
        try:
            kube.call(f"create event on {what}", kube.core.create_namespaced_event,
                      namespace, event)
            return 1
        except KubeConflictError:
            pass  # it exists: count it again, below
        try:
            return _bump(kube, namespace, event_id, now)
        except (KubeConflictError, KubeNotFoundError):
            continue  # raced with another writer or with expiry: start over
    raise KubeConflictError(
        f"record event on {what}", 409, "Conflict", f"still racing after {RETRIES} tries"
    )


def _bump(kube: Kube, namespace: str, name: str, now: datetime) -> int:
    current = kube.call(f"read event {namespace}/{name}", kube.core.read_namespaced_event,
                        name, namespace)
    count = int(current.get("count") or 1) + 1
    patch = {
        # resourceVersion in a merge patch is a precondition: no lost increments.
        "metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
        "count": count,
        "lastTimestamp": _time(now),
    }
    kube.call(f"patch event {namespace}/{name}", kube.core.patch_namespaced_event, name,
              namespace, patch, _content_type="application/merge-patch+json")
    return count


def read_status(kube: Kube) -> Mapping[str, str]:
    """kube-system/fpga-burst-status's data; empty if it does not exist yet."""
    try:
        current = kube.call(f"read configmap {STATUS_NAMESPACE}/{STATUS_NAME}",
                            kube.core.read_namespaced_config_map, STATUS_NAME, STATUS_NAMESPACE)
    except KubeNotFoundError:
        return {}
    return {str(k): str(v) for k, v in (current.get("data") or {}).items()}


def write_status(kube: Kube, data: Mapping[str, str]) -> None:
    """Create or replace kube-system/fpga-burst-status with `data`. Idempotent."""
    operation = f"write configmap {STATUS_NAMESPACE}/{STATUS_NAME}"
    for _ in range(RETRIES):
        try:
            current = kube.call(operation, kube.core.read_namespaced_config_map,
                                STATUS_NAME, STATUS_NAMESPACE)
        except KubeNotFoundError:
            current = None
        try:
            _write(kube, current, dict(data))
            return
        except KubeConflictError:
            log.info("%s: raced with another writer; retrying", operation)
    raise KubeConflictError(operation, 409, "Conflict", f"still racing after {RETRIES} tries")


def _write(kube: Kube, current: Json | None, data: dict[str, str]) -> None:
    operation = f"write configmap {STATUS_NAMESPACE}/{STATUS_NAME}"
    if current is None:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": STATUS_NAME, "namespace": STATUS_NAMESPACE,
                "labels": {"app.kubernetes.io/managed-by": COMPONENT},
            },
            "data": data,
        }
        kube.call(operation, kube.core.create_namespaced_config_map, STATUS_NAMESPACE, body)
        return
    current["data"] = data
    kube.call(operation, kube.core.replace_namespaced_config_map, STATUS_NAME,
              STATUS_NAMESPACE, current)
