"""EventBridge events that wake fpga-burst, parsed into small frozen values.

Events only make a reconcile happen sooner (ARCHITECTURE.md, "Level-triggered"), so
parsing is strict and cheap: the shape AWS documents, or an EventError naming the first
field that is wrong
(burst.core.notices.fields). The notices that an instance is going (Spot, AWS Health) are
the entries of burst.core.notices.kinds.NOTICES, each with its own parser.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from burst.core.errors import EventError
from burst.core.notices.fields import Head, head, optional, string
from burst.core.notices.kinds import NOTICES, Notice, notice_type

SCHEDULED = "Scheduled Event"
LAUNCH_ACTION = "EC2 Instance-launch Lifecycle Action"
TERMINATE_ACTION = "EC2 Instance-terminate Lifecycle Action"
LAUNCH_UNSUCCESSFUL = "EC2 Instance Launch Unsuccessful"
# The Auto Scaling events a node group's rule carries (stacks/controller/triggers.py).
LIFECYCLE_EVENTS = (LAUNCH_ACTION, TERMINATE_ACTION, LAUNCH_UNSUCCESSFUL)
_SOURCES = {SCHEDULED: "aws.events", **{kind: "aws.autoscaling" for kind in LIFECYCLE_EVENTS}}
_TRANSITIONS = {
    LAUNCH_ACTION: "autoscaling:EC2_INSTANCE_LAUNCHING",
    TERMINATE_ACTION: "autoscaling:EC2_INSTANCE_TERMINATING",
}
_HANDLED = sorted({*_SOURCES, *(t.detail_type for t in NOTICES.values())})


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
    action = string(raw, "action")
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
    kind = string(raw, "detail-type")
    if kind not in _HANDLED:
        raise EventError("detail-type", f"unexpected {kind!r}; handled: {_HANDLED}")
    source = string(raw, "source")
    if kind in _SOURCES and source != _SOURCES[kind]:
        raise EventError("source", f"{source!r}, but {kind!r} comes from {_SOURCES[kind]!r}")
    top = head(raw)
    detail = raw.get("detail")
    if not isinstance(detail, Mapping):
        raise EventError("detail", "missing or not a JSON object")
    if kind == SCHEDULED:
        return ScheduledTick(id=top.id, time=top.time, rule=top.resources[0] if top.resources
                             else "")
    if kind == LAUNCH_UNSUCCESSFUL:
        return _launch_unsuccessful(top, detail)
    if kind in _TRANSITIONS:
        return _lifecycle_action(kind, top, detail)
    return notice_type(source, kind, detail).parse(top, detail)


def _lifecycle_action(
    kind: str, top: Head, detail: Mapping[str, object]
) -> LaunchLifecycleAction | TerminateLifecycleAction:
    transition = string(detail, "LifecycleTransition", "detail.")
    if transition != _TRANSITIONS[kind]:
        raise EventError("detail.LifecycleTransition", f"{transition!r} does not match {kind!r}")
    cls: type[LaunchLifecycleAction | TerminateLifecycleAction] = (
        LaunchLifecycleAction if kind == LAUNCH_ACTION else TerminateLifecycleAction
    )
    return cls(
        id=top.id,
        time=top.time,
        node_group=string(detail, "AutoScalingGroupName", "detail."),
        hook=string(detail, "LifecycleHookName", "detail."),
        instance_id=string(detail, "EC2InstanceId", "detail."),
        token=string(detail, "LifecycleActionToken", "detail."),
        metadata=optional(detail, "NotificationMetadata", "detail."),
    )


def _launch_unsuccessful(top: Head, detail: Mapping[str, object]) -> LaunchUnsuccessful:
    details = detail.get("Details", {})
    if not isinstance(details, Mapping):
        raise EventError("detail.Details", "not a JSON object")
    return LaunchUnsuccessful(
        id=top.id,
        time=top.time,
        node_group=string(detail, "AutoScalingGroupName", "detail."),
        activity_id=string(detail, "ActivityId", "detail."),
        status_code=string(detail, "StatusCode", "detail."),
        status_message=optional(detail, "StatusMessage", "detail."),
        cause=optional(detail, "Cause", "detail."),
        instance_id=optional(detail, "EC2InstanceId", "detail."),
        availability_zone=optional(details, "Availability Zone", "detail.Details."),
    )
