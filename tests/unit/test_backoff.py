"""Backoff replayed from scaling activities, as Cluster Autoscaler's exponential backoff."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from burst.core.model import NodeGroup
from burst.core.scaleup.backoff import (
    Backoff,
    BackoffPolicy,
    ScalingActivity,
    backoff,
    error_code,
    error_summary,
    last_launch,
    with_backoff,
)
from burst.core.scaleup.launchfail import LONG, REMEDY, LaunchFailure

DAY = datetime(2026, 11, 27, tzinfo=UTC)
ICE = (
    "We currently do not have sufficient f1.4xlarge capacity in the Availability Zone you "
    "requested (us-east-1a). Our system will be working on provisioning additional capacity. "
    "Launching EC2 instance failed."
)


def at(hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return DAY + timedelta(hours=int(hours), minutes=int(minutes))


def launch(hhmm: str, status: str = "Failed", message: str = ICE) -> ScalingActivity:
    return ScalingActivity(
        activity_id=f"launch-{hhmm}-{status}",
        status_code=status,
        start_time=at(hhmm) - timedelta(seconds=5),
        end_time=None if status == "InProgress" else at(hhmm),
        description="Launching a new EC2 instance.  Status Reason: " + message,
        status_message=message if status in ("Failed", "Cancelled") else "",
    )


def terminate(hhmm: str, status: str = "Failed") -> ScalingActivity:
    return ScalingActivity(
        activity_id=f"terminate-{hhmm}",
        status_code=status,
        start_time=at(hhmm),
        end_time=at(hhmm),
        description="Terminating EC2 instance: i-0a1b2c3d4e5f60718",
        status_message="Instance is protected from scale-in",
    )


@dataclass(frozen=True)
class Case:
    activities: tuple[ScalingActivity, ...]
    now: str
    until: str | None  # None: not backed off
    duration_minutes: int = 0
    failures: int = 0


CASES = {
    "no activities: not backed off": Case((), "12:00", None),
    "first failure backs off for the initial 5 minutes": Case(
        (launch("12:00"),), "12:02", "12:05", 5, 1
    ),
    "first failure's backoff has expired after 5 minutes": Case(
        (launch("12:00"),), "12:06", None
    ),
    "backoff ends exactly at until (IsBackedOff uses After)": Case(
        (launch("12:00"),), "12:05", None
    ),
    "failure after the backoff expired doubles the duration to 10 minutes": Case(
        (launch("12:00"), launch("12:06")), "12:10", "12:16", 10, 2
    ),
    "failure while still backed off keeps the duration and moves until": Case(
        (launch("12:00"), launch("12:02")), "12:03", "12:07", 5, 2
    ),
    "doubling is capped at the maximum of 30 minutes": Case(
        (
            launch("12:00"),  # 5 -> 12:05
            launch("12:06"),  # 10 -> 12:16
            launch("12:17"),  # 20 -> 12:37
            launch("12:38"),  # 40 capped at 30 -> 13:08
            launch("13:09"),  # 30 -> 13:39
        ),
        "13:10",
        "13:39",
        30,
        5,
    ),
    "a later successful launch resets the backoff at once": Case(
        (launch("12:00"), launch("12:02", "Successful")), "12:03", None
    ),
    "after a success the next failure starts again at 5 minutes": Case(
        (launch("12:00"), launch("12:06"), launch("12:20", "Successful"), launch("12:30")),
        "12:31",
        "12:35",
        5,
        1,
    ),
    "a failure more than 3 hours after the last one starts a new chain": Case(
        (launch("08:00"), launch("08:06"), launch("11:07")), "11:08", "11:12", 5, 1
    ),
    "a failure exactly 3 hours after the last one still doubles (Before is strict)": Case(
        (launch("08:00"), launch("11:00")), "11:01", "11:10", 10, 2
    ),
    "cancelled launches count as failures": Case(
        (launch("12:00", "Cancelled"),), "12:01", "12:05", 5, 1
    ),
    "a launch still in progress neither resets nor extends the backoff": Case(
        (launch("12:00"), launch("12:01", "InProgress")), "12:02", "12:05", 5, 1
    ),
    "failed terminations say nothing about capacity": Case(
        (terminate("12:00"), terminate("12:01")), "12:02", None
    ),
    "activities after now are ignored, as if replayed earlier": Case(
        (launch("12:00"), launch("12:02", "Successful")), "12:01", "12:05", 5, 1
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_backoff_replays_cluster_autoscaler_rule_over_activity_history(case: Case) -> None:
    # GIVEN activities in the order AWS returns them (newest first)
    activities = sorted(case.activities, key=lambda a: a.start_time, reverse=True)
    # WHEN the backoff is computed at `now`
    found = backoff(activities, at(case.now))
    # THEN it matches Cluster Autoscaler's exponential backoff
    if case.until is None:
        assert found is None
        return
    assert found is not None
    assert found.until == at(case.until)
    assert found.duration == timedelta(minutes=case.duration_minutes)
    assert found.failures == case.failures


def test_backoff_reason_names_time_error_code_and_until_for_the_planner_and_pod_events() -> None:
    found = backoff([launch("12:03")], at("12:04"))
    assert found is not None
    assert found.reason.startswith(
        "launch failed at 12:03 (insufficient capacity: InsufficientInstanceCapacity: We currently "
        "do not have"
    )
    assert found.reason.endswith("backed off until 12:08")


def test_backoff_reason_counts_consecutive_failures_when_more_than_one() -> None:
    found = backoff([launch("12:00"), launch("12:06")], at("12:07"))
    assert found is not None
    assert found.reason.endswith("backed off until 12:16 (2 failures in a row)")


def test_backoff_policy_durations_can_be_shortened_like_cluster_autoscaler_flags() -> None:
    policy = BackoffPolicy(
        initial=timedelta(minutes=1), maximum=timedelta(minutes=2), reset_after=timedelta(hours=1)
    )
    found = backoff([launch("12:00"), launch("12:02"), launch("12:05")], at("12:06"), policy)
    assert found is not None
    assert (found.duration, found.until) == (timedelta(minutes=2), at("12:07"))


MESSAGES = {
    "capacity message without a code": (ICE, "InsufficientInstanceCapacity"),
    "explicit code in the message": (
        "Your requested instance type is not supported (Service: AmazonEC2; "
        "Status Code: 400; Error Code: Unsupported)",
        "Unsupported",
    ),
    "vcpu limit message": (
        "You have requested more vCPU capacity than your current vCPU limit of 0 allows",
        "VcpuLimitExceeded",
    ),
    "unknown message": ("Something else went wrong", ""),
}


@pytest.mark.parametrize(("message", "code"), MESSAGES.values(), ids=MESSAGES.keys())
def test_error_code_is_read_or_inferred_from_the_activity_status_message(
    message: str, code: str
) -> None:
    assert error_code(message) == code


def test_error_summary_is_truncated_for_log_lines_and_collapses_whitespace() -> None:
    summary = error_summary(launch("12:00", message="x  y\n" * 100), limit=40)
    assert len(summary) == 40
    assert summary.startswith("x y x y")
    assert summary.endswith("...")


def test_last_launch_is_the_latest_launch_that_did_not_fail() -> None:
    activities = [launch("12:00", "Successful"), launch("12:10", "InProgress"), launch("12:20")]
    assert last_launch(activities) == at("12:10") - timedelta(seconds=5)
    assert last_launch([launch("12:20"), terminate("12:30", "Successful")]) is None


GROUP = NodeGroup("f1-4xlarge", "f1.4xlarge", min_size=0, max_size=4, desired=0)
WITH_BACKOFF = {
    "no activities: free to scale, no last scale-up": ((), "12:30", None, None),
    "failed 3 min ago: backed off, the failure is no scale-up": (
        (launch("12:25"),), "12:28", "backed off until 12:30", None),
    "failed, then a launch succeeded: free, last scale-up from the success": (
        (launch("12:00"), launch("12:10", "Successful")), "12:12", None, "12:10"),
    "backoff over by now: free again": ((launch("12:00"),), "12:06", None, None),
}


@pytest.mark.parametrize(("activities", "now", "says", "last"), WITH_BACKOFF.values(),
                         ids=WITH_BACKOFF.keys())
def test_with_backoff_puts_the_decision_from_activities_and_time_on_the_group(
    activities: tuple[ScalingActivity, ...], now: str, says: str | None, last: str | None
) -> None:
    # GIVEN a group as discovery reads it (no backoff) and its scaling activities
    # WHEN the decision is made at `now`
    found = with_backoff(GROUP, activities, at(now))
    # THEN the group carries the backoff reason and the last launch that did not fail
    assert (found.backoff is None) if says is None else (says in (found.backoff or ""))
    expected = None if last is None else at(last) - timedelta(seconds=5)
    assert found.last_scale_up == expected
    assert (found.name, found.desired) == (GROUP.name, GROUP.desired)


def test_with_backoff_keeps_a_later_scale_up_the_group_already_knows() -> None:
    # GIVEN a group whose owner recorded a scale-up after the last successful activity
    known = replace(GROUP, last_scale_up=at("12:20"), backoff="stale reason")
    # WHEN decided from activities that show an earlier success only
    found = with_backoff(known, [launch("12:00", "Successful")], at("12:30"))
    # THEN the later scale-up is kept and the stale backoff is replaced by the decision
    assert found.last_scale_up == at("12:20")
    assert found.backoff is None


_minutes = st.integers(min_value=0, max_value=600)
_statuses = st.sampled_from(["Failed", "Cancelled", "Successful", "InProgress"])


@given(st.lists(st.tuples(_minutes, _statuses), max_size=20), _minutes)
def test_backoff_invariants_hold_for_any_history(
    history: list[tuple[int, str]], now_minutes: int
) -> None:
    activities = [
        ScalingActivity(
            activity_id=str(i),
            status_code=status,
            start_time=DAY + timedelta(minutes=m),
            end_time=DAY + timedelta(minutes=m),
            description="Launching a new EC2 instance",
        )
        for i, (m, status) in enumerate(history)
    ]
    now = DAY + timedelta(minutes=now_minutes)
    policy = BackoffPolicy()
    found: Backoff | None = backoff(activities, now, policy)
    if found is None:
        return
    assert policy.initial <= found.duration <= policy.maximum
    assert found.failed_at <= now < found.until == found.failed_at + found.duration
    assert found.failures >= 1
    # Order of the input never matters.
    assert backoff(list(reversed(activities)), now, policy) == found


# Status messages as Auto Scaling reports them (AWS's troubleshooting pages; see launchfail).
KINDS = {
    "on-demand capacity": (ICE, LaunchFailure.CAPACITY, 5),
    "spot capacity, sent as InsufficientInstanceCapacity": (
        "There is no Spot capacity available that matches your request. "
        "Launching EC2 instance failed.", LaunchFailure.SPOT_CAPACITY, 5),
    "spot capacity, unfulfillable": (
        "UnfulfillableCapacity: At this time there isn't enough spare capacity to fulfill your "
        "request for Spot Instances.", LaunchFailure.SPOT_CAPACITY, 5),
    "spot request limit": (
        "Max spot instance count exceeded. Launching EC2 instance failed.",
        LaunchFailure.SPOT_LIMIT, 30),
    "vcpu quota": (
        "You have requested more vCPU capacity than your current vCPU limit of 32 allows for the "
        "instance bucket that the specified instance type belongs to. Please visit "
        "http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit. "
        "Launching EC2 instance failed.", LaunchFailure.VCPU_QUOTA, 30),
    "ami missing": (
        "The image id '[ami-0123456789abcdef0]' does not exist. Launching EC2 instance failed.",
        LaunchFailure.LAUNCH_TEMPLATE, 30),
    "ami code": ("InvalidAMIID.NotFound: The image ID 'ami-0123' is not valid.",
                 LaunchFailure.LAUNCH_TEMPLATE, 30),
    "launch template missing": (
        "The specified launch template, with template ID lt-0123456789abcdef0, does not exist. "
        "Launching EC2 instance failed.", LaunchFailure.LAUNCH_TEMPLATE, 30),
    "something else": ("Something else went wrong", LaunchFailure.OTHER, 5),
}


@pytest.mark.parametrize(("message", "kind", "minutes"), KINDS.values(), ids=KINDS.keys())
def test_each_kind_of_launch_failure_is_classified_and_backs_off_for_its_own_time(
    message: str, kind: LaunchFailure, minutes: int
) -> None:
    found = backoff([launch("12:00", message=message)], at("12:01"))
    assert found is not None
    assert (found.kind, found.duration) == (kind, timedelta(minutes=minutes))
    assert f"({kind}: " in found.reason


@pytest.mark.parametrize("kind", sorted(LONG))
def test_a_quota_or_template_failure_says_on_the_reason_that_a_retry_will_not_clear_it(
    kind: LaunchFailure,
) -> None:
    message = next(m for m, k, _ in KINDS.values() if k == kind)
    found = backoff([launch("12:00", message=message)], at("12:01"))
    assert found is not None
    assert found.reason.endswith(f"a retry will not clear it: {REMEDY[kind]}")
    assert found.until == at("12:30")


def test_a_capacity_failure_says_nothing_of_a_remedy() -> None:
    found = backoff([launch("12:00")], at("12:01"))
    assert found is not None and "retry will not clear" not in found.reason
