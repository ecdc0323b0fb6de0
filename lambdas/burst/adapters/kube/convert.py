"""Pods and Nodes as the API server sends them (JSON) into the pure model. No I/O.

Which pods matter to fpga-burst: those that request a board resource (an extended resource
such as `xilinx/u250` or `xilinx/aws-vu9p-f1`, from the set the caller passes), and those
that name the accelerators they run in the annotation

    fpga-burst.io/accelerators: '{"com.inaccel.xgboost.exact": 4}'

a JSON object from accelerator name (as in the catalog) to replicas. A pod using the
annotation need not request boards: the planner finds a board that runs the accelerator.
A malformed annotation is ignored with a warning naming the pod (never its value).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any

from burst.core.model import Node, Pod, Taint, Toleration
from burst.core.quantity import parse_quantity

log = logging.getLogger(__name__)

ACCELERATORS_ANNOTATION = "fpga-burst.io/accelerators"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
_PROVIDER_ID = re.compile(r"aws:///(?P<az>[a-z0-9-]+)/(?P<instance>i-[0-9a-f]+)")

Json = Mapping[str, Any]


def instance_id(provider_id: str | None) -> str | None:
    """The EC2 instance id in `aws:///<az>/<instance-id>`, or None for any other provider."""
    match = _PROVIDER_ID.fullmatch(provider_id or "")
    return match["instance"] if match else None


def accelerators(pod: Json) -> dict[str, int]:
    """The pod's accelerator annotation as {name: replicas}; {} if absent or malformed."""
    meta = pod.get("metadata") or {}
    text = (meta.get("annotations") or {}).get(ACCELERATORS_ANNOTATION)
    if text is None:
        return {}
    try:
        value = json.loads(text)
        valid = isinstance(value, dict) and all(
            isinstance(k, str) and k and type(v) is int and v > 0 for k, v in value.items()
        )
    except ValueError:
        valid = False
    if not valid:
        log.warning(
            "pod %s/%s: ignoring annotation %s: not a JSON object of positive integers",
            meta.get("namespace"), meta.get("name"), ACCELERATORS_ANNOTATION,
        )
        return {}
    return dict(value)


def _quantities(resources: Json | None, boards: Collection[str]) -> dict[str, int]:
    # Extended resources may give only a limit; the API server then sets request = limit.
    resources = resources or {}
    merged = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    return {name: int(parse_quantity(str(q))) for name, q in merged.items() if name in boards}


def board_requests(pod: Json, boards: Collection[str]) -> dict[str, int]:
    """Boards the pod needs: the larger of its containers' sum and any one init container."""
    spec = pod.get("spec") or {}
    total: dict[str, int] = {}
    for container in spec.get("containers") or ():
        for name, count in _quantities(container.get("resources"), boards).items():
            total[name] = total.get(name, 0) + count
    for container in spec.get("initContainers") or ():
        for name, count in _quantities(container.get("resources"), boards).items():
            total[name] = max(total.get(name, 0), count)
    return {name: count for name, count in total.items() if count > 0}


def is_fpga_pod(pod: Json, boards: Collection[str]) -> bool:
    return bool(board_requests(pod, boards)) or bool(accelerators(pod))


def _tolerations(items: Iterable[Json] | None) -> tuple[Toleration, ...]:
    return tuple(
        Toleration(
            key=t.get("key") or "",
            operator=t.get("operator") or "Equal",
            value=t.get("value") or "",
            effect=t.get("effect") or "",
        )
        for t in items or ()
    )


def controller(meta: Json) -> str:
    """Kind of the owner reference marked controller; "" for a bare pod."""
    return next((o.get("kind") or "" for o in meta.get("ownerReferences") or ()
                 if o.get("controller")), "")


def local_volumes(spec: Json) -> tuple[str, ...]:
    """Volumes on the node's own disk, lost with it: hostPath, and emptyDir unless in memory
    (Cluster Autoscaler's isLocalVolume, utils/drain/drain.go)."""
    return tuple(
        v.get("name") or "" for v in spec.get("volumes") or ()
        if v.get("hostPath") is not None
        or (v.get("emptyDir") is not None and (v.get("emptyDir") or {}).get("medium") != "Memory")
    )


def pod(obj: Json, boards: Collection[str], budgeted: bool = False) -> Pod:
    """`budgeted`: a PodDisruptionBudget selects it (the caller knows, see observe)."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    owners = meta.get("ownerReferences") or ()
    annotations = dict(meta.get("annotations") or {})
    return Pod(
        name=f"{meta.get('namespace')}/{meta.get('name')}",
        node=spec.get("nodeName") or None,
        requests=board_requests(obj, boards),
        accelerators=accelerators(obj),
        node_selector=dict(spec.get("nodeSelector") or {}),
        tolerations=_tolerations(spec.get("tolerations")),
        annotations=annotations,
        daemonset=any(o.get("kind") == "DaemonSet" and o.get("controller") for o in owners),
        mirror=MIRROR_ANNOTATION in annotations,
        controller=controller(meta),
        local_volumes=local_volumes(spec),
        disruption_budget=budgeted,
        uid=meta.get("uid") or "",
        created=_timestamp(meta.get("creationTimestamp")),
        started=_timestamp((obj.get("status") or {}).get("startTime")),
    )


class Shapes:
    """One copy of each distinct demand, selector and toleration list among the pods of a
    listing: thousands of pending pods share a handful of shapes, and each pod then holds
    references, not its own dicts (the memory of a 30,000-pod list)."""

    def __init__(self) -> None:
        self.seen: dict[object, Any] = {}

    def share(self, value: Any) -> Any:
        key = (type(value), tuple(value.items())) if isinstance(value, dict) else value
        return self.seen.setdefault(key, value)


def pending_pod(obj: Json, boards: Collection[str], shapes: Shapes) -> Pod | None:
    """A pending pod as the planner needs it, or None if it needs no boards: no annotations
    (scale-down reads those on bound pods only), its dicts shared through `shapes`."""
    requests = board_requests(obj, boards)
    wanted = accelerators(obj)
    if not requests and not wanted:
        return None
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    return Pod(
        name=f"{meta.get('namespace')}/{meta.get('name')}",
        requests=shapes.share(requests),
        accelerators=shapes.share(wanted),
        node_selector=shapes.share(dict(spec.get("nodeSelector") or {})),
        tolerations=shapes.share(_tolerations(spec.get("tolerations"))),
        uid=meta.get("uid") or "",
        created=_timestamp(meta.get("creationTimestamp")),
    )


def _ready(status: Json) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )


def _timestamp(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def node(obj: Json, boards: Collection[str], instance_groups: Mapping[str, str]) -> Node:
    """`instance_groups` maps instance id -> node group, as the AWS side discovered them."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    instance = instance_id(spec.get("providerID"))
    return Node(
        name=meta.get("name") or "",
        node_group=instance_groups.get(instance) if instance else None,
        ready=_ready(status),
        unschedulable=bool(spec.get("unschedulable")),
        labels=dict(meta.get("labels") or {}),
        taints=tuple(
            Taint(key=t.get("key") or "", value=t.get("value") or "", effect=t.get("effect") or "")
            for t in spec.get("taints") or ()
        ),
        allocatable={
            name: int(parse_quantity(str(q)))
            for name, q in (status.get("allocatable") or {}).items()
            if name in boards
        },
        instance_id=instance,
        annotations=dict(meta.get("annotations") or {}),
        created=_timestamp(meta.get("creationTimestamp")),
    )


def is_fpga_node(obj: Json, boards: Collection[str], instance_groups: Mapping[str, str]) -> bool:
    """Managed by us (its instance is in a node group), or it has (or will have) boards."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    if instance_id(spec.get("providerID")) in instance_groups:
        return True
    advertised = {**(status.get("capacity") or {}), **(status.get("allocatable") or {})}
    return any(name in boards for name in advertised)
