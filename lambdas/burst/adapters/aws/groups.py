"""Auto Scaling groups as node groups: discovery by Cluster Autoscaler's tags, instances,
scaling activities. Read-only; the backoff is decided from the activities by the caller
(burst.core.scaleup.backoff.with_backoff), not here: reading needs no clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from burst.adapters.aws.regions import GroupRegions
from burst.adapters.aws.session import Clients, calling
from burst.core import asgtags
from burst.core.catalog import INSTANCE_TYPES
from burst.core.errors import NodeGroupNotFoundError
from burst.core.model import Instance, InstanceType, NodeGroup
from burst.core.scaleup.backoff import ScalingActivity
from burst.core.spot import CAPACITY_TYPE_LABEL, SPOT, SPOT_PRICE_LIVE_TAG, SPOT_PRICE_TAG


class AutoScalingGroups:
    """The NodeGroups port over Auto Scaling (and EC2 for launch templates)."""

    def __init__(self, clients: Clients, regions: GroupRegions | None = None) -> None:
        self.clients = clients
        self.regions = regions or GroupRegions(clients)

    def discover_node_groups(
        self, cluster: str, instance_types: Mapping[str, InstanceType] | None = None
    ) -> tuple[NodeGroup, ...]:
        """The ASGs tagged for Cluster Autoscaler and `cluster`, with instances, by name.

        An ASG needs both tag keys `k8s.io/cluster-autoscaler/enabled` and
        `k8s.io/cluster-autoscaler/<cluster>` (any values), as CA's auto-discovery
        `asg:tag=...` does, in every region of `regions` (each group's is recorded on it
        and in `regions`); groups being deleted are left out. Node templates come from the
        CA tags (asgtags), boards from the resources tags or else `instance_types`
        (default: catalog.INSTANCE_TYPES). Launch template lookups are cached per call.

        Read-only. Raises AwsThrottledError / AwsUnavailableError (transient) or AwsError.
        """
        table = INSTANCE_TYPES if instance_types is None else instance_types
        groups = []
        for region in self.regions.all:
            lt_cache: dict[tuple[str, str], str] = {}  # launch templates are regional
            for asg in self._describe(cluster, region):
                group = self._node_group(asg, table, lt_cache, region)
                self.regions.remember(group.name, region, (i.instance_id for i in group.instances))
                groups.append(group)
        return tuple(sorted(groups, key=lambda g: g.name))

    def instances(self, node_group: str) -> tuple[Instance, ...]:
        """The group's instances with lifecycle state and AZ, sorted by id.

        Read-only. Raises NodeGroupNotFoundError, or the transient errors / AwsError.
        """
        return instances_of(describe_group(self.regions, node_group))

    def scaling_activities(
        self, node_group: str, since: datetime
    ) -> tuple[ScalingActivity, ...]:
        """The group's scaling activities that started at or after `since`, newest first.

        Read-only. AWS returns them newest first; pages stop once one starts before
        `since`. Raises the transient errors or AwsError (ValidationError for an unknown
        group).
        """
        paginator = self.regions.client(
            "autoscaling", self.regions.of_group(node_group)
        ).get_paginator("describe_scaling_activities")
        found: list[ScalingActivity] = []
        with calling("DescribeScalingActivities"):
            for page in paginator.paginate(AutoScalingGroupName=node_group):
                batch = [_activity(a) for a in page.get("Activities", [])]
                found.extend(a for a in batch if a.start_time >= since)
                if any(a.start_time < since for a in batch):
                    break
        return tuple(found)

    def _describe(self, cluster: str, region: str) -> Iterator[dict[str, Any]]:
        required = (asgtags.ENABLED_TAG, asgtags.cluster_tag(cluster))
        # One tag-key filter per key: AWS ANDs filters, and values inside one filter OR.
        filters = [{"Name": "tag-key", "Values": [key]} for key in required]
        paginator = self.regions.client("autoscaling", region).get_paginator(
            "describe_auto_scaling_groups"
        )
        with calling("DescribeAutoScalingGroups"):
            pages = list(paginator.paginate(Filters=filters))
        for page in pages:
            for asg in page.get("AutoScalingGroups", []):
                keys = {t["Key"] for t in asg.get("Tags", [])}
                # Re-checked here: the filter is the server's job, but a group tagged for
                # another cluster must never be touched, whatever an endpoint returns.
                if all(k in keys for k in required) and not asg.get("Status"):
                    yield asg

    def _node_group(
        self,
        asg: Mapping[str, Any],
        table: Mapping[str, InstanceType],
        lt_cache: dict[tuple[str, str], str],
        region: str,
    ) -> NodeGroup:
        tags = {t["Key"]: t.get("Value", "") for t in asg.get("Tags", [])}
        instance_type = self._instance_type(asg, lt_cache, region)
        template = asgtags.node_template(tags, instance_type, table)
        return NodeGroup(
            name=asg["AutoScalingGroupName"],
            instance_type=instance_type,
            min_size=int(asg["MinSize"]),
            max_size=int(asg["MaxSize"]),
            desired=int(asg["DesiredCapacity"]),
            labels=_labels(asg, template.labels),
            taints=template.taints,
            priority=template.priority,
            boards=template.boards,
            instances=instances_of(asg),
            price_per_hour=_price(tags.get(SPOT_PRICE_TAG, "")),
            spot_price_live=tags.get(SPOT_PRICE_LIVE_TAG, "") == "true",
            region=region,
        )

    def _instance_type(
        self, asg: Mapping[str, Any], lt_cache: dict[tuple[str, str], str], region: str
    ) -> str:
        # Same order as CA's buildInstanceTypes: mixed-instances override, launch
        # template, launch configuration; then what running instances report.
        mixed = asg.get("MixedInstancesPolicy", {}).get("LaunchTemplate", {})
        for override in mixed.get("Overrides", []):
            if override.get("InstanceType"):
                return str(override["InstanceType"])
        spec = mixed.get("LaunchTemplateSpecification") or asg.get("LaunchTemplate")
        found = ""
        if spec:
            found = self._launch_template_type(spec, lt_cache, region)
        elif asg.get("LaunchConfigurationName"):
            found = self._launch_configuration_type(asg["LaunchConfigurationName"], region)
        if not found:
            found = next((i["InstanceType"] for i in asg.get("Instances", [])), "")
        return found

    def _launch_template_type(
        self, spec: Mapping[str, Any], cache: dict[tuple[str, str], str], region: str
    ) -> str:
        ident = spec.get("LaunchTemplateId") or spec.get("LaunchTemplateName", "")
        version = str(spec.get("Version") or "$Default")
        key = (ident, version)
        if key not in cache:
            by = "LaunchTemplateId" if spec.get("LaunchTemplateId") else "LaunchTemplateName"
            with calling("DescribeLaunchTemplateVersions"):
                reply = self.regions.client("ec2", region).describe_launch_template_versions(
                    **{by: ident}, Versions=[version]
                )
            versions = reply.get("LaunchTemplateVersions", [])
            data = versions[0].get("LaunchTemplateData", {}) if versions else {}
            cache[key] = str(data.get("InstanceType", ""))
        return cache[key]

    def _launch_configuration_type(self, name: str, region: str) -> str:
        with calling("DescribeLaunchConfigurations"):
            reply = self.regions.client("autoscaling", region).describe_launch_configurations(
                LaunchConfigurationNames=[name]
            )
        configs = reply.get("LaunchConfigurations", [])
        return str(configs[0].get("InstanceType", "")) if configs else ""


def describe_group(regions: GroupRegions, node_group: str) -> dict[str, Any]:
    """One group as DescribeAutoScalingGroups gives it, from its region;
    NodeGroupNotFoundError if none."""
    client = regions.client("autoscaling", regions.of_group(node_group))
    with calling("DescribeAutoScalingGroups"):
        reply = client.describe_auto_scaling_groups(
            AutoScalingGroupNames=[node_group]
        )
    groups = reply.get("AutoScalingGroups", [])
    if not groups:
        raise NodeGroupNotFoundError(
            "DescribeAutoScalingGroups", "", f"Auto Scaling group {node_group!r} not found"
        )
    return dict(groups[0])


def instances_of(asg: Mapping[str, Any]) -> tuple[Instance, ...]:
    """The instances of a described group, sorted by id."""
    return tuple(
        sorted(
            (
                Instance(
                    instance_id=i["InstanceId"],
                    lifecycle_state=i.get("LifecycleState", ""),
                    availability_zone=i.get("AvailabilityZone", ""),
                )
                for i in asg.get("Instances", [])
            ),
            key=lambda i: i.instance_id,
        )
    )


def all_spot(asg: Mapping[str, Any]) -> bool:
    """Whether every instance the group launches is Spot: a mixed instances policy with no
    on-demand base and 0 % on-demand above it (AWS's defaults are 0 and 100)."""
    policy = asg.get("MixedInstancesPolicy")
    if not policy:
        return False
    spread = policy.get("InstancesDistribution", {})
    return (int(spread.get("OnDemandBaseCapacity", 0)) == 0
            and int(spread.get("OnDemandPercentageAboveBaseCapacity", 100)) == 0)


def _labels(asg: Mapping[str, Any], labels: Mapping[str, str]) -> Mapping[str, str]:
    # The group's own launch settings outrank its tags: an all-Spot group is planned as
    # Spot even if its tags forgot the label, so no on-demand-only pod is sent to it.
    return {**labels, CAPACITY_TYPE_LABEL: SPOT} if all_spot(asg) else labels


def _price(value: str) -> float | None:
    try:
        price = float(value)
    except ValueError:
        return None
    return price if price > 0 else None


def _activity(raw: Mapping[str, Any]) -> ScalingActivity:
    return ScalingActivity(
        activity_id=raw["ActivityId"],
        status_code=raw.get("StatusCode", ""),
        start_time=raw["StartTime"],
        end_time=raw.get("EndTime"),
        description=raw.get("Description", ""),
        status_message=raw.get("StatusMessage", ""),
        cause=raw.get("Cause", ""),
    )
