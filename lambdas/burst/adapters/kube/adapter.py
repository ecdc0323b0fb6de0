"""KubeCluster: burst.ports.cluster's cluster ports over one Kube connection."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta

from burst.adapters.kube import drain as drain_mod
from burst.adapters.kube import nodes, observe, tell, tokens, watch
from burst.adapters.kube.client import Kube
from burst.core.model import Pod, Taint
from burst.ports.cluster import BootstrapToken, ClusterView, DrainResult, TokenInfo


class KubeCluster:
    """The cluster as the shell sees it. `boards`: the board resource names of the catalog."""

    def __init__(
        self,
        kube: Kube,
        boards: Collection[str],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        drain_backoff: drain_mod.Backoff | None = None,
    ) -> None:
        self.kube = kube
        self.boards = frozenset(boards)
        self.clock = clock
        self.sleep = sleep
        self.drain_backoff = drain_backoff

    # -- reading -----------------------------------------------------------------------

    def observe(self, instance_groups: Mapping[str, str]) -> ClusterView:
        return observe.observe(self.kube, self.boards, instance_groups)

    def read_status(self) -> Mapping[str, str]:
        return tell.read_status(self.kube)

    def pods_on_node(self, node: str) -> tuple[Pod, ...]:
        return observe.pods_on_node(self.kube, node, self.boards)

    def wait_for_pending(self, since: str, timeout: float) -> bool:
        """Whether an FPGA pod was added or changed in pending after `since` (or `since` is
        too old to watch from: the caller observes anew either way) within `timeout` seconds.
        Lets a scaler invocation react within seconds instead of at the next tick."""
        return watch.next_pending_change(self.kube, self.boards, since, timeout) is not None

    def bootstrap_tokens(self) -> tuple[TokenInfo, ...]:
        return tokens.our_tokens(self.kube)

    # -- writing -----------------------------------------------------------------------

    def cordon(self, node: str, taint: Taint | None = None) -> bool:
        return nodes.cordon(self.kube, node, taint)

    def uncordon(self, node: str, taint_key: str | None = None) -> bool:
        return nodes.uncordon(self.kube, node, taint_key)

    def annotate_node(self, node: str, changes: Mapping[str, str | None]) -> bool:
        return nodes.annotate(self.kube, node, changes)

    def drain(self, node: str, deadline: float) -> DrainResult:
        return drain_mod.drain(self.kube, node, deadline=deadline, clock=self.clock,
                               sleep=self.sleep, backoff=self.drain_backoff)

    def delete_node(self, node: str, uid: str | None = None) -> bool:
        return nodes.delete_node(self.kube, node, uid)

    def workload(self, node: str) -> tuple[str, ...]:
        return drain_mod.workload(self.kube, node)

    def record_pod_event(
        self, pod: Pod, reason: str, message: str, now: datetime, kind: str = "Normal"
    ) -> int:
        return tell.record_pod_event(self.kube, pod, reason, message, now, kind)

    def record_node_event(
        self, node: str, reason: str, message: str, now: datetime, kind: str = "Normal"
    ) -> int:
        return tell.record_node_event(self.kube, node, reason, message, now, kind)

    def record_status_event(
        self, reason: str, message: str, now: datetime, kind: str = "Normal"
    ) -> int:
        return tell.record_status_event(self.kube, reason, message, now, kind)

    def write_status(self, data: Mapping[str, str]) -> None:
        tell.write_status(self.kube, data)

    def create_bootstrap_token(self, now: datetime, ttl: timedelta,
                               keep: str | None = None) -> BootstrapToken:
        return tokens.write_token(self.kube, now, ttl, keep)

    def delete_expired_bootstrap_tokens(self, now: datetime) -> tuple[str, ...]:
        return tokens.delete_expired(self.kube, now)
