"""One invocation's AWS adapters, sharing one set of clients (burst.adapters.aws.session).

boto3 and botocore are imported in this package only. Each concern is its own module and
class, implementing one narrow port of burst.ports.aws:

- groups: discovery, instances, scaling activities (NodeGroups)
- capacity: raise desired capacity, terminate with decrement (CapacityWriter)
- lifecycle: complete / heartbeat lifecycle actions (LifecycleActions)
- ssm: the join data parameter (JoinStore)
- secrets: the controller's cluster credentials (CredentialsStore)
- market: Spot prices and the F vCPU quotas (SpotPrices, VcpuQuotas)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import boto3

from burst.adapters.aws.capacity import AutoScalingCapacity
from burst.adapters.aws.groups import AutoScalingGroups
from burst.adapters.aws.lifecycle import AutoScalingLifecycle
from burst.adapters.aws.market import Ec2Market
from burst.adapters.aws.regions import GroupRegions
from burst.adapters.aws.secrets import SecretsManagerCredentials
from burst.adapters.aws.session import AwsSettings, Clients
from burst.adapters.aws.ssm import SsmJoinStore

__all__ = ["Aws", "AwsSettings"]  # what callers build the adapters from


class Aws:
    """The five AWS adapters over one Clients: pass each where its port is wanted.

    `regions`: the regions other than the home one where node groups live; the group
    adapters find and act on groups there too (burst.adapters.aws.regions).
    """

    def __init__(
        self,
        session: boto3.Session | None = None,
        settings: AwsSettings | None = None,
        regions: Sequence[str] = (),
    ) -> None:
        self.clients = Clients(session, settings)
        self.regions = GroupRegions(self.clients, regions)
        self.groups = AutoScalingGroups(self.clients, self.regions)
        self.capacity = AutoScalingCapacity(self.clients, self.regions)
        self.lifecycle = AutoScalingLifecycle(self.clients, self.regions)
        self.joins = SsmJoinStore(self.clients)
        self.secrets = SecretsManagerCredentials(self.clients)
        self.market = Ec2Market(self.clients)

    def joins_in(self, region: str) -> SsmJoinStore:
        """The join-data store of `region` (another region's SSM Parameter Store)."""
        return SsmJoinStore(self.clients, region)

    def client(self, service: str) -> Any:
        """The shared boto3 client for `service` (tests attach Stubbers to it)."""
        return self.clients.client(service)
