"""Setting the stage: the control plane, moto with the deploy config's node groups, the
controller's credentials and the join parameter's KMS key, the handlers' configuration."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from burst.adapters.aws.adapter import Aws as AwsAdapter
from burst.adapters.aws.adapter import AwsSettings
from burst.adapters.kube import credentials
from burst.adapters.kube.client import Kube
from burst.loop import config as runtime_config
from burst.loop.config import RuntimeConfig
from burst.loop.lifecycle import LAUNCH_HOOK, TERMINATE_HOOK
from burst.tools.demo.actors import Timings
from burst.tools.demo.timeline import Timeline

REPO = Path(__file__).resolve().parents[4]
DEMO_CONFIG = REPO / "config" / "demo.yaml"
BUILD_SCRIPT = REPO / "tools" / "controlplane" / "build.sh"
SECRET_NAME = "fpga-burst/demo/credentials"
# `stacks` and the control plane's launcher live in the checkout beside the package, as the
# RBAC manifest does (kube/credentials.py): the demo runs from a clone.
for _path in (REPO, REPO / "tools" / "controlplane"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import devcluster  # noqa: E402

from stacks.config import (  # noqa: E402
    LAUNCH_HOOK_TIMEOUT_SECONDS,
    TERMINATE_HOOK_TIMEOUT_SECONDS,
    DeployConfig,
)
from stacks.config import load as _load  # noqa: E402
from stacks.nodegroup.tags import autoscaler_tags  # noqa: E402


def free_port() -> int:
    port: int = devcluster.free_port()
    return port


def deploy_config(path: Path = DEMO_CONFIG) -> DeployConfig:
    return _load(path)


class ControlPlaneUnavailableError(Exception):
    """The test control plane could not be built or started here (no Go, a failed build)."""


def binaries(timeline: Timeline) -> Path:
    """tools/controlplane/build.sh's bin directory; its progress goes to the terminal."""
    if os.environ.get(devcluster.BIN_ENV):
        return Path(os.environ[devcluster.BIN_ENV])
    timeline.say("setup", "control plane binaries: tools/controlplane/build.sh (cached after "
                          "the first build; a cold build takes ~9 min on 2 cores)")
    try:
        done = subprocess.run([str(BUILD_SCRIPT)], stdout=subprocess.PIPE, text=True,
                              check=False)
    except OSError as exc:
        raise ControlPlaneUnavailableError(f"{BUILD_SCRIPT}: {exc}") from exc
    if done.returncode != 0 or not done.stdout.strip():
        raise ControlPlaneUnavailableError(f"{BUILD_SCRIPT} failed (exit {done.returncode})")
    return Path(done.stdout.strip().splitlines()[-1])


def control_plane(timeline: Timeline, workdir: Path) -> Any:
    os.environ[devcluster.BIN_ENV] = str(binaries(timeline))
    try:
        cp = devcluster.start(workdir, scheduler=True)
    except (devcluster.ControlPlaneError, OSError) as exc:
        raise ControlPlaneUnavailableError(str(exc)) from exc
    timeline.say("setup", f"control plane up: etcd + kube-apiserver + kube-scheduler at "
                          f"{cp.endpoint} (RBAC on; no kubelets: the demo plays them)")
    return cp


_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo",
                "AWS_SESSION_TOKEN": None, "AWS_PROFILE": None}


@contextlib.contextmanager
def dummy_credentials() -> Iterator[None]:
    """moto's dummy keys for every client the demo and its handlers make, so a user's real
    AWS credentials are never read (the endpoint is moto anyway); restored afterwards."""
    saved = {name: os.environ.get(name) for name in _CREDENTIALS}
    try:
        for name, value in _CREDENTIALS.items():
            _set(name, value)
        yield
    finally:
        for name, value in saved.items():
            _set(name, value)


def _set(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@dataclass(frozen=True)
class Aws:
    """The demo's own view of moto, through an adapter without the emulated hooks: the
    "real" AWS state (instances moto launched or removed)."""

    endpoint: str
    region: str

    def client(self, service: str) -> Any:
        return AwsAdapter(settings=AwsSettings(region=self.region,
                                               endpoint_url=self.endpoint)).client(service)


def node_groups(aws: Aws, deploy: DeployConfig, timeline: Timeline) -> None:
    """Launch template + ASG (min as configured, desired 0) + both lifecycle hooks per group,
    tagged as the CDK tags them (stacks/nodegroup/tags.py)."""
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


def store_credentials(aws: Aws, admin: Kube, source: str, timeline: Timeline) -> None:
    """What `burst credentials --secret-id` does: RBAC applied, a token for each function's
    restricted ServiceAccount, each stored where that function reads it."""
    with contextlib.redirect_stderr(io.StringIO()):  # its "created ..." lines
        issued = credentials.provision(admin, credentials.DEFAULT_RBAC, timedelta(hours=2),
                                       source)
    for function, creds in issued.items():
        name = credentials.secret_id(SECRET_NAME, function)
        value = json.dumps({"endpoint": creds.endpoint, "ca": creds.ca, "token": creds.token})
        aws.client("secretsmanager").create_secret(Name=name, SecretString=value)
        timeline.say("aws", f"secret {name}: endpoint, CA and token of "
                            f"{credentials.NAMESPACE}/{credentials.service_account(function)} "
                            "(manifests/rbac.yaml; token not shown)")


def join_key(aws: Aws, timeline: Timeline) -> str:
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
