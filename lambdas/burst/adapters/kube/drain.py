"""Draining a node through the Eviction API, so PodDisruptionBudgets are respected.

drain() cordons the node, asks the API server to evict every pod on it except DaemonSet and
mirror (static) pods and those burst.core.scaledown.drainable.held keeps (annotated
`cluster-autoscaler.kubernetes.io/safe-to-evict: "false"`), and waits until the evicted
ones are gone, within a deadline. A held pod does not stop the others' eviction: the result
names it, and the caller decides what becomes of the node. It returns what it got done
instead of raising "not finished": a Lambda close to its own deadline stops, and the next
invocation calls drain() again, which picks up where this one left off.

- A PDB refusal (429) is retried with exponential backoff until the deadline.
- No grace period is sent, so each pod's own terminationGracePeriodSeconds is honoured.
- Evictions carry the pod's UID as a precondition: a replacement with the same name
  (StatefulSet) is never evicted by mistake, and a pod counts as gone once its UID is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from burst.adapters.kube import convert, nodes
from burst.adapters.kube.client import Json, Kube
from burst.adapters.kube.observe import list_all
from burst.core.errors import KubeConflictError, KubeNotFoundError, KubeThrottledError
from burst.core.scaledown import drainable
from burst.ports.cluster import DrainResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Seconds between rounds of evictions while pods remain: doubled up to `maximum`."""

    initial: float = 1.0
    maximum: float = 10.0


def _name(pod: Json) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def _skipped(pod: Json) -> bool:
    return drainable.skipped(convert.pod(pod, ()))


def _held(pod: Json) -> str | None:
    return drainable.held(convert.pod(pod, ()))


def _pods(kube: Kube, node: str) -> list[Json]:
    return list_all(
        kube, f"list pods on node {node}", kube.core.list_pod_for_all_namespaces,
        field_selector=f"spec.nodeName={node},status.phase!=Succeeded,status.phase!=Failed",
    )


def workload(kube: Kube, node: str) -> tuple[str, ...]:
    """The pods on `node` a drain would not skip: running or about to, DaemonSet and mirror
    pods aside (held ones included: they are on it too)."""
    return tuple(_name(p) for p in _pods(kube, node) if not _skipped(p))


_GONE = ""  # _evict's answer when the pod we listed no longer exists


def _evict(kube: Kube, pod: Json) -> str | None:
    """None if the eviction was accepted, _GONE if the pod is gone, else why it was refused."""
    meta = pod["metadata"]
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
        "deleteOptions": {"preconditions": {"uid": meta["uid"]}},
    }
    try:
        kube.call(
            f"evict pod {_name(pod)}", kube.core.create_namespaced_pod_eviction,
            meta["name"], meta["namespace"], body,
        )
    except (KubeNotFoundError, KubeConflictError):
        # Not found, or the UID precondition failed: a namesake replaced it. Either way the
        # pod we listed is gone; a replacement shows up in the next listing.
        return _GONE
    except KubeThrottledError as exc:
        # The Eviction API's answer when a PodDisruptionBudget allows no disruption now.
        return str(exc)
    log.info("evicted pod %s", _name(pod))
    return None


def drain(
    kube: Kube,
    node: str,
    *,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    backoff: Backoff | None = None,
) -> DrainResult:
    """Cordon `node` and evict its pods until those it may evict are gone or `clock()`
    passes `deadline`. Held pods are never evicted: the result names them (`held`).

    `deadline` is on `clock`'s scale: with the default, `time.monotonic() + seconds`.

    Idempotent: call again to continue. Raises KubeNotFoundError if the node does not
    exist, and the transient errors; evictions already accepted are logged, one line each.
    """
    backoff = backoff or Backoff()
    nodes.cordon(kube, node)
    evicted: list[str] = []
    asked: set[str] = set()
    blocked: dict[str, str] = {}
    delay = backoff.initial
    tried = False  # every call asks once, even past its deadline: a budget may allow it now
    while True:
        listed = _pods(kube, node)
        pods = [p for p in listed if not _skipped(p)]
        held = {_name(p): why for p in pods if (why := _held(p))}
        evictable = [p for p in pods if _name(p) not in held]
        if not evictable or (tried and clock() >= deadline):
            names = {_name(p) for p in evictable}
            return DrainResult(
                node=node,
                evicted=tuple(evicted),
                remaining=tuple(sorted(names)),
                blocked={k: v for k, v in blocked.items() if k in names},
                held=held,
                skipped=tuple(_name(p) for p in listed if _skipped(p)),
            )
        progress = _evict_round(kube, evictable, asked, evicted, blocked)
        tried = True
        if not progress:
            # Only waiting now (PDBs, grace periods): back off. After new evictions, look
            # again at once, since pods without a grace period are already gone.
            sleep(max(0.0, min(delay, deadline - clock())))
            delay = min(delay * 2, backoff.maximum)


def _evict_round(
    kube: Kube, evictable: list[Json], asked: set[str], evicted: list[str],
    blocked: dict[str, str],
) -> bool:
    """Evict every pod not already asked for or terminating; whether any was accepted."""
    progress = False
    for pod in evictable:
        uid = pod["metadata"]["uid"]
        if uid in asked or pod["metadata"].get("deletionTimestamp"):
            continue  # already going: its grace period runs, we only wait
        refusal = _evict(kube, pod)
        if refusal:
            blocked[_name(pod)] = refusal
            continue
        asked.add(uid)
        blocked.pop(_name(pod), None)
        progress = True
        if refusal is None:
            evicted.append(_name(pod))
    return progress
