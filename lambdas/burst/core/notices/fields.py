"""Reading an EventBridge event's fields: each read names the field when it is wrong.

Plain dict checks rather than Powertools' EventBridgeEvent: its properties raise a bare
KeyError, and the point here is an error that names the field (EventError).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from burst.core.errors import EventError

# An instance by id, or by its ARN (`arn:<partition>:ec2:<region>:<account>:instance/<id>`):
# AWS Health's documented EC2 retirement sample names its instance by ARN in
# `affectedEntities`, the older samples by id ("Reference: AWS Health events Amazon
# EventBridge schema", AWS Health User Guide).
_INSTANCE = re.compile(r"^(?:arn:[^:]+:ec2:[^/]*:instance/)?(i-[0-9a-f]+)$")


@dataclass(frozen=True)
class Head:
    """What every EventBridge event carries besides its detail."""

    id: str
    time: datetime
    resources: tuple[str, ...]


def head(raw: Mapping[str, object]) -> Head:
    return Head(id=string(raw, "id"), time=iso_time(raw, "time"), resources=resources(raw))


def string(data: Mapping[str, object], key: str, path: str = "") -> str:
    value = data.get(key)
    if value is None:
        raise EventError(path + key, "missing")
    if not isinstance(value, str) or not value:
        raise EventError(path + key, f"expected a non-empty string, got {value!r}")
    return value


def optional(data: Mapping[str, object], key: str, path: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise EventError(path + key, f"expected a string, got {value!r}")
    return value


def one_of(data: Mapping[str, object], key: str, path: str, allowed: tuple[str, ...]) -> str:
    value = string(data, key, path)
    if value not in allowed:
        raise EventError(path + key, f"{value!r}; handled: {list(allowed)}")
    return value


def iso_time(data: Mapping[str, object], key: str) -> datetime:
    text = string(data, key)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise EventError(key, f"not an ISO-8601 time: {text!r}") from exc
    if parsed.tzinfo is None:
        # AWS always sends UTC with "Z"; a naive time would compare wrongly with `now`.
        raise EventError(key, f"no time zone: {text!r}")
    return parsed


def mail_time(data: Mapping[str, object], key: str, path: str) -> datetime:
    """AWS Health's times, "DoW, DD MMM YYYY HH:MM:SS TZ" (RFC 1123, as in HTTP dates)."""
    text = string(data, key, path)
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError) as exc:
        raise EventError(path + key, f"not a time like 'Thu, 27 Aug 2026 13:19:03 GMT': "
                                     f"{text!r}") from exc
    # "-0000" (zone unknown) parses naive; AWS writes GMT, so it is UTC either way.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def resources(data: Mapping[str, object]) -> tuple[str, ...]:
    found = data.get("resources", [])
    if not isinstance(found, list) or not all(isinstance(r, str) for r in found):
        raise EventError("resources", "expected a list of ARNs")
    return tuple(str(r) for r in found)


def instance_id(data: Mapping[str, object], key: str, path: str) -> str:
    value = string(data, key, path)
    if not value.startswith("i-"):
        raise EventError(path + key, f"not an EC2 instance id: {value!r}")
    return value


def instance_of(text: str) -> str | None:
    """The instance id `text` names, by id or ARN; None if it names something else."""
    found = _INSTANCE.match(text)
    return found.group(1) if found else None
