"""The shell every scaler invocation runs: observe -> plan -> act -> tell.

- observe: AWS node groups (by tags) with their instances and backoff, then the cluster's
  FPGA nodes and pods, into one Snapshot. If the cluster cannot be observed the error
  propagates before anything is written anywhere.
- plan: planner.plan on scaledown.planning_view (a node we were about to remove still
  counts as capacity), and scaledown.unneeded with that plan.
- act (skipped in a dry run): raise desired capacities (scale-up first: it is what pending
  pods wait for), give back / annotate / taint / terminate burst nodes, then continue the
  lifecycle actions a lost event or a killed invocation left behind (burst.loop.lifecycle).
- tell: pod Events (TriggeredScaleUp / NotTriggerScaleUp), the status ConfigMap, one log
  line per decision, EMF metrics.

Only ports are used here (burst.ports.cluster, burst.ports.aws, PendingWatcher below); the handler
builds the adapters. A failed AWS or cluster write is logged, counted and the run goes on
with the next one, except ClusterUnreachableError, which stops the run: without the
cluster nothing else should be changed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from burst.core import scaledown
from burst.core.capacity import build
from burst.core.errors import BurstError, ClusterUnreachableError
from burst.core.model import Outcome, Plan, PodDecision, ScaleUp, Snapshot
from burst.core.names import EventReason, Metric
from burst.core.planner import plan as make_plan
from burst.core.scaledown import ScaleDownPlan
from burst.loop import lifecycle
from burst.loop.config import RuntimeConfig
from burst.loop.status import status_data
from burst.ports.aws import AwsReader, AwsWriter, CapacityChange
from burst.ports.cluster import ClusterReader, ClusterWriter

TRIGGERED = EventReason.TRIGGERED_SCALE_UP
NOT_TRIGGERED = EventReason.NOT_TRIGGER_SCALE_UP


class PendingWatcher(Protocol):
    def next_pending_change(self, since: str, timeout: float) -> str | None:
        """The resourceVersion of the next added/changed pending FPGA pod after `since`,
        "" if `since` is too old to watch from, None after `timeout` seconds. Read-only."""
        ...


class Log(Protocol):
    def info(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...
    def warning(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...
    def error(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...


class MetricSink(Protocol):
    def add_metric(self, name: str, unit: Any, value: float) -> Any: ...


class SystemClock:
    """Wall clock for decisions and annotations; monotonic for deadlines."""

    def wall(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass(frozen=True)
class Result:
    """What one reconcile saw, decided and did."""

    time: datetime
    snapshot: Snapshot
    plan: Plan
    scale_down: ScaleDownPlan
    pending_version: str
    changes: tuple[CapacityChange, ...] = ()
    terminated: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()
    lifecycle: tuple[lifecycle.Outcome, ...] = ()
    dry_run: bool = False

    def summary(self) -> dict[str, Any]:
        outcomes: dict[str, int] = {}
        for d in self.plan.pods:
            outcomes[d.outcome.value] = outcomes.get(d.outcome.value, 0) + 1
        return {
            "pending": len(self.plan.pods),
            "outcomes": outcomes,
            "scaleUps": [
                {"nodeGroup": c.node_group, "from": c.from_size, "to": c.to_size}
                for c in self.changes if c.changed
            ],
            "scaleDown": dict(scaledown.summary(self.scale_down)),
            "terminated": list(self.terminated),
            "lifecycle": [o.summary() for o in self.lifecycle],
            "failures": list(self.failures),
            "dryRun": self.dry_run,
        }


@dataclass
class Shell:
    """One invocation's view of the world through the ports. Writers None: dry run."""

    cluster: ClusterReader
    aws: AwsReader
    config: RuntimeConfig
    log: Log
    metrics: MetricSink
    cluster_writer: ClusterWriter | None = None
    aws_writer: AwsWriter | None = None
    clock: lifecycle.Clock = field(default_factory=SystemClock)
    # (pod uid or name, reason, message) told in this invocation: watch mode re-plans often,
    # and the same Event need not be bumped every few seconds.
    told: set[tuple[str, str, str]] = field(default_factory=set)

    @property
    def dry_run(self) -> bool:
        return self.config.dry_run or self.cluster_writer is None or self.aws_writer is None

    # -- observe -----------------------------------------------------------------------

    def observe(self, now: datetime) -> tuple[Snapshot, str]:
        groups = self.aws.discover_node_groups(
            self.config.cluster_name, now, self.config.catalog.instance_types
        )
        view = self.cluster.observe(lifecycle.instance_groups(groups))
        snapshot = Snapshot(groups, view.nodes, view.pods, self.config.catalog)
        return snapshot, view.pending_version

    # -- the loop ----------------------------------------------------------------------

    def reconcile(self, stop_at: float | None = None) -> Result:
        """One pass. `stop_at` (clock.monotonic scale) bounds lifecycle drains.

        Raises ClusterUnreachableError (nothing written if raised by observe) and the AWS
        read errors of discovery; write failures are in Result.failures.
        """
        now = self.clock.wall()
        snapshot, version = self.observe(now)
        plan = make_plan(scaledown.planning_view(snapshot), self.config.policy)
        down = scaledown.unneeded(snapshot, self.config.policy, now, plan=plan)
        result = Result(now, snapshot, plan, down, version, dry_run=self.dry_run)
        if not self.dry_run:
            result = self._act(result, stop_at)
        self._tell(result)
        return result

    # -- act ---------------------------------------------------------------------------

    def _act(self, result: Result, stop_at: float | None) -> Result:
        failures: list[str] = []
        changes = self._scale_up(result.plan.scale_ups, failures)
        terminated = self._scale_down(result.scale_down, result.time, failures)
        outcomes = self._lifecycle(result.snapshot, stop_at, failures)
        return Result(
            result.time, result.snapshot, result.plan, result.scale_down,
            result.pending_version, changes, terminated, tuple(failures), outcomes,
        )

    def _scale_up(self, ups: Sequence[ScaleUp], failures: list[str]) -> tuple[CapacityChange, ...]:
        assert self.aws_writer is not None
        changes = []
        for up in ups:
            try:
                change = self.aws_writer.raise_desired_capacity(up.node_group, up.to_size)
            except BurstError as exc:
                self.metrics.add_metric(name=Metric.SCALE_UP_FAILURES, unit="Count", value=1)
                self._failed(failures, f"scale-up {up.node_group} to {up.to_size}", exc)
                continue
            changes.append(change)
            if change.changed:
                self.metrics.add_metric(name=Metric.SCALE_UPS, unit="Count", value=1)
            self.log.info(
                f"scale-up {up.node_group}: {change.from_size} -> {change.to_size}",
                extra={"decision": "scale-up", "node_group": up.node_group,
                       "from_size": change.from_size, "to_size": change.to_size,
                       "planned_to": up.to_size, "clamped": change.clamped},
            )
        return tuple(changes)

    def _scale_down(
        self, down: ScaleDownPlan, now: datetime, failures: list[str]
    ) -> tuple[str, ...]:
        writer, aws = self.cluster_writer, self.aws_writer
        assert writer is not None and aws is not None
        steps: list[tuple[str, str, Any]] = [
            *((s.node, f"untaint: {s.reason}", lambda s=s: writer.uncordon(
                s.node, scaledown.TO_BE_DELETED)) for s in down.untaint),
            *((s.node, f"annotate {scaledown.UNNEEDED_SINCE}={s.value}: {s.reason}",
               lambda s=s: writer.annotate_node(s.node, {scaledown.UNNEEDED_SINCE: s.value}))
              for s in down.annotate),
            *((s.node, f"taint {scaledown.TO_BE_DELETED}: {s.reason}", lambda s=s: writer.cordon(
                s.node, scaledown.to_be_deleted_taint(now))) for s in down.taint),
        ]
        for node, what, step in steps:
            if self._try(failures, f"node {node}: {what}", step)[0]:
                self.log.info(f"scale-down: node {node}: {what}",
                              extra={"decision": "scale-down", "node": node, "step": what})
        terminated = []
        for t in down.terminate:
            what = f"terminate {t.instance_id} (node {t.node}, {t.node_group}): {t.reason}"
            done, started = self._try(
                failures, what, lambda t=t: aws.terminate_instance(t.instance_id)
            )
            if done and started:
                terminated.append(t.instance_id)
                self.metrics.add_metric(name=Metric.NODES_TERMINATED, unit="Count", value=1)
                self.log.info(f"scale-down: {what}",
                              extra={"decision": "terminate", "node": t.node,
                                     "instance": t.instance_id, "node_group": t.node_group})
        return tuple(terminated)

    def _lifecycle(self, snapshot: Snapshot, stop_at: float | None,
                   failures: list[str]) -> tuple[lifecycle.Outcome, ...]:
        """Launches waiting for a useful node, terminations whose drain is unfinished."""
        # The writers are the adapters the lifecycle handler uses too; they have its methods.
        writer = cast(lifecycle.LifecycleCluster, self.cluster_writer)
        aws = cast(lifecycle.LifecycleAws, self.aws_writer)
        groups, nodes = snapshot.node_groups, snapshot.nodes
        found: list[lifecycle.Outcome] = []
        drainer = lifecycle.Drainer(
            writer, aws, self.clock, self.config.lifecycle.terminate_timeout,
            stop_at if stop_at is not None else self.clock.monotonic() + 30.0,
        )
        for name, call in (
            ("continue launches", lambda: lifecycle.continue_launches(aws, groups, nodes)),
            ("continue terminations",
             lambda: lifecycle.continue_terminations(drainer, groups, nodes)),
        ):
            found.extend(self._try(failures, name, call)[1] or ())
        for o in found:
            # The same figures the lifecycle function publishes when it does this work.
            for name, unit, value in o.metrics():
                self.metrics.add_metric(name=name, unit=unit, value=value)
            self.log.info(f"{o.transition} {o.instance_id}: {o.result.value}: {o.reason}",
                          extra={"decision": o.transition, **o.summary()})
        return tuple(found)

    def _try(self, failures: list[str], what: str, call: Any) -> tuple[bool, Any]:
        """(True, call()), or (False, None) after logging a BurstError; unreachable stops all."""
        try:
            return True, call()
        except ClusterUnreachableError:
            raise
        except BurstError as exc:
            self._failed(failures, what, exc)
            return False, None

    def _failed(self, failures: list[str], what: str, exc: BurstError) -> None:
        failures.append(f"{what}: {type(exc).__name__}: {exc}")
        self.log.error(f"{what} failed: {exc}",
                       extra={"decision": what, "error": type(exc).__name__, "detail": str(exc)})

    # -- tell --------------------------------------------------------------------------

    def _tell(self, result: Result) -> None:
        plan = result.plan
        boards = sum(d.boards or 0 for d in plan.pods if d.outcome is Outcome.SCALE_UP)
        self.metrics.add_metric(name=Metric.PENDING_FPGA_PODS, unit="Count", value=len(plan.pods))
        self.metrics.add_metric(name=Metric.BOARDS_REQUESTED, unit="Count", value=boards)
        unhelped = [d for d in plan.pods if d.outcome is Outcome.UNSCHEDULABLE]
        self.metrics.add_metric(name=Metric.UNSCHEDULABLE_PODS, unit="Count", value=len(unhelped))
        for d in unhelped:
            self.log.warning(f"pod {d.pod}: no scale-up: {d.reason}",
                             extra={"decision": "unschedulable", "pod": d.pod, "reason": d.reason})
        decision = last_decision(result)
        self.log.info(decision, extra={"decision": "reconcile", **result.summary()})
        if result.dry_run:
            return
        self._events(result)
        writer = self.cluster_writer
        assert writer is not None
        upcoming: dict[str, int] = {}
        for slot in build(result.snapshot).upcoming:
            upcoming[slot.node_group or ""] = upcoming.get(slot.node_group or "", 0) + 1
        self._try([], "write status", lambda: writer.write_status(
            status_data(result.snapshot.node_groups, upcoming, decision, result.time)))

    def _events(self, result: Result) -> None:
        writer = self.cluster_writer
        assert writer is not None
        pods = {p.name: p for p in result.snapshot.pods if p.pending}
        groups = {g.name: g for g in result.snapshot.node_groups}
        raised = {c.node_group: c for c in result.changes}
        for d in result.plan.pods:
            told = event_for(d, raised, groups)
            pod = pods.get(d.pod)
            if told is None or pod is None:
                continue
            reason, message = told
            key = (pod.uid or pod.name, reason, message)
            if key in self.told:
                continue
            kind = "Normal" if reason == TRIGGERED else "Warning"
            if self._try([], f"event on pod {pod.name}", lambda p=pod, r=reason, m=message, k=kind:
                         writer.record_pod_event(p, r, m, result.time, k))[0]:
                self.told.add(key)


def event_for(
    decision: PodDecision, raised: dict[str, CapacityChange], groups: dict[str, Any]
) -> tuple[str, str] | None:
    """(reason, message) of the pod Event for a decision, as Cluster Autoscaler words them."""
    if decision.outcome is Outcome.UNSCHEDULABLE:
        return NOT_TRIGGERED, f"pod didn't trigger scale-up: {decision.reason}"
    if decision.outcome is Outcome.SCALE_UP and decision.node_group in raised:
        change = raised[decision.node_group]
        group = groups[decision.node_group]
        return TRIGGERED, (
            f"pod triggered scale-up: [{{{change.node_group} {change.from_size}->"
            f"{change.to_size} (max: {group.max_size})}}]"
        )
    return None


def last_decision(result: Result) -> str:
    """One line for the status ConfigMap and the log."""
    parts = [
        f"scale-up {c.node_group} {c.from_size}->{c.to_size}" for c in result.changes if c.changed
    ]
    if result.dry_run and result.plan.scale_ups:
        parts += [f"would scale-up {s.node_group} {s.from_size}->{s.to_size}"
                  for s in result.plan.scale_ups]
    parts += [f"terminate {i}" for i in result.terminated]
    parts += [f"taint {s.node}" for s in result.scale_down.taint]
    if not parts:
        parts.append("no change")
    pending = len(result.plan.pods)
    return f"{'; '.join(parts)} ({pending} pending FPGA pod{'s' if pending != 1 else ''})"


def within(deadline: float, margin: timedelta, clock: lifecycle.Clock) -> float:
    """Seconds left before `deadline` less `margin` (clock.monotonic scale), never negative."""
    return max(0.0, deadline - margin.total_seconds() - clock.monotonic())


def watch(shell: Shell, watcher: PendingWatcher, version: str, deadline: float) -> list[Result]:
    """Watch mode: until `deadline` less the margin (clock.monotonic scale), wait for a new
    or changed pending FPGA pod, let the batch settle, reconcile; the results, in order.

    A batch is acted on once no further change came for `watch.idle`, or `watch.max_batch`
    after its first change, so a burst of pods is planned together.
    """
    settings, clock = shell.config.watch, shell.clock
    results: list[Result] = []
    while (left := within(deadline, settings.margin, clock)) >= 1.0:
        seen = watcher.next_pending_change(version, left)
        if seen is None:
            continue  # the watch ran out; the loop condition decides whether to go on
        _settle(watcher, seen, shell, deadline)
        result = shell.reconcile(stop_at=deadline - settings.margin.total_seconds())
        results.append(result)
        version = result.pending_version
    return results


def _settle(watcher: PendingWatcher, seen: str, shell: Shell, deadline: float) -> None:
    settings, clock = shell.config.watch, shell.clock
    first = clock.monotonic()
    while seen:  # "": the watch must restart from a fresh list, which reconcile makes
        batch_left = settings.max_batch.total_seconds() - (clock.monotonic() - first)
        wait = min(settings.idle.total_seconds(), batch_left,
                   within(deadline, settings.margin, clock))
        if wait <= 0:
            return
        following = watcher.next_pending_change(seen, wait)
        if following is None:
            return  # quiet for `idle`: the batch is complete
        seen = following
