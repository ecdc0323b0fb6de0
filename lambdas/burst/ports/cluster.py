"""The Kubernetes ports: what the loop asks of the cluster, as narrow Protocols and values.

burst.adapters.kube.KubeCluster (and PendingWatch) implement them against a real API server
(the only code importing `kubernetes`); the simulator and the tests implement only the
ports they are used through. Reading and writing are separate so a dry run is handed
readers only. Every method may raise ClusterUnreachableError or KubeThrottledError
(TransientError: retry next tick), KubeForbiddenError (the RBAC grant is missing) or
another KubeApiError.
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
    PendingWatcher watches for what came after.
    """

    nodes: tuple[Node, ...]
    pods: tuple[Pod, ...]
    pending_version: str = ""


@dataclass(frozen=True)
class DrainResult:
    """Where a drain stands. `done`: every pod it may evict is gone; `empty`: and no pod is
    held either, so the Node may go (burst.core.scaledown.drainable says which are held)."""

    node: str
    evicted: tuple[str, ...] = ()  # evictions the API server accepted during this call
    remaining: tuple[str, ...] = ()  # evictable pods still on the node
    blocked: Mapping[str, str] = field(default_factory=dict)  # pod -> why eviction was refused
    held: Mapping[str, str] = field(default_factory=dict)  # pod -> why it is never evicted
    skipped: tuple[str, ...] = ()  # DaemonSet and mirror pods, left to die with the node

    @property
    def done(self) -> bool:
        return not self.remaining

    @property
    def empty(self) -> bool:
        return self.done and not self.held

    def left(self) -> dict[str, str]:
        """Every pod still on the node (DaemonSet and mirror pods aside) -> why."""
        return {**{p: self.blocked.get(p, "being evicted (grace period)")
                   for p in self.remaining}, **{p: f"held: {why}" for p, why in self.held.items()}}


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


# -- the ports, each shaped by its consumer ------------------------------------------------


class ClusterReader(Protocol):
    """What observe reads (the scaler; the lifecycle function). Read-only."""

    def observe(self, instance_groups: Mapping[str, str]) -> ClusterView:
        """FPGA nodes and pods; `instance_groups` maps instance id -> node group."""
        ...

    def read_status(self) -> Mapping[str, str]:
        """The status ConfigMap's data as the last tick wrote it; empty if there is none."""
        ...


class PendingWatcher(Protocol):
    """What the scaler's watch mode waits on. Read-only."""

    def next_pending_change(self, since: str, timeout: float) -> str | None:
        """The resourceVersion of the next added/changed pending FPGA pod after `since`,
        "" if `since` is too old to watch from, None after `timeout` seconds."""
        ...


class NodeWriter(Protocol):
    """Marks nodes (scale-down; the start of a terminate). Each call idempotent."""

    def cordon(self, node: str, taint: Taint | None = None) -> bool:
        """Unschedulable (+ taint); False if it already was. Conflicts are retried."""
        ...

    def uncordon(self, node: str, taint_key: str | None = None) -> bool:
        """Schedulable again, without taints keyed `taint_key`; False if no change."""
        ...

    def annotate_node(self, node: str, changes: Mapping[str, str | None]) -> bool:
        """Set annotations (None removes); False if no change."""
        ...


class NodeDrainer(Protocol):
    """Empties and removes a node (a terminate lifecycle action)."""

    def drain(self, node: str, deadline: float) -> DrainResult:
        """Cordon and evict until done or `deadline` (monotonic seconds); call again to go on.
        Pods marked safe-to-evict=false are held, never evicted (DrainResult.held)."""
        ...

    def delete_node(self, node: str, uid: str | None = None) -> bool:
        """Delete the Node object; False if already gone."""
        ...

    def workload(self, node: str) -> tuple[str, ...]:
        """Pods on `node` now ("namespace/name"), DaemonSet and mirror pods and finished
        ones aside, held ones included: read fresh, not from a snapshot, before
        terminating a just-tainted node."""
        ...


class Teller(Protocol):
    """Tells people what the scaler decided (pod Events, the status ConfigMap)."""

    def record_pod_event(
        self, pod: Pod, reason: str, message: str, now: datetime, kind: str = "Normal"
    ) -> int:
        """A pod Event; the same reason+message again bumps its count (returned)."""
        ...

    def record_node_event(
        self, node: str, reason: str, message: str, now: datetime, kind: str = "Normal"
    ) -> int:
        """A Node Event (kubectl describe node); same reason+message again bumps its count."""
        ...

    def record_status_event(
        self, reason: str, message: str, now: datetime, kind: str = "Normal"
    ) -> int:
        """An Event on the status ConfigMap (kubectl describe configmap -n kube-system
        fpga-burst-status): for what has no Node or pod to tell it on, such as an instance
        given back before its Node joined. Same reason+message again bumps its count."""
        ...

    def write_status(self, data: Mapping[str, str]) -> None:
        """Create or replace kube-system/fpga-burst-status (see burst.loop.status)."""
        ...


class BootstrapTokens(Protocol):
    """Our kubeadm bootstrap tokens (burst.loop.rotation)."""

    def bootstrap_tokens(self) -> tuple[TokenInfo, ...]:
        """Our kubeadm bootstrap tokens, without secrets. Read-only."""
        ...

    def create_bootstrap_token(self, now: datetime, ttl: timedelta,
                               keep: str | None = None) -> BootstrapToken:
        """A new kubeadm bootstrap token valid until now + ttl (not idempotent), leaving the
        token `keep` (the published one) valid."""
        ...

    def delete_expired_bootstrap_tokens(self, now: datetime) -> tuple[str, ...]:
        """Delete our tokens expired at `now`; the token ids deleted. Idempotent."""
        ...
