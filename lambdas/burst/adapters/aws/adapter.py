"""The AWS adapter: the only module that imports boto3 or botocore.

Implements cloud.AwsReader and cloud.AwsWriter. Clients are created on first use from an
injected boto3 Session (or the default one), each with adaptive retries and connect/read
timeouts, so a slow or throttling API costs a bounded part of the Lambda's deadline.
Every ClientError or transport error leaves this module as an errors.py type, `from` the
original: AwsThrottledError / AwsUnavailableError (TransientError: retry next tick) or
AwsError and its subclasses (retrying will not help).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from burst.core import asgtags
from burst.core.backoff import ScalingActivity, backoff, last_launch
from burst.core.catalog import INSTANCE_TYPES
from burst.core.errors import (
    AwsError,
    AwsThrottledError,
    AwsUnavailableError,
    BurstError,
    ClusterCredentialsError,
    LifecycleActionNotFoundError,
    NodeGroupNotFoundError,
)
from burst.core.model import Instance, InstanceType, NodeGroup
from burst.ports.aws import CapacityChange, ClusterCredentials, JoinData, LifecycleResult

log = logging.getLogger(__name__)

# botocore's own list of throttling codes, less LimitExceededException, which Auto Scaling
# uses for quotas (too many groups), not for request rates.
_THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "EC2ThrottledException",
        "PriorRequestNotComplete",
        "SlowDown",
    }
)
# Busy or broken on AWS's side: the same call may work on the next tick.
_TRANSIENT = frozenset(
    {
        "ResourceContention",
        "ScalingActivityInProgress",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "RequestTimeout",
    }
)
_GONE_STATES = ("Terminating", "Terminated")


@dataclass(frozen=True)
class AwsSettings:
    """Client settings; region and endpoint also come from AWS_REGION / AWS_ENDPOINT_URL."""

    region: str | None = None
    endpoint_url: str | None = None  # e.g. a moto_server, for local runs and tests
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    max_attempts: int = 4  # adaptive mode: attempts including the first
    # How far back DescribeScalingActivities is read; longer than the backoff reset (3 h)
    # so a chain of failures is seen whole.
    activity_lookback: timedelta = timedelta(hours=6)


class _NoWireBodies(logging.Filter):
    """Drops botocore's DEBUG records of raw request and response bodies."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO


_NO_WIRE_BODIES = _NoWireBodies()


def _quiet_wire_logs() -> None:
    # botocore.endpoint and botocore.parsers log whole request and response bodies at
    # DEBUG: join tokens and the cluster token would reach CloudWatch whenever someone
    # turns on debug logging. A filter, not a level, so whatever level is set later
    # (Powertools, pytest) cannot bring them back. addFilter ignores a repeat.
    for name in ("botocore.endpoint", "botocore.parsers"):
        logging.getLogger(name).addFilter(_NO_WIRE_BODIES)


def _code(exc: ClientError) -> tuple[str, str, int]:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return str(error.get("Code", "")), str(error.get("Message", "")), int(status or 0)


def translate(operation: str, exc: ClientError | BotoCoreError) -> BurstError:
    """The errors.py type for a botocore error raised by `operation`."""
    if isinstance(exc, ClientError):
        code, message, status = _code(exc)
        if code in _THROTTLING or status == 429:
            return AwsThrottledError(f"{operation}: {code}: {message}")
        if code in _TRANSIENT or status >= 500:
            return AwsUnavailableError(f"{operation}: {code}: {message}")
        return AwsError(operation, code, message)
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return AwsUnavailableError(f"{operation}: {exc}")
    return AwsError(operation, type(exc).__name__, str(exc))


@contextmanager
def _calling(operation: str) -> Iterator[None]:
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise translate(operation, exc) from exc


def _lifecycle_not_found(error: AwsError) -> bool:
    text = str(error).lower()
    return error.code == "ValidationError" and "lifecycle action" in text and (
        "no active" in text or "not found" in text
    )


class Aws:
    """AWS as fpga-burst sees it: node groups, their instances, lifecycle actions, SSM.

    One instance per invocation is the intent: clients are cached on it, and launch
    template lookups are cached per discover_node_groups call only.
    """

    def __init__(
        self, session: boto3.Session | None = None, settings: AwsSettings | None = None
    ) -> None:
        self._session = session
        self.settings = settings or AwsSettings()
        self._clients: dict[str, Any] = {}
        _quiet_wire_logs()

    def client(self, service: str) -> Any:
        """The boto3 client for `service`, created on first use (tests attach Stubbers)."""
        if service not in self._clients:
            s = self.settings
            if self._session is None:
                # One default session for all clients: each Session loads its own data.
                self._session = boto3.Session()
            self._clients[service] = self._session.client(
                service,
                region_name=s.region,
                endpoint_url=s.endpoint_url,
                config=Config(
                    retries={"mode": "adaptive", "total_max_attempts": s.max_attempts},
                    connect_timeout=s.connect_timeout,
                    read_timeout=s.read_timeout,
                    user_agent_extra="fpga-burst",
                ),
            )
        return self._clients[service]

    # -- reading ---------------------------------------------------------------------

    def discover_node_groups(
        self,
        cluster: str,
        now: datetime,
        instance_types: Mapping[str, InstanceType] | None = None,
    ) -> tuple[NodeGroup, ...]:
        """The ASGs tagged for Cluster Autoscaler and `cluster`, with instances and backoff.

        An ASG needs both tag keys `k8s.io/cluster-autoscaler/enabled` and
        `k8s.io/cluster-autoscaler/<cluster>` (any values), as CA's auto-discovery
        `asg:tag=...` does; groups being deleted are left out. Node templates come from the
        CA tags (asgtags), boards from the resources tags or else `instance_types`
        (default: catalog.INSTANCE_TYPES). Backoff is replayed from the scaling activities
        of the last `activity_lookback`, relative to `now`.

        Read-only. Raises AwsThrottledError / AwsUnavailableError (transient) or AwsError.
        """
        table = INSTANCE_TYPES if instance_types is None else instance_types
        lt_cache: dict[tuple[str, str], str] = {}
        groups = []
        for asg in self._describe_groups(cluster):
            activities = self.scaling_activities(
                asg["AutoScalingGroupName"], now - self.settings.activity_lookback
            )
            groups.append(self._node_group(asg, now, table, activities, lt_cache))
        return tuple(sorted(groups, key=lambda g: g.name))

    def _describe_groups(self, cluster: str) -> Iterator[dict[str, Any]]:
        required = (asgtags.ENABLED_TAG, asgtags.cluster_tag(cluster))
        # One tag-key filter per key: AWS ANDs filters, and values inside one filter OR.
        filters = [{"Name": "tag-key", "Values": [key]} for key in required]
        paginator = self.client("autoscaling").get_paginator("describe_auto_scaling_groups")
        with _calling("DescribeAutoScalingGroups"):
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
        now: datetime,
        table: Mapping[str, InstanceType],
        activities: tuple[ScalingActivity, ...],
        lt_cache: dict[tuple[str, str], str],
    ) -> NodeGroup:
        tags = {t["Key"]: t.get("Value", "") for t in asg.get("Tags", [])}
        instance_type = self._instance_type(asg, lt_cache)
        template = asgtags.node_template(tags, instance_type, table)
        found = backoff(activities, now)
        return NodeGroup(
            name=asg["AutoScalingGroupName"],
            instance_type=instance_type,
            min_size=int(asg["MinSize"]),
            max_size=int(asg["MaxSize"]),
            desired=int(asg["DesiredCapacity"]),
            labels=template.labels,
            taints=template.taints,
            priority=template.priority,
            boards=template.boards,
            instances=_instances(asg),
            backoff=found.reason if found else None,
            last_scale_up=last_launch(activities),
        )

    def _instance_type(self, asg: Mapping[str, Any], lt_cache: dict[tuple[str, str], str]) -> str:
        # Same order as CA's buildInstanceTypes: mixed-instances override, launch
        # template, launch configuration; then what running instances report.
        mixed = asg.get("MixedInstancesPolicy", {}).get("LaunchTemplate", {})
        for override in mixed.get("Overrides", []):
            if override.get("InstanceType"):
                return str(override["InstanceType"])
        spec = mixed.get("LaunchTemplateSpecification") or asg.get("LaunchTemplate")
        found = ""
        if spec:
            found = self._launch_template_type(spec, lt_cache)
        elif asg.get("LaunchConfigurationName"):
            found = self._launch_configuration_type(asg["LaunchConfigurationName"])
        if not found:
            found = next((i["InstanceType"] for i in asg.get("Instances", [])), "")
        return found

    def _launch_template_type(
        self, spec: Mapping[str, Any], cache: dict[tuple[str, str], str]
    ) -> str:
        ident = spec.get("LaunchTemplateId") or spec.get("LaunchTemplateName", "")
        version = str(spec.get("Version") or "$Default")
        key = (ident, version)
        if key not in cache:
            by = "LaunchTemplateId" if spec.get("LaunchTemplateId") else "LaunchTemplateName"
            with _calling("DescribeLaunchTemplateVersions"):
                reply = self.client("ec2").describe_launch_template_versions(
                    **{by: ident}, Versions=[version]
                )
            versions = reply.get("LaunchTemplateVersions", [])
            data = versions[0].get("LaunchTemplateData", {}) if versions else {}
            cache[key] = str(data.get("InstanceType", ""))
        return cache[key]

    def _launch_configuration_type(self, name: str) -> str:
        with _calling("DescribeLaunchConfigurations"):
            reply = self.client("autoscaling").describe_launch_configurations(
                LaunchConfigurationNames=[name]
            )
        configs = reply.get("LaunchConfigurations", [])
        return str(configs[0].get("InstanceType", "")) if configs else ""

    def _group(self, node_group: str) -> dict[str, Any]:
        with _calling("DescribeAutoScalingGroups"):
            reply = self.client("autoscaling").describe_auto_scaling_groups(
                AutoScalingGroupNames=[node_group]
            )
        groups = reply.get("AutoScalingGroups", [])
        if not groups:
            raise NodeGroupNotFoundError(
                "DescribeAutoScalingGroups", "", f"Auto Scaling group {node_group!r} not found"
            )
        return dict(groups[0])

    def instances(self, node_group: str) -> tuple[Instance, ...]:
        """The group's instances with lifecycle state and AZ, sorted by id.

        Read-only. Raises NodeGroupNotFoundError, or the transient errors / AwsError.
        """
        return _instances(self._group(node_group))

    def scaling_activities(
        self, node_group: str, since: datetime
    ) -> tuple[ScalingActivity, ...]:
        """The group's scaling activities that started at or after `since`, newest first.

        Read-only. AWS returns them newest first; pages stop once one starts before
        `since`. Raises the transient errors or AwsError (ValidationError for an unknown
        group).
        """
        paginator = self.client("autoscaling").get_paginator("describe_scaling_activities")
        found: list[ScalingActivity] = []
        with _calling("DescribeScalingActivities"):
            for page in paginator.paginate(AutoScalingGroupName=node_group):
                batch = [_activity(a) for a in page.get("Activities", [])]
                found.extend(a for a in batch if a.start_time >= since)
                if any(a.start_time < since for a in batch):
                    break
        return tuple(found)

    def read_join_data(self, name: str) -> JoinData | None:
        """The join data in SSM parameter `name`, decrypted; None if absent or unreadable.

        Read-only. A value that is not join data is treated as absent (a warning without
        the value), so the tokens function overwrites it. Raises the transient errors or
        AwsError (e.g. AccessDeniedException from KMS).
        """
        try:
            with _calling("GetParameter"):
                reply = self.client("ssm").get_parameter(Name=name, WithDecryption=True)
        except AwsError as exc:
            if exc.code == "ParameterNotFound":
                return None
            raise
        try:
            return JoinData.from_json(reply["Parameter"]["Value"])
        except (ValueError, KeyError, TypeError):
            log.warning("SSM parameter %s does not hold join data; treating it as absent", name)
            return None

    def read_cluster_credentials(self, secret_id: str) -> ClusterCredentials:
        """The API server endpoint, CA and token from Secrets Manager JSON {endpoint, ca, token}.

        Read-only. Raises ClusterCredentialsError if the secret is missing or malformed,
        the transient errors, or AwsError (e.g. AccessDeniedException, DecryptionFailure).
        """
        try:
            with _calling("GetSecretValue"):
                reply = self.client("secretsmanager").get_secret_value(SecretId=secret_id)
        except AwsError as exc:
            if exc.code == "ResourceNotFoundException":
                raise ClusterCredentialsError(f"secret {secret_id}: not found") from exc
            raise
        if "SecretString" not in reply:
            raise ClusterCredentialsError(f"secret {secret_id}: binary, expected a JSON string")
        return ClusterCredentials.from_json(reply["SecretString"], source=f"secret {secret_id}")

    # -- writing ---------------------------------------------------------------------

    def write_cluster_credentials(self, secret_id: str, credentials: ClusterCredentials) -> None:
        """Store {endpoint, ca, token} as the secret's new current version (PutSecretValue).

        The secret must exist (its name, KMS key and policy are the operator's choice).
        Idempotent in effect: writing the same value again only adds a version. Raises
        ClusterCredentialsError if the secret is missing, else the transient errors or
        AwsError. The token is never logged.
        """
        value = json.dumps(
            {"endpoint": credentials.endpoint, "ca": credentials.ca, "token": credentials.token}
        )
        try:
            with _calling("PutSecretValue"):
                self.client("secretsmanager").put_secret_value(
                    SecretId=secret_id, SecretString=value
                )
        except AwsError as exc:
            if exc.code == "ResourceNotFoundException":
                raise ClusterCredentialsError(
                    f"secret {secret_id}: not found (create it first)"
                ) from exc
            raise

    def raise_desired_capacity(self, node_group: str, target: int) -> CapacityChange:
        """Raise the group's desired capacity to `target`, never above its max size.

        Idempotent and one-way: a no-op if desired is already >= target (it never lowers);
        a target above max is clamped to max, logged and reported (`clamped`). Uses
        HonorCooldown=False: the planner, not a cooldown, decides. Raises
        NodeGroupNotFoundError, the transient errors, or AwsError.
        """
        group = self._group(node_group)
        desired, max_size = int(group["DesiredCapacity"]), int(group["MaxSize"])
        to_size = min(target, max_size)
        clamped = target > max_size
        if clamped:
            log.warning(
                "desired capacity of %s clamped to max size %d (asked for %d)",
                node_group, max_size, target,
                extra={"node_group": node_group, "requested": target, "max_size": max_size},
            )
        if to_size <= desired:
            return CapacityChange(node_group, desired, desired, target, clamped)
        with _calling("SetDesiredCapacity"):
            self.client("autoscaling").set_desired_capacity(
                AutoScalingGroupName=node_group, DesiredCapacity=to_size, HonorCooldown=False
            )
        log.info(
            "raised desired capacity of %s from %d to %d", node_group, desired, to_size,
            extra={"node_group": node_group, "from_size": desired, "to_size": to_size},
        )
        return CapacityChange(node_group, desired, to_size, target, clamped)

    def terminate_instance(self, instance_id: str) -> bool:
        """Terminate `instance_id` and decrement its group's desired capacity.

        Idempotent: returns False, doing nothing, if the instance is in no group (gone) or
        already Terminating/Terminated; True if this call started the termination. Raises
        the transient errors or AwsError (e.g. ValidationError when the decrement would go
        below min size: the caller must check min size first).
        """
        with _calling("DescribeAutoScalingInstances"):
            reply = self.client("autoscaling").describe_auto_scaling_instances(
                InstanceIds=[instance_id]
            )
        known = reply.get("AutoScalingInstances", [])
        if not known or str(known[0].get("LifecycleState", "")).startswith(_GONE_STATES):
            return False
        try:
            with _calling("TerminateInstanceInAutoScalingGroup"):
                self.client("autoscaling").terminate_instance_in_auto_scaling_group(
                    InstanceId=instance_id, ShouldDecrementDesiredCapacity=True
                )
        except AwsError as exc:
            # Lost a race with another termination between the two calls.
            if exc.code == "ValidationError" and any(
                word in str(exc).lower() for word in ("not found", "terminat")
            ):
                return False
            raise
        log.info("terminating %s with decrement", instance_id, extra={"instance": instance_id})
        return True

    def complete_lifecycle_action(
        self,
        node_group: str,
        hook: str,
        instance_id: str,
        result: LifecycleResult,
        token: str | None = None,
    ) -> None:
        """Complete the instance's pending lifecycle action with CONTINUE or ABANDON.

        By instance id, plus the token when an event carried one. Raises
        LifecycleActionNotFoundError when no action is pending (already completed, timed
        out, or a duplicate event): the caller may ignore it. Raises the transient errors
        or AwsError.
        """
        params = {
            "AutoScalingGroupName": node_group,
            "LifecycleHookName": hook,
            "InstanceId": instance_id,
            "LifecycleActionResult": result.value,
        }
        if token:
            params["LifecycleActionToken"] = token
        self._lifecycle_call("CompleteLifecycleAction", params)
        log.info(
            "completed lifecycle action of %s with %s", instance_id, result.value,
            extra={"node_group": node_group, "instance": instance_id, "result": result.value},
        )

    def record_heartbeat(
        self, node_group: str, hook: str, instance_id: str, token: str | None = None
    ) -> None:
        """Extend the instance's pending lifecycle action by the hook's heartbeat timeout.

        Raises LifecycleActionNotFoundError when no action is pending (the caller may
        ignore it), the transient errors, or AwsError.
        """
        params = {
            "AutoScalingGroupName": node_group,
            "LifecycleHookName": hook,
            "InstanceId": instance_id,
        }
        if token:
            params["LifecycleActionToken"] = token
        self._lifecycle_call("RecordLifecycleActionHeartbeat", params)

    def _lifecycle_call(self, operation: str, params: Mapping[str, str]) -> None:
        method = getattr(self.client("autoscaling"), _snake(operation))
        try:
            with _calling(operation):
                method(**params)
        except AwsError as exc:
            if _lifecycle_not_found(exc):
                raise LifecycleActionNotFoundError(operation, exc.code, str(exc)) from exc
            raise

    def publish_join_data(self, name: str, data: JoinData, kms_key_id: str) -> None:
        """Write `data` as JSON to SecureString parameter `name`, encrypted with `kms_key_id`.

        Idempotent (Overwrite=True: the parameter's version grows, its value is the same).
        The value is never logged. Raises the transient errors or AwsError (e.g.
        AccessDeniedException, or KMS errors such as KMSInvalidStateException).
        """
        with _calling("PutParameter"):
            reply = self.client("ssm").put_parameter(
                Name=name,
                Value=data.to_json(),
                Type="SecureString",
                KeyId=kms_key_id,
                Overwrite=True,
            )
        log.info(
            "published join data to %s (version %s, expires %s)",
            name, reply.get("Version"), data.expiration.isoformat(),
            extra={"parameter": name, "expiration": data.expiration.isoformat()},
        )


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def _instances(asg: Mapping[str, Any]) -> tuple[Instance, ...]:
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
