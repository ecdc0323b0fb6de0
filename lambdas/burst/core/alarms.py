"""Every alarm the stack creates, once: what fires it, what it means, the likely cause and
where to read more. stacks/controller/monitoring.py builds the CloudWatch alarms from this
table and names them `alarm_name`; `burst doctor --deployed` explains the ones in ALARM
from the same entries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from burst.core.names import Metric

# Warn this long before the controller's token expires (the doctor's token check too).
TOKEN_WARNING = timedelta(days=7)
LOGS = "the functions' logs (aws logs tail /aws/lambda/<stack's {fn} function> --since 1h)"
_SCALER_LOGS = LOGS.format(fn="scaler")
_LIFECYCLE_LOGS = LOGS.format(fn="lifecycle")


@dataclass(frozen=True)
class Alarm:
    """One alarm: `what` it reports (its description), the likely `cause`, what to `read`."""

    id: str  # the construct id; the alarm is named alarm_name(cluster, id)
    what: str
    cause: str
    read: str
    periods: int = 1  # consecutive periods at the threshold before it alarms
    threshold: float = 1
    below: bool = False  # alarms when the metric falls under the threshold
    statistic: str = "Sum"  # CloudWatch's statistic names
    period_minutes: int = 1


def alarm_name(cluster: str, id: str) -> str:
    return f"fpga-burst-{cluster}-{id}"


def _metric(metric: Metric, what: str, cause: str, **kw: object) -> Alarm:
    read = f"metric {metric} (namespace fpga-burst) and {_SCALER_LOGS}"
    return Alarm(str(metric), what, cause, str(kw.pop("read", read)), **kw)  # type: ignore[arg-type]


# The functions' own metrics (burst.handlers.runtime's failure table, the lifecycle
# function). Throttling and other API errors are graphed, not alarmed: the next tick retries.
HANDLER_ALARMS: dict[Metric, Alarm] = {m: a for m, a in (
    # A VPN blip should not page anyone; three minutes without the API server should.
    (Metric.CLUSTER_UNREACHABLE, _metric(
        Metric.CLUSTER_UNREACHABLE, "the API server cannot be reached over the VPN",
        "the VPN is down, or the functions' subnets lost their route or security-group rule "
        "to the API server", periods=3)),
    (Metric.CLUSTER_UNAUTHORIZED, _metric(
        Metric.CLUSTER_UNAUTHORIZED,
        "the API server rejects the controller's token (401): run burst credentials",
        "the token expired or was revoked, or the secret holds another cluster's")),
    (Metric.CLUSTER_FORBIDDEN, _metric(
        Metric.CLUSTER_FORBIDDEN, "RBAC denies the controller (403): apply manifests/rbac.yaml",
        "manifests/rbac.yaml is not applied, or is older than the functions")),
    (Metric.CONFIGURATION_ERRORS, _metric(
        Metric.CONFIGURATION_ERRORS,
        "a function's settings or the credentials secret are invalid: run burst doctor",
        "the credentials secret was overwritten with something that is not {endpoint, ca, "
        "token}, or a setting was edited by hand")),
    # A single 5xx is noise; subnets without a route to AWS fail every tick.
    (Metric.AWS_UNAVAILABLE, _metric(
        Metric.AWS_UNAVAILABLE,
        "AWS's APIs cannot be reached from the functions' subnets (NAT or endpoints)",
        "the functions' subnets lost their NAT route or a VPC endpoint (Service Quotas, "
        "autoscaling, ec2, ssm, secretsmanager)", periods=3)),
    (Metric.CREDENTIALS_DAYS_LEFT, _metric(
        Metric.CREDENTIALS_DAYS_LEFT,
        f"the controller's token expires within {TOKEN_WARNING.days} days: run burst "
        "credentials", "the token was not rotated: burst credentials issues a new one",
        threshold=TOKEN_WARNING.days, below=True, statistic="Minimum", period_minutes=60)),
    (Metric.JOIN_FAILURES, _metric(
        Metric.JOIN_FAILURES,
        "a launched node never joined: its launch hook was abandoned (README, why a node "
        "did not join)",
        "the node could not start the VPN, reach the API server, or kubeadm join failed",
        read="the instance's join-error tag and console output (aws ec2 get-console-output "
        f"--instance-id ID), and {_LIFECYCLE_LOGS}")),
    (Metric.SCALE_UP_FAILURES, _metric(
        Metric.SCALE_UP_FAILURES, "a node group failed to grow (capacity, quota, launch error)",
        "no capacity in the groups' zones, the F vCPU quota, or a launch template error",
        read="the group's scaling activities (aws autoscaling describe-scaling-activities "
        f"--auto-scaling-group-name NAME) and {_SCALER_LOGS}")),
    (Metric.DRAINS_OVER_DEADLINE, _metric(
        Metric.DRAINS_OVER_DEADLINE, "a node drain passed its deadline; the terminate hook "
        "went on", "a PodDisruptionBudget or a pod that ignores SIGTERM kept the drain from "
        "finishing", read=f"the node's Events (kubectl get events) and {_LIFECYCLE_LOGS}")),
)}
FAILED_EVENTS = Alarm(
    "FailedEvents", "events were dropped to the failure queue",
    "a function failed an event on every retry (the API server or AWS unreachable, or a bug)",
    "the failure queue's messages (aws sqs receive-message --queue-url <stack's queue>) "
    "and the function's logs", period_minutes=5)


def function_errors(function: str) -> Alarm:
    """A function failing for 15 minutes; one transient error is retried by Lambda."""
    return Alarm(f"{function.capitalize()}Errors",
                 f"the {function} function kept failing for 15 minutes",
                 "an error it does not handle, or a timeout (the API server slow over the VPN)",
                 f"metric AWS/Lambda Errors and {LOGS.format(fn=function)}",
                 periods=3, period_minutes=5)


def every_alarm(functions: Iterable[str]) -> tuple[Alarm, ...]:
    """Every alarm the stack makes for these functions, in the order it makes them."""
    return (*(function_errors(f) for f in functions), *HANDLER_ALARMS.values(), FAILED_EVENTS)


def explain(cluster: str, name: str) -> Alarm | None:
    """The entry an alarm of this cluster's stack was built from; None if not one."""
    prefix = alarm_name(cluster, "")
    if not name.startswith(prefix):
        return None
    id = name.removeprefix(prefix)
    known = {a.id: a for a in (*HANDLER_ALARMS.values(), FAILED_EVENTS)}
    if id in known:
        return known[id]
    return function_errors(id.removesuffix("Errors").lower()) if id.endswith("Errors") else None
