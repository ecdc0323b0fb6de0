"""AWS for tests, benchmarks and the demo: a moto_server, a view of it, and what moto lacks.

- `moto_server()`: a moto_server on a free loopback port for as long as the block runs.
- `MotoView`: the caller's own view of it (moto's "testing" keys, never a function's): make
  node groups tagged as Cluster Autoscaler discovers them and the cluster credentials
  secrets, read what the controller did.
- `environment()`: the variables the CDK sets on a function, pointed at the moto_server;
  `own_keys()`, `environ()`: keys and settings in the process environment for a block.
- moto 5.2.1 answers DescribeScalingActivities with an empty list: `ActivityFeed` answers it
  from the caller's state instead, `failed_launch` is what AWS reports for a failed launch.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from burst.adapters.kube.identity import FUNCTIONS
from burst.core.asgtags import ENABLED_TAG, LABEL_PREFIX, cluster_tag
from burst.core.names import METRICS_NAMESPACE, SERVICE
from burst.ports.aws import ClusterCredentials
from burst.tools.credentials import secret_id
from burst.tools.harness.net import free_port

REGION = "us-east-1"
CLUSTER = "onprem"
# Each function's credentials secret, where `burst credentials --secret-id fpga-burst/cluster`
# writes them.
SECRET_PREFIX = "fpga-burst/cluster"
SECRETS = {f: secret_id(SECRET_PREFIX, f) for f in FUNCTIONS}
SECRET = SECRETS["scaler"]
# moto accepts any key; these are the ones the harness's own clients use.
TESTING_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
LISTEN_TIMEOUT_S = 30.0


@contextlib.contextmanager
def moto_server(*, own_process: bool = False) -> Iterator[str]:
    """A moto_server on a free loopback port, for as long as the block runs; its endpoint.

    In this process (ThreadedMotoServer) by default: its state is moto's in-process
    backends, which a caller may reach into. `own_process`: a `python -m moto.server`
    subprocess, whose state no `mock_aws()` of this process resets.
    """
    port = free_port()
    if own_process:
        with _subprocess(port):
            yield f"http://127.0.0.1:{port}"
        return
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@contextlib.contextmanager
def _subprocess(port: int) -> Iterator[None]:
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + LISTEN_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"moto_server did not listen within {LISTEN_TIMEOUT_S:.0f} s") from None
                time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.contextmanager
def environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """`values` in the process environment (None: unset) for as long as the block runs,
    then as they were."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        _set(values)
        yield
    finally:
        _set(saved)


@contextlib.contextmanager
def acting_as(function: str, keys: Mapping[str, str] = TESTING_KEYS) -> Iterator[None]:
    """For as long as the block runs, the environment's credentials secret and AWS key are
    `function`'s (its Kubernetes identity, its access key), the rest as the caller set it
    (environment()): to invoke another function than the one set up. The handlers' cached
    settings are dropped on the way in and out."""
    from burst.handlers import runtime

    runtime.config.cache_clear()
    try:
        with environ({"FPGA_BURST_CREDENTIALS_SECRET_ARN": SECRETS[function], **keys}):
            yield
    finally:
        runtime.config.cache_clear()


def own_keys() -> contextlib.AbstractContextManager[None]:
    """The process environment's AWS keys are the harness's for as long as the block runs
    (no session token, no profile): what runs in it (a handler, the CLI) never reads a
    user's real credentials, and no IAM enforcement checks its calls."""
    return environ({**TESTING_KEYS, "AWS_SESSION_TOKEN": None, "AWS_PROFILE": None})


def _set(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def session(region: str = REGION) -> boto3.Session:
    """A boto3 session with the harness's own keys (unchecked by any IAM enforcement)."""
    return boto3.Session(aws_access_key_id=TESTING_KEYS["AWS_ACCESS_KEY_ID"],
                         aws_secret_access_key=TESTING_KEYS["AWS_SECRET_ACCESS_KEY"],
                         region_name=region)


class MotoView:
    """The caller's own view of a moto_server: make groups, read what the controller did."""

    def __init__(self, endpoint: str, region: str = REGION) -> None:
        # moto_server serves every region on one endpoint, each region's resources apart.
        self.endpoint = endpoint
        self.region = region
        self._session = session(region)
        self.asg = self.client("autoscaling")
        self.ec2 = self.client("ec2")
        self.secrets = self.client("secretsmanager")

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self.endpoint)

    def store_credentials(self, issued: Mapping[str, ClusterCredentials],
                          prefix: str = SECRET_PREFIX) -> None:
        """Each function's credentials in its own secret, as `burst credentials --secret-id
        PREFIX` stores them."""
        for function, creds in issued.items():
            value = json.dumps({"endpoint": creds.endpoint, "ca": creds.ca, "token": creds.token})
            self.secrets.create_secret(Name=secret_id(prefix, function), SecretString=value)

    def group(self, name: str, instance_type: str, labels: Mapping[str, str],
              max_size: int = 4, desired: int = 0) -> None:
        """A launch template and an ASG tagged for CLUSTER, with node-template `labels`."""
        template = self.ec2.create_launch_template(
            LaunchTemplateName=f"lt-{name}",
            LaunchTemplateData={"ImageId": "ami-03cf127a", "InstanceType": instance_type},
        )["LaunchTemplate"]
        tags = {ENABLED_TAG: "true", cluster_tag(CLUSTER): "owned",
                **{f"{LABEL_PREFIX}{k}": v for k, v in labels.items()}}
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


def environment(endpoint: str, function: str = "scaler",
                keys: Mapping[str, str] = TESTING_KEYS, **config: Any) -> dict[str, str]:
    """The variables the CDK sets on `function`, pointing at the moto_server: its own
    credentials secret (SECRETS), a catalog of the boards the harness's groups have,
    scale-down at once, watch off; each keyword replaces keys of that FPGA_BURST_CONFIG
    section. `keys`: its AWS access key (a test that enforces IAM gives the function's own)."""
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
        **keys,
        "POWERTOOLS_SERVICE_NAME": SERVICE,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    }


class ActivityFeed:
    """DescribeScalingActivities answered from `activities` (group -> newest first), which
    the caller changes while a scaler runs; moto answers every other call.

    A Stubber's queue must know in advance how often the operation is called; a watching
    scaler calls it once per group per reconcile, as often as it reconciles, so this
    answers the way a Stubber does (botocore's `before-call` event) but from the current
    state.
    """

    def __init__(self, client: Any) -> None:
        self.activities: dict[str, list[dict[str, Any]]] = {}
        self.lock = threading.Lock()
        client.meta.events.register(
            "before-call.auto-scaling.DescribeScalingActivities", self._answer
        )

    def fail(self, group: str, activity: dict[str, Any]) -> None:
        with self.lock:
            self.activities.setdefault(group, []).insert(0, activity)

    def _answer(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        # `params` is the request dict; Auto Scaling's query protocol keeps the API
        # parameters in its body, still a dict at this stage.
        body = params.get("body")
        group = body.get("AutoScalingGroupName", "") if isinstance(body, dict) else ""
        with self.lock:
            found = list(self.activities.get(group, []))
        return AWSResponse("", 200, {}, None), {"Activities": found}


def failed_launch(group: str, message: str, end: datetime) -> dict[str, Any]:
    """A failed launch activity as DescribeScalingActivities reports it."""
    return {
        "ActivityId": f"failed-{group}-{end.timestamp()}", "AutoScalingGroupName": group,
        "Description": "Launching a new EC2 instance.  Status Reason: " + message,
        "Cause": "an instance was started in response to a difference between desired and "
                 "actual capacity, increasing the capacity from 0 to 1.",
        "StartTime": end - timedelta(seconds=3), "EndTime": end, "StatusCode": "Failed",
        "StatusMessage": message, "Progress": 100,
    }
