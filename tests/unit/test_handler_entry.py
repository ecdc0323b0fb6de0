"""The Lambda entry points as Lambda calls them: Powertools decorators, a context, EMF out.

Only events that need no adapters here (malformed, unexpected, a failed launch); the
integration tests run the handlers' work against the real API server and moto.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from burst.handlers import lifecycle, tokens
from burst.tools.harness.context import LambdaContext

EVENTS = Path(__file__).parents[2] / "events"


def event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


def emf(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if '"_aws"' in line]


@pytest.mark.parametrize(
    ("entry", "name"),
    [
        (lifecycle.handler, "malformed/launch-lifecycle-action-missing-instance-id.json"),
        (lifecycle.handler, "scheduled.json"),
        (tokens.handler, "launch-lifecycle-action.json"),
        (tokens.handler, "malformed/scheduled-bad-time.json"),
    ],
    ids=["lifecycle: malformed", "lifecycle: a tick", "tokens: an ASG event",
         "tokens: malformed"],
)
def test_a_malformed_or_unexpected_event_is_an_error_log_and_no_action(
    entry: Any, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    summary = entry(event(name), LambdaContext(60, "fpga-burst-test"))
    assert summary == {"outcome": "bad-event"}
    assert any(r.levelname == "ERROR" and r.getMessage().startswith("bad-event: event")
               for r in caplog.records)


def test_a_failed_launch_publishes_the_metric_the_scale_up_alarm_watches(
    capsys: pytest.CaptureFixture[str],
) -> None:
    failed = event("launch-unsuccessful.json")
    summary = lifecycle.handler(failed, LambdaContext(60, "t"))
    assert summary["launchFailed"] == failed["detail"]["AutoScalingGroupName"]
    assert summary["kind"] == "insufficient capacity"  # classified from the event's message
    (blob,) = emf(capsys.readouterr().out)
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "fpga-burst" and directive["Dimensions"] == [["service"]]
    assert [m["Name"] for m in directive["Metrics"]] == ["ScaleUpFailures"]
    assert blob["service"] == "fpga-burst"
