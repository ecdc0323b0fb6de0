"""ASG lifecycle actions: let a launched instance in once its node is useful; drain a leaving one.

Launch (hook `fpga-burst-launch`, default result ABANDON): complete CONTINUE once the
instance's Node has joined (providerID `aws:///<az>/<instance-id>`), is Ready and advertises
its group's boards. Otherwise do nothing: EventBridge sends the launch event once, so the
scaler's tick re-checks instances in `Pending:Wait` (continue_launches), and a node that never
becomes useful is left to the hook's timeout, which ABANDONs it. Never heartbeat a launch.
A launch whose instance its group already lists as Terminating (the scaler gave it back while
it launched: burst.loop.giveback) is never completed (`leaving`): CONTINUE would say the
launch succeeded, and the action went with the instance (a late CompleteLifecycleAction gets
LifecycleActionNotFoundError, ignored anyway). The EC2 Auto Scaling user guide does not say
whether a terminate hook runs for an instance terminated in Pending:Wait; if it does, the
terminate below finds no Node, or the Node marked GIVEN_BACK with nothing to evict, and
completes at once, saying why.

Terminate (hook `fpga-burst-terminate`, default result CONTINUE): cordon and taint the node,
drain it through the Eviction API, delete the Node, complete CONTINUE. The drain's start is
kept on the node (annotation DRAIN_STARTED), so whoever continues it (a retried invocation,
the scaler's tick via continue_terminations) keeps one deadline: the start plus the hook's
timeout. Heartbeats keep the hook from timing out under a drain still within that deadline;
at the deadline the action is completed anyway (DrainsOverDeadline), as the hook would.
Pods marked safe-to-evict=false are held, never evicted (every other pod is). The Node is
deleted only once no pod is left on it: a node with pods left at the deadline stays, its
outcome naming them and why, until its instance is gone (delete_gone, the scaler's tick);
deleting it earlier would take its pods down without their budgets and grace periods.

Everything is level-triggered and idempotent: a node already gone means "just complete", and
an action already completed (LifecycleActionNotFoundError) is logged and ignored. No I/O
here but through the ports; both clocks are injected.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from burst.core.errors import KubeNotFoundError, LifecycleActionNotFoundError
from burst.core.lifecycle import (
    DRAIN_STARTED,
    PENDING_WAIT,
    REMOVAL_TAINT,
    TERMINATING_WAIT,
    drain_started,
    given_back,
    gone,
    heartbeat_due,
    instance_groups,
    leaving,
    node_of,
    not_useful,
    pending,
)
from burst.core.model import Node, NodeGroup
from burst.core.names import Hook, Metric
from burst.core.notices.events import (
    LaunchLifecycleAction,
    LifecycleAction,
    TerminateLifecycleAction,
)
from burst.loop.clock import Clock
from burst.ports.aws import JoinErrors, LifecycleActions, LifecycleResult
from burst.ports.cluster import ClusterReader, DrainResult, NodeDrainer, NodeWriter

log = logging.getLogger(__name__)

LAUNCH_HOOK: str = Hook.LAUNCH
TERMINATE_HOOK: str = Hook.TERMINATE


# -- values ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One pending lifecycle action: from an event (with token and start) or a tick (without)."""

    node_group: str
    hook: str
    instance_id: str
    token: str | None = field(default=None, repr=False)
    started: datetime | None = None  # when the action began, if an event said so

    @classmethod
    def of(cls, event: LifecycleAction) -> Target:
        return cls(event.node_group, event.hook, event.instance_id, event.token, event.time)


class HookResult(StrEnum):
    COMPLETED = "completed"  # this call completed the action
    ALREADY_DONE = "already-done"  # no action pending: completed before, timed out, duplicate
    WAITING = "waiting"  # launch: the node is not useful yet
    DRAINING = "draining"  # terminate: out of invocation time; the next one continues
    HELD = "held"  # terminate: all else evicted; safe-to-evict=false pods wait for the deadline
    NODE_DELETED = "node-deleted"  # its instance is gone: the Node left behind is deleted
    NOT_OURS = "not-ours"  # a group or hook fpga-burst does not manage: never touched
    LEAVING = "leaving"  # launch: the instance is terminating (given back): never completed


@dataclass(frozen=True)
class HookOutcome:
    """What one lifecycle step did: the decision the handler logs and counts."""

    transition: str  # "launch" | "terminate"
    node_group: str
    instance_id: str
    result: HookResult
    reason: str
    node: str | None = None
    over_deadline: bool = False  # terminate: completed at the deadline, drain unfinished
    drain_seconds: float | None = None  # terminate: from drain start to completion
    heartbeats: int = 0
    drain: DrainResult | None = None

    def metrics(self) -> list[tuple[str, str, float]]:
        """(name, unit, value) to publish; DrainsOverDeadline is what the alarm watches."""
        found: list[tuple[str, str, float]] = []
        if self.result is HookResult.COMPLETED:
            name = (Metric.LAUNCHES_COMPLETED if self.transition == "launch"
                    else Metric.TERMINATIONS_COMPLETED)
            found.append((name, "Count", 1))
        if self.over_deadline:
            found.append((Metric.DRAINS_OVER_DEADLINE, "Count", 1))
        if self.drain_seconds is not None:
            found.append((Metric.DRAIN_TIME, "Seconds", self.drain_seconds))
        if self.heartbeats:
            found.append((Metric.LIFECYCLE_HEARTBEATS, "Count", self.heartbeats))
        return found

    def summary(self) -> dict[str, object]:
        found: dict[str, object] = {
            "transition": self.transition,
            "nodeGroup": self.node_group,
            "instance": self.instance_id,
            "result": self.result.value,
            "reason": self.reason,
        }
        if self.node:
            found["node"] = self.node
        if self.transition == "terminate":
            found.update(overDeadline=self.over_deadline, heartbeats=self.heartbeats)
        if self.drain is not None:
            found.update(evicted=list(self.drain.evicted), remaining=list(self.drain.remaining),
                         left=self.drain.left())
        return found


# -- acting ------------------------------------------------------------------------------


def complete(aws: LifecycleActions, target: Target, transition: str) -> bool:
    """Complete with CONTINUE; False if no action was pending (not an error: a duplicate)."""
    try:
        aws.complete_lifecycle_action(
            target.node_group, target.hook, target.instance_id, LifecycleResult.CONTINUE,
            target.token,
        )
    except LifecycleActionNotFoundError:
        log.info(
            "%s of %s: no lifecycle action pending (already completed or timed out)",
            transition, target.instance_id,
            extra={"instance": target.instance_id, "decision": "nothing to complete"},
        )
        return False
    return True


def launch(aws: LifecycleActions, target: Target, group: NodeGroup | None,
           nodes: Sequence[Node], errors: JoinErrors | None = None) -> HookOutcome:
    """Complete the launch with CONTINUE if the node is useful; else leave it to the hook,
    saying why, with what the instance said of a failed join (its join-error tag) if
    `errors` can read it and no node has joined."""
    node = node_of(nodes, target.instance_id)
    name = node.name if node else None
    state = leaving(group, target.instance_id)
    if state is not None:
        # Completing it would say the launch succeeded; the instance is going (given back
        # while launching, or terminated by someone else), and the action went with it.
        why = given_back(node)
        reason = f"the instance is {state}" + (f": given back, {why}" if why else "")
        log.info("launch of %s: not completed: %s", target.instance_id, reason,
                 extra={"instance": target.instance_id, "node_group": target.node_group,
                        "decision": "no action"})
        return HookOutcome("launch", target.node_group, target.instance_id, HookResult.LEAVING,
                           reason, name)
    why = not_useful(node, group)
    if why is not None and node is None and errors is not None:
        said = errors.join_error(target.node_group, target.instance_id)
        why = f"{why}; the instance says its join failed at {said}" if said else why
    if why is not None:
        log.info(
            "launch of %s: waiting: %s", target.instance_id, why,
            extra={"instance": target.instance_id, "node_group": target.node_group,
                   "decision": "wait; the hook ABANDONs at its timeout unless it gets useful"},
        )
        return HookOutcome("launch", target.node_group, target.instance_id, HookResult.WAITING,
                           why, name)
    done = complete(aws, target, "launch")
    result, reason = (HookResult.COMPLETED, "node joined, Ready, boards advertised") if done else (
        HookResult.ALREADY_DONE, "no lifecycle action pending")
    return HookOutcome("launch", target.node_group, target.instance_id, result, reason, name)


@dataclass(frozen=True)
class Drainer:
    """What a terminate step needs besides the ports: the hook's timeout, clocks, budget.

    `stop_at` is when this invocation must stop draining (Clock.monotonic scale): the
    Lambda's deadline less a margin. Unfinished work is left for the next invocation.
    """

    nodes: NodeWriter
    drains: NodeDrainer
    actions: LifecycleActions
    clock: Clock
    timeout: timedelta
    stop_at: float
    join_errors: JoinErrors | None = None  # for a launch that is waiting

    def terminate(self, target: Target, nodes: Sequence[Node]) -> HookOutcome:
        """Cordon, drain, delete the node, complete. Idempotent; call again to continue."""
        node = node_of(nodes, target.instance_id)
        if node is not None:
            try:
                outcome = self._start(target, node)
            except KubeNotFoundError:
                # Deleted since observed (a concurrent duplicate finished first): gone.
                pass
            else:
                why = given_back(node)
                return outcome if why is None else replace(
                    outcome, reason=f"given back while launching ({why}): {outcome.reason}")
        done = complete(self.actions, target, "terminate")
        return HookOutcome("terminate", target.node_group, target.instance_id,
                           HookResult.COMPLETED if done else HookResult.ALREADY_DONE,
                           "no node for the instance (never joined or already deleted)")

    def _start(self, target: Target, node: Node) -> HookOutcome:
        now = self.clock.wall()
        fresh = DRAIN_STARTED not in node.annotations
        started = drain_started(node, min(target.started or now, now))
        if fresh:
            self.nodes.annotate_node(node.name, {DRAIN_STARTED: started.isoformat()})
        self.nodes.cordon(node.name, REMOVAL_TAINT)
        return self._drain(target, node.name, started, fresh)

    def _drain(self, target: Target, node: str, started: datetime, fresh: bool) -> HookOutcome:
        deadline = started + self.timeout
        beats, last_beat = 0, None
        result: DrainResult | None = None
        while True:
            now, mono = self.clock.wall(), self.clock.monotonic()
            if now >= deadline:
                return self._finish(target, node, started, result, beats, over=True)
            half = self.timeout.total_seconds() / 2
            due = (heartbeat_due(started, now, self.timeout, fresh) if last_beat is None
                   else mono - last_beat >= half)
            if due:
                beats += self._heartbeat(target)
                last_beat = mono
            # Slices of at most half the timeout, so the heartbeat check above comes in time.
            slice_end = min(self.stop_at, mono + (deadline - now).total_seconds(), mono + half)
            if slice_end <= mono:
                return self._unfinished(target, node, result, beats, "out of invocation time")
            result = self.drains.drain(node, slice_end)
            if result.empty:
                return self._finish(target, node, started, result, beats, over=False)
            if result.done:
                # Only held pods are left: they may yet finish; the next call looks again.
                why = "; ".join(f"{p} {w}" for p, w in sorted(result.held.items()))
                return self._unfinished(target, node, result, beats, f"held: {why}",
                                        HookResult.HELD)
            if self.clock.monotonic() >= self.stop_at:
                return self._unfinished(target, node, result, beats, "out of invocation time")

    def _heartbeat(self, target: Target) -> int:
        try:
            self.actions.record_heartbeat(target.node_group, target.hook, target.instance_id,
                                      target.token)
        except LifecycleActionNotFoundError:
            # Completed meanwhile or timed out: the drain goes on; complete() will say so.
            return 0
        return 1

    def _unfinished(self, target: Target, node: str, result: DrainResult | None, beats: int,
                    why: str, kind: HookResult = HookResult.DRAINING) -> HookOutcome:
        log.info(
            "terminate of %s: drain of %s not finished: %s", target.instance_id, node, why,
            extra={"instance": target.instance_id, "node": node,
                   "decision": "leave it to the next invocation or scaler tick",
                   "remaining": list(result.remaining) if result else None},
        )
        return HookOutcome("terminate", target.node_group, target.instance_id, kind, why, node,
                           heartbeats=beats, drain=result)

    def _finish(self, target: Target, node: str, started: datetime, result: DrainResult | None,
                beats: int, *, over: bool) -> HookOutcome:
        if over:
            # What is on the node now decides whether the Node may go, not the last slice.
            result = self.drains.drain(node, self.clock.monotonic())
        left = result.left() if result is not None else {}
        if over:
            log.warning(
                "terminate of %s: drain of %s passed its deadline (%s); completing anyway%s",
                target.instance_id, node, (started + self.timeout).isoformat(),
                "; the Node stays until the instance is gone" if left else "",
                extra={"instance": target.instance_id, "node": node,
                       "decision": "CONTINUE at the deadline, as the hook's default would",
                       "left": left},
            )
        if not left:
            self.drains.delete_node(node)
        done = complete(self.actions, target, "terminate")
        seconds = (self.clock.wall() - started).total_seconds()
        reason = "drained and node deleted"
        if over:
            reason = "drain passed its deadline" + (
                f"; {len(left)} pod(s) left, Node kept until the instance is gone: "
                + "; ".join(f"{p} {w}" for p, w in sorted(left.items())) if left else "")
        return HookOutcome("terminate", target.node_group, target.instance_id,
                           HookResult.COMPLETED if done else HookResult.ALREADY_DONE, reason,
                           node, over_deadline=over, drain_seconds=seconds, heartbeats=beats,
                           drain=result)


def delete_gone(drains: NodeDrainer, groups: Sequence[NodeGroup],
                nodes: Sequence[Node]) -> tuple[HookOutcome, ...]:
    """For the scaler's tick: delete the Nodes a terminate left behind (pods were left on
    them at the deadline) once no group lists their instance as running any more."""
    outcomes = []
    for node in gone(groups, nodes):
        instance = node.instance_id or ""
        log.info("node %s: its instance %s is gone; deleting the Node", node.name, instance,
                 extra={"instance": instance, "node": node.name, "decision": "delete node"})
        drains.delete_node(node.name)
        outcomes.append(HookOutcome("terminate", node.node_group or "", instance,
                                    HookResult.NODE_DELETED, "instance gone: Node deleted",
                                    node.name))
    return tuple(outcomes)


# -- entry points for the handler and the scaler's tick ------------------------------------


def continue_launches(
    aws: LifecycleActions, groups: Sequence[NodeGroup], nodes: Sequence[Node]
) -> tuple[HookOutcome, ...]:
    """For the scaler's tick: complete every launch in `Pending:Wait` whose node is useful.

    `groups` and `nodes` as the tick observed them. Launches whose node is not useful are
    left waiting (not in the result's COMPLETED entries). Idempotent.
    """
    return tuple(
        launch(aws, Target(group.name, LAUNCH_HOOK, instance), group, nodes)
        for group, instance in pending(groups, PENDING_WAIT)
    )


def continue_terminations(drainer: Drainer, groups: Sequence[NodeGroup],
                          nodes: Sequence[Node]) -> tuple[HookOutcome, ...]:
    """For the scaler's tick: go on with every termination in `Terminating:Wait`.

    Finishes a drain whose lifecycle invocation was killed, or starts one whose event was
    lost. Stops at `drainer.stop_at`; what is left is for the next tick.
    """
    outcomes = []
    for group, instance in pending(groups, TERMINATING_WAIT):
        if drainer.clock.monotonic() >= drainer.stop_at:
            break
        outcomes.append(drainer.terminate(Target(group.name, TERMINATE_HOOK, instance), nodes))
    return tuple(outcomes)


def handle(action: LaunchLifecycleAction | TerminateLifecycleAction, cluster: ClusterReader,
           drainer: Drainer, groups: Sequence[NodeGroup]) -> HookOutcome:
    """One lifecycle event: `groups` as discovered now (the managed ones only).

    An event for a group or hook that is not ours is logged as an error and not acted on:
    completing someone else's hook would cut their work short.
    """
    launching = isinstance(action, LaunchLifecycleAction)
    transition, hook = ("launch", LAUNCH_HOOK) if launching else ("terminate", TERMINATE_HOOK)
    group = next((g for g in groups if g.name == action.node_group), None)
    if group is None or action.hook != hook:
        why = (f"group {action.node_group} is not a managed node group" if group is None
               else f"hook {action.hook} is not {hook}")
        log.error("%s of %s: not ours: %s", transition, action.instance_id, why,
                  extra={"instance": action.instance_id, "decision": "no action"})
        return HookOutcome(transition, action.node_group, action.instance_id,
                           HookResult.NOT_OURS, why)
    view = cluster.observe(instance_groups(groups, {action.instance_id: group.name}))
    target = Target.of(action)
    if launching:
        return launch(drainer.actions, target, group, view.nodes, drainer.join_errors)
    return drainer.terminate(target, view.nodes)
