"""The AWS ports: what the loop asks of AWS, as narrow Protocols and values, without boto3.

burst.adapters.aws implements each Protocol with one small class; the simulator and the
tests implement only those they are used through. Reading and writing are separate so a
dry run is handed readers only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from burst.core.errors import ClusterCredentialsError
from burst.core.model import InstanceType, NodeGroup, VcpuQuota
from burst.core.scaleup.backoff import ScalingActivity


class LifecycleResult(StrEnum):
    CONTINUE = "CONTINUE"
    ABANDON = "ABANDON"


@dataclass(frozen=True)
class CapacityChange:
    """What raise_desired_capacity did. `to_size == from_size`: nothing was changed."""

    node_group: str
    from_size: int
    to_size: int
    requested: int
    clamped: bool = False  # requested > max size: raised to max only

    @property
    def changed(self) -> bool:
        return self.to_size != self.from_size


@dataclass(frozen=True)
class JoinData:
    """What a new node needs to `kubeadm join`; the token is never in repr or logs."""

    endpoint: str  # host:port of the API server, as kubeadm join takes it
    token: str = field(repr=False)
    ca_cert_hashes: tuple[str, ...]  # "sha256:<hex>"
    expiration: datetime

    def to_json(self) -> str:
        return json.dumps(
            {
                "endpoint": self.endpoint,
                "token": self.token,
                "caCertHashes": list(self.ca_cert_hashes),
                "expiration": self.expiration.isoformat(),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> JoinData:
        """Raises ValueError (KeyError, TypeError included) if `text` is not join data."""
        data = json.loads(text)
        return cls(
            endpoint=str(data["endpoint"]),
            token=str(data["token"]),
            ca_cert_hashes=tuple(str(h) for h in data["caCertHashes"]),
            expiration=datetime.fromisoformat(data["expiration"]),
        )


@dataclass(frozen=True)
class ClusterCredentials:
    """How the controller reaches the API server; the token is never in repr or logs."""

    endpoint: str  # https://host:port
    ca: str = field(repr=False)  # PEM of the cluster CA
    token: str = field(repr=False)  # the controller's ServiceAccount token

    @classmethod
    def from_json(cls, text: str, source: str = "secret") -> ClusterCredentials:
        """Parse the secret's JSON {endpoint, ca, token}; ClusterCredentialsError if not."""
        try:
            data: Any = json.loads(text)
        except ValueError as exc:
            raise ClusterCredentialsError(f"{source}: not JSON") from exc
        if not isinstance(data, dict):
            raise ClusterCredentialsError(f"{source}: not a JSON object")
        for key in ("endpoint", "ca", "token"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ClusterCredentialsError(f"{source}: field {key!r} missing or not a string")
        return cls(endpoint=data["endpoint"], ca=data["ca"], token=data["token"])


# -- the ports, each shaped by its consumer ------------------------------------------------
# Every method may raise AwsThrottledError / AwsUnavailableError (TransientError: retry next
# tick) or AwsError (retrying will not help), besides the errors its docstring names.


class NodeGroups(Protocol):
    """Reads the node groups (observe; the lifecycle function). Read-only."""

    def discover_node_groups(
        self, cluster: str, instance_types: Mapping[str, InstanceType] | None = None
    ) -> tuple[NodeGroup, ...]:
        """The groups tagged for `cluster`, with instances; backoff not set (see
        burst.core.scaleup.backoff.with_backoff). `instance_types` default: the catalog's."""
        ...

    def scaling_activities(
        self, node_group: str, since: datetime
    ) -> tuple[ScalingActivity, ...]:
        """The group's scaling activities started at or after `since`, newest first."""
        ...


class CapacityWriter(Protocol):
    """Changes a group's capacity (the scaler's act). One-way and idempotent."""

    def raise_desired_capacity(self, node_group: str, target: int) -> CapacityChange:
        """Raise desired to `target` (clamped to max); no-op if already >= target.
        Raises NodeGroupNotFoundError."""
        ...

    def terminate_instance(self, instance_id: str) -> bool:
        """Terminate with decrement; False, doing nothing, if already gone or terminating."""
        ...


class LifecycleActions(Protocol):
    """Completes and extends ASG lifecycle actions (burst.loop.lifecycle)."""

    def complete_lifecycle_action(
        self,
        node_group: str,
        hook: str,
        instance_id: str,
        result: LifecycleResult,
        token: str | None = None,
    ) -> None:
        """LifecycleActionNotFoundError if no action is pending (a duplicate: ignorable)."""
        ...

    def record_heartbeat(
        self, node_group: str, hook: str, instance_id: str, token: str | None = None
    ) -> None:
        """LifecycleActionNotFoundError if no action is pending."""
        ...


class JoinErrors(Protocol):
    """Why an instance's node did not join, as the node said it (burst.loop.lifecycle)."""

    def join_error(self, node_group: str, instance_id: str) -> str | None:
        """The instance's join-error tag ("<step>: <message>"); None if it has none.
        Read-only."""
        ...


class JoinStore(Protocol):
    """Where the join data is published (burst.loop.rotation)."""

    def read_join_data(self, name: str) -> JoinData | None:
        """The published join data; None if absent or not join data."""
        ...

    def publish_join_data(self, name: str, data: JoinData, kms_key_id: str) -> None:
        """Write it encrypted; idempotent (overwrites). The token is never logged."""
        ...


class CredentialsStore(Protocol):
    """Where the controller's cluster credentials are kept (handlers.runtime)."""

    def read_cluster_credentials(self, secret_id: str) -> ClusterCredentials:
        """Read-only. ClusterCredentialsError if the secret is missing or malformed."""
        ...


class CredentialsWriter(Protocol):
    """Where `burst credentials --secret-id` stores them (never the functions)."""

    def write_cluster_credentials(self, secret_id: str, credentials: ClusterCredentials) -> None:
        """Overwrite the secret's value; idempotent. ClusterCredentialsError if the secret
        does not exist (the operator creates it). The token is never logged."""
        ...


class SpotPrices(Protocol):
    """Reads current Spot prices (observe, for groups with spot_price_live). Read-only."""

    def spot_prices(self, instance_types: Sequence[str]) -> Mapping[str, float]:
        """Price per hour (USD) of a Linux Spot instance of each type, now: the highest
        over the region's AZs that offer it. Types without a price are left out."""
        ...


class VcpuQuotas(Protocol):
    """Reads the F-instance vCPU quotas and their use (observe). Read-only."""

    def vcpu_quota(
        self, managed: frozenset[str], vcpus: Mapping[str, int]
    ) -> VcpuQuota:
        """The quotas by capacity type, and the vCPUs of pending or running F instances in
        the region whose ids are not in `managed` (`vcpus`: per instance type)."""
        ...
