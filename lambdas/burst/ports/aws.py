"""The AWS port: what the shell asks of AWS, as Protocols and values, without boto3.

aws.py implements it against AWS; tests of the shell may implement it in memory. Reading
and writing are separate so a dry run can be handed a reader only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from burst.core.backoff import ScalingActivity
from burst.core.errors import ClusterCredentialsError
from burst.core.model import Instance, InstanceType, NodeGroup


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


class AwsReader(Protocol):
    def discover_node_groups(
        self,
        cluster: str,
        now: datetime,
        instance_types: Mapping[str, InstanceType] | None = None,
    ) -> tuple[NodeGroup, ...]: ...

    def instances(self, node_group: str) -> tuple[Instance, ...]: ...

    def scaling_activities(
        self, node_group: str, since: datetime
    ) -> tuple[ScalingActivity, ...]: ...

    def read_join_data(self, name: str) -> JoinData | None: ...

    def read_cluster_credentials(self, secret_id: str) -> ClusterCredentials: ...


class AwsWriter(Protocol):
    def raise_desired_capacity(self, node_group: str, target: int) -> CapacityChange: ...

    def terminate_instance(self, instance_id: str) -> bool: ...

    def complete_lifecycle_action(
        self,
        node_group: str,
        hook: str,
        instance_id: str,
        result: LifecycleResult,
        token: str | None = None,
    ) -> None: ...

    def record_heartbeat(
        self, node_group: str, hook: str, instance_id: str, token: str | None = None
    ) -> None: ...

    def publish_join_data(self, name: str, data: JoinData, kms_key_id: str) -> None: ...
