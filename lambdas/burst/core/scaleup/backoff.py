"""Node group backoff after failed launches, derived from the ASG's own activity history.

Cluster Autoscaler keeps its backoff in memory (cluster-autoscaler/utils/backoff/
exponential_backoff.go, kubernetes/autoscaler). A Lambda keeps nothing, so this replays
the same rule over DescribeScalingActivities on every invocation:

- a failed launch at t backs the group off until t + d, where d is the initial duration
  (`--initial-node-group-backoff-duration`, 5 min) for the first failure; for a later one
  it is the previous d if the group was still backed off at t ("multiple concurrent
  scale-ups failing shouldn't cause backoff duration to increase exponentially"), else
  2 x the previous d, capped at `--max-node-group-backoff-duration` (30 min);
- the chain is forgotten when its last failure is older than
  `--node-group-backoff-reset-timeout` (3 h) (RemoveStaleBackoffData), and when a later
  launch succeeded (CA's RemoveBackoff after a successful scale-up);
- ours: a failure a retry does not clear (a quota, a broken launch template or AMI;
  burst.core.scaleup.launchfail) backs the group off for at least `long` (30 min), and says so.

Pure: activities and `now` in, a Backoff or None out; `with_backoff` puts the answer on a
NodeGroup. The adapter only reads the activities (from `now - LOOKBACK`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from burst.core.model import NodeGroup
from burst.core.scaleup.launchfail import LONG, REMEDY, LaunchFailure, classify

FAILED = frozenset({"Failed", "Cancelled"})
SUCCESSFUL = "Successful"
# How far back the scaling activities are read; longer than the backoff reset (3 h) so a
# chain of failures is seen whole.
LOOKBACK = timedelta(hours=6)
_ERROR_CODE = re.compile(
    r"\b(InsufficientInstanceCapacity|InstanceLimitExceeded|VcpuLimitExceeded|"
    r"Unsupported|InvalidParameter\w*|MaxSpotInstanceCountExceeded|SpotMaxPriceTooLow|"
    r"UnfulfillableCapacity|InvalidAMIID\.\w+|InvalidLaunchTemplate\w*\.\w+|"
    r"InsufficientFreeAddressesInSubnet|AccessDenied\w*|Client\.\w+|Server\.\w+)\b"
)
# Auto Scaling's StatusMessage often gives EC2's message without its code; these are the
# messages of the errors a burst is most likely to meet.
_MESSAGE_CODES = (
    ("do not have sufficient", "InsufficientInstanceCapacity"),
    ("vcpu capacity than your current vcpu limit", "VcpuLimitExceeded"),
    ("instance limit", "InstanceLimitExceeded"),
    ("max spot instance count exceeded", "MaxSpotInstanceCountExceeded"),
)


@dataclass(frozen=True)
class ScalingActivity:
    """One entry of DescribeScalingActivities, reduced to what the backoff needs."""

    activity_id: str
    status_code: str  # PendingSpotBidPlacement ... InProgress, Successful, Failed, Cancelled
    start_time: datetime
    end_time: datetime | None = None
    description: str = ""  # "Launching a new EC2 instance: i-..." / "Terminating EC2 ..."
    status_message: str = ""
    cause: str = ""

    @property
    def is_launch(self) -> bool:
        # Failed terminations say nothing about capacity; only launches count.
        return self.description.startswith("Launching")

    @property
    def at(self) -> datetime:
        return self.end_time or self.start_time


@dataclass(frozen=True)
class BackoffPolicy:
    initial: timedelta = timedelta(minutes=5)
    maximum: timedelta = timedelta(minutes=30)
    reset_after: timedelta = timedelta(hours=3)
    # At least this long after a failure of a kind in launchfail.LONG (quota, template).
    long: timedelta = timedelta(minutes=30)


@dataclass(frozen=True)
class Backoff:
    until: datetime
    duration: timedelta
    failed_at: datetime
    failures: int  # failed launches in the current chain
    error: str  # e.g. "InsufficientInstanceCapacity: We currently do not have ..."
    kind: LaunchFailure = LaunchFailure.OTHER

    @property
    def reason(self) -> str:
        """What NodeGroup.backoff says, e.g. for a pod Event or the status ConfigMap."""
        return (
            f"launch failed at {self.failed_at:%H:%M} ({self.kind}: {self.error}); "
            f"backed off until {self.until:%H:%M}"
            + (f" ({self.failures} failures in a row)" if self.failures > 1 else "")
            + (f"; a retry will not clear it: {REMEDY[self.kind]}" if self.kind in REMEDY else "")
        )


def error_code(message: str) -> str:
    """The EC2 error code a scaling activity's message names or implies; "" if none."""
    match = _ERROR_CODE.search(message)
    if match:
        return match[1]
    lowered = message.lower()
    return next((code for phrase, code in _MESSAGE_CODES if phrase in lowered), "")


def error_summary(activity: ScalingActivity, limit: int = 160) -> str:
    """The EC2 error code and message of a failed activity, short enough for a log line."""
    message = " ".join((activity.status_message or activity.description).split())
    code = error_code(message)
    text = f"{code}: {message}" if code and not message.startswith(code) else message
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _next(
    state: Backoff | None, failure: ScalingActivity, policy: BackoffPolicy
) -> Backoff:
    # One step of exponentialBackoff.Backoff().
    t = failure.at
    if state is None:
        duration, failures = policy.initial, 1
    elif state.until < t:
        duration, failures = min(2 * state.duration, policy.maximum), state.failures + 1
    else:
        duration, failures = state.duration, state.failures + 1
    kind = failure_kind(failure)
    if kind in LONG:
        duration = max(duration, policy.long)
    return Backoff(t + duration, duration, t, failures, error_summary(failure), kind)


def failure_kind(activity: ScalingActivity) -> LaunchFailure:
    """What kind of failure a failed launch activity reports."""
    message = " ".join((activity.status_message or activity.description).split())
    return classify(error_code(message), message)


def _stale(state: Backoff | None, t: datetime, policy: BackoffPolicy) -> bool:
    return state is not None and state.failed_at + policy.reset_after < t


def backoff(
    activities: Iterable[ScalingActivity],
    now: datetime,
    policy: BackoffPolicy = BackoffPolicy(),
) -> Backoff | None:
    """The group's backoff at `now`, or None if it may be scaled up.

    `activities` in any order (AWS returns newest first); activities still in progress
    and terminations are ignored. Activities after `now` are ignored too, so a replay at
    an earlier `now` gives the answer the controller would have had then.
    """
    launches = sorted(
        (a for a in activities if a.is_launch and a.at <= now),
        key=lambda a: (a.at, a.activity_id),
    )
    state: Backoff | None = None
    for activity in launches:
        if _stale(state, activity.at, policy):
            state = None
        if activity.status_code == SUCCESSFUL:
            state = None
        elif activity.status_code in FAILED:
            state = _next(state, activity, policy)
    if state is None or _stale(state, now, policy) or state.until <= now:
        return None
    return state


def last_launch(activities: Iterable[ScalingActivity]) -> datetime | None:
    """When the group last started a launch that did not fail (for scale-down delay)."""
    starts = [
        a.start_time for a in activities if a.is_launch and a.status_code not in FAILED
    ]
    return max(starts, default=None)


def with_backoff(
    group: NodeGroup,
    activities: Iterable[ScalingActivity],
    now: datetime,
    policy: BackoffPolicy = BackoffPolicy(),
) -> NodeGroup:
    """`group` with the backoff and last scale-up its scaling activities give at `now`.

    A last scale-up the group already carries (the simulator records its own) is kept
    when the activities show none later.
    """
    seen = tuple(activities)
    found = backoff(seen, now, policy)
    launches = [t for t in (group.last_scale_up, last_launch(seen)) if t is not None]
    return replace(
        group,
        backoff=found.reason if found else None,
        last_scale_up=max(launches, default=None),
    )
