"""The scaler as Lambda runs it, for end-to-end tests and the latency benchmark.

A moto_server (ThreadedMotoServer) stands in for AWS; the cluster credentials live in its
Secrets Manager, as `burst credentials --secret` stores them; node groups are ASGs tagged
as Cluster Autoscaler discovers them. The handler is called with a real EventBridge event
from events/ and a Lambda-like context.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import iamenforce

from burst.adapters.kube import credentials
from burst.ports.aws import ClusterCredentials

REGION = "us-east-1"
CLUSTER = "onprem"
CA = "k8s.io/cluster-autoscaler/"
EVENTS = Path(__file__).parents[2] / "events"
# Each function's credentials secret, where `burst credentials --secret-id fpga-burst/cluster`
# writes them (and tests/integration/iam-deploy.yaml names them).
SECRETS = {f: credentials.secret_id("fpga-burst/cluster", f) for f in credentials.FUNCTIONS}
SECRET = SECRETS["scaler"]


@dataclass
class LambdaContext:
    """What the handler reads of Lambda's context object: the time left."""

    seconds: float
    started: float = field(default_factory=time.monotonic)
    function_name: str = "fpga-burst-onprem-scaler"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:scaler"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.seconds - time.monotonic()) * 1000))


def scheduled_event(at: datetime | None = None) -> dict[str, Any]:
    """events/scheduled.json, stamped as EventBridge stamps a tick: its scheduled time (default:
    now), which the scaler measures its minute from."""
    event = dict(json.loads((EVENTS / "scheduled.json").read_text()))
    event["time"] = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto_server on a free local port, for as long as the block runs; its endpoint."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


def environment(endpoint: str, function: str = "scaler", **config: Any) -> dict[str, str]:
    """The variables the CDK sets for `function`, pointing at the moto server; its own access
    key (its calls are checked against its synthesized policy, iamenforce) and its own
    credentials secret (its own Kubernetes identity)."""
    document: dict[str, dict[str, Any]] = {
        "catalog": {"accelerators": {"com.inaccel.xgboost.exact": {
            "xilinx/u250": 4, "xilinx/aws-vu9p-f1": 2}}},
        "policy": {"scale_down_unneeded_time_seconds": 0,
                   "scale_down_delay_after_add_seconds": 0},
        "watch": {"enabled": False},
    }
    for section, values in config.items():
        document.setdefault(section, {}).update(values)
    return {
        "FPGA_BURST_CLUSTER_NAME": CLUSTER,
        "FPGA_BURST_CREDENTIALS_SECRET_ARN": SECRETS[function],
        "FPGA_BURST_AWS_ENDPOINT_URL": endpoint,
        "FPGA_BURST_CONFIG": json.dumps(document),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        **iamenforce.credentials(function),
        "POWERTOOLS_SERVICE_NAME": "fpga-burst",
        "POWERTOOLS_METRICS_NAMESPACE": "fpga-burst",
    }


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """`values` in the environment for as long as the block runs, then as they were."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def acting_as(function: str) -> Iterator[None]:
    """For as long as the block runs, the environment's AWS key and credentials secret are
    `function`'s (its policy, its Kubernetes identity), the rest as the test set it: for a
    test that invokes another function besides the scaler."""
    from burst.handlers import runtime

    own = {"FPGA_BURST_CREDENTIALS_SECRET_ARN": SECRETS[function],
           **iamenforce.credentials(function)}
    runtime.config.cache_clear()
    try:
        with _environment(own):
            yield
    finally:
        runtime.config.cache_clear()


@contextmanager
def operator_credentials() -> Iterator[None]:
    """The environment's AWS keys are the operator's (unchecked), not a function's, for as
    long as the block runs: for the CLI (`burst doctor`) in a test that also runs the scaler."""
    with _environment({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}):
        yield


class Aws:
    """The test's own view of the moto server: make groups, read what the scaler did."""

    def __init__(self, endpoint: str, region: str = REGION) -> None:
        s = session()
        # moto_server serves every region on one endpoint, each region's resources apart.
        self.region = region
        self.asg = s.client("autoscaling", endpoint_url=endpoint, region_name=region)
        self.ec2 = s.client("ec2", endpoint_url=endpoint, region_name=region)
        self.secrets = s.client("secretsmanager", endpoint_url=endpoint, region_name=region)

    def store_credentials(self, issued: Mapping[str, ClusterCredentials]) -> None:
        """Each function's credentials in its own secret, as `burst credentials` stores them."""
        for function, creds in issued.items():
            value = json.dumps({"endpoint": creds.endpoint, "ca": creds.ca, "token": creds.token})
            self.secrets.create_secret(Name=SECRETS[function], SecretString=value)

    def group(self, name: str, instance_type: str, labels: Mapping[str, str],
              max_size: int = 4, desired: int = 0) -> None:
        template = self.ec2.create_launch_template(
            LaunchTemplateName=f"lt-{name}",
            LaunchTemplateData={"ImageId": "ami-03cf127a", "InstanceType": instance_type},
        )["LaunchTemplate"]
        tags = {CA + "enabled": "true", CA + CLUSTER: "owned",
                **{f"{CA}node-template/label/{k}": v for k, v in labels.items()}}
        self.asg.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"],
                            "Version": "$Latest"},
            MinSize=0, MaxSize=max_size, DesiredCapacity=desired,
            AvailabilityZones=[f"{self.region}a"],
            Tags=[{"Key": k, "Value": v, "PropagateAtLaunch": False, "ResourceId": name,
                   "ResourceType": "auto-scaling-group"} for k, v in tags.items()],
        )

    def describe(self, name: str) -> dict[str, Any]:
        groups = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        return dict(groups["AutoScalingGroups"][0])

    def desired(self, name: str) -> int:
        return int(self.describe(name)["DesiredCapacity"])

    def instances(self, name: str) -> list[dict[str, Any]]:
        return list(self.describe(name)["Instances"])


def emitted_metrics(stdout: str) -> dict[str, float]:
    """Sum of every EMF metric the handler printed."""
    found: dict[str, float] = {}
    for line in stdout.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        doc = json.loads(line)
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                values = doc[metric["Name"]]
                values = values if isinstance(values, list) else [values]
                found[metric["Name"]] = found.get(metric["Name"], 0) + sum(values)
    return found
