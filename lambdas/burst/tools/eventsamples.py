"""The sample events of events/, named as a deployment config's stack names things.

Every sample is in the shape EventBridge delivers it (AWS's samples: "Amazon EC2 Auto
Scaling event reference", "Scheduled events", and the notice samples of
burst.core.notices.samples); what a deployment decides is filled in from its config, with
the names the stacks use (ASG names from NodeGroupConfig.asg_name, hook names from
burst.core.names.Hook), so the stack's rules would deliver them (their patterns name the
ASGs; events reach the rules of their own account and region) and the functions would act
on them. The groups are the home region's: the first is launched and terminated, the last
fails to launch. The rest (ids, tokens, times, instance ids) is AWS's or fixed, so the
files change only when the config does.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from burst.core.names import Hook
from burst.core.notices.kinds import NOTICES, NoticeKind
from burst.core.regions import partition
from burst.tools.deploy.config import DeployConfig

# The one instance every sample is about (AWS's notice samples name i-1234567890abcdef0).
LIFECYCLE_INSTANCE = "i-0a1b2c3d4e5f60718"
_GROUP_ID = "4f1b9d3e-6a2c-4e7b-9f0a-1c2d3e4f5a6b"
_FAILED_GROUP_ID = "8a7b6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d"


def samples(config: DeployConfig) -> dict[str, dict[str, Any]]:
    """File name -> the event, for every sample `burst events` writes."""
    home = config.groups_in(config.region)
    first, failing = home[0], home[-1]
    at = _Site(config.account, config.region)
    launched = first.asg_name(config.cluster_name)
    found = {
        "scheduled.json": _scheduled(at),
        "launch-lifecycle-action.json": _lifecycle(at, launched, Hook.LAUNCH),
        "terminate-lifecycle-action.json": _lifecycle(at, launched, Hook.TERMINATE),
        "launch-unsuccessful.json": _launch_failed(
            at, failing.asg_name(config.cluster_name), failing.instance_type,
            [(s.id, s.availability_zone) for s in failing.subnets]),
    }
    zone = first.subnets[0].availability_zone
    for kind, entry in NOTICES.items():
        found[entry.sample] = _notice(kind, entry.documented, at, zone)
    return found


class _Site:
    """The account and region the samples come from, and ARNs there."""

    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region

    def arn(self, service: str, resource: str, *, account: bool = True) -> str:
        owner = self.account if account else ""
        return f"arn:{partition(self.region)}:{service}:{self.region}:{owner}:{resource}"

    def envelope(self, event_id: str, detail_type: str, source: str,
                 time: str) -> dict[str, Any]:
        return {"version": "0", "id": event_id, "detail-type": detail_type, "source": source,
                "account": self.account, "time": time, "region": self.region}


def _scheduled(at: _Site) -> dict[str, Any]:
    # The rule's physical name is CloudFormation's to choose; the function reads no more of
    # it than that it is a rule.
    return {**at.envelope("53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "Scheduled Event",
                          "aws.events", "2026-11-27T02:40:00Z"),
            "resources": [at.arn("events", "rule/fpga-burst-scaler-tick")], "detail": {}}


def _group_arn(at: _Site, group_id: str, asg: str) -> str:
    return at.arn("autoscaling", f"autoScalingGroup:{group_id}:autoScalingGroupName/{asg}")


# hook -> its sample's event id, detail-type, time, token, transition, origin, destination
_ACTIONS: dict[Hook, tuple[str, ...]] = {
    Hook.LAUNCH: ("9b1c1d2e-3f4a-45b6-8c7d-0e1f2a3b4c5d", "EC2 Instance-launch Lifecycle Action",
                  "2026-11-27T02:41:12Z", "c613620e-07e2-4ed2-a9e2-ef8258911ade",
                  "autoscaling:EC2_INSTANCE_LAUNCHING", "EC2", "AutoScalingGroup"),
    Hook.TERMINATE: ("0f9e8d7c-6b5a-4493-8271-605f4e3d2c1b",
                     "EC2 Instance-terminate Lifecycle Action", "2026-11-27T03:05:47Z",
                     "4d8a8e61-5f2b-4c0e-b8f6-2a9d3c7e1f05",
                     "autoscaling:EC2_INSTANCE_TERMINATING", "AutoScalingGroup", "EC2"),
}


def _lifecycle(at: _Site, asg: str, hook: Hook) -> dict[str, Any]:
    event_id, detail_type, time, token, transition, origin, destination = _ACTIONS[hook]
    return {**at.envelope(event_id, detail_type, "aws.autoscaling", time),
            "resources": [_group_arn(at, _GROUP_ID, asg)], "detail": {
        "LifecycleActionToken": token, "AutoScalingGroupName": asg,
        "LifecycleHookName": str(hook), "EC2InstanceId": LIFECYCLE_INSTANCE,
        "LifecycleTransition": transition, "NotificationMetadata": "fpga-burst",
        "Origin": origin, "Destination": destination}}


def _launch_failed(at: _Site, asg: str, instance_type: str,
                   subnets: list[tuple[str, str]]) -> dict[str, Any]:
    """EC2's InsufficientInstanceCapacity, as Auto Scaling reports it, in the group's first
    subnet, naming the group's other zones as EC2 does."""
    subnet, zone = subnets[0]
    others = sorted({z for _, z in subnets} - {zone})
    elsewhere = (f" or choosing {', '.join(others)}" if others else "")
    activity = "a5e1b3c7-9d2f-4e6a-8b0c-1d3e5f7a9b2c"
    return {**at.envelope("7e6d5c4b-3a29-4817-9605-f4e3d2c1b0a9",
                          "EC2 Instance Launch Unsuccessful", "aws.autoscaling",
                          "2026-11-27T02:42:31Z"),
            "resources": [_group_arn(at, _FAILED_GROUP_ID, asg)], "detail": {
        "StatusCode": "Failed", "AutoScalingGroupName": asg, "ActivityId": activity,
        "Details": {"Availability Zone": zone, "Subnet ID": subnet},
        "RequestId": activity,
        "StatusMessage": (
            f"We currently do not have sufficient {instance_type} capacity in the "
            f"Availability Zone you requested ({zone}). Our system will be working on "
            f"provisioning additional capacity. You can currently get {instance_type} "
            f"capacity by not specifying an Availability Zone in your request{elsewhere}. "
            "Launching EC2 instance failed."),
        "EndTime": "2026-11-27T02:42:31.000Z", "EC2InstanceId": "",
        "StartTime": "2026-11-27T02:42:29.512Z",
        "Cause": ("At 2026-11-27T02:42:27Z an instance was started in response to a "
                  "difference between desired and actual capacity, increasing the capacity "
                  "from 0 to 1."),
        "Origin": "EC2", "Destination": "AutoScalingGroup"}}


def _notice(kind: NoticeKind, documented: Mapping[str, Any], at: _Site,
            zone: str) -> dict[str, Any]:
    """AWS's documented sample, moved to the config's account and region."""
    event = copy.deepcopy(dict(documented))
    event.update(account=at.account, region=at.region)
    detail = event["detail"]
    instance = f"instance/{_instance(event)}"
    match kind:
        case NoticeKind.SPOT_INTERRUPTION:
            # AWS's sample names the instance by its zone, with no account
            event["resources"] = [f"arn:{partition(at.region)}:ec2:{zone}:{instance}"]
        case NoticeKind.REBALANCE:
            event["resources"] = [at.arn("ec2", instance)]
        case NoticeKind.SCHEDULED_CHANGE:
            code = detail["eventArn"].rsplit("/", 1)[1]
            detail.update(eventArn=at.arn("health", f"event/{code}", account=False),
                          eventRegion=at.region, affectedAccount=at.account)
            for entity in detail["affectedEntities"]:
                entity["entityValue"] = at.arn("ec2", instance)
    return event


def _instance(event: Mapping[str, Any]) -> str:
    detail = event["detail"]
    if "instance-id" in detail:
        return str(detail["instance-id"])
    return str(detail["affectedEntities"][0]["entityValue"]).rsplit("/", 1)[1]
