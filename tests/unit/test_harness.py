"""The harness tests, benchmarks and the demo share (burst.tools.harness), and what the
installed package ships instead of reading the checkout."""

from __future__ import annotations

import fnmatch
import json
import os
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from burst.core.notices.events import LifecycleAction, ScheduledTick, parse_event
from burst.tools import credentials
from burst.tools.demo import fallback, setup
from burst.tools.harness import controlplane, events
from burst.tools.harness.clock import START, FakeClock
from burst.tools.harness.context import LambdaContext

REPO = Path(__file__).parents[2]
SAMPLES = REPO / "events"
# What differs between two deliveries of the same event.
PER_EVENT = ("id", "time", "resources")
PER_ACTION = ("LifecycleActionToken", "AutoScalingGroupName", "EC2InstanceId")


def _shape(event: dict[str, Any]) -> dict[str, Any]:
    detail = {k: v for k, v in event["detail"].items() if k not in PER_ACTION}
    return {**{k: v for k, v in event.items() if k not in PER_EVENT}, "detail": detail}


def test_the_scheduled_event_is_the_sample_stamped_with_its_tick() -> None:
    built = events.scheduled_event(START)
    assert _shape(built) == _shape(json.loads((SAMPLES / "scheduled.json").read_text()))
    tick = parse_event(built)
    assert isinstance(tick, ScheduledTick) and tick.time == START


@pytest.mark.parametrize(("sample", "hook", "launching"), [
    ("launch-lifecycle-action.json", "fpga-burst-launch", True),
    ("terminate-lifecycle-action.json", "fpga-burst-terminate", False),
])
def test_a_lifecycle_action_is_the_sample_for_its_instance(
    sample: str, hook: str, launching: bool,
) -> None:
    built = events.lifecycle_action("g", hook, "i-1", "tok", launching=launching)
    assert _shape(built) == _shape(json.loads((SAMPLES / sample).read_text()))
    action = parse_event(built)
    assert isinstance(action, LifecycleAction)
    assert (action.node_group, action.hook, action.instance_id, action.token) == (
        "g", hook, "i-1", "tok")


def test_the_fake_clock_moves_only_when_told_and_keeps_each_sleep() -> None:
    clock = FakeClock()
    assert (clock.wall(), clock.monotonic()) == (START, 0.0)
    clock.sleep(2.5)
    clock.advance(7.5)
    assert clock.sleeps == [2.5]
    assert (clock.wall(), clock.monotonic()) == (START + timedelta(seconds=10), 10.0)


def test_the_lambda_context_counts_its_deadline_on_the_clock_it_is_given() -> None:
    clock = FakeClock()
    context = LambdaContext(60, "fpga-burst-t-scaler", clock=clock.monotonic)
    clock.advance(45)
    assert context.get_remaining_time_in_millis() == 15_000
    clock.advance(30)
    assert context.get_remaining_time_in_millis() == 0
    assert context.invoked_function_arn.endswith(":function:fpga-burst-t-scaler")


def test_without_the_binaries_variable_the_control_plane_says_which_to_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.delenv(controlplane.BIN_ENV, raising=False)
    with pytest.raises(controlplane.ControlPlaneError, match=controlplane.BIN_ENV):
        controlplane.start(tmp_path)
    monkeypatch.setenv(controlplane.BIN_ENV, str(tmp_path))
    with pytest.raises(controlplane.ControlPlaneError, match="etcd: missing or not executable"):
        controlplane.start(tmp_path)


@pytest.mark.parametrize(("shipped", "in_repository"), [
    (credentials.DEFAULT_RBAC, REPO / "manifests" / "rbac.yaml"),
    (fallback.SCENARIO, REPO / "examples" / "seed-evaluation.yaml"),
], ids=["rbac", "seed-scenario"])
def test_what_the_package_ships_is_the_file_the_readme_names(
    shipped: Path, in_repository: Path,
) -> None:
    package = REPO / "lambdas" / "burst"
    assert shipped.resolve().is_relative_to(package), "package data lives in the package"
    assert os.path.samefile(shipped, in_repository), "one file, not a copy"
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = data["tool"]["setuptools"]["package-data"]["burst"]
    name = str(shipped.relative_to(package))
    assert any(fnmatch.fnmatch(name, p) for p in patterns), f"{name} is not in package-data"


def test_the_demo_reads_its_deploy_config_from_the_package() -> None:
    assert setup.DEMO_CONFIG.resolve().is_relative_to(REPO / "lambdas" / "burst")
    assert setup.deploy_config().node_groups
