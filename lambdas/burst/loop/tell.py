"""tell: pod Events (TriggeredScaleUp / NotTriggerScaleUp), the status ConfigMap, one log
line per decision, EMF metrics. A dry run logs and counts, and writes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from burst.core.capacity import build
from burst.core.model import Outcome, PodDecision
from burst.core.names import EventReason, Metric
from burst.loop.result import Log, MetricSink, Result, attempt
from burst.loop.status import status_data
from burst.ports.aws import CapacityChange
from burst.ports.cluster import Teller

TRIGGERED = EventReason.TRIGGERED_SCALE_UP
NOT_TRIGGERED = EventReason.NOT_TRIGGER_SCALE_UP


@dataclass
class Tell:
    """Tells what each reconcile decided. `teller` None: logs and metrics only."""

    log: Log
    metrics: MetricSink
    teller: Teller | None = None
    # (pod uid or name, reason, message) told in this invocation: watch mode re-plans often,
    # and the same Event need not be bumped every few seconds.
    told: set[tuple[str, str, str]] = field(default_factory=set)

    def __call__(self, result: Result) -> None:
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
        writer = self.teller
        if result.dry_run or writer is None:
            return
        self._events(result, writer)
        upcoming: dict[str, int] = {}
        for slot in build(result.snapshot).upcoming:
            upcoming[slot.node_group or ""] = upcoming.get(slot.node_group or "", 0) + 1
        attempt(self.log, [], "write status", lambda: writer.write_status(status_data(
            result.snapshot.node_groups, upcoming, decision, result.time, result.scale_down,
            result.arrivals)))
        self._node_events(result, writer)

    def _events(self, result: Result, writer: Teller) -> None:
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
            call = partial(writer.record_pod_event, pod, reason, message, result.time, kind)
            if attempt(self.log, [], f"event on pod {pod.name}", call)[0]:
                self.told.add(key)


    def _node_events(self, result: Result, writer: Teller) -> None:
        """One Event per scale-down step that changes a node, saying why: when it is first
        seen idle (and why it is kept, if it is), marked for deletion, or given back."""
        kept = {s.node: s.reason for s in result.scale_down.kept}
        down = result.scale_down
        told = [
            *((s.node, EventReason.IDLE, kept.get(s.node, s.reason)) for s in down.annotate
              if s.value is not None),
            *((s.node, EventReason.SCALE_DOWN, f"marked the node as toBeDeleted/unschedulable: "
               f"{s.reason}") for s in down.taint),
            *((s.node, EventReason.SCALE_DOWN, f"no longer to be deleted: {s.reason}")
              for s in down.untaint),
        ]
        for node, reason, message in told:
            call = partial(writer.record_node_event, node, reason, message, result.time)
            attempt(self.log, [], f"event on node {node}", call)


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
