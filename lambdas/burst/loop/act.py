"""act (skipped in a dry run): raise desired capacities (scale-up first: it is what pending
pods wait for), give back the launching instances no pending pod needs (burst.loop.giveback),
annotate / taint / terminate burst nodes, then continue the
lifecycle actions a lost event or a killed invocation left behind (burst.loop.lifecycle),
and the drains of nodes marked interrupted or rebalancing (burst.loop.notices).

The shell calls the two halves apart, telling in between (burst.loop.reconcile): under
time pressure a tick does scale-up, then status, then Events, then scale-down. Each write
is one idempotent call, so a tick stopped between two leaves nothing the next cannot
finish: it plans again from what it sees.

A failed AWS or cluster write is logged, counted and the run goes on with the next one,
except ClusterUnreachableError, which stops the run: without the cluster nothing else
should be changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial

from burst.core.errors import BurstError
from burst.core.model import NodeGroup, ScaleUp, Snapshot
from burst.core.names import Metric
from burst.core.notices import marks
from burst.core.scaledown import unneeded
from burst.core.scaledown.surplus import Surplus
from burst.core.scaledown.unneeded import ScaleDownPlan
from burst.loop import lifecycle, notices
from burst.loop.clock import Clock
from burst.loop.config import RuntimeConfig
from burst.loop.giveback import GiveBack
from burst.loop.result import Log, MetricSink, Reconciled, attempt, failed
from burst.ports.aws import CapacityChange, CapacityWriter, LifecycleActions
from burst.ports.cluster import ClusterReader, NodeDrainer, NodeWriter, Teller


@dataclass(frozen=True)
class Writers:
    """Everything a reconcile may change; a dry run has none."""

    capacity: CapacityWriter
    actions: LifecycleActions
    nodes: NodeWriter
    drains: NodeDrainer
    teller: Teller


@dataclass(frozen=True)
class Act:
    """One reconcile's writes, in order; failures are kept in the Reconciled."""

    writers: Writers
    config: RuntimeConfig
    log: Log
    metrics: MetricSink
    clock: Clock
    reader: ClusterReader | None = None  # for the fresh read before a give-back

    def scale_up(self, result: Reconciled) -> Reconciled:
        failures = list(result.failures)
        changes = self._scale_up(result.plan.scale_ups, failures)
        return replace(result, changes=changes, failures=tuple(failures))

    def scale_down(self, result: Reconciled, stop_at: float | None) -> Reconciled:
        """Scale-down steps and lifecycle actions; none started after `stop_at` (drains
        stop there too)."""
        failures = list(result.failures)
        given = self._give_back(result, failures, stop_at)
        # The give-back read the cluster afresh for its candidates and decided: the
        # scale-down, planned on the older observation, leaves them to it this tick.
        down = _without(result.scale_down, result.surplus)
        terminated = self._scale_down(down, result.time, failures, stop_at)
        outcomes = self._lifecycle(_leaving(result.snapshot, given), stop_at, failures)
        self._interruptions(result, stop_at, failures)
        return replace(result, terminated=terminated, failures=tuple(failures),
                       lifecycle=outcomes, given_back=given, scale_down=down)

    def _give_back(self, result: Reconciled, failures: list[str],
                   stop_at: float | None) -> tuple[Surplus, ...]:
        if (not result.surplus or self.reader is None
                or not self._in_time(stop_at, "give-back", failures)):
            return ()
        w = self.writers
        return GiveBack(self.reader, w.nodes, w.capacity, self.log, self.metrics).run(
            result.surplus, result.snapshot, result.time, failures)

    def _in_time(self, stop_at: float | None, what: str, failures: list[str]) -> bool:
        if stop_at is None or self.clock.monotonic() < stop_at:
            return True
        failures.append(f"{what}: not started: the tick's time is up (next tick)")
        return False

    def _scale_up(self, ups: Sequence[ScaleUp], failures: list[str]) -> tuple[CapacityChange, ...]:
        changes = []
        for up in ups:
            try:
                change = self.writers.capacity.raise_desired_capacity(up.node_group, up.to_size)
            except BurstError as exc:
                self.metrics.add_metric(name=Metric.SCALE_UP_FAILURES, unit="Count", value=1)
                failed(self.log, failures, f"scale-up {up.node_group} to {up.to_size}", exc)
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
        self, down: ScaleDownPlan, now: datetime, failures: list[str], stop_at: float | None
    ) -> tuple[str, ...]:
        writer, aws = self.writers.nodes, self.writers.capacity
        # (node, what, the write, whether it is our taint)
        steps: list[tuple[str, str, Callable[[], bool], bool]] = [
            *((s.node, f"untaint: {s.reason}", lambda s=s: writer.uncordon(
                s.node, unneeded.TO_BE_DELETED), False) for s in down.untaint),
            *((s.node, f"annotate {unneeded.UNNEEDED_SINCE}={s.value}: {s.reason}",
               lambda s=s: writer.annotate_node(s.node, {unneeded.UNNEEDED_SINCE: s.value}),
               False) for s in down.annotate),
            *((s.node, f"taint {unneeded.TO_BE_DELETED}: {s.reason}", lambda s=s: writer.cordon(
                s.node, unneeded.to_be_deleted_taint(now)), True) for s in down.taint),
        ]
        tainted = set()  # nodes whose taint this tick put on
        for node, what, step, is_taint in steps:
            if not self._in_time(stop_at, "scale-down", failures):
                return ()
            done, changed = attempt(self.log, failures, f"node {node}: {what}", step)
            if done:
                self.log.info(f"scale-down: node {node}: {what}",
                              extra={"decision": "scale-down", "node": node, "step": what})
                if changed and is_taint:
                    tainted.add(node)
        terminated = []
        for t in down.terminate:
            if not self._in_time(stop_at, "scale-down", failures):
                break
            if t.recheck and not self._still_empty(t.node, t.node in tainted, failures):
                continue
            what = f"terminate {t.instance_id} (node {t.node}, {t.node_group}): {t.reason}"
            done, started = attempt(
                self.log, failures, what, partial(aws.terminate_instance, t.instance_id)
            )
            if done and started:
                terminated.append(t.instance_id)
                self.metrics.add_metric(name=Metric.NODES_TERMINATED, unit="Count", value=1)
                self.log.info(f"scale-down: {what}",
                              extra={"decision": "terminate", "node": t.node,
                                     "instance": t.instance_id, "node_group": t.node_group})
        return tuple(terminated)

    def _drainer(self, stop_at: float | None) -> lifecycle.Drainer:
        w = self.writers
        return lifecycle.Drainer(
            w.nodes, w.drains, w.actions, self.clock, self.config.lifecycle.terminate_timeout,
            stop_at if stop_at is not None else self.clock.monotonic() + 30.0,
        )

    def _interruptions(self, result: Reconciled, stop_at: float | None,
                       failures: list[str]) -> None:
        """Drain the interrupted nodes, and the rebalancing ones whose replacement is there."""
        due = marks.due_drains(result.snapshot, result.plan, result.time)
        if not due or not self._in_time(stop_at, "interruption drains", failures):
            return
        drainer = self._drainer(stop_at)
        found = attempt(self.log, failures, "interruption drains", lambda: (
            notices.continue_drains(drainer, due, result.snapshot.nodes)))[1] or ()
        for o in found:
            self.log.info(f"{o.notice} drain of {o.node}: {o.result.value}: {o.reason}",
                          extra={"decision": "drain", **o.summary()})

    def _still_empty(self, node: str, tainted: bool, failures: list[str]) -> bool:
        """Whether a node tainted in this tick may be terminated now: the taint is on (no
        new pod binds there) and a fresh read finds no pod bound since the observation.
        Otherwise the taint stays; the next tick terminates the node if it is still empty,
        or untaints it if a pod runs there."""
        if not tainted:
            self.log.info(f"scale-down: node {node}: not terminated: its taint failed",
                          extra={"decision": "keep", "node": node, "step": "recheck"})
            return False
        done, pods = attempt(self.log, failures, f"node {node}: re-check its pods",
                             partial(self.writers.drains.workload, node))
        if done and not pods:
            return True
        if pods:
            self.log.info(f"scale-down: node {node}: not terminated: pod {pods[0]} bound "
                          "to it since the observation",
                          extra={"decision": "keep", "node": node, "step": "recheck",
                                 "pods": list(pods)})
        return False

    def _lifecycle(self, snapshot: Snapshot, stop_at: float | None,
                   failures: list[str]) -> tuple[lifecycle.HookOutcome, ...]:
        """Launches waiting for a useful node, terminations whose drain is unfinished, Nodes
        left behind by a terminate whose instance is gone."""
        w = self.writers
        groups, nodes = snapshot.node_groups, snapshot.nodes
        found: list[lifecycle.HookOutcome] = []
        drainer = self._drainer(stop_at)
        calls: tuple[tuple[str, Callable[[], tuple[lifecycle.HookOutcome, ...]]], ...] = (
            ("continue launches", lambda: lifecycle.continue_launches(w.actions, groups, nodes)),
            ("continue terminations",
             lambda: lifecycle.continue_terminations(drainer, groups, nodes)),
            ("delete nodes of gone instances",
             lambda: lifecycle.delete_gone(w.drains, groups, nodes)),
        )
        for name, call in calls:
            if not self._in_time(stop_at, name, failures):
                break
            found.extend(attempt(self.log, failures, name, call)[1] or ())
        for o in found:
            # The same figures the lifecycle function publishes when it does this work.
            for name, unit, value in o.metrics():
                self.metrics.add_metric(name=name, unit=unit, value=value)
            self.log.info(f"{o.transition} {o.instance_id}: {o.result.value}: {o.reason}",
                          extra={"decision": o.transition, **o.summary()})
        return tuple(found)


def _without(down: ScaleDownPlan, given: tuple[Surplus, ...]) -> ScaleDownPlan:
    """`down` without steps on the give-back's candidates."""
    if not given:
        return down
    nodes = {s.node for s in given if s.node}
    ids = {s.instance_id for s in given}
    return replace(
        down,
        annotate=tuple(s for s in down.annotate if s.node not in nodes),
        taint=tuple(s for s in down.taint if s.node not in nodes),
        untaint=tuple(s for s in down.untaint if s.node not in nodes),
        terminate=tuple(t for t in down.terminate
                        if t.instance_id not in ids and t.node not in nodes),
    )


def _leaving(snapshot: Snapshot, given: tuple[Surplus, ...]) -> Snapshot:
    """The snapshot with the instances given back in this reconcile as AWS now has them
    (Terminating): their launch is never completed, by this tick's lifecycle steps either."""
    if not given:
        return snapshot
    gone = {s.instance_id for s in given}

    def group(g: NodeGroup) -> NodeGroup:
        return replace(g, instances=tuple(
            replace(i, lifecycle_state="Terminating") if i.instance_id in gone else i
            for i in g.instances))

    return replace(snapshot, node_groups=tuple(group(g) for g in snapshot.node_groups))
