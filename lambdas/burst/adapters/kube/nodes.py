"""Writing Nodes: cordon, taint, annotate, delete.

Changes are read-modify-write with the resourceVersion that was read (a replace, not a
patch), so a concurrent writer (the kubelet updating its status, an operator with kubectl)
is never overwritten: the API server answers 409 and the change is re-applied to a fresh
copy, up to CONFLICT_RETRIES times. Every function is idempotent and says whether it
changed anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from burst.adapters.kube.client import Json, Kube
from burst.core.errors import KubeConflictError, KubeNotFoundError
from burst.core.model import Taint

log = logging.getLogger(__name__)

CONFLICT_RETRIES = 5


def update_node(kube: Kube, name: str, change: Callable[[Json], bool]) -> bool:
    """Apply `change` (which edits the node JSON in place, False: nothing to do) and write.

    Returns whether the node was written. Raises KubeNotFoundError if the node is gone,
    KubeConflictError if CONFLICT_RETRIES writes all lost the race, or the transient errors.
    """
    for attempt in range(1, CONFLICT_RETRIES + 1):
        node = kube.call(f"read node {name}", kube.core.read_node, name)
        if not change(node):
            return False
        try:
            kube.call(f"update node {name}", kube.core.replace_node, name, node)
        except KubeConflictError:
            log.info("node %s changed while we wrote it (attempt %d); retrying", name, attempt)
            continue
        return True
    raise KubeConflictError(
        f"update node {name}", 409, "Conflict", f"still conflicting after {CONFLICT_RETRIES} tries"
    )


# Who holds a cordon fpga-burst made: the keys of the taints it cordoned with (DRAINING for
# a bare drain), comma-separated. Set in the same write as the cordon; absent when the node
# was unschedulable already (an operator's `kubectl cordon`, another controller's), so that
# cordon is never undone here. Kubernetes keeps no owner for spec.unschedulable itself.
CORDONED_BY = "fpga-burst.io/cordoned-by"
DRAINING = "drain"


def _owners(node: Json) -> set[str]:
    text = ((node.get("metadata") or {}).get("annotations") or {}).get(CORDONED_BY) or ""
    return {k for k in text.split(",") if k}


def _set_owners(node: Json, owners: set[str]) -> None:
    meta = node.setdefault("metadata", {})
    annotations = meta.get("annotations") or {}
    if owners:
        annotations[CORDONED_BY] = ",".join(sorted(owners))
    else:
        annotations.pop(CORDONED_BY, None)
    meta["annotations"] = annotations


def _cordon_with(taint: Taint | None) -> Callable[[Json], bool]:
    def change(node: Json) -> bool:
        spec = node.setdefault("spec", {})
        owners = _owners(node)
        changed = False
        # Ours if we make it, or if we hold it already for another reason; not otherwise. A
        # bare drain of a cordoned node adds no reason: the cordon's maker decides its end.
        if not spec.get("unschedulable") or (owners and taint is not None):
            key = taint.key if taint is not None else DRAINING
            changed = not spec.get("unschedulable") or key not in owners
            spec["unschedulable"] = True
            _set_owners(node, owners | {key})
        if taint is not None:
            taints = spec.setdefault("taints", [])
            if not any(t.get("key") == taint.key and t.get("effect") == taint.effect
                       for t in taints):
                entry = {"key": taint.key, "effect": taint.effect}
                if taint.value:
                    entry["value"] = taint.value
                taints.append(entry)
                changed = True
        return changed

    return change


def cordon(kube: Kube, name: str, taint: Taint | None = None) -> bool:
    """Mark the node unschedulable and, if given, add `taint`. No-op if already so. The
    cordon is recorded as fpga-burst's (CORDONED_BY) only if the node was schedulable."""
    changed = update_node(kube, name, _cordon_with(taint))
    if changed:
        log.info("cordoned node %s%s", name, f" with taint {taint}" if taint else "")
    return changed


def uncordon(kube: Kube, name: str, taint_key: str | None = None) -> bool:
    """Undo cordon(): remove taints keyed `taint_key`, and make the node schedulable again
    if fpga-burst cordoned it and no other reason of its own still holds the cordon. A
    cordon someone else made stays. `taint_key` None: every reason of fpga-burst's."""

    def change(node: Json) -> bool:
        spec = node.setdefault("spec", {})
        taints = spec.get("taints") or []
        kept = [t for t in taints if taint_key is None or t.get("key") != taint_key]
        owners = _owners(node)
        left = {k for k in owners if taint_key is not None and k != taint_key}
        if len(kept) == len(taints) and left == owners:
            return False
        spec["taints"] = kept
        if owners and not left:
            spec["unschedulable"] = False
        _set_owners(node, left)
        return True

    changed = update_node(kube, name, change)
    if changed:
        log.info("uncordoned node %s", name)
    return changed


def annotate(kube: Kube, name: str, changes: Mapping[str, str | None]) -> bool:
    """Set annotations (None removes one). No-op if they already read so."""

    def change(node: Json) -> bool:
        annotations = node.setdefault("metadata", {}).setdefault("annotations", {}) or {}
        before = dict(annotations)
        for key, value in changes.items():
            if value is None:
                annotations.pop(key, None)
            else:
                annotations[key] = value
        node["metadata"]["annotations"] = annotations
        return annotations != before

    return update_node(kube, name, change)


def delete_node(kube: Kube, name: str, uid: str | None = None) -> bool:
    """Delete the Node object; False if it was already gone.

    With `uid`, only that incarnation: a node re-registered under the same name is kept.
    """
    body = {"preconditions": {"uid": uid}} if uid else None
    try:
        kube.call(f"delete node {name}", kube.core.delete_node, name, body=body)
    except KubeNotFoundError:
        return False
    log.info("deleted node %s", name)
    return True
