"""Lifecycle decisions (pure) and the terminate loop over in-memory ports and a fake clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from burst.core.errors import KubeNotFoundError, LifecycleActionNotFoundError
from burst.core.lifecycle import DRAIN_STARTED, REMOVAL_TAINT, heartbeat_due, not_useful
from burst.core.model import Instance, Node, NodeGroup, Taint
from burst.loop.lifecycle import (
    LAUNCH_HOOK,
    TERMINATE_HOOK,
    Drainer,
    HookResult,
    Target,
    continue_launches,
    continue_terminations,
    delete_gone,
    launch,
)
from burst.ports.aws import LifecycleResult
from burst.ports.cluster import DrainResult
from burst.tools.harness.clock import START, FakeClock

F1 = "xilinx/aws-vu9p-f1"
T0 = START  # FakeClock's wall time at 0 s
GROUP = NodeGroup("f1-4xlarge", "f1.4xlarge", 0, 4, 1, boards={F1: 2})
TIMEOUT = timedelta(seconds=600)


def node(ready: bool = True, boards: int = 2, **kw: object) -> Node:
    return Node("ip-10-0-1-5", node_group=GROUP.name, ready=ready,
                allocatable={F1: boards} if boards else {}, instance_id="i-1", **kw)  # type: ignore[arg-type]


NOT_USEFUL = {
    "not joined": (None, GROUP, "no node"),
    "joined, not Ready": (node(ready=False), GROUP, "not Ready"),
    "Ready, boards not advertised yet": (node(boards=0), GROUP, "does not advertise"),
    "unknown boards, none advertised": (node(boards=0), None, "advertises no FPGA boards"),
    "Ready with boards": (node(), GROUP, None),
    "unknown boards, some advertised": (node(), None, None),
}


@pytest.mark.parametrize(("n", "group", "why"), NOT_USEFUL.values(), ids=NOT_USEFUL.keys())
def test_a_launch_is_useful_once_joined_ready_and_advertising_boards(
    n: Node | None, group: NodeGroup | None, why: str | None
) -> None:
    found = not_useful(n, group)
    assert (found is None) if why is None else (found is not None and why in found)


HEARTBEAT = {
    "fresh drain, early: no": (timedelta(seconds=10), True, False),
    "fresh drain, half the timeout gone: yes": (TIMEOUT / 2, True, True),
    "continued drain, early: yes (its hook may be older)": (timedelta(seconds=10), False, True),
}


@pytest.mark.parametrize(("elapsed", "fresh", "due"), HEARTBEAT.values(), ids=HEARTBEAT.keys())
def test_heartbeat_due(elapsed: timedelta, fresh: bool, due: bool) -> None:
    assert heartbeat_due(T0, T0 + elapsed, TIMEOUT, fresh) is due


@dataclass
class FakeAws:
    pending: set[tuple[str, str]] = field(default_factory=set)  # (hook, instance)
    completed: list[tuple[str, str, LifecycleResult]] = field(default_factory=list)
    heartbeats: int = 0

    def complete_lifecycle_action(self, node_group: str, hook: str, instance_id: str,
                                  result: LifecycleResult, token: str | None = None) -> None:
        if (hook, instance_id) not in self.pending:
            raise LifecycleActionNotFoundError("CompleteLifecycleAction", "ValidationError",
                                               "No active Lifecycle Action found")
        self.pending.discard((hook, instance_id))
        self.completed.append((hook, instance_id, result))

    def record_heartbeat(self, node_group: str, hook: str, instance_id: str,
                         token: str | None = None) -> None:
        if (hook, instance_id) not in self.pending:
            raise LifecycleActionNotFoundError("RecordLifecycleActionHeartbeat", "", "none")
        self.heartbeats += 1


@dataclass
class FakeCluster:
    """NodeWriter and NodeDrainer: a node whose pods leave after `drain_needs` seconds of
    draining (time passes in drain)."""

    clock: FakeClock
    nodes: dict[str, Node] = field(default_factory=dict)
    drain_needs: float = 0.0
    held: bool = False  # a pod marked safe-to-evict=false stays whatever the drain does
    deleted: list[str] = field(default_factory=list)

    def cordon(self, name: str, taint: Taint | None = None) -> bool:
        n = self.nodes[name]
        self.nodes[name] = Node(**{**n.__dict__, "unschedulable": True,
                                   "taints": (*n.taints, taint) if taint else n.taints})
        return True

    def uncordon(self, name: str, taint_key: str | None = None) -> bool:
        return False  # a terminating node is never given back

    def annotate_node(self, name: str, changes: Mapping[str, str | None]) -> bool:
        n = self.nodes[name]
        merged = {**n.annotations, **{k: v for k, v in changes.items() if v is not None}}
        self.nodes[name] = Node(**{**n.__dict__, "annotations": merged})
        return True

    def drain(self, name: str, deadline: float) -> DrainResult:
        spend = min(self.drain_needs, max(0.0, deadline - self.clock.mono))
        self.clock.advance(spend)
        self.drain_needs -= spend
        return DrainResult(name, remaining=("ns/job",) if self.drain_needs > 0 else (),
                           blocked={"ns/job": "Cannot evict pod as it would violate the pod's "
                                              "disruption budget."} if self.drain_needs > 0 else {},
                           held={"ns/precious": "annotated safe-to-evict=false"}
                           if self.held else {})

    def delete_node(self, name: str, uid: str | None = None) -> bool:
        self.deleted.append(name)
        return self.nodes.pop(name, None) is not None

    def workload(self, name: str) -> tuple[str, ...]:
        return ("ns/job",) if self.drain_needs > 0 else ()


def setup(drain_needs: float = 0.0, stop_after: float = 280.0) -> tuple[
        FakeClock, FakeCluster, FakeAws, Drainer]:
    clock = FakeClock()
    cluster = FakeCluster(clock, {"ip-10-0-1-5": node()}, drain_needs)
    aws = FakeAws({(TERMINATE_HOOK, "i-1"), (LAUNCH_HOOK, "i-1")})
    return clock, cluster, aws, Drainer(cluster, cluster, aws, clock, TIMEOUT, stop_at=stop_after)


TERMINATE = Target(GROUP.name, TERMINATE_HOOK, "i-1", "tok", T0)


def test_terminate_cordons_taints_drains_deletes_the_node_and_completes_continue() -> None:
    _clock, cluster, aws, drainer = setup(drain_needs=30)
    seen = cluster.nodes["ip-10-0-1-5"]
    outcome = drainer.terminate(TERMINATE, [seen])
    assert outcome.result is HookResult.COMPLETED and not outcome.over_deadline
    assert cluster.deleted == ["ip-10-0-1-5"]
    assert aws.completed == [(TERMINATE_HOOK, "i-1", LifecycleResult.CONTINUE)]
    assert aws.heartbeats == 0  # 30 s of a 600 s hook: nothing to extend
    assert outcome.drain_seconds == 30


def test_terminate_keeps_the_drain_start_on_the_node_and_taints_it() -> None:
    _clock, cluster, aws, drainer = setup(drain_needs=1000, stop_after=100)
    outcome = drainer.terminate(TERMINATE, list(cluster.nodes.values()))
    after = cluster.nodes["ip-10-0-1-5"]
    assert outcome.result is HookResult.DRAINING
    assert after.annotations[DRAIN_STARTED] == T0.isoformat()
    assert after.unschedulable and REMOVAL_TAINT in after.taints
    assert aws.completed == []


def test_a_killed_drain_is_finished_by_the_next_invocation_with_a_heartbeat_first() -> None:
    clock, cluster, aws, drainer = setup(drain_needs=150, stop_after=100)
    first = drainer.terminate(TERMINATE, list(cluster.nodes.values()))
    assert first.result is HookResult.DRAINING and aws.heartbeats == 0
    # A retry of the same event, 20 s later, with a fresh invocation budget.
    clock.advance(20)
    again = Drainer(cluster, cluster, aws, clock, TIMEOUT, stop_at=clock.mono + 280)
    second = again.terminate(TERMINATE, list(cluster.nodes.values()))
    assert second.result is HookResult.COMPLETED and second.heartbeats == 1
    assert second.drain_seconds == 170  # from the start kept on the node, not this invocation's


def test_a_drain_that_cannot_finish_completes_at_the_deadline_and_keeps_the_node() -> None:
    """
    GIVEN a pod whose PodDisruptionBudget never allows its eviction
    WHEN  the drain reaches the hook's deadline
    THEN  the action is completed (the hook would), but the Node, with the pod still bound,
          is not deleted: the outcome says which pod was left and why
    """
    clock, cluster, aws, drainer = setup(drain_needs=10_000, stop_after=10_000)
    outcome = drainer.terminate(TERMINATE, list(cluster.nodes.values()))
    assert outcome.result is HookResult.COMPLETED and outcome.over_deadline
    assert clock.mono == TIMEOUT.total_seconds()
    assert cluster.deleted == []
    assert aws.completed == [(TERMINATE_HOOK, "i-1", LifecycleResult.CONTINUE)]
    assert aws.heartbeats == 1  # at half the timeout
    assert "ns/job" in outcome.reason and "disruption budget" in outcome.reason
    assert list(outcome.summary()["left"]) == ["ns/job"]  # type: ignore[call-overload]


def test_terminate_for_a_node_already_gone_just_completes_and_a_duplicate_is_fine() -> None:
    _clock, cluster, _aws, drainer = setup()
    assert drainer.terminate(TERMINATE, []).result is HookResult.COMPLETED
    assert drainer.terminate(TERMINATE, []).result is HookResult.ALREADY_DONE
    assert cluster.deleted == []


def test_a_pod_held_by_safe_to_evict_waits_for_the_deadline_and_its_node_is_kept() -> None:
    """
    GIVEN a node whose other pods drain, and one pod marked safe-to-evict=false
    WHEN  the terminate hook drains it, and again once its deadline has passed
    THEN  first the others are evicted and the held pod waits (nothing completed), then
          the action is completed at the deadline and the Node, the held pod still on
          it, is not deleted
    """
    clock, cluster, aws, drainer = setup(drain_needs=30)
    cluster.held = True
    first = drainer.terminate(TERMINATE, list(cluster.nodes.values()))
    assert first.result is HookResult.HELD and "ns/precious" in first.reason
    assert aws.completed == [] and cluster.deleted == [] and cluster.drain_needs == 0
    clock.advance(TIMEOUT.total_seconds() + 1 - clock.mono)  # past the deadline
    late = Drainer(cluster, cluster, aws, clock, TIMEOUT, stop_at=clock.mono + 280)
    last = late.terminate(TERMINATE, list(cluster.nodes.values()))
    assert last.result is HookResult.COMPLETED and last.over_deadline
    assert cluster.deleted == [] and "ip-10-0-1-5" in cluster.nodes
    assert last.summary()["left"] == {"ns/precious": "held: annotated safe-to-evict=false"}


def test_a_node_left_behind_is_deleted_once_its_instance_is_gone() -> None:
    """
    GIVEN a node whose terminate hook completed with pods left on it (DRAIN_STARTED)
    WHEN  the scaler's tick sees its instance still terminating, then gone from the group
    THEN  the Node is kept, then deleted; a node no drain began is never touched
    """
    _clock, cluster, _aws, _drainer = setup()
    started = node(annotations={DRAIN_STARTED: T0.isoformat()})
    untouched = Node("onprem-1", instance_id="i-9")
    terminating = NodeGroup(GROUP.name, "f1.4xlarge", 0, 2, 1,
                            instances=(Instance("i-1", "Terminating:Proceed"),))
    assert delete_gone(cluster, [terminating], [started, untouched]) == ()
    gone = delete_gone(cluster, [GROUP], [started, untouched])
    assert [o.result for o in gone] == [HookResult.NODE_DELETED]
    assert cluster.deleted == ["ip-10-0-1-5"]


def test_launch_waits_for_a_useful_node_then_completes_once() -> None:
    aws = FakeAws({(LAUNCH_HOOK, "i-1")})
    target = Target(GROUP.name, LAUNCH_HOOK, "i-1", "tok")
    assert launch(aws, target, GROUP, [node(boards=0)]).result is HookResult.WAITING
    assert launch(aws, target, GROUP, [node()]).result is HookResult.COMPLETED
    assert launch(aws, target, GROUP, [node()]).result is HookResult.ALREADY_DONE
    assert aws.completed == [(LAUNCH_HOOK, "i-1", LifecycleResult.CONTINUE)]


def test_the_tick_continues_only_instances_waiting_in_their_lifecycle_state() -> None:
    group = NodeGroup(**{**GROUP.__dict__, "instances": (
        Instance("i-1", "Pending:Wait"), Instance("i-2", "InService"),
        Instance("i-3", "Terminating:Wait"))})
    aws = FakeAws({(LAUNCH_HOOK, "i-1"), (TERMINATE_HOOK, "i-3")})
    launched = continue_launches(aws, [group], [node()])
    assert [(o.instance_id, o.result) for o in launched] == [("i-1", HookResult.COMPLETED)]
    clock = FakeClock()
    cluster = FakeCluster(clock)
    drained = continue_terminations(Drainer(cluster, cluster, aws, clock, TIMEOUT, 40), [group], [])
    assert [(o.instance_id, o.result) for o in drained] == [("i-3", HookResult.COMPLETED)]


def test_a_node_deleted_between_observe_and_cordon_counts_as_gone() -> None:
    _clock, cluster, aws, drainer = setup()
    seen = list(cluster.nodes.values())
    cluster.nodes.clear()  # a concurrent duplicate finished first

    def gone(name: str, changes: Mapping[str, str | None]) -> bool:
        raise KubeNotFoundError("read node", 404, "NotFound", name)

    cluster.annotate_node = gone  # type: ignore[method-assign]
    assert drainer.terminate(TERMINATE, seen).result is HookResult.COMPLETED
    assert aws.completed == [(TERMINATE_HOOK, "i-1", LifecycleResult.CONTINUE)]


def test_a_launch_given_back_is_never_completed_even_once_its_node_is_useful() -> None:
    """
    GIVEN an instance the scaler gave back while launching (its group lists it Terminating
          and its Node carries why), whose Node advertised its boards in its last seconds
    WHEN  the launch event is handled
    THEN  the launch is not completed as a success: the outcome says the instance is going
    """
    from burst.core.lifecycle import GIVEN_BACK
    aws = FakeAws({(LAUNCH_HOOK, "i-1")})
    leaving = NodeGroup(**{**GROUP.__dict__, "instances": (Instance("i-1", "Terminating"),)})
    marked = node(annotations={GIVEN_BACK: "no pending pod needs it"})
    outcome = launch(aws, Target(GROUP.name, LAUNCH_HOOK, "i-1", "tok"), leaving, [marked])
    assert outcome.result is HookResult.LEAVING
    assert "Terminating" in outcome.reason and "no pending pod needs it" in outcome.reason
    assert aws.completed == []


def test_the_terminate_hook_of_a_node_given_back_deletes_it_completes_and_says_why() -> None:
    from burst.core.lifecycle import GIVEN_BACK
    _clock, cluster, aws, drainer = setup()
    marked = node(boards=0, annotations={GIVEN_BACK: "no pending pod needs it"})
    cluster.nodes[marked.name] = marked
    outcome = drainer.terminate(TERMINATE, [marked])
    assert outcome.result is HookResult.COMPLETED
    assert outcome.reason.startswith("given back while launching (no pending pod needs it)")
    assert cluster.deleted == [marked.name]
    assert aws.completed == [(TERMINATE_HOOK, "i-1", LifecycleResult.CONTINUE)]
