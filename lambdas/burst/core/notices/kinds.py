"""The notices that an instance will go, or may go soon: one entry per kind, in NOTICES.

Each entry says where the notice comes from (the EventBridge source, detail-type and
detail pattern: the stack's rules are built from it, stacks/controller/triggers.py), how
its detail is read (`parse`, called by burst.core.notices.events.parse_event), what the
node's Event says (`reason`, `describe`), what fpga-burst does about it (`does`: carried
out by burst.loop.notices) and its documented sample (`burst events` writes events/).

Adding a kind: an entry here (and its sample), and its branch in burst.loop.notices'
dispatch, whose `match` on the kind fails type checking until the branch is there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from burst.core.errors import EventError
from burst.core.names import EventReason
from burst.core.notices import samples
from burst.core.notices.fields import Head, instance_id, instance_of, mail_time, one_of, string


class NoticeKind(StrEnum):
    SPOT_INTERRUPTION = "spot-interruption"
    REBALANCE = "rebalance"
    SCHEDULED_CHANGE = "scheduled-change"


class Response(StrEnum):
    """What a notice does to its instance's node (burst.loop.notices); the mark it leaves
    (burst.core.notices.marks) lets every scaler tick carry on with it."""

    DRAIN = "cordon and drain now"
    REBALANCE = "cordon, ask for the replacement, drain once it is there"
    DRAIN_BEFORE_START = "cordon now, drain from its start less the lead"


# AWS Health's statusCode ("Reference: AWS Health events Amazon EventBridge schema"):
# a scheduled change is announced `upcoming`, is `open` while it happens, then `closed`.
UPCOMING, OPEN, CLOSED = "upcoming", "open", "closed"
HEALTH_STATUSES = (UPCOMING, OPEN, CLOSED)
# EC2 User Guide, "Spot Instance interruption notices": `detail.instance-action`.
SPOT_ACTIONS = ("terminate", "stop", "hibernate")


@dataclass(frozen=True)
class Notice:
    """One notice, about one or more instances."""

    kind: NoticeKind
    id: str
    time: datetime
    instance_ids: tuple[str, ...]
    what: str = ""  # what AWS will do: the Spot instance-action, the Health eventTypeCode
    start: datetime | None = None  # Health: when the change begins (detail.startTime)
    status: str = ""  # Health: upcoming | open | closed
    event: str = ""  # Health: detail.eventArn, which the event's later updates name too


@dataclass(frozen=True)
class NoticeType:
    """One kind of notice: everything about it that is not a branch of code."""

    kind: NoticeKind
    source: str
    detail_type: str
    # The rest of the rule's pattern: detail field -> the values handled. Parsing refuses
    # an event outside it, naming the field.
    detail: Mapping[str, tuple[str, ...]]
    rule: str  # the EventBridge rule carrying it; kinds of one rule share source and detail
    reason: EventReason  # the node Event's reason
    describe: Callable[[Notice], str]  # what AWS said: the node Event's message begins so
    does: Response
    parse: Callable[[Head, Mapping[str, object]], Notice]
    sample: str  # its file in events/
    documented: Mapping[str, Any]  # the sample, as AWS documents it


def _spot(head: Head, detail: Mapping[str, object]) -> Notice:
    return Notice(NoticeKind.SPOT_INTERRUPTION, head.id, head.time,
                  (instance_id(detail, "instance-id", "detail."),),
                  what=one_of(detail, "instance-action", "detail.", SPOT_ACTIONS))


def _rebalance(head: Head, detail: Mapping[str, object]) -> Notice:
    return Notice(NoticeKind.REBALANCE, head.id, head.time,
                  (instance_id(detail, "instance-id", "detail."),))


def _scheduled_change(head: Head, detail: Mapping[str, object]) -> Notice:
    """The instances are the event's `resources` and `affectedEntities[].entityValue` that
    name one (by id or ARN), each once; the rest (other resources) is not ours to act on."""
    entities = detail.get("affectedEntities", [])
    if not isinstance(entities, list) or not all(isinstance(e, Mapping) for e in entities):
        raise EventError("detail.affectedEntities", "expected a list of JSON objects")
    values = [e.get("entityValue", "") for e in entities]
    if not all(isinstance(v, str) for v in values):
        raise EventError("detail.affectedEntities[].entityValue", "expected strings")
    named = (instance_of(str(v)) for v in (*head.resources, *values))
    found = tuple(dict.fromkeys(i for i in named if i))
    if not found:
        raise EventError("detail.affectedEntities", "names no EC2 instance (i-...)")
    return Notice(
        NoticeKind.SCHEDULED_CHANGE, head.id, head.time, found,
        what=string(detail, "eventTypeCode", "detail."),
        start=mail_time(detail, "startTime", "detail."),
        status=one_of(detail, "statusCode", "detail.", HEALTH_STATUSES),
        event=string(detail, "eventArn", "detail."),
    )


def _when(notice: Notice) -> str:
    return notice.start.isoformat() if notice.start else "?"


NOTICES: Mapping[NoticeKind, NoticeType] = {t.kind: t for t in (
    NoticeType(
        NoticeKind.SPOT_INTERRUPTION, "aws.ec2", "EC2 Spot Instance Interruption Warning",
        detail={}, rule="InstanceNotices", reason=EventReason.SPOT_INTERRUPTION,
        describe=lambda n: (f"EC2 will {n.what} this Spot Instance at about "
                            f"{n.time.isoformat()} + 2 min"),
        does=Response.DRAIN, parse=_spot,
        sample="spot-interruption-warning.json", documented=samples.SPOT_INTERRUPTION,
    ),
    # May come before the interruption warning, or with it (EC2 User Guide).
    NoticeType(
        NoticeKind.REBALANCE, "aws.ec2", "EC2 Instance Rebalance Recommendation",
        detail={}, rule="InstanceNotices", reason=EventReason.REBALANCE_RECOMMENDATION,
        describe=lambda n: "EC2 recommends rebalancing this Spot Instance",
        does=Response.REBALANCE, parse=_rebalance,
        sample="rebalance-recommendation.json", documented=samples.REBALANCE,
    ),
    # Retirement, maintenance reboot or stop (AWS_EC2_INSTANCE_*_SCHEDULED, ...): events
    # with MAINTENANCE_SCHEDULED come about two weeks before their startTime (AWS Health
    # User Guide), and are updated as they open and close.
    NoticeType(
        NoticeKind.SCHEDULED_CHANGE, "aws.health", "AWS Health Event",
        detail={"service": ("EC2",), "eventTypeCategory": ("scheduledChange",)},
        rule="ScheduledChanges", reason=EventReason.SCHEDULED_CHANGE,
        describe=lambda n: f"AWS Health {n.status} {n.what} from {_when(n)}",
        does=Response.DRAIN_BEFORE_START, parse=_scheduled_change,
        sample="health-scheduled-change.json", documented=samples.SCHEDULED_CHANGE,
    ),
)}


def notice_type(source: str, detail_type: str, detail: Mapping[str, object]) -> NoticeType:
    """The entry an event of `detail_type` belongs to. EventError naming the field that
    puts it outside every entry of that detail-type (its source, a detail field)."""
    candidates = [t for t in NOTICES.values() if t.detail_type == detail_type]
    problem: EventError | None = None
    for candidate in candidates:
        try:
            _check(candidate, source, detail)
        except EventError as exc:
            problem = problem or exc
            continue
        return candidate
    raise problem or EventError("detail-type", f"{detail_type!r} is no notice")


def _check(kind: NoticeType, source: str, detail: Mapping[str, object]) -> None:
    if source != kind.source:
        raise EventError("source", f"{source!r}, but {kind.detail_type!r} comes from "
                                   f"{kind.source!r}")
    for key, allowed in kind.detail.items():
        one_of(detail, key, "detail.", allowed)
