"""The ports the preflight (burst.loop.doctor) reads through: narrow, read-only Protocols.

burst.adapters.kube.doctor and burst.adapters.aws.doctor implement them; the deployed scaler
runs the cluster half from inside the VPC, `burst doctor` runs all of them with the user's
credentials. Expected outcomes (a CA that does not verify, a verb RBAC denies) are values,
not errors; the cluster and AWS errors of burst.ports.cluster and burst.ports.aws remain
for what the probe could not find out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    # The verified certificate's subject alternative names ("DNS:x", "IP:10.8.0.1"), which
    # the nodes' address must be among for `kubeadm join` to verify the same server.
    names: tuple[str, ...] = ()


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


class BootstrapProbe(Protocol):
    """What a joining node will meet, read with an administrator's credentials: the
    cluster-info ConfigMap, the bootstrap tokens, and what RBAC lets other subjects do
    (SubjectAccessReview). Read-only; the cluster errors of burst.ports.cluster."""

    def cluster_info(self) -> Mapping[str, str] | None:
        """kube-public/cluster-info's data; None if there is no such ConfigMap."""
        ...

    def signing_tokens(self) -> tuple[str, ...]:
        """IDs of the bootstrap tokens (kube-system Secrets of type
        bootstrap.kubernetes.io/token) marked for signing and not expired."""
        ...

    def subject_allowed(self, user: str, groups: Sequence[str], access: Access) -> bool:
        """Whether RBAC allows `access` to that user in those groups (SubjectAccessReview)."""
        ...


@dataclass(frozen=True)
class Image:
    image_id: str
    state: str  # available, pending, failed, ...
    root_device_name: str


@dataclass(frozen=True)
class Route:
    destination: str  # a CIDR, or a prefix list id (pl-...)
    target: str  # igw-..., nat-..., tgw-..., vgw-..., pcx-..., eni-..., "local"
    active: bool = True  # a blackhole route (its target gone) carries nothing


@dataclass(frozen=True)
class AclRule:
    """One outbound rule of a subnet's network ACL."""

    number: int
    cidr: str
    protocol: str  # "-1" all, "6" TCP, "17" UDP
    allow: bool
    ports: tuple[int, int] | None = None  # from, to; None: all


@dataclass(frozen=True)
class AlarmState:
    name: str
    state: str  # OK, ALARM, INSUFFICIENT_DATA
    reason: str = ""


class AwsPreflight(Protocol):
    """What the account holds before anything is deployed. Read-only; AwsError."""

    def account(self) -> str:
        """The account these credentials act in (STS GetCallerIdentity)."""
        ...

    def secret_text(self, arn: str) -> str | None:
        """A secret's SecretString; None if it does not exist."""
        ...

    def image(self, region: str, image_id: str) -> Image | None:
        """The AMI in `region` (DescribeImages); None if it is not there for this account."""
        ...

    def offered_zones(self, region: str, instance_type: str) -> frozenset[str]:
        """The Availability Zones of `region` offering `instance_type`
        (DescribeInstanceTypeOfferings, LocationType availability-zone)."""
        ...

    def quota(self, region: str, code: str) -> int:
        """An EC2 quota's value in `region` (Service Quotas GetServiceQuota, else its
        AWS default)."""
        ...


class NetworkReader(Protocol):
    """The VPC plumbing the functions and the nodes depend on. Read-only; AwsError."""

    def routes(self, region: str, subnet_id: str) -> tuple[Route, ...]:
        """The routes of the subnet's route table (its own, else the VPC's main one)."""
        ...

    def endpoints(self, region: str, vpc_id: str) -> frozenset[str]:
        """Service names of the VPC's endpoints that are available."""
        ...

    def egress_rules(self, region: str, subnet_id: str) -> tuple[AclRule, ...]:
        """The outbound rules of the subnet's network ACL, in rule-number order."""
        ...


class AlarmReader(Protocol):
    """The deployment's CloudWatch alarms (DescribeAlarms). Read-only; AwsError."""

    def alarms(self, prefix: str) -> tuple[AlarmState, ...]:
        ...
