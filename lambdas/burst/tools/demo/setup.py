"""Setting the stage: the control plane, moto with the deploy config's node groups, the
controller's credentials and the join parameter's KMS key, the handlers' configuration."""

from __future__ import annotations

from pathlib import Path

from burst.adapters.kube.client import Kube
from burst.adapters.kube.identity import NAMESPACE, service_account
from burst.loop import config as runtime_config
from burst.loop.config import RuntimeConfig
from burst.loop.lifecycle import LAUNCH_HOOK, TERMINATE_HOOK
from burst.tools import credentials
from burst.tools.demo.actors import Timings
from burst.tools.demo.timeline import Timeline
from burst.tools.deploy.config import (
    LAUNCH_HOOK_TIMEOUT_SECONDS,
    TERMINATE_HOOK_TIMEOUT_SECONDS,
    DeployConfig,
    load,
)
from burst.tools.deploy.tags import autoscaler_tags
from burst.tools.harness import controlplane
from burst.tools.harness.moto import MotoView
from burst.tools.harness.stage import identities

DEMO_CONFIG = Path(__file__).with_name("demo.yaml")  # package data
SECRET_NAME = "fpga-burst/demo/credentials"


def deploy_config(path: Path = DEMO_CONFIG) -> DeployConfig:
    return load(path)


class ControlPlaneUnavailableError(Exception):
    """The test control plane cannot run here: no binaries (no Go for build.sh), or they
    would not start."""


def control_plane(timeline: Timeline, workdir: Path) -> controlplane.ControlPlane:
    try:
        cp = controlplane.start(workdir, scheduler=True)
    except (controlplane.ControlPlaneError, OSError) as exc:
        raise ControlPlaneUnavailableError(str(exc)) from exc
    timeline.say("setup", f"control plane up: etcd + kube-apiserver + kube-scheduler at "
                          f"{cp.endpoint} (RBAC on; no kubelets: the demo plays them)")
    return cp


def node_groups(aws: MotoView, deploy: DeployConfig, timeline: Timeline) -> None:
    """Launch template + ASG (min as configured, desired 0) + both lifecycle hooks per group,
    tagged as the CDK tags them (burst.tools.deploy.tags)."""
    ec2, asg = aws.client("ec2"), aws.client("autoscaling")
    for group in deploy.node_groups:
        name = group.asg_name(deploy.cluster_name)
        template = ec2.create_launch_template(
            LaunchTemplateName=name,
            LaunchTemplateData={"ImageId": group.ami_id, "InstanceType": group.instance_type},
        )["LaunchTemplate"]
        tags = {**autoscaler_tags(group, deploy.cluster_name), "Name": name}
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"],
                            "Version": "$Latest"},
            MinSize=group.min_size, MaxSize=group.max_size, DesiredCapacity=0,
            AvailabilityZones=sorted({s.availability_zone for s in group.subnets}),
            Tags=[{"Key": k, "Value": v, "PropagateAtLaunch": k == "Name", "ResourceId": name,
                   "ResourceType": "auto-scaling-group"} for k, v in tags.items()],
        )
        for hook, transition, result, seconds in (
            (LAUNCH_HOOK, "autoscaling:EC2_INSTANCE_LAUNCHING", "ABANDON",
             LAUNCH_HOOK_TIMEOUT_SECONDS),
            (TERMINATE_HOOK, "autoscaling:EC2_INSTANCE_TERMINATING", "CONTINUE",
             TERMINATE_HOOK_TIMEOUT_SECONDS),
        ):
            asg.put_lifecycle_hook(LifecycleHookName=hook, AutoScalingGroupName=name,
                                   LifecycleTransition=transition, DefaultResult=result,
                                   HeartbeatTimeout=seconds)
        boards = ", ".join(f"{n} x {b}" for b, n in group.boards.items())
        timeline.say("aws", f"node group {name}: {group.instance_type} ({boards}), min "
                            f"{group.min_size} max {group.max_size} desired 0, "
                            f"{len(tags) - 1} Cluster Autoscaler tags, 2 lifecycle hooks")


def store_credentials(aws: MotoView, admin: Kube, cp: controlplane.ControlPlane,
                      timeline: Timeline) -> None:
    """What `burst credentials --secret-id` does: RBAC applied, a token for each function's
    restricted ServiceAccount, each stored where that function reads it."""
    issued = identities(admin, cp.admin_kubeconfig)
    aws.store_credentials(issued, SECRET_NAME)
    for function in issued:
        timeline.say("aws", f"secret {credentials.secret_id(SECRET_NAME, function)}: endpoint, "
                            f"CA and token of {NAMESPACE}/{service_account(function)} "
                            "(rbac.yaml; token not shown)")


def join_key(aws: MotoView, timeline: Timeline) -> str:
    key: str = aws.client("kms").create_key(Description="fpga-burst demo join parameter")[
        "KeyMetadata"]["KeyId"]
    timeline.say("aws", f"KMS key {key} for the SecureString join parameter")
    return key


def handler_config(deploy: DeployConfig, timings: Timings, *, endpoint: str,
                   key: str) -> RuntimeConfig:
    """FPGA_BURST_CONFIG as the CDK builds it (DeployConfig.runtime_config), with a watch
    that stops in time for the demo's shorter tick."""
    document = deploy.runtime_config()
    document["watch"] = {"idle_seconds": 0.5, "max_batch_seconds": 2,
                         "margin_seconds": min(2.0, timings.tick / 4)}
    return runtime_config.load(
        environ={}, config=document, cluster_name=deploy.cluster_name,
        credentials_secret=SECRET_NAME, join_parameter=deploy.join_parameter_name,
        join_key_id=key, aws_endpoint_url=endpoint, region=deploy.region,
    )
