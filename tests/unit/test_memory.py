"""The scaler's Memory through the status ConfigMap: what one invocation writes is what the
next reads back, field by field; and the YAML a Memory keeps never makes a status stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from test_reconcile import ONPREM, FakeAws, FakeCluster, Telemetry, f1_group, shell

from burst.core.catalog import F1_BOARD
from burst.core.model import NodeGroup, Pod
from burst.core.scaledown.arrivals import Arrivals
from burst.core.scaledown.runtimes import Runs
from burst.loop.config import EventLimits
from burst.loop.memory import (
    ARRIVALS_KEY,
    OWED_KEY,
    RUNS_KEY,
    SCALE_UPS_KEY,
    TOLD_KEY,
    Memory,
    read_memory,
    told_key,
)
from burst.loop.status import Report, status_data
from burst.loop.tell import NOT_TRIGGERED, TRIGGERED
from burst.tools.harness.clock import FakeClock

# The status ConfigMap keeps times to the second: memories of whole seconds read back whole.
SECONDS = st.integers(0, 4_000_000_000).map(float)
TEXT = st.text(max_size=20)


@st.composite
def memories(draw: st.DrawFn) -> Memory:
    seen = draw(st.none() | st.datetimes(timezones=st.just(UTC)))
    boards = draw(st.dictionaries(TEXT, st.lists(st.tuples(SECONDS, st.integers(1, 16)),
                                                 min_size=1, max_size=4).map(tuple),
                                  max_size=3))
    running = draw(st.dictionaries(TEXT, st.tuples(SECONDS, SECONDS), max_size=4))
    ended = draw(st.lists(SECONDS, max_size=5).map(tuple))
    digests = st.sets(st.builds(told_key, TEXT, st.sampled_from([TRIGGERED, NOT_TRIGGERED]),
                                TEXT), max_size=30)
    return Memory(Arrivals(seen, boards), Runs(running, ended), draw(digests), draw(digests),
                  draw(st.dictionaries(TEXT, TEXT, max_size=3)))


@given(memories())
def test_any_memory_written_into_the_status_reads_back_as_it_was(memory: Memory) -> None:
    data = status_data(Report(datetime(2026, 11, 27, tzinfo=UTC), "no change"), memory)
    assert read_memory(FakeCluster(status=data), Telemetry()) == memory
    assert Memory.from_data(memory.to_data()) == memory


def test_the_memory_a_reconcile_leaves_is_the_one_the_next_invocation_reads() -> None:
    # GIVEN a pod running on-prem, then gone a minute later (a run time), and three pending
    # pods that each trigger an f1 instance, with a budget of one Event a tick (the other
    # two TriggeredScaleUps are owed)
    clock = FakeClock()
    running = Pod("ml/run", node=ONPREM.name, requests={"xilinx/u250": 1}, uid="u-run",
                  started=clock.wall_time - timedelta(minutes=5))
    pending = [Pod(f"ml/small-{i}", requests={F1_BOARD: 2}, uid=f"u-s{i}",
                   created=clock.wall_time + timedelta(seconds=30 + i)) for i in range(3)]
    cluster = FakeCluster([ONPREM], [running])
    s, _ = shell(cluster, FakeAws([f1_group()]), clock=clock, events=EventLimits(writes=1))
    s.reconcile()
    clock.wall_time += timedelta(minutes=1)
    cluster.pods = pending
    # WHEN it reconciles again
    s.reconcile()
    # THEN the memory holds something of every kind, and the status carries all of it
    kept = s.memory
    assert kept is not None
    assert kept.arrivals.boards and kept.runs.ended and kept.scale_ups
    assert len(kept.told) == 1 and len(kept.owed) == 2
    assert read_memory(cluster, Telemetry()) == kept


UNREADABLE = {
    "arrivals not JSON": {ARRIVALS_KEY: "{not json"},
    "runs not JSON": {RUNS_KEY: "["},
    "scale-ups not an object": {SCALE_UPS_KEY: "[1, 2]"},
    "scale-ups not JSON": {SCALE_UPS_KEY: "{"},
    "digests cut short": {TOLD_KEY: "abc", OWED_KEY: "abcdefg"},
}


@pytest.mark.parametrize("data", UNREADABLE.values(), ids=UNREADABLE)
def test_a_record_that_does_not_parse_reads_as_empty(data: dict[str, str]) -> None:
    assert Memory.from_data(data) == Memory()


def test_no_status_is_an_empty_memory() -> None:
    assert read_memory(FakeCluster(), Telemetry()) == Memory()


def test_the_yaml_a_memory_keeps_never_stands_for_another_document() -> None:
    # GIVEN one memory through statuses that alternate and repeat, as a watch's do
    groups = [NodeGroup("f2", "f2.6xlarge", 0, 2, 1)]
    now = datetime(2026, 11, 27, tzinfo=UTC)
    reports = [Report(now + timedelta(seconds=i), f"decision {i % 3}", groups,
                      {"f2": i % 2}, events={"written": i % 4}) for i in range(12)]
    memory = Memory()
    # THEN each says what a memory that never saw another says
    for report in reports:
        kept = yaml.safe_load(status_data(report, memory)["status.yaml"])
        fresh = yaml.safe_load(status_data(report, Memory())["status.yaml"])
        assert kept == fresh
        assert kept["lastDecision"] == report.last_decision
    assert len(memory.dumps) <= 2


def test_memories_keep_their_yaml_apart() -> None:
    one, other = Memory(), Memory()
    status_data(Report(datetime(2026, 11, 27, tzinfo=UTC), "for one"), one)
    assert len(one.dumps) == 1 and other.dumps == []
