"""Which region each node group and instance lives in, for the adapters that act by name.

The functions run in the home region; node groups may live in others (the deployment
config's `regions`). Discovery records every group's region and its instances' here; a
name not seen yet (the lifecycle function acts on one group without discovering them all)
is looked up region by region, home first, and remembered. Clients come from the shared
`Clients`, one per service and region, created on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from burst.adapters.aws.session import Clients, calling


class GroupRegions:
    """The home region and the others, and where each group and instance was found."""

    def __init__(self, clients: Clients, others: Sequence[str] = ()) -> None:
        self.clients = clients
        self._others = tuple(r for r in others if r)
        self._groups: dict[str, str] = {}
        self._instances: dict[str, str] = {}

    @property
    def home(self) -> str:
        return self.clients.home_region

    @property
    def all(self) -> tuple[str, ...]:
        """Every region groups may live in, home first."""
        home = self.home
        return (home, *(r for r in self._others if r != home))

    def client(self, service: str, region: str) -> Any:
        """The client for `service` in `region`; the home one is the shared default client
        (tests attach Stubbers to it)."""
        return self.clients.client(service, None if region == self.home else region)

    def remember(self, group: str, region: str, instance_ids: Iterable[str]) -> None:
        self._groups[group] = region
        for instance_id in instance_ids:
            self._instances[instance_id] = region

    def of_group(self, name: str) -> str:
        """The group's region: as discovered, else the first region that has it, else home.

        Read-only. Raises the transient errors or AwsError from the look-up.
        """
        return self._find(self._groups, name, "DescribeAutoScalingGroups",
                          lambda client: client.describe_auto_scaling_groups(
                              AutoScalingGroupNames=[name]).get("AutoScalingGroups"))

    def of_instance(self, instance_id: str) -> str:
        """The region of the group holding `instance_id`, found as of_group finds groups."""
        return self._find(self._instances, instance_id, "DescribeAutoScalingInstances",
                          lambda client: client.describe_auto_scaling_instances(
                              InstanceIds=[instance_id]).get("AutoScalingInstances"))

    def _find(self, known: dict[str, str], key: str, operation: str,
              has: Callable[[Any], object]) -> str:
        if key not in known and len(self.all) > 1:
            for region in self.all:
                with calling(operation):
                    found = has(self.client("autoscaling", region))
                if found:
                    known[key] = region
                    break
        return known.get(key, self.home)
