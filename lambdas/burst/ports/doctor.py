"""The ports the preflight (burst.loop.doctor) reads through: narrow, read-only Protocols.

burst.adapters.kube.doctor and burst.adapters.aws.doctor implement them; the deployed scaler
runs the cluster half from inside the VPC, `burst doctor` runs all of them with the user's
credentials. Expected outcomes (a CA that does not verify, a verb RBAC denies) are values,
not errors; the cluster and AWS errors of burst.ports.cluster and burst.ports.aws remain
for what the probe could not find out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Access:
    """One verb on one resource, as a SelfSubjectAccessReview asks for it."""

    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    def __str__(self) -> str:
        what = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        if self.group:
            what = f"{what}.{self.group}"
        where = f" {self.name}" if self.name else ""
        scope = f" in {self.namespace}" if self.namespace else ""
        return f"{self.verb} {what}{where}{scope}"


@dataclass(frozen=True)
class Handshake:
    """A TLS handshake with the API server, verifying its certificate with the cluster CA."""

    endpoint: str
    reachable: bool  # a TCP connection was made
    verified: bool  # and the certificate verified against the CA (and the host name)
    problem: str = ""  # why not, when not


@dataclass(frozen=True)
class Advertised:
    """A node and the extended resources (non-kubernetes.io) it advertises."""

    node: str
    resources: tuple[str, ...]
    instance_id: str | None = None  # from providerID aws:///<az>/<id>; None: not an instance


class ClusterProbe(Protocol):
    """What the preflight asks of the API server, as the controller's identity. Read-only."""

    def handshake(self) -> Handshake:
        """Connect and verify the server's certificate; never raises for TLS or network."""
        ...

    def whoami(self) -> str:
        """The user name the API server sees (SelfSubjectReview). KubeUnauthorizedError
        if it rejects the token; ClusterUnreachableError."""
        ...

    def allowed(self, access: Access) -> bool:
        """Whether RBAC allows `access` (SelfSubjectAccessReview)."""
        ...

    def advertised(self) -> tuple[Advertised, ...]:
        """Every node with the extended resources it advertises (capacity or allocatable)."""
        ...


class HookReader(Protocol):
    """The node groups' lifecycle hooks (DescribeLifecycleHooks). Read-only."""

    def lifecycle_hooks(self, node_group: str) -> tuple[str, ...]:
        """Names of the group's lifecycle hooks. NodeGroupNotFoundError, AwsError."""
        ...


class ParameterReader(Protocol):
    """The join parameter's metadata, without decrypting it. Read-only."""

    def last_modified(self, name: str) -> datetime | None:
        """When parameter `name` was last written; None if it does not exist."""
        ...


class DeployedFunctions(Protocol):
    """The deployed functions' settings (Lambda ListFunctions). Read-only."""

    def environments(self, cluster: str) -> Mapping[str, Mapping[str, str]]:
        """function name -> environment, for the functions deployed for `cluster`."""
        ...
