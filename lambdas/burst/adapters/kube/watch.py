"""Watching pending FPGA pods, for the scaler's watch mode.

KubeCluster.wait_for_pending asks *whether* something changed (a change is there); batching
needs to know *up to where*, so that the next, short watch ("anything more within a second?")
starts after the change already seen instead of seeing it again. Read-only; raises what
Kube.watch raises.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection

from burst.adapters.kube import convert
from burst.adapters.kube.client import Kube
from burst.adapters.kube.observe import PENDING

# Returned when the watch cannot go on from the version given (410 Gone, or an ERROR
# event): the caller observes anew, which yields a fresh version.
RESTART = ""


def next_pending_change(
    kube: Kube, boards: Collection[str], since: str, timeout: float
) -> str | None:
    """The resourceVersion of the next added or changed pending FPGA pod after `since`,
    RESTART if `since` cannot be watched from, or None once `timeout` seconds pass.

    Pods leaving the pending set (bound, deleted) are not changes: they ask for nothing.
    """
    events = kube.watch(
        "watch pending pods", kube.core.list_pod_for_all_namespaces, timeout,
        field_selector=PENDING, resource_version=since, allow_watch_bookmarks=False,
    )
    with contextlib.closing(events):
        for event in events:
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                return RESTART
            if kind in ("ADDED", "MODIFIED") and convert.is_fpga_pod(obj, boards):
                return str((obj.get("metadata") or {}).get("resourceVersion") or RESTART)
    return None


class PendingWatch:
    """burst.ports.cluster.PendingWatcher over one Kube connection."""

    def __init__(self, kube: Kube, boards: Collection[str]) -> None:
        self.kube = kube
        self.boards = frozenset(boards)

    def next_pending_change(self, since: str, timeout: float) -> str | None:
        return next_pending_change(self.kube, self.boards, since, timeout)
