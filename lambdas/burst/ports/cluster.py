"""The Kubernetes port: what the shell asks of the cluster, as Protocols and values.

burst.adapters.kube.KubeCluster implements it against a real API server (the only code importing
`kubernetes`); tests of the shell may implement it in memory. Reading and writing are
separate so a dry run can be handed a reader only. Every method may raise
ClusterUnreachableError or KubeThrottledError (TransientError: retry next tick),
KubeForbiddenError (the RBAC grant is missing) or another KubeApiError.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from burst.core.model import Node, Pod, Taint


@dataclass(frozen=True)
class ClusterView:
    """What observe saw: FPGA nodes, pending FPGA pods plus every pod bound to those nodes.

    `pending_version` is the resourceVersion of the pending-pod list, from which
    wait_for_pending watches for what came after.
    """

    nodes: tuple[Node, ...]
    pods: tuple[Pod, ...]
    pending_version: str = ""


@dataclass(frozen=True)
class DrainResult:
    """Where a drain stands. `done`: every evictable pod is gone."""

    node: str
    evicted: tuple[str, ...] = ()  # evictions the API server accepted during this call
    remaining: tuple[str, ...] = ()  # evictable pods still on the node
    blocked: Mapping[str, str] = field(default_factory=dict)  # pod -> why eviction was refused
    skipped: tuple[str, ...] = ()  # DaemonSet and mirror pods, left to die with the node

    @property
    def done(self) -> bool:
        return not self.remaining


@dataclass(frozen=True)
class BootstrapToken:
    """A token just made. `token` is what `kubeadm join --token` takes; never in repr."""

    token_id: str
    secret: str = field(repr=False)
    expiration: datetime

    @property
    def token(self) -> str:
        return f"{self.token_id}.{self.secret}"


@dataclass(frozen=True)
class TokenInfo:
    """One of our tokens as listed: no secret. expiration None: unreadable (left alone)."""

    token_id: str
    expiration: datetime | None
    uid: str

    def expired(self, now: datetime) -> bool:
        return self.expiration is not None and self.expiration <= now


class ClusterReader(Protocol):
    def observe(self, instance_groups: Mapping[str, str]) -> ClusterView:
        """FPGA nodes and pods; `instance_groups` maps instance id -> node group."""
        ...

    def pods_on_node(self, node: str) -> tuple[Pod, ...]:
        """Unfinished pods bound to `node`, FPGA or not."""
        ...

    def wait_for_pending(self, since: str, timeout: float) -> bool:
        """Block until a pending FPGA pod is added or changed after resourceVersion `since`
        (True), or `timeout` seconds pass (False)."""
        ...

    def bootstrap_tokens(self) -> tuple[TokenInfo, ...]:
        """Our kubeadm bootstrap tokens, without secrets."""
        ...


class ClusterWriter(Protocol):
    def cordon(self, node: str, taint: Taint | None = None) -> bool:
        """Unschedulable (+ taint); False if it already was. Conflicts are retried."""
        ...

    def uncordon(self, node: str, taint_key: str | None = None) -> bool:
        """Schedulable again, without taints keyed `taint_key`; False if no change."""
        ...

    def annotate_node(self, node: str, changes: Mapping[str, str | None]) -> bool:
        """Set annotations (None removes); False if no change."""
        ...

    def drain(self, node: str, deadline: float) -> DrainResult:
        """Cordon and evict until done or `deadline` (monotonic seconds); call again to go on.
        Raises DrainRefusedError for a pod marked safe-to-evict=false."""
        ...

    def delete_node(self, node: str, uid: str | None = None) -> bool:
        """Delete the Node object; False if already gone."""
        ...

    def record_pod_event(
        self, pod: Pod, reason: str, message: str, now: datetime, kind: str = "Normal"
    ) -> int:
        """A pod Event; the same reason+message again bumps its count (returned)."""
        ...

    def write_status(self, data: Mapping[str, str]) -> None:
        """Create or replace kube-system/fpga-burst-status (see burst.loop.status)."""
        ...

    def create_bootstrap_token(self, now: datetime, ttl: timedelta) -> BootstrapToken:
        """A new kubeadm bootstrap token valid until now + ttl (not idempotent)."""
        ...

    def delete_expired_bootstrap_tokens(self, now: datetime) -> tuple[str, ...]:
        """Delete our tokens expired at `now`; the token ids deleted. Idempotent."""
        ...
