"""Auto Scaling groups made in moto for the AWS adapter's tests: a launch template and a
group of it with the tags given, in a region of the in-process moto or of a moto_server."""

from __future__ import annotations

import boto3

from burst.tools.harness.moto import REGION


def make_group(
    s: boto3.Session,
    name: str,
    tags: dict[str, str],
    *,
    region: str = REGION,
    endpoint: str | None = None,
    instance_type: str = "f1.4xlarge",
    desired: int = 0,
    max_size: int = 4,
) -> None:
    template = s.client("ec2", region_name=region, endpoint_url=endpoint).create_launch_template(
        LaunchTemplateName=f"lt-{name}",
        LaunchTemplateData={"ImageId": "ami-03cf127a", "InstanceType": instance_type},
    )["LaunchTemplate"]
    s.client("autoscaling", region_name=region, endpoint_url=endpoint).create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"], "Version": "$Latest"},
        MinSize=0,
        MaxSize=max_size,
        DesiredCapacity=desired,
        AvailabilityZones=[f"{region}a"],
        Tags=[
            {"Key": k, "Value": v, "PropagateAtLaunch": False, "ResourceId": name,
             "ResourceType": "auto-scaling-group"}
            for k, v in tags.items()
        ],
    )
