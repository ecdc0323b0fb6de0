"""tell: pod Events (TriggeredScaleUp / NotTriggerScaleUp), node Events (Idle / ScaleDown),
the status ConfigMap, logs, EMF metrics. A dry run logs and counts, and writes nothing.

Events are told the way Kubernetes' event recorder and Cluster Autoscaler tell them: once
per pod per decision, not once per tick. What was told is kept in the scaler's Memory
(burst.loop.memory), which the status ConfigMap carries to the next invocation.

At most the config's `events.writes` are written per reconcile, in parallel, and none
after its Event deadline; the pods left over are counted in the status ConfigMap and told
on a later tick (they are not in the told digests yet). Node Events come out of the same
budget.

Logs: one line per distinct reason a pod cannot be helped, with a count and a few example
pods; each pod's own line at DEBUG. Every pod's decision: `burst plan`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from burst.core.errors import BurstError, ClusterUnreachableError
from burst.core.model import Pod, PodDecision, PodOutcome
from burst.core.names import EventReason, Metric
from burst.core.scaledown.surplus import Surplus
from burst.core.scaleup.capacity import build
from burst.loop.clock import Clock
from burst.loop.config import EventLimits
from burst.loop.memory import Memory, told_key
from burst.loop.result import Log, MetricSink, Reconciled, attempt
from burst.loop.status import Report, status_data
from burst.ports.aws import CapacityChange
from burst.ports.cluster import Teller

TRIGGERED = EventReason.TRIGGERED_SCALE_UP
NOT_TRIGGERED = EventReason.NOT_TRIGGER_SCALE_UP
DEFERRED = EventReason.SCALE_UP_DEFERRED
GIVEN_BACK = EventReason.GIVEN_BACK
WORKERS = 8  # Event writes in flight at once
EXAMPLES = 3  # example pods in a log line or the status, per reason


@dataclass
class EventBudget:
    """What is left of the tick's Event budget: writes, and time (clock.monotonic)."""

    writes: int
    until: float

    @classmethod
    def of(cls, limits: EventLimits, clock: Clock, stop_at: float | None) -> EventBudget:
        until = clock.monotonic() + limits.seconds.total_seconds()
        return cls(limits.writes, until if stop_at is None else min(until, stop_at))


@dataclass(frozen=True)
class Due:
    """An Event to write: `key` identifies it in the told digests (pod Events only)."""

    what: str
    write: Callable[[], object]
    key: str = ""


@dataclass
class Told:
    """The Events of one reconcile: written, failed, and those left for a later tick."""

    written: int = 0
    failed: int = 0
    deferred: int = 0

    def add(self, other: Told) -> None:
        self.written += other.written
        self.failed += other.failed
        self.deferred += other.deferred


@dataclass
class Tell:
    """Tells what each reconcile decided. `teller` None: logs and metrics only. What was
    told is kept in the Memory each call is given (the shell's)."""

    log: Log
    metrics: MetricSink
    clock: Clock
    teller: Teller | None = None

    def summarise(self, result: Reconciled) -> None:
        """Metrics, one log line per distinct reason a pod cannot be helped, and the
        reconcile's decision line."""
        plan = result.plan
        boards = sum(d.boards or 0 for d in plan.pods if d.outcome is PodOutcome.SCALE_UP)
        unhelped = [d for d in plan.pods if d.outcome is PodOutcome.UNSCHEDULABLE]
        for name, value in ((Metric.PENDING_FPGA_PODS, len(plan.pods)),
                            (Metric.BOARDS_REQUESTED, boards),
                            (Metric.UNSCHEDULABLE_PODS, len(unhelped))):
            # Only when there is something to count: a custom metric is billed for every
            # hour it is published, and an idle tick's zeros would make these three bill
            # all month (README, "What it costs at rest"). No alarm reads them; a graph
            # shows the gaps as zero with FILL(m, 0).
            if value:
                self.metrics.add_metric(name=name, unit="Count", value=value)
        for reason, pods in by_reason(unhelped).items():
            examples = pods[:EXAMPLES]
            self.log.warning(
                f"{len(pods)} pod{'s' if len(pods) != 1 else ''}: no scale-up: {reason} "
                f"(e.g. {', '.join(examples)})",
                extra={"decision": "unschedulable", "pods": len(pods), "examples": examples,
                       "reason": reason})
        for d in unhelped:
            self.log.debug("pod %s: no scale-up: %s", d.pod, d.reason)
        self.log.info(last_decision(result), extra={"decision": "reconcile", **result.summary()})

    def pod_events_due(self, result: Reconciled, memory: Memory) -> list[Due]:
        """The pod Events of this decision not told yet; the digests of those told before
        and still standing are kept in `memory`, the rest forgotten."""
        assert self.teller is not None
        writer, told = self.teller, memory.told
        pods = {p.name: p for p in result.snapshot.pods if p.pending}
        groups = {g.name: g for g in result.snapshot.node_groups}
        scale_ups = {name: m for name, m in memory.scale_ups.items() if name in groups}
        scale_ups.update((c.node_group, scale_up_message(c, groups[c.node_group].max_size))
                         for c in result.changes if c.node_group in groups)
        memory.scale_ups = scale_ups
        raised = {c.node_group for c in result.changes}
        standing: set[str] = set()
        owed: set[str] = set()
        due: list[tuple[bool, Due]] = []
        for d in result.plan.pods:
            event = event_for(d, scale_ups, raised)
            pod = pods.get(d.pod)
            if event is None or pod is None:
                continue
            reason, message, about = event
            key = told_key(pod.uid or pod.name, reason, about)
            if key in told:
                standing.add(key)
                continue
            if reason == TRIGGERED:
                if d.outcome is not PodOutcome.SCALE_UP and key not in memory.owed:
                    continue  # it waits for capacity it did not trigger
                owed.add(key)
            due.append((reason != TRIGGERED, Due(f"event on pod {pod.name}",
                                                 _pod_write(writer, pod, reason, message,
                                                            result), key)))
        memory.told, memory.owed = standing, owed
        # Scale-ups first: they say capacity is coming, which is what a user waits for.
        return [d for _, d in sorted(due, key=lambda sd: sd[0])]

    def node_events_due(self, result: Reconciled) -> list[Due]:
        """One Event per scale-down step that changed a node, saying why: when it is first
        seen idle (and why it is kept, if it is), marked for deletion, or given back."""
        assert self.teller is not None
        writer, down = self.teller, result.scale_down
        kept = {s.node: s.reason for s in down.kept}
        told = [
            *((s.node, EventReason.IDLE, kept.get(s.node, s.reason)) for s in down.annotate
              if s.value is not None),
            *((s.node, EventReason.SCALE_DOWN, f"marked the node as toBeDeleted/unschedulable: "
               f"{s.reason}") for s in down.taint),
            *((s.node, EventReason.SCALE_DOWN, f"no longer to be deleted: {s.reason}")
              for s in down.untaint),
        ]
        due = [Due(f"event on node {node}",
                   partial(writer.record_node_event, node, reason, message, result.time))
               for node, reason, message in told]
        for s in result.given_back:
            message = given_back_message(s)
            due.append(Due(f"event on node {s.node}", partial(
                writer.record_node_event, s.node, GIVEN_BACK, message, result.time))
                if s.node else Due("event on the status", partial(
                    writer.record_status_event, GIVEN_BACK, message, result.time)))
        return due

    def events(self, due: Sequence[Due], budget: EventBudget, memory: Memory) -> Told:
        """Writes what the budget allows, in parallel; the digests of those written join
        the told ones in `memory`. A ClusterUnreachableError stops the writes and is
        raised."""
        taken = due[:max(0, budget.writes)]
        told = Told(deferred=len(due) - len(taken))
        budget.writes -= len(taken)
        outcome = _write_all(taken, budget.until, self.clock)
        failures: dict[str, list[str]] = {}
        for item, result in zip(taken, outcome, strict=True):
            if result is None:
                told.deferred += 1
            elif isinstance(result, BurstError):
                told.failed += 1
                failures.setdefault(type(result).__name__, []).append(item.what)
            else:
                told.written += 1
                if item.key:
                    memory.told.add(item.key)
                    memory.owed.discard(item.key)
        for error, whats in failures.items():
            self.log.error(f"{len(whats)} Event writes failed: {error} (e.g. "
                           f"{', '.join(whats[:EXAMPLES])}); retried on a later tick",
                           extra={"decision": "events", "error": error, "failed": len(whats)})
        return told

    def status(self, result: Reconciled, told: Told, memory: Memory) -> None:
        """Writes the status ConfigMap, with `memory`, unless it would say what it already
        says."""
        assert self.teller is not None
        writer = self.teller
        data = status_data(Report(
            result.time, last_decision(result), result.snapshot.node_groups, _upcoming(result),
            result.scale_down, pending=pending_summary(result.plan.pods),
            events={"written": told.written, "failed": told.failed, "deferred": told.deferred},
            given_back={s.instance_id: given_back_message(s) for s in result.given_back},
        ), memory)
        if data == memory.written:
            return
        if attempt(self.log, [], "write status", lambda: writer.write_status(data))[0]:
            memory.written = data


def _pod_write(
    writer: Teller, pod: Pod, reason: str, message: str, result: Reconciled
) -> Callable[[], object]:
    kind = "Warning" if reason == NOT_TRIGGERED else "Normal"
    return partial(writer.record_pod_event, pod, reason, message, result.time, kind)


def _write_all(
    due: Sequence[Due], until: float, clock: Clock
) -> list[object | BurstError | None]:
    """Each write's result, its BurstError, or None if it was not started in time."""
    stop = threading.Event()

    def one(item: Due) -> object | BurstError | None:
        if stop.is_set() or clock.monotonic() >= until:
            return None
        try:
            return item.write()
        except ClusterUnreachableError:
            stop.set()
            raise
        except BurstError as exc:
            return exc

    if len(due) <= 1:
        return [one(item) for item in due]
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(due))) as pool:
        futures = [pool.submit(one, item) for item in due]
        return [f.result() for f in futures]


def _upcoming(result: Reconciled) -> dict[str, int]:
    upcoming: dict[str, int] = {}
    for slot in build(result.snapshot).upcoming:
        upcoming[slot.node_group or ""] = upcoming.get(slot.node_group or "", 0) + 1
    return upcoming


def by_reason(decisions: Iterable[PodDecision]) -> dict[str, list[str]]:
    """Pod names per reason, reasons in order of first appearance."""
    found: dict[str, list[str]] = {}
    for d in decisions:
        found.setdefault(d.reason or "", []).append(d.pod)
    return found


def pending_summary(decisions: Sequence[PodDecision]) -> dict[str, Any]:
    """Counts per outcome; per reason a pod cannot be helped, a count and examples; and the
    first pods that wait for a board about to be freed, with why."""
    outcomes: dict[str, int] = {}
    for d in decisions:
        outcomes[d.outcome.value] = outcomes.get(d.outcome.value, 0) + 1
    unhelped = by_reason(d for d in decisions if d.outcome is PodOutcome.UNSCHEDULABLE)
    waiting = [d for d in decisions if d.outcome is PodOutcome.DEFERRED][:EXAMPLES]
    return {"outcomes": outcomes,
            "unschedulable": [{"reason": reason, "pods": len(pods), "examples": pods[:EXAMPLES]}
                              for reason, pods in unhelped.items()],
            **({"deferred": [{"pod": d.pod, "reason": d.reason} for d in waiting]}
               if waiting else {})}


def event_for(decision: PodDecision, scale_ups: Mapping[str, str],
              raised: Collection[str]) -> tuple[str, str, str] | None:
    """(reason, message, what it is about) of the pod Event for a decision, as Cluster
    Autoscaler words them. `scale_ups`: group -> its last scale-up, as the message shows it;
    `raised`: the groups raised this tick.

    A TriggeredScaleUp is about the group: a pod is told once that it triggered it, on the
    tick that raised the group or, if that tick's Event budget ran out, on a later one
    while it waits for that capacity (fits upcoming; see Memory.owed). A NotTriggerScaleUp
    is about its reason.
    """
    group = decision.node_group
    if decision.outcome is PodOutcome.UNSCHEDULABLE:
        message = f"pod didn't trigger scale-up: {decision.reason}"
        return NOT_TRIGGERED, message, message
    if decision.outcome is PodOutcome.DEFERRED:  # told once: the time left changes every tick
        return DEFERRED, f"scale-up deferred: pod {decision.reason}", DEFERRED
    waiting = decision.outcome is PodOutcome.FITS_UPCOMING or (
        decision.outcome is PodOutcome.SCALE_UP and group in raised)
    if waiting and group is not None and group in scale_ups:
        return TRIGGERED, f"pod triggered scale-up: [{scale_ups[group]}]", f"group {group}"
    return None


def given_back_message(s: Surplus) -> str:
    node = f", node {s.node}" if s.node else ", no node yet"
    return (f"instance {s.instance_id} ({s.node_group}{node}) terminated with decrement "
            f"while launching: {s.reason}")


def scale_up_message(change: CapacityChange, max_size: int) -> str:
    return f"{{{change.node_group} {change.from_size}->{change.to_size} (max: {max_size})}}"


def last_decision(result: Reconciled) -> str:
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
