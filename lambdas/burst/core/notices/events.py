"""EventBridge events that wake fpga-burst, parsed into small frozen values.

Events only make a reconcile happen sooner (DESIGN.md), so parsing is strict and cheap:
the shape AWS documents, or an EventError naming the first field that is wrong. Plain
dict checks rather than Powertools' EventBridgeEvent: its properties raise a bare KeyError,
and the point here is an error that names the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from burst.core.errors import EventError

SCHEDULED = "Scheduled Event"
LAUNCH_ACTION = "EC2 Instance-launch Lifecycle Action"
TERMINATE_ACTION = "EC2 Instance-terminate Lifecycle Action"
LAUNCH_UNSUCCESSFUL = "EC2 Instance Launch Unsuccessful"
# Notices that an instance will go (or may go) soon: acted on for managed instances only.
SPOT_INTERRUPTION = "EC2 Spot Instance Interruption Warning"
REBALANCE = "EC2 Instance Rebalance Recommendation"
HEALTH = "AWS Health Event"
_SOURCES = {
    SCHEDULED: "aws.events",
    LAUNCH_ACTION: "aws.autoscaling",
    TERMINATE_ACTION: "aws.autoscaling",
    LAUNCH_UNSUCCESSFUL: "aws.autoscaling",
    SPOT_INTERRUPTION: "aws.ec2",
    REBALANCE: "aws.ec2",
    HEALTH: "aws.health",
}
_TRANSITIONS = {
    LAUNCH_ACTION: "autoscaling:EC2_INSTANCE_LAUNCHING",
    TERMINATE_ACTION: "autoscaling:EC2_INSTANCE_TERMINATING",
}


@dataclass(frozen=True)
class ScheduledTick:
    id: str
    time: datetime
    rule: str  # the rule's ARN, from resources[0]; "" if absent


@dataclass(frozen=True)
class LifecycleAction:
    id: str
    time: datetime
    node_group: str
    hook: str
    instance_id: str
    # Completes the action on AWS's side: kept out of repr, and so out of every log line.
    token: str = field(repr=False)
    metadata: str = ""  # NotificationMetadata, as the hook was created with


@dataclass(frozen=True)
class LaunchLifecycleAction(LifecycleAction):
    pass


@dataclass(frozen=True)
class TerminateLifecycleAction(LifecycleAction):
    pass


@dataclass(frozen=True)
class LaunchUnsuccessful:
    id: str
    time: datetime
    node_group: str
    activity_id: str
    status_code: str
    status_message: str = ""
    cause: str = ""
    instance_id: str = ""
    availability_zone: str = ""

    @property
    def join_failed(self) -> bool:
        """The instance launched but its launch hook was abandoned: it never became a
        useful node in time (Auto Scaling: "Instance failed to complete user's Lifecycle
        Action: Lifecycle Action with token ... was abandoned: Heartbeat Timeout")."""
        text = self.status_message.lower()
        return "lifecycle action" in text and "abandon" in text


@dataclass(frozen=True)
class SpotInterruption:
    """EC2 will stop, hibernate or terminate a Spot Instance in two minutes (EC2 User
    Guide, "Spot Instance interruption notices"; `detail.instance-action`)."""

    id: str
    time: datetime
    instance_id: str
    action: str  # "terminate" | "stop" | "hibernate"

    @property
    def instance_ids(self) -> tuple[str, ...]:
        return (self.instance_id,)


@dataclass(frozen=True)
class RebalanceRecommendation:
    """A Spot Instance is at elevated risk of interruption (EC2 User Guide, "EC2 instance
    rebalance recommendations"): may come before the interruption warning, or with it."""

    id: str
    time: datetime
    instance_id: str

    @property
    def instance_ids(self) -> tuple[str, ...]:
        return (self.instance_id,)


@dataclass(frozen=True)
class ScheduledChange:
    """An AWS Health scheduled change for EC2 instances (retirement, maintenance reboot,
    stop): `detail.eventTypeCategory` "scheduledChange", service "EC2". The instances are
    the event's `resources` and `detail.affectedEntities[].entityValue` that name one."""

    id: str
    time: datetime
    instance_ids: tuple[str, ...]
    type_code: str  # detail.eventTypeCode, e.g. AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED
    start: str = ""  # detail.startTime as AWS writes it (RFC 1123), for the Event message


Notice = SpotInterruption | RebalanceRecommendation | ScheduledChange
SPOT_ACTIONS = ("terminate", "stop", "hibernate")


@dataclass(frozen=True)
class RunNow:
    """An empty event (`{}`): an operator's `aws lambda invoke` asking a scheduled function to
    do its scheduled work now (e.g. publish the first join data after a deploy)."""

    id: str = "run-now"


Event = (ScheduledTick | LaunchLifecycleAction | TerminateLifecycleAction | LaunchUnsuccessful
         | RunNow | Notice)

# What an operator invokes the scaler with (`aws lambda invoke`, `burst doctor --in-vpc`).
DIAGNOSE = "diagnose"
ACTIONS = (DIAGNOSE,)


@dataclass(frozen=True)
class Diagnose:
    """Run the preflight from inside the VPC and answer with its checks (burst.loop.doctor).

    `rbac`: the RBAC manifest's documents to check the controller's verbs against; the
    manifest is not in the functions' code, so the caller sends it (None: not checked).
    """

    rbac: tuple[Mapping[str, Any], ...] | None = None


def parse_request(raw: object) -> Event | Diagnose:
    """An EventBridge event, or an operator's request `{"action": "diagnose"}`.

    Raises EventError naming the field, as parse_event does.
    """
    if isinstance(raw, Mapping) and "action" in raw:
        return _action(raw)
    return parse_event(raw)


def _action(raw: Mapping[str, object]) -> Diagnose:
    action = _string(raw, "action")
    if action not in ACTIONS:
        raise EventError("action", f"unexpected {action!r}; handled: {list(ACTIONS)}")
    extra = sorted(set(raw) - {"action", "rbac"})
    if extra:
        raise EventError(extra[0], "unknown field of a diagnose request")
    rbac = raw.get("rbac")
    if rbac is None:
        return Diagnose()
    if not isinstance(rbac, list) or not all(isinstance(d, Mapping) for d in rbac):
        raise EventError("rbac", "expected a list of the manifest's documents (objects)")
    return Diagnose(rbac=tuple(rbac))


def parse_event_json(text: str | bytes) -> Event:
    """Parse an event from JSON text (a file, `burst invoke --event`); EventError if not."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise EventError("", f"not JSON: {exc}") from exc
    return parse_event(raw)


def parse_event(raw: object) -> Event:
    """The event fpga-burst handles, from the dict Lambda passes to a handler.

    Raises EventError naming the field when `raw` is not a JSON object, lacks a field,
    has a field of the wrong type, or is a kind of event fpga-burst does not handle.
    An empty object is RunNow.
    """
    if not isinstance(raw, Mapping):
        raise EventError("", f"not a JSON object but {type(raw).__name__}")
    if not raw:
        return RunNow()
    kind = _string(raw, "detail-type")
    if kind not in _SOURCES:
        raise EventError("detail-type", f"unexpected {kind!r}; handled: {sorted(_SOURCES)}")
    source = _string(raw, "source")
    if source != _SOURCES[kind]:
        raise EventError("source", f"{source!r}, but {kind!r} comes from {_SOURCES[kind]!r}")
    event_id, time = _string(raw, "id"), _time(raw, "time")
    detail = raw.get("detail")
    if not isinstance(detail, Mapping):
        raise EventError("detail", "missing or not a JSON object")
    if kind == SCHEDULED:
        return ScheduledTick(id=event_id, time=time, rule=_first_resource(raw))
    if kind == LAUNCH_UNSUCCESSFUL:
        return _launch_unsuccessful(event_id, time, detail)
    if kind in (SPOT_INTERRUPTION, REBALANCE, HEALTH):
        return _notice(kind, event_id, time, raw, detail)
    return _lifecycle_action(kind, event_id, time, detail)


def _lifecycle_action(
    kind: str, event_id: str, time: datetime, detail: Mapping[str, object]
) -> LaunchLifecycleAction | TerminateLifecycleAction:
    transition = _string(detail, "LifecycleTransition", "detail.")
    if transition != _TRANSITIONS[kind]:
        raise EventError("detail.LifecycleTransition", f"{transition!r} does not match {kind!r}")
    cls: type[LaunchLifecycleAction | TerminateLifecycleAction] = (
        LaunchLifecycleAction if kind == LAUNCH_ACTION else TerminateLifecycleAction
    )
    return cls(
        id=event_id,
        time=time,
        node_group=_string(detail, "AutoScalingGroupName", "detail."),
        hook=_string(detail, "LifecycleHookName", "detail."),
        instance_id=_string(detail, "EC2InstanceId", "detail."),
        token=_string(detail, "LifecycleActionToken", "detail."),
        metadata=_optional(detail, "NotificationMetadata", "detail."),
    )


def _launch_unsuccessful(
    event_id: str, time: datetime, detail: Mapping[str, object]
) -> LaunchUnsuccessful:
    details = detail.get("Details", {})
    if not isinstance(details, Mapping):
        raise EventError("detail.Details", "not a JSON object")
    return LaunchUnsuccessful(
        id=event_id,
        time=time,
        node_group=_string(detail, "AutoScalingGroupName", "detail."),
        activity_id=_string(detail, "ActivityId", "detail."),
        status_code=_string(detail, "StatusCode", "detail."),
        status_message=_optional(detail, "StatusMessage", "detail."),
        cause=_optional(detail, "Cause", "detail."),
        instance_id=_optional(detail, "EC2InstanceId", "detail."),
        availability_zone=_optional(details, "Availability Zone", "detail.Details."),
    )


def _notice(kind: str, event_id: str, time: datetime, raw: Mapping[str, object],
            detail: Mapping[str, object]) -> Notice:
    if kind == HEALTH:
        return _scheduled_change(event_id, time, raw, detail)
    instance = _instance_id(detail, "instance-id", "detail.")
    if kind == REBALANCE:
        return RebalanceRecommendation(id=event_id, time=time, instance_id=instance)
    action = _string(detail, "instance-action", "detail.")
    if action not in SPOT_ACTIONS:
        raise EventError("detail.instance-action", f"{action!r}; documented: {list(SPOT_ACTIONS)}")
    return SpotInterruption(id=event_id, time=time, instance_id=instance, action=action)


def _scheduled_change(event_id: str, time: datetime, raw: Mapping[str, object],
                      detail: Mapping[str, object]) -> ScheduledChange:
    service = _string(detail, "service", "detail.")
    if service != "EC2":
        raise EventError("detail.service", f"{service!r}: only EC2 instances are handled")
    category = _string(detail, "eventTypeCategory", "detail.")
    if category != "scheduledChange":
        raise EventError("detail.eventTypeCategory", f"{category!r}, not 'scheduledChange'")
    entities = detail.get("affectedEntities", [])
    if not isinstance(entities, list) or not all(isinstance(e, Mapping) for e in entities):
        raise EventError("detail.affectedEntities", "expected a list of JSON objects")
    values = [_optional(e, "entityValue", "detail.affectedEntities[].") for e in entities]
    resources = _resources(raw)
    # Resources may be ARNs of other kinds; only instance ids are acted on, each once.
    found = tuple(dict.fromkeys(v for v in (*resources, *values) if v.startswith("i-")))
    if not found:
        raise EventError("detail.affectedEntities", "names no EC2 instance (i-...)")
    return ScheduledChange(
        id=event_id, time=time, instance_ids=found,
        type_code=_string(detail, "eventTypeCode", "detail."),
        start=_optional(detail, "startTime", "detail."),
    )


def _instance_id(data: Mapping[str, object], key: str, path: str) -> str:
    value = _string(data, key, path)
    if not value.startswith("i-"):
        raise EventError(path + key, f"not an EC2 instance id: {value!r}")
    return value


def _string(data: Mapping[str, object], key: str, path: str = "") -> str:
    value = data.get(key)
    if value is None:
        raise EventError(path + key, "missing")
    if not isinstance(value, str) or not value:
        raise EventError(path + key, f"expected a non-empty string, got {value!r}")
    return value


def _optional(data: Mapping[str, object], key: str, path: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise EventError(path + key, f"expected a string, got {value!r}")
    return value


def _time(data: Mapping[str, object], key: str) -> datetime:
    text = _string(data, key)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise EventError(key, f"not an ISO-8601 time: {text!r}") from exc
    if parsed.tzinfo is None:
        # AWS always sends UTC with "Z"; a naive time would compare wrongly with `now`.
        raise EventError(key, f"no time zone: {text!r}")
    return parsed


def _first_resource(data: Mapping[str, object]) -> str:
    resources = _resources(data)
    return resources[0] if resources else ""


def _resources(data: Mapping[str, object]) -> list[str]:
    resources = data.get("resources", [])
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise EventError("resources", "expected a list of ARNs")
    return [str(r) for r in resources]
