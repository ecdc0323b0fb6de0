"""The shell with in-memory fakes of our own ports: what it writes, tells and counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from burst.core.catalog import F1_BOARD
from burst.core.errors import AwsThrottledError, ClusterUnreachableError, KubeThrottledError
from burst.core.model import Instance, Node, NodeGroup, Pod, Taint
from burst.core.names import Metric
from burst.core.scaledown.unneeded import TO_BE_DELETED, UNNEEDED_SINCE
from burst.core.scaleup.backoff import ScalingActivity
from burst.loop import config as config_mod
from burst.loop.act import Writers
from burst.loop.reconcile import Shell
from burst.loop.tell import NOT_TRIGGERED, TRIGGERED
from burst.loop.watch import must_end, watch
from burst.ports.aws import CapacityChange
from burst.ports.cluster import ClusterView, DrainResult
from burst.tools.harness.clock import START, FakeClock

NOW = START  # FakeClock's wall time until a test moves it
U250 = "xilinx/u250"
CONFIG = config_mod.load(
    {}, cluster_name="onprem",
    config={"catalog": {"accelerators": {"xgb": {U250: 4, F1_BOARD: 2}}},
            "policy": {"scale_down_unneeded_time_seconds": 0,
                       "scale_down_delay_after_add_seconds": 0}},
)


@dataclass
class FakeCluster:
    """ClusterReader, NodeWriter, NodeDrainer and Teller in memory."""

    nodes: list[Node] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)
    unreachable: bool = False
    writes: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[str, str, str, str]] = field(default_factory=list)
    status: dict[str, str] = field(default_factory=dict)
    # Pods bound after observe() returned: only a fresh read (workload) sees them.
    bound_since: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cordon_throttled: bool = False
    reads: list[str] = field(default_factory=list)

    def observe(self, instance_groups: Mapping[str, str]) -> ClusterView:
        if self.unreachable:
            raise ClusterUnreachableError("list nodes: ConnectTimeoutError")
        nodes = tuple(replace(n, node_group=instance_groups.get(n.instance_id or ""))
                      for n in self.nodes)
        return ClusterView(nodes, tuple(self.pods), pending_version="100")

    def read_status(self) -> Mapping[str, str]:
        return self.status

    def cordon(self, node: str, taint: Taint | None = None) -> bool:
        if self.cordon_throttled:
            raise KubeThrottledError(f"patch node {node}: 429 Too Many Requests")
        self.writes.append(("cordon", node, taint.key if taint else None))
        return True

    def uncordon(self, node: str, taint_key: str | None = None) -> bool:
        self.writes.append(("uncordon", node, taint_key))
        return True

    def annotate_node(self, node: str, changes: Mapping[str, str | None]) -> bool:
        self.writes.append(("annotate", node, dict(changes)))
        return True

    def drain(self, node: str, deadline: float) -> DrainResult:
        self.writes.append(("drain", node))
        return DrainResult(node)

    def delete_node(self, node: str, uid: str | None = None) -> bool:
        self.writes.append(("delete", node))
        return True

    def workload(self, node: str) -> tuple[str, ...]:
        self.reads.append(node)
        seen = tuple(p.name for p in self.pods
                     if p.node == node and not (p.daemonset or p.mirror))
        return seen + self.bound_since.get(node, ())

    def record_pod_event(self, pod: Pod, reason: str, message: str, now: datetime,
                         kind: str = "Normal") -> int:
        self.events.append((pod.name, reason, message, kind))
        return 1

    def record_node_event(self, node: str, reason: str, message: str, now: datetime,
                          kind: str = "Normal") -> int:
        self.events.append((node, reason, message, kind))
        return 1

    def record_status_event(self, reason: str, message: str, now: datetime,
                            kind: str = "Normal") -> int:
        self.events.append(("status", reason, message, kind))
        return 1

    def write_status(self, data: Mapping[str, str]) -> None:
        self.status = dict(data)


@dataclass
class FakeAws:
    """NodeGroups, CapacityWriter and LifecycleActions in memory."""

    groups: list[NodeGroup] = field(default_factory=list)
    throttled: bool = False
    writes: list[tuple[Any, ...]] = field(default_factory=list)

    def discover_node_groups(self, cluster: str,
                             instance_types: Any = None) -> tuple[NodeGroup, ...]:
        return tuple(self.groups)

    def scaling_activities(self, node_group: str, since: datetime) -> tuple[ScalingActivity, ...]:
        return ()

    def raise_desired_capacity(self, node_group: str, target: int) -> CapacityChange:
        if self.throttled:
            raise AwsThrottledError("SetDesiredCapacity: Throttling: Rate exceeded")
        self.writes.append(("raise", node_group, target))
        group = next(g for g in self.groups if g.name == node_group)
        return CapacityChange(node_group, group.desired, target, target)

    def terminate_instance(self, instance_id: str) -> bool:
        self.writes.append(("terminate", instance_id))
        return True

    def complete_lifecycle_action(self, *args: Any, **kwargs: Any) -> None:
        self.writes.append(("complete", *args))

    def record_heartbeat(self, *args: Any, **kwargs: Any) -> None:
        self.writes.append(("heartbeat", *args))


@dataclass
class Telemetry:
    lines: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    counted: dict[str, float] = field(default_factory=dict)

    def _line(self, level: str, msg: str, extra: dict[str, Any] | None) -> None:
        self.lines.append((level, msg, extra or {}))

    def debug(self, msg: str, *args: Any, extra: dict[str, Any] | None = None) -> None:
        self._line("debug", msg % args, extra)

    def info(self, msg: str, *_: Any, extra: dict[str, Any] | None = None) -> None:
        self._line("info", msg, extra)

    def warning(self, msg: str, *_: Any, extra: dict[str, Any] | None = None) -> None:
        self._line("warning", msg, extra)

    def error(self, msg: str, *_: Any, extra: dict[str, Any] | None = None) -> None:
        self._line("error", msg, extra)

    def add_metric(self, name: str, unit: Any, value: float) -> None:
        self.counted[name] = self.counted.get(name, 0) + value


def f1_group(desired: int = 0, instances: tuple[Instance, ...] = ()) -> NodeGroup:
    return NodeGroup("f1-4xlarge", "f1.4xlarge", min_size=0, max_size=4, desired=desired,
                     instances=instances)


XGB = Pod("ml/xgb-2", accelerators={"xgb": 4}, uid="u-2")
ONPREM = Node("onprem-1", allocatable={U250: 1})
JOB1 = Pod("ml/xgb-1", node="onprem-1", requests={U250: 1}, uid="u-1")


def shell(cluster: FakeCluster, aws: FakeAws, *, dry_run: bool = False,
          clock: FakeClock | None = None,
          events: config_mod.EventLimits | None = None) -> tuple[Shell, Telemetry]:
    t = Telemetry()
    cfg = replace(CONFIG, dry_run=dry_run, events=events or CONFIG.events)
    writers = Writers(capacity=aws, actions=aws, nodes=cluster, drains=cluster, teller=cluster)
    return Shell(cluster, aws, cfg, t, t, writers=writers, clock=clock or FakeClock()), t


def test_a_pending_pod_no_node_can_take_raises_the_cheapest_group_and_tells_the_pod() -> None:
    # GIVEN the on-prem U250 busy with job 1 and job 2 pending
    cluster = FakeCluster([ONPREM], [JOB1, XGB])
    aws = FakeAws([f1_group()])
    s, t = shell(cluster, aws)
    # WHEN reconciled
    result = s.reconcile()
    # THEN f1-4xlarge goes 0 -> 1, the pod hears why, and the status says so
    assert aws.writes == [("raise", "f1-4xlarge", 1)]
    assert cluster.events == [("ml/xgb-2", TRIGGERED,
                               "pod triggered scale-up: [{f1-4xlarge 0->1 (max: 4)}]", "Normal")]
    assert cluster.status["lastDecision"] == "scale-up f1-4xlarge 0->1 (1 pending FPGA pod)"
    assert t.counted["ScaleUps"] == 1
    assert t.counted["BoardsRequested"] == 2
    assert t.counted["PendingFpgaPods"] == 1
    assert result.summary()["scaleUps"] == [{"nodeGroup": "f1-4xlarge", "from": 0, "to": 1}]


def test_an_idle_reconcile_publishes_no_demand_metric() -> None:
    # GIVEN nothing pending (a custom metric is billed for every hour it is published)
    s, t = shell(FakeCluster([ONPREM], [JOB1]), FakeAws([f1_group()]))
    # WHEN reconciled THEN none of the demand counts is published as a zero
    s.reconcile()
    assert not {Metric.PENDING_FPGA_PODS, Metric.BOARDS_REQUESTED,
                Metric.UNSCHEDULABLE_PODS} & set(t.counted)


def test_an_unreachable_cluster_stops_the_run_before_any_aws_write() -> None:
    cluster = FakeCluster([ONPREM], [XGB], unreachable=True)
    aws = FakeAws([f1_group()])
    s, _ = shell(cluster, aws)
    with pytest.raises(ClusterUnreachableError):
        s.reconcile()
    assert aws.writes == [] and cluster.writes == [] and cluster.events == []


def test_a_throttled_scale_up_is_counted_and_logged_and_the_run_goes_on() -> None:
    cluster = FakeCluster([ONPREM], [JOB1, XGB])
    aws = FakeAws([f1_group()], throttled=True)
    s, t = shell(cluster, aws)
    result = s.reconcile()
    assert t.counted["ScaleUpFailures"] == 1
    assert "AwsThrottledError" in result.failures[0]
    assert any(level == "error" and "Throttling" in msg for level, msg, _ in t.lines)
    # no TriggeredScaleUp for capacity that was not asked for; the status is still written
    assert cluster.events == []
    assert cluster.status["lastDecision"] == "no change (1 pending FPGA pod)"


def test_dry_run_writes_nothing_and_logs_what_it_would_do() -> None:
    cluster = FakeCluster([ONPREM], [JOB1, XGB])
    aws = FakeAws([f1_group()])
    s, t = shell(cluster, aws, dry_run=True)
    s.reconcile()
    assert aws.writes == [] and cluster.writes == [] and cluster.events == []
    assert cluster.status == {}
    assert any("would scale-up f1-4xlarge 0->1" in msg for _, msg, _ in t.lines)


def test_a_pod_nothing_can_host_gets_one_warning_event_per_invocation_not_per_pass() -> None:
    huge = Pod("ml/huge", requests={F1_BOARD: 16}, uid="u-9")
    cluster = FakeCluster([ONPREM], [huge])
    s, t = shell(cluster, FakeAws([f1_group()]))
    s.reconcile()
    s.reconcile()
    assert [(e[0], e[1], e[3]) for e in cluster.events] == [("ml/huge", NOT_TRIGGERED, "Warning")]
    assert cluster.events[0][2].startswith("pod didn't trigger scale-up: no node group can host")
    assert t.counted["UnschedulablePods"] == 2


BURST = Node("burst-1", instance_id="i-1", allocatable={F1_BOARD: 2})


def test_an_empty_burst_node_is_annotated_tainted_rechecked_and_terminated_in_one_pass() -> None:
    group = f1_group(1, (Instance("i-1", "InService"),))
    cluster = FakeCluster([ONPREM, BURST], [])
    aws = FakeAws([group])
    s, t = shell(cluster, aws)
    # WHEN a pass sees it empty (unneeded time 0 in CONFIG)
    result = s.reconcile()
    # THEN it is tainted, its pods read again after the taint, and terminated with decrement
    assert [w[:2] for w in cluster.writes] == [("annotate", "burst-1"), ("cordon", "burst-1")]
    assert cluster.writes[1][2] == TO_BE_DELETED
    assert cluster.reads == ["burst-1"]
    assert aws.writes == [("terminate", "i-1")]
    assert result.terminated == ("i-1",)
    assert t.counted["NodesTerminated"] == 1
    assert cluster.status["lastDecision"].startswith("terminate i-1")


def test_a_pod_bound_between_observe_and_terminate_keeps_the_node_and_the_next_pass_untaints() -> (
        None):
    group = f1_group(1, (Instance("i-1", "InService"),))
    # GIVEN a pod the scheduler binds to the node after this pass observed it empty
    cluster = FakeCluster([ONPREM, BURST], [], bound_since={"burst-1": ("ml/late",)})
    aws = FakeAws([group])
    s, t = shell(cluster, aws)
    result = s.reconcile()
    # THEN the node is tainted but not terminated, and the log says why
    assert ("cordon", "burst-1", TO_BE_DELETED) in cluster.writes
    assert aws.writes == [] and result.terminated == ()
    assert any("not terminated: pod ml/late bound to it" in msg for _, msg, _ in t.lines)
    # WHEN the next pass sees the pod running on the tainted node
    late = Pod("ml/late", node="burst-1", requests={F1_BOARD: 1}, uid="u-7")
    cluster.nodes = [ONPREM, replace(BURST, unschedulable=True,
                                     taints=(Taint(TO_BE_DELETED, "1", "NoSchedule"),),
                                     annotations={UNNEEDED_SINCE: "2026-11-27T12:00:00Z"})]
    cluster.pods, cluster.bound_since, cluster.writes = [late], {}, []
    s.reconcile()
    # THEN the taint is given back and nothing is terminated
    assert ("uncordon", "burst-1", TO_BE_DELETED) in cluster.writes
    assert aws.writes == []


def test_a_failed_taint_means_no_termination_and_no_recheck() -> None:
    group = f1_group(1, (Instance("i-1", "InService"),))
    cluster = FakeCluster([ONPREM, BURST], [], cordon_throttled=True)
    aws = FakeAws([group])
    s, _ = shell(cluster, aws)
    result = s.reconcile()
    assert aws.writes == [] and result.terminated == () and cluster.reads == []
    assert any("KubeThrottledError" in f for f in result.failures)


def test_a_node_tainted_on_an_earlier_pass_and_still_empty_is_terminated() -> None:
    group = f1_group(1, (Instance("i-1", "InService"),))
    tainted = replace(BURST, unschedulable=True, taints=(Taint(TO_BE_DELETED, "1", "NoSchedule"),),
                      annotations={UNNEEDED_SINCE: "2026-11-27T12:00:00Z"})
    cluster = FakeCluster([ONPREM, tainted], [])
    aws = FakeAws([group])
    s, _ = shell(cluster, aws)
    assert s.reconcile().terminated == ("i-1",)
    assert cluster.writes == [] and aws.writes == [("terminate", "i-1")]


@dataclass
class ScriptedWatcher:
    """Answers next_pending_change from a script; each answer takes `seconds` of the clock."""

    clock: FakeClock
    script: list[tuple[str | None, float]]
    asked: list[tuple[str, float]] = field(default_factory=list)

    def next_pending_change(self, since: str, timeout: float) -> str | None:
        self.asked.append((since, timeout))
        if not self.script:
            self.clock.mono += timeout
            return None
        answer, seconds = self.script.pop(0)
        self.clock.mono += min(seconds, timeout)
        return answer


def test_watch_mode_batches_changes_until_a_quiet_second_then_reconciles_once() -> None:
    clock = FakeClock()
    cluster = FakeCluster([ONPREM], [JOB1])
    aws = FakeAws([f1_group()])
    s, _ = shell(cluster, aws, clock=clock)
    # GIVEN three pods arriving 0.2 s apart, then quiet until the deadline
    watcher = ScriptedWatcher(clock, [("101", 5.0), ("102", 0.2), ("103", 0.2), (None, 1.0)])
    cluster.pods = [JOB1, XGB]
    deadline = clock.mono + 30.0
    results = watch(s, watcher, "100", deadline)
    # THEN one reconcile for the batch, each short watch resumed after the last change
    assert len(results) >= 1 and results[0].changes[0].to_size == 1
    assert [a[0] for a in watcher.asked[:4]] == ["100", "101", "102", "103"]
    assert all(timeout <= 1.0 for _, timeout in watcher.asked[1:4])
    # and it stops with the margin before the deadline still left
    assert clock.mono <= deadline - CONFIG.watch.margin.total_seconds()


def test_watch_mode_acts_at_the_max_batch_time_even_if_changes_keep_coming() -> None:
    clock = FakeClock()
    cluster = FakeCluster([ONPREM], [JOB1, XGB])
    s, _ = shell(cluster, FakeAws([f1_group()]), clock=clock)
    steady: list[tuple[str | None, float]] = [(str(101 + i), 0.5) for i in range(40)]
    watcher = ScriptedWatcher(clock, steady)
    start = clock.mono
    results = watch(s, watcher, "100", clock.mono + 20.0)
    first_batch_end = start + 0.5 + CONFIG.watch.max_batch.total_seconds()
    assert results and results[0].time == NOW
    # the first reconcile happened by the max batch time, not after all 40 changes
    assert len(results) >= 2
    assert clock.mono >= first_batch_end - 0.5


def test_a_too_old_version_ends_the_batch_and_the_next_watch_starts_from_the_fresh_list() -> None:
    clock = FakeClock()
    cluster = FakeCluster([ONPREM], [JOB1, XGB])
    s, _ = shell(cluster, FakeAws([f1_group()]), clock=clock)
    watcher = ScriptedWatcher(clock, [("", 0.1)])
    results = watch(s, watcher, "1", clock.mono + 12.0)
    assert len(results) == 1
    assert watcher.asked[1][0] == "100"  # the version of the reconcile's pending list


def test_every_reconcile_logs_one_structured_decision_line() -> None:
    cluster = FakeCluster([ONPREM], [JOB1, XGB])
    s, t = shell(cluster, FakeAws([f1_group()]))
    s.reconcile()
    decisions = [extra for _, _, extra in t.lines if extra.get("decision") == "reconcile"]
    assert len(decisions) == 1
    assert decisions[0]["outcomes"] == {"scale-up": 1}
    assert decisions[0]["dryRun"] is False


def test_terminating_instances_are_left_to_the_lifecycle_drain_not_scaled_down_again() -> None:
    node = Node("burst-1", instance_id="i-1", allocatable={F1_BOARD: 2})
    group = f1_group(0, (Instance("i-1", "Terminating:Wait"),))
    cluster = FakeCluster([ONPREM, node], [])
    aws = FakeAws([group])
    s, _ = shell(cluster, aws)
    result = s.reconcile(stop_at=FakeClock().mono + 100)
    assert ("terminate", "i-1") not in aws.writes
    # the lifecycle seam drained the node and completed the action
    assert ("drain", "burst-1") in cluster.writes
    assert [o.instance_id for o in result.lifecycle] == ["i-1"]
    assert timedelta(0) <= CONFIG.lifecycle.terminate_timeout


MINUTE_CASES = {
    # delivered after its time (s), Lambda time left (s) -> ends this long from now (s)
    "on time: the next tick, not the 70 s deadline": (0.4, 70.0, 59.6),
    "delivered late: still by the next tick": (12.0, 70.0, 48.0),
    "a short deadline comes first": (1.0, 30.0, 30.0),
    "delivered after its minute: already over": (65.0, 60.0, -5.0),
}


@pytest.mark.parametrize(("late", "left", "ends_in"), MINUTE_CASES.values(), ids=MINUTE_CASES)
def test_an_invocation_ends_when_the_next_tick_is_due_measured_from_its_own_tick(
    late: float, left: float, ends_in: float
) -> None:
    clock = FakeClock(wall_time=NOW + timedelta(seconds=late))
    assert must_end(NOW, clock.mono + left, clock) == pytest.approx(clock.mono + ends_in)


def test_a_tick_delivered_too_late_to_watch_reconciles_and_leaves_the_minute_to_the_next() -> None:
    # GIVEN a tick delivered 55 s after its time (say it waited behind a slow invocation)
    clock = FakeClock(wall_time=NOW + timedelta(seconds=55))
    cluster = FakeCluster([ONPREM], [JOB1])
    s, _ = shell(cluster, FakeAws([f1_group()]), clock=clock)
    watcher = ScriptedWatcher(clock, [("101", 1.0)])
    end = must_end(NOW, clock.mono + 60.0, clock)
    # WHEN it would watch until its end: fewer than the margin's seconds are left
    results = watch(s, watcher, "100", end)
    # THEN it does not watch at all, and is done before the next tick is due
    assert results == [] and watcher.asked == []
    assert clock.mono < end


@dataclass
class FailingAws(FakeAws):
    """FakeAws whose groups' scaling activities the test sets while the shell watches."""

    activities: dict[str, tuple[ScalingActivity, ...]] = field(default_factory=dict)

    def scaling_activities(self, node_group: str, since: datetime) -> tuple[ScalingActivity, ...]:
        return self.activities.get(node_group, ())


class FailsAfterFirstWatch(ScriptedWatcher):
    """No pod ever changes; after the first watch, the first group's launch has failed."""

    def __init__(self, clock: FakeClock, aws: FailingAws) -> None:
        super().__init__(clock, [])
        self.aws = aws

    def next_pending_change(self, since: str, timeout: float) -> str | None:
        answer = super().next_pending_change(since, timeout)
        self.aws.activities["a-f1-4xlarge"] = (ScalingActivity(
            "a-1", "Failed", NOW - timedelta(seconds=2), NOW,
            "Launching a new EC2 instance.  Status Reason: There is no Spot capacity available",
            "There is no Spot capacity available that matches your request."),)
        return answer


def test_while_pods_wait_for_capacity_the_watch_rechecks_and_fails_over_without_a_pod_change(
) -> None:
    # GIVEN a pod the first reconcile sent to group a (first by name at equal price)
    clock = FakeClock()
    aws = FailingAws([replace(f1_group(), name="a-f1-4xlarge"),
                      replace(f1_group(), name="b-f1-4xlarge")])
    s, _ = shell(FakeCluster([ONPREM], [JOB1, XGB]), aws, clock=clock)
    first = s.reconcile()
    assert aws.writes == [("raise", "a-f1-4xlarge", 1)]
    # WHEN a's launch fails while the scaler watches and no pod changes
    watcher = FailsAfterFirstWatch(clock, aws)
    results = watch(s, watcher, first.pending_version, clock.mono + 30.0, first)
    # THEN a recheck, one `watch.recheck` later, asks group b
    assert watcher.asked[0][1] == CONFIG.watch.recheck.total_seconds()
    assert ("raise", "b-f1-4xlarge", 1) in aws.writes
    assert results[0].changes[0].node_group == "b-f1-4xlarge"


def test_with_nothing_waiting_for_capacity_the_watch_only_wakes_on_pod_changes() -> None:
    clock = FakeClock()
    aws = FakeAws([f1_group()])
    s, _ = shell(FakeCluster([ONPREM], [JOB1]), aws, clock=clock)
    first = s.reconcile()
    watcher = ScriptedWatcher(clock, [])
    assert watch(s, watcher, first.pending_version, clock.mono + 30.0, first) == []
    assert watcher.asked[0][1] > CONFIG.watch.recheck.total_seconds()
