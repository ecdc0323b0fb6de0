"""Reading the cluster: pending FPGA pods, FPGA nodes and the pods bound to them.

Lists are paginated (limit/continue) and filtered by the API server with field selectors,
so a cluster with many pods costs pages, not one huge answer. Read-only; raises
ClusterUnreachableError, KubeThrottledError, KubeForbiddenError or KubeApiError.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from burst.adapters.kube import budgets, convert
from burst.adapters.kube.client import Json, Kube
from burst.core.errors import KubeApiError
from burst.core.model import Node, Pod
from burst.core.scaledown.drainable import SYSTEM_NAMESPACE
from burst.ports.cluster import ClusterView

PAGE_SIZE = 500
PENDING = "status.phase=Pending,spec.nodeName="
BOUND_AND_RUNNING = "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed"

T = TypeVar("T")


@dataclass(frozen=True)
class Listing:
    items: list[Json]
    resource_version: str  # of the list as a whole: where a watch can start


def list_pages(
    kube: Kube, operation: str, method: Callable[..., Any], *args: Any, **kwargs: Any
) -> Listing:
    """Every item of a list call, page by page.

    If the continue token expires (410 Gone, the list took longer than etcd's compaction
    window) the list restarts once from the beginning, so the answer is one consistent view.
    """
    items, version = list_kept(kube, operation, method, lambda item: item, *args, **kwargs)
    return Listing(items, version)


def list_kept(
    kube: Kube, operation: str, method: Callable[..., Any], keep: Callable[[Json], T | None],
    *args: Any, **kwargs: Any,
) -> tuple[list[T], str]:
    """`keep(item)` of every item of a list call that is not None, and the list's
    resourceVersion. Each page is converted as it comes and then dropped, so the raw JSON
    of one page is in memory at a time, not the whole list's (see list_pages for 410)."""
    limit = kwargs.pop("limit", PAGE_SIZE)
    for attempt in range(2):
        kept: list[T] = []
        token: str | None = None
        try:
            while True:
                page = kube.call(operation, method, *args, limit=limit, _continue=token,
                                 **kwargs)
                kept.extend(k for item in page.get("items") or () if (k := keep(item)) is not None)
                meta = page.get("metadata") or {}
                token = meta.get("continue") or None
                if token is None:
                    return kept, str(meta.get("resourceVersion") or "")
        except KubeApiError as exc:
            if exc.status != 410 or token is None or attempt:
                raise
    raise AssertionError("unreachable")


def list_all(
    kube: Kube, operation: str, method: Callable[..., Any], *args: Any, **kwargs: Any
) -> list[Json]:
    return list_pages(kube, operation, method, *args, **kwargs).items


def _pending(kube: Kube, boards: Collection[str], page_size: int) -> tuple[tuple[Pod, ...], str]:
    shapes = convert.Shapes()

    def keep(item: Json) -> Pod | None:
        if (item.get("metadata") or {}).get("deletionTimestamp"):
            return None
        return convert.pending_pod(item, boards, shapes)

    pods, version = list_kept(
        kube, "list pending pods", kube.core.list_pod_for_all_namespaces, keep,
        field_selector=PENDING, limit=page_size,
    )
    return tuple(pods), version


def pending_pods(
    kube: Kube, boards: Collection[str], page_size: int = PAGE_SIZE
) -> tuple[Pod, ...]:
    """Unbound pods in phase Pending that need boards or accelerators, in every namespace."""
    return _pending(kube, boards, page_size)[0]


def fpga_nodes(
    kube: Kube, boards: Collection[str], instance_groups: Mapping[str, str]
) -> tuple[Node, ...]:
    """Nodes in our node groups or advertising boards; `instance_groups`: instance id -> group."""
    items = list_all(kube, "list nodes", kube.core.list_node)
    return tuple(
        convert.node(n, boards, instance_groups)
        for n in items
        if convert.is_fpga_node(n, boards, instance_groups)
    )


def pods_on_node(kube: Kube, node: str, boards: Collection[str] = ()) -> tuple[Pod, ...]:
    """Pods bound to `node` that have not finished (any namespace, FPGA or not)."""
    items = list_all(
        kube, f"list pods on node {node}", kube.core.list_pod_for_all_namespaces,
        field_selector=f"spec.nodeName={node},status.phase!=Succeeded,status.phase!=Failed",
    )
    return tuple(convert.pod(p, boards) for p in items)


def bound_pods(
    kube: Kube, nodes: Collection[str], boards: Collection[str]
) -> dict[str, tuple[Pod, ...]]:
    """Unfinished pods on each of `nodes`, with one paginated list for the whole cluster."""
    by_node: dict[str, list[Pod]] = {name: [] for name in nodes}
    items = list_all(
        kube, "list bound pods", kube.core.list_pod_for_all_namespaces,
        field_selector=BOUND_AND_RUNNING,
    )
    ours = [i for i in items if (i.get("spec") or {}).get("nodeName") in by_node]
    covered = _budgets(kube, ours)
    for item in ours:
        by_node[item["spec"]["nodeName"]].append(convert.pod(item, boards, covered(item)))
    return {name: tuple(pods) for name, pods in by_node.items()}


def _budgets(kube: Kube, pods: Collection[Json]) -> Callable[[Json], bool]:
    """Which of `pods` a PodDisruptionBudget covers, where drainable asks: kube-system."""
    asked = {str((p.get("metadata") or {}).get("namespace"))
             for p in pods} & {SYSTEM_NAMESPACE}
    found = [b for namespace in sorted(asked) for b in list_all(
        kube, f"list PodDisruptionBudgets in {namespace}",
        kube.policy.list_namespaced_pod_disruption_budget, namespace)]
    return budgets.covered_by(found)


def observe(
    kube: Kube, boards: Collection[str], instance_groups: Mapping[str, str]
) -> ClusterView:
    """The cluster half of a Snapshot: FPGA nodes, pending FPGA pods, pods on FPGA nodes."""
    nodes = fpga_nodes(kube, boards, instance_groups)
    pending, version = _pending(kube, boards, PAGE_SIZE)
    bound = bound_pods(kube, [n.name for n in nodes], boards)
    return ClusterView(
        nodes=nodes,
        pods=pending + tuple(p for name in sorted(bound) for p in bound[name]),
        pending_version=version,
    )
