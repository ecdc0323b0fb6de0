"""EventBridge events parsed from the samples in events/, and refused when malformed; the
notice samples are what `burst events` writes from the notice table."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from burst.core.errors import EventError
from burst.core.names import EventReason
from burst.core.notices.events import (
    LaunchLifecycleAction,
    LaunchUnsuccessful,
    RunNow,
    ScheduledTick,
    TerminateLifecycleAction,
    parse_event,
    parse_event_json,
)
from burst.core.notices.kinds import NOTICES, Notice, NoticeKind
from burst.tools import events as generator
from burst.tools.deploy.config import DEFAULT_PATH, load

REPO = Path(__file__).parents[2]
EVENTS = REPO / "events"
SEED = load(REPO / DEFAULT_PATH)  # events/ is written for it
# The groups the samples name, as the stack names their ASGs: the first launches and
# terminates, the last fails to launch.
LAUNCHED = SEED.node_groups[0].asg_name(SEED.cluster_name)
FAILED = SEED.node_groups[-1]


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


def lifecycle_action(
    cls: type[LaunchLifecycleAction | TerminateLifecycleAction],
    event_id: str,
    time: datetime,
    token: str,
) -> LaunchLifecycleAction | TerminateLifecycleAction:
    """Both lifecycle samples are for the same instance of the same group, each with its
    transition's hook ("fpga-burst-launch" / "fpga-burst-terminate")."""
    hook = "fpga-burst-launch" if cls is LaunchLifecycleAction else "fpga-burst-terminate"
    return cls(
        id=event_id,
        time=time,
        node_group=LAUNCHED,
        hook=hook,
        instance_id="i-0a1b2c3d4e5f60718",
        token=token,
        metadata="fpga-burst",
    )


VALID = {
    "scheduled tick": (
        "scheduled.json",
        ScheduledTick(
            id="53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            time=datetime(2026, 11, 27, 2, 40, tzinfo=UTC),
            rule="arn:aws:events:us-east-1:123456789012:rule/fpga-burst-scaler-tick",
        ),
    ),
    "launch lifecycle action": (
        "launch-lifecycle-action.json",
        lifecycle_action(
            LaunchLifecycleAction,
            "9b1c1d2e-3f4a-45b6-8c7d-0e1f2a3b4c5d",
            datetime(2026, 11, 27, 2, 41, 12, tzinfo=UTC),
            "c613620e-07e2-4ed2-a9e2-ef8258911ade",
        ),
    ),
    "terminate lifecycle action": (
        "terminate-lifecycle-action.json",
        lifecycle_action(
            TerminateLifecycleAction,
            "0f9e8d7c-6b5a-4493-8271-605f4e3d2c1b",
            datetime(2026, 11, 27, 3, 5, 47, tzinfo=UTC),
            "4d8a8e61-5f2b-4c0e-b8f6-2a9d3c7e1f05",
        ),
    ),
    # The next three are AWS's documented samples (events/README.md), times filled in.
    "spot interruption warning": (
        "spot-interruption-warning.json",
        Notice(NoticeKind.SPOT_INTERRUPTION, "12345678-1234-1234-1234-123456789012",
               datetime(2026, 11, 27, 3, 20, tzinfo=UTC), ("i-1234567890abcdef0",),
               what="terminate"),
    ),
    "rebalance recommendation": (
        "rebalance-recommendation.json",
        Notice(NoticeKind.REBALANCE, "12345678-1234-1234-1234-123456789012",
               datetime(2026, 11, 27, 3, 15, tzinfo=UTC), ("i-1234567890abcdef0",)),
    ),
    # AWS Health User Guide's EC2 retirement sample: no `resources`, the instance named by
    # ARN in affectedEntities, the start as "Thu, 27 Aug 2026 13:19:03 GMT".
    "AWS Health scheduled change": (
        "health-scheduled-change.json",
        Notice(NoticeKind.SCHEDULED_CHANGE, "7bf73129-1428-4cd3-a780-95db273d1602",
               datetime(2026, 1, 27, 1, 43, 21, tzinfo=UTC), ("i-1234567890abcdef0",),
               what="AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED",
               start=datetime(2026, 8, 27, 13, 19, 3, tzinfo=UTC), status="open",
               event="arn:aws:health:us-east-1::event/"
                     "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED_90353408594353983"),
    ),
}


@pytest.mark.parametrize(("name", "expected"), VALID.values(), ids=VALID.keys())
def test_sample_event_parses_into_its_frozen_dataclass(name: str, expected: object) -> None:
    assert parse_event_json((EVENTS / name).read_text()) == expected
    assert parse_event(sample(name)) == expected


def test_launch_unsuccessful_sample_carries_group_activity_and_capacity_message() -> None:
    event = parse_event(sample("launch-unsuccessful.json"))
    assert isinstance(event, LaunchUnsuccessful)
    assert (event.node_group, event.status_code, event.availability_zone) == (
        FAILED.asg_name(SEED.cluster_name),
        "Failed",
        FAILED.subnets[0].availability_zone,
    )
    assert event.activity_id == "a5e1b3c7-9d2f-4e6a-8b0c-1d3e5f7a9b2c"
    assert f"do not have sufficient {FAILED.instance_type} capacity" in event.status_message
    assert event.instance_id == ""


def test_launch_and_terminate_actions_are_both_lifecycle_actions_but_distinct_types() -> None:
    launch = parse_event(sample("launch-lifecycle-action.json"))
    terminate = parse_event(sample("terminate-lifecycle-action.json"))
    assert type(launch) is LaunchLifecycleAction
    assert type(terminate) is TerminateLifecycleAction
    assert launch != terminate  # type: ignore[comparison-overlap]


MALFORMED_FILES = {
    "lifecycle action without EC2InstanceId": (
        "launch-lifecycle-action-missing-instance-id.json",
        "detail.EC2InstanceId",
    ),
    "lifecycle action without LifecycleActionToken": (
        "terminate-lifecycle-action-missing-token.json",
        "detail.LifecycleActionToken",
    ),
    "lifecycle action without detail": ("launch-lifecycle-action-missing-detail.json", "detail"),
    "launch action whose transition says terminating": (
        "launch-lifecycle-action-wrong-transition.json",
        "detail.LifecycleTransition",
    ),
    "an Auto Scaling event fpga-burst does not handle": ("wrong-detail-type.json", "detail-type"),
    "time left as AWS's placeholder": ("scheduled-bad-time.json", "time"),
    "EventBridge Scheduler source instead of a rule": ("scheduled-wrong-source.json", "source"),
    "a JSON array, not an object": ("not-an-object.json", ""),
    "truncated JSON": ("truncated.json", ""),
    "Spot warning without instance-id": (
        "spot-interruption-missing-instance-id.json", "detail.instance-id"),
    "Spot warning with the documentation's placeholder action": (
        "spot-interruption-placeholder-action.json", "detail.instance-action"),
    "rebalance recommendation from Auto Scaling": ("rebalance-wrong-source.json", "source"),
    "Health event for RDS": ("health-not-ec2.json", "detail.service"),
    "Health issue, not a scheduled change": (
        "health-issue-not-scheduled.json", "detail.eventTypeCategory"),
    "Health event naming no instance": ("health-no-instance.json", "detail.affectedEntities"),
    "Health status not upcoming, open or closed": (
        "health-unknown-status.json", "detail.statusCode"),
    "Health start not in AWS Health's time format": (
        "health-start-not-a-date.json", "detail.startTime"),
}


@pytest.mark.parametrize(("name", "field"), MALFORMED_FILES.values(), ids=MALFORMED_FILES.keys())
def test_malformed_sample_is_refused_with_an_event_error_naming_the_field(
    name: str, field: str
) -> None:
    with pytest.raises(EventError) as caught:
        parse_event_json((EVENTS / "malformed" / name).read_text())
    assert caught.value.field == field
    assert str(caught.value).startswith(f"event {field}:" if field else "event:")


def _edited(name: str, path: str, value: object) -> dict[str, Any]:
    event = copy.deepcopy(sample(name))
    *parents, last = path.split(".")
    target = event
    for key in parents:
        target = target[key]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return event


_DELETE = object()
MALFORMED_DICTS = {
    "detail-type missing": ("scheduled.json", "detail-type", _DELETE, "detail-type"),
    "detail-type not a string": ("scheduled.json", "detail-type", 7, "detail-type"),
    "id missing": ("scheduled.json", "id", _DELETE, "id"),
    "time without a time zone": ("scheduled.json", "time", "2026-11-27T02:40:00", "time"),
    "detail is a list": ("scheduled.json", "detail", [], "detail"),
    "resources not a list": ("scheduled.json", "resources", "arn:aws:events:x", "resources"),
    "group name empty": (
        "launch-lifecycle-action.json",
        "detail.AutoScalingGroupName",
        "",
        "detail.AutoScalingGroupName",
    ),
    "hook name a number": (
        "terminate-lifecycle-action.json",
        "detail.LifecycleHookName",
        42,
        "detail.LifecycleHookName",
    ),
    "notification metadata an object": (
        "launch-lifecycle-action.json",
        "detail.NotificationMetadata",
        {"a": 1},
        "detail.NotificationMetadata",
    ),
    "launch unsuccessful without activity id": (
        "launch-unsuccessful.json",
        "detail.ActivityId",
        _DELETE,
        "detail.ActivityId",
    ),
    "spot instance-id not an instance": (
        "spot-interruption-warning.json", "detail.instance-id", "vol-0abc", "detail.instance-id"),
    "rebalance instance-id a number": (
        "rebalance-recommendation.json", "detail.instance-id", 7, "detail.instance-id"),
    "health affectedEntities an object": (
        "health-scheduled-change.json", "detail.affectedEntities", {"entityValue": "i-1"},
        "detail.affectedEntities"),
    "health without eventTypeCode": (
        "health-scheduled-change.json", "detail.eventTypeCode", _DELETE, "detail.eventTypeCode"),
    "health without statusCode": (
        "health-scheduled-change.json", "detail.statusCode", _DELETE, "detail.statusCode"),
    "health without startTime": (
        "health-scheduled-change.json", "detail.startTime", _DELETE, "detail.startTime"),
    "health without eventArn": (
        "health-scheduled-change.json", "detail.eventArn", _DELETE, "detail.eventArn"),
    "health entity value a number": (
        "health-scheduled-change.json", "detail.affectedEntities", [{"entityValue": 7}],
        "detail.affectedEntities[].entityValue"),
    "launch unsuccessful details not an object": (
        "launch-unsuccessful.json",
        "detail.Details",
        "us-east-1a",
        "detail.Details",
    ),
}


@pytest.mark.parametrize(
    ("name", "path", "value", "field"), MALFORMED_DICTS.values(), ids=MALFORMED_DICTS.keys()
)
def test_event_with_a_wrong_field_is_refused_naming_that_field(
    name: str, path: str, value: object, field: str
) -> None:
    with pytest.raises(EventError) as caught:
        parse_event(_edited(name, path, value))
    assert caught.value.field == field


NOT_OBJECTS: dict[str, object] = {
    "None": None, "string": "Scheduled Event", "number": 3, "list": [{}],
}


@pytest.mark.parametrize("raw", NOT_OBJECTS.values(), ids=NOT_OBJECTS.keys())
def test_anything_but_a_mapping_is_refused_as_not_a_json_object(raw: object) -> None:
    with pytest.raises(EventError, match="not a JSON object"):
        parse_event(raw)


def test_an_empty_object_is_an_operators_run_now_and_json_text_of_it_too() -> None:
    # `aws lambda invoke --payload '{}'` (or no payload at all: Lambda passes {})
    assert parse_event({}) == RunNow()
    assert parse_event_json("{}") == RunNow()
    # ... but an object with anything in it is parsed as an EventBridge event
    with pytest.raises(EventError) as caught:
        parse_event({"detail": {}})
    assert caught.value.field == "detail-type"


def test_scheduled_tick_without_resources_has_an_empty_rule() -> None:
    event = parse_event(_edited("scheduled.json", "resources", _DELETE))
    assert isinstance(event, ScheduledTick)
    assert event.rule == ""


def test_samples_name_the_seed_config_s_groups_account_and_region_and_iso_times() -> None:
    asgs = {g.asg_name(SEED.cluster_name) for g in SEED.node_groups}
    for path in EVENTS.glob("*.json"):
        event = json.loads(path.read_text())
        datetime.fromisoformat(event["time"])
        assert (event["account"], event["region"]) == (SEED.account, SEED.region), path.name
        group = event["detail"].get("AutoScalingGroupName")
        assert group is None or group in asgs, path.name
        # AWS Health may list an EC2 event's affected instances by id (older samples)
        assert all(arn.startswith("arn:aws:") or (
            event["source"] == "aws.health" and arn.startswith("i-"))
            for arn in event.get("resources", [])), path.name


def test_a_parsed_lifecycle_action_never_shows_its_token() -> None:
    import json
    from pathlib import Path

    from burst.core.notices.events import parse_event

    raw = json.loads(
        (Path(__file__).parents[2] / "events" / "launch-lifecycle-action.json").read_text()
    )
    action = parse_event(raw)
    assert isinstance(action, LaunchLifecycleAction)
    token = raw["detail"]["LifecycleActionToken"]
    assert action.token == token
    assert token not in repr(action) and token not in str(action)


def test_a_health_event_acts_on_every_instance_it_names_in_resources_or_entities() -> None:
    event = sample("health-scheduled-change.json")
    event["resources"] = ["i-0aaa", "arn:aws:health:us-east-1::entity/x"]
    event["detail"]["affectedEntities"] = [
        {"entityValue": "i-0bbb"}, {"entityValue": "i-0aaa"},
        {"entityValue": "arn:aws:ec2:us-east-1:123456789012:instance/i-0ccc"},
        {"entityValue": "arn:aws:ec2:us-east-1:123456789012:volume/vol-0ddd"}]
    parsed = parse_event(event)
    assert isinstance(parsed, Notice)
    assert parsed.instance_ids == ("i-0aaa", "i-0bbb", "i-0ccc")


@pytest.mark.parametrize("status", ["upcoming", "open", "closed"])
def test_every_documented_health_status_is_read(status: str) -> None:
    event = sample("health-scheduled-change.json")
    event["detail"]["statusCode"] = status
    parsed = parse_event(event)
    assert isinstance(parsed, Notice) and parsed.status == status


@pytest.mark.parametrize("start", ["Fri, 3 Jun 2022 05:01:10 GMT",
                                   "Fri, 03 Jun 2022 05:01:10 GMT"])
def test_a_health_start_is_read_as_aws_health_writes_it(start: str) -> None:
    # AWS's samples write the day with and without its leading zero
    event = sample("health-scheduled-change.json")
    event["detail"]["startTime"] = start
    parsed = parse_event(event)
    assert isinstance(parsed, Notice)
    assert parsed.start == datetime(2022, 6, 3, 5, 1, 10, tzinfo=UTC)


def test_the_committed_notice_samples_are_what_burst_events_writes_from_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    written = generator.samples(REPO / DEFAULT_PATH)
    assert set(written) == {p.name for p in EVENTS.glob("*.json")}
    assert {t.sample for t in NOTICES.values()} <= set(written)
    for name, text in written.items():
        assert (EVENTS / name).read_text() == text, f"run `burst events`: {name} drifted"
    # AND the command writes them into an empty directory, then finds nothing to change
    from burst.tools.cli import main

    seed = ["--config", str(REPO / DEFAULT_PATH)]
    assert main(["events", *seed, "--dir", str(tmp_path), "--check"]) == 1
    assert main(["events", *seed, "--dir", str(tmp_path)]) == 0
    assert main(["events", *seed, "--dir", str(tmp_path), "--check"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(written)
    assert "differs" in capsys.readouterr().out


def test_burst_events_names_a_missing_directory_and_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from burst.tools.cli import main

    assert main(["events", "--dir", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"burst: error: {tmp_path / 'nowhere'}: not a directory"


@pytest.mark.parametrize("kind", list(NoticeKind), ids=str)
def test_each_kind_has_one_entry_whose_sample_parses_back_into_that_kind(
    kind: NoticeKind,
) -> None:
    entry = NOTICES[kind]
    assert entry.kind is kind and isinstance(entry.reason, EventReason)
    parsed = parse_event(copy.deepcopy(dict(entry.documented)))
    assert isinstance(parsed, Notice) and parsed.kind is kind
    assert entry.describe(parsed)  # the node Event's message has something to say


def test_kinds_sharing_a_rule_share_its_source_and_detail_pattern() -> None:
    rules: dict[str, set[tuple[str, str]]] = {}
    for entry in NOTICES.values():
        rules.setdefault(entry.rule, set()).add((entry.source, repr(dict(entry.detail))))
    assert all(len(patterns) == 1 for patterns in rules.values()), rules


def test_burst_events_with_a_config_names_what_that_config_s_stack_deploys(
    tmp_path: Path,
) -> None:
    # GIVEN another account, region, cluster and group than the seed's
    from burst.core.names import Hook
    from burst.tools.cli import main

    path = REPO / "examples" / "deploy-minimal.yaml"
    config = load(path)
    (group,) = config.node_groups
    asg = group.asg_name(config.cluster_name)  # what the lifecycle rule's pattern lists
    assert main(["events", "--config", str(path), "--dir", str(tmp_path)]) == 0
    written = {p.name: json.loads(p.read_text()) for p in tmp_path.iterdir()}
    assert set(written) == {p.name for p in EVENTS.glob("*.json")}
    for name, event in written.items():
        # THEN every sample comes from that account and region (a rule sees only those)...
        assert (event["account"], event["region"]) == (config.account, config.region), name
        assert all(f":{config.region}" in arn for arn in event.get("resources", [])), name
        # ...and parses into what the functions act on, for that group and its hooks
        parsed = parse_event(event)
        if isinstance(parsed, LaunchLifecycleAction | TerminateLifecycleAction):
            assert (parsed.node_group, parsed.hook) == (
                asg, Hook.LAUNCH if isinstance(parsed, LaunchLifecycleAction)
                else Hook.TERMINATE)
        if isinstance(parsed, LaunchUnsuccessful):
            assert parsed.node_group == asg
            assert parsed.availability_zone == group.subnets[0].availability_zone
    health = written["health-scheduled-change.json"]["detail"]
    assert health["eventRegion"] == config.region
    assert health["affectedAccount"] == config.account
    assert health["affectedEntities"][0]["entityValue"].startswith(
        f"arn:aws:ec2:{config.region}:{config.account}:instance/")
