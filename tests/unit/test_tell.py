"""Telling at scale, through the shell with in-memory fakes of our ports: pod Events once
per pod and decision, remembered across invocations in the status; a bounded number per
tick, the rest later; the order of work when the tick's time runs out; one log line per
reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import yaml
from test_reconcile import ONPREM, FakeAws, FakeCluster, Telemetry, f1_group, shell

from burst.core.catalog import F1_BOARD, F2_BOARD
from burst.core.model import Instance, Node, NodeGroup, Pod
from burst.core.scaledown import runtimes
from burst.core.scaledown.runtimes import Runs
from burst.loop import tell
from burst.loop.config import EventLimits
from burst.loop.memory import DIGEST_ROOM, RUNS_KEY, Memory, read_memory, told_key
from burst.loop.reconcile import Shell
from burst.loop.status import Report, status_data
from burst.loop.tell import DEFERRED, NOT_TRIGGERED, TRIGGERED
from burst.tools.harness.clock import FakeClock

HUGE = [Pod(f"ml/huge-{i}", requests={F1_BOARD: 16}, uid=f"u-h{i}") for i in range(5)]
SMALL = [Pod(f"ml/small-{i}", requests={F1_BOARD: 2}, uid=f"u-s{i}") for i in range(3)]


def invocation(cluster: FakeCluster, aws: FakeAws, clock: FakeClock | None = None,
               events: int | None = None) -> tuple[Shell, Telemetry]:
    """A new invocation: nothing in memory but what the status ConfigMap holds. `events`:
    its Event budget, if not the default."""
    limits = None if events is None else EventLimits(writes=events)
    return shell(cluster, aws, clock=clock, events=limits)


def told_pods(cluster: FakeCluster) -> list[str]:
    return [e[0] for e in cluster.events]


def test_a_second_invocation_with_nothing_changed_writes_no_events(
) -> None:
    cluster = FakeCluster([ONPREM], list(HUGE))
    aws = FakeAws([f1_group()])
    invocation(cluster, aws)[0].reconcile()
    assert sorted(told_pods(cluster)) == [p.name for p in HUGE]
    invocation(cluster, aws)[0].reconcile()
    assert len(cluster.events) == len(HUGE)


def test_over_the_budget_the_rest_are_counted_in_the_status_and_told_on_later_ticks(
) -> None:
    # GIVEN five pods nothing can host and a budget of two Events a tick
    cluster = FakeCluster([ONPREM], list(HUGE))
    aws = FakeAws([f1_group()])
    told_after = []
    for _ in range(4):
        invocation(cluster, aws, events=2)[0].reconcile()
        told_after.append(len(cluster.events))
    # THEN two, two, one, none: each pod told exactly once
    assert told_after == [2, 4, 5, 5]
    assert sorted(told_pods(cluster)) == [p.name for p in HUGE]
    assert {e[1] for e in cluster.events} == {NOT_TRIGGERED}


def test_the_status_counts_the_events_left_for_later() -> None:
    cluster = FakeCluster([ONPREM], list(HUGE))
    invocation(cluster, FakeAws([f1_group()]), events=2)[0].reconcile()
    status = cluster.status["status.yaml"]
    assert "written: 2" in status
    assert "deferred: 3" in status
    assert len(read_memory(cluster, Telemetry()).told) == 2


def test_a_pod_whose_scale_up_event_was_left_over_hears_of_it_while_it_waits(
) -> None:
    # GIVEN three pods that each trigger an f1 instance, and one Event a tick
    cluster = FakeCluster([ONPREM], list(SMALL))
    aws = FakeAws([f1_group()])
    invocation(cluster, aws, events=1)[0].reconcile()
    assert aws.writes == [("raise", "f1-4xlarge", 3)]
    # WHEN the group has been raised and the pods wait for its instances
    aws.groups = [f1_group(3, tuple(Instance(f"i-{i}", "Pending") for i in range(3)))]
    for _ in range(3):
        invocation(cluster, aws, events=1)[0].reconcile()
    # THEN every pod was told once, in the words of the tick that raised the group
    assert sorted(told_pods(cluster)) == [p.name for p in SMALL]
    assert {(e[1], e[2]) for e in cluster.events} == {
        (TRIGGERED, "pod triggered scale-up: [{f1-4xlarge 0->3 (max: 4)}]")}
    assert aws.writes == [("raise", "f1-4xlarge", 3)]


def test_a_pod_whose_decision_changes_is_told_again_once() -> None:
    # GIVEN a pod whose only group is at its max size
    cluster = FakeCluster([ONPREM], [SMALL[0]])
    aws = FakeAws([replace(f1_group(), max_size=0)])
    invocation(cluster, aws)[0].reconcile()
    invocation(cluster, aws)[0].reconcile()
    # WHEN a second group, also at its max size, is found: the reason changes
    aws.groups = [*aws.groups, replace(f1_group(), name="f1-second", max_size=0)]
    invocation(cluster, aws)[0].reconcile()
    invocation(cluster, aws)[0].reconcile()
    # THEN the pod was told twice: once per reason
    assert told_pods(cluster) == [SMALL[0].name, SMALL[0].name]
    assert "f1-second" not in cluster.events[0][2]
    assert "f1-second" in cluster.events[1][2]


def test_past_the_deadline_a_tick_scales_up_and_writes_its_status_but_no_events_or_scale_down(
) -> None:
    # GIVEN a pod to scale up f1 for, and an empty F2 burst node to give back
    idle = Node("burst-1", instance_id="i-1", allocatable={F2_BOARD: 1})
    f2 = NodeGroup("f2-6xlarge", "f2.6xlarge", 0, 4, 1, instances=(Instance("i-1", "InService"),))
    pod = SMALL[0]
    cluster = FakeCluster([ONPREM, idle], [pod])
    aws = FakeAws([f1_group(), f2])
    clock = FakeClock()
    s, _ = invocation(cluster, aws, clock)
    # WHEN the tick's time is already up
    result = s.reconcile(stop_at=clock.mono - 1)
    # THEN scale-up and the status, and nothing after them
    assert [w[0] for w in aws.writes] == ["raise"]
    assert cluster.status["lastDecision"].startswith("scale-up f1-4xlarge")
    assert cluster.events == []
    assert cluster.writes == []
    assert any("not started" in f for f in result.failures)
    # AND the next tick, in time, tells the pod first, then marks the node and tells it
    invocation(cluster, aws)[0].reconcile()
    assert told_pods(cluster) == [pod.name, "burst-1", "burst-1"]
    assert [w[:2] for w in cluster.writes] == [("annotate", "burst-1"), ("cordon", "burst-1")]


def test_node_events_come_out_of_the_same_budget() -> None:
    idle = Node("burst-1", instance_id="i-1", allocatable={F1_BOARD: 2})
    group = f1_group(1, (Instance("i-1", "InService"),))
    cluster = FakeCluster([ONPREM, idle], [HUGE[0]])
    invocation(cluster, FakeAws([group]), events=1)[0].reconcile()
    # the pod's Event took the budget; the node's Idle Event is left out, and counted
    assert told_pods(cluster) == [HUGE[0].name]
    assert "deferred: 2" in cluster.status["status.yaml"]


def test_unhelped_pods_are_one_log_line_per_reason_and_one_debug_line_per_pod() -> None:
    cluster = FakeCluster([ONPREM], list(HUGE))
    s, t = invocation(cluster, FakeAws([f1_group()]))
    s.reconcile()
    warnings = [(msg, extra) for level, msg, extra in t.lines if level == "warning"]
    assert len(warnings) == 1
    msg, extra = warnings[0]
    assert msg.startswith("5 pods: no scale-up: no node group can host it")
    assert extra["pods"] == 5
    assert extra["examples"] == [p.name for p in HUGE[:tell.EXAMPLES]]
    debug = [msg for level, msg, _ in t.lines if level == "debug"]
    assert sorted(debug) == sorted(f"pod {p.name}: no scale-up: {extra['reason']}" for p in HUGE)


def test_the_told_digests_read_back_as_written() -> None:
    keys = {told_key(f"uid-{i}", NOT_TRIGGERED, f"reason {i % 3}") for i in range(100)}
    data = status_data(Report(FakeClock().wall_time, "no change"),
                       Memory(told=keys, scale_ups={"g": "{g 0->1 (max: 4)}"}))
    cluster = FakeCluster(status=data)
    memory = read_memory(cluster, Telemetry())
    assert memory.told == keys
    assert memory.scale_ups == {"g": "{g 0->1 (max: 4)}"}


def test_a_pod_waiting_for_capacity_it_did_not_trigger_hears_nothing() -> None:
    cluster = FakeCluster([ONPREM], list(SMALL))
    aws = FakeAws([f1_group()])
    invocation(cluster, aws)[0].reconcile()
    assert len(cluster.events) == len(SMALL)
    # WHEN a fourth pod comes and fits an instance someone else asked for
    late = Pod("ml/late", requests={F1_BOARD: 2}, uid="u-late")
    cluster.pods = [*SMALL, late]
    aws.groups = [f1_group(4, tuple(Instance(f"i-{i}", "Pending") for i in range(4)))]
    invocation(cluster, aws)[0].reconcile()
    # THEN it is not told it triggered a scale-up
    assert late.name not in told_pods(cluster)
    assert len(cluster.events) == len(SMALL)


def test_digests_past_the_configmap_room_are_left_out_owed_ones_first() -> None:
    told = {told_key(f"uid-{i}", NOT_TRIGGERED, "m") for i in range(DIGEST_ROOM // 8 - 10)}
    owed = {told_key(f"uid-o{i}", TRIGGERED, "group g") for i in range(100)}
    data = status_data(Report(FakeClock().wall_time, "no change"), Memory(told=told, owed=owed))
    memory = read_memory(FakeCluster(status=data), Telemetry())
    assert memory.told == told
    assert len(memory.owed) == 10
    assert memory.owed <= owed


def test_a_pod_waiting_for_a_board_about_to_be_freed_is_told_once_and_shown_in_the_status(
) -> None:
    # GIVEN an F1 node whose two pods started 100 s ago, and run times learned earlier
    # (half the pods ran 2 min, half an hour), read back from the status
    clock = FakeClock()
    started = clock.wall_time - timedelta(seconds=100)
    node = Node("f1-node", allocatable={F1_BOARD: 2})
    running = [Pod(f"ml/run-{i}", node="f1-node", requests={F1_BOARD: 1}, uid=f"u-r{i}",
                   started=started) for i in range(2)]
    waiting = Pod("ml/next", requests={F1_BOARD: 1}, uid="u-n", created=clock.wall_time)
    cluster = FakeCluster([node], [*running, waiting])
    cluster.status = {RUNS_KEY: runtimes.to_data(Runs({}, tuple([120.0] * 20 + [1800.0] * 20)))}
    aws = FakeAws([f1_group()])
    # WHEN two invocations run
    invocation(cluster, aws, clock)[0].reconcile()
    invocation(cluster, aws, clock)[0].reconcile()
    # THEN the pod waits: no group is raised, one Normal Event says why, once
    assert aws.groups[0].desired == 0
    assert [(e[0], e[1], e[3]) for e in cluster.events] == [("ml/next", DEFERRED, "Normal")]
    assert "scale-up deferred: pod waits up to 45 s for a board" in cluster.events[0][2]
    # AND the status shows it, with the running pods noted for the run times
    status = yaml.safe_load(cluster.status["status.yaml"])
    assert status["pending"]["outcomes"] == {"deferred": 1}
    assert status["pending"]["deferred"][0]["pod"] == "ml/next"
    assert set(runtimes.from_data(cluster.status[RUNS_KEY]).running) == {"u-r0", "u-r1"}
