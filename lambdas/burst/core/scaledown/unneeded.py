"""The scale-down decision: `unneeded(snapshot, policy, now) -> ScaleDownPlan`. Pure.

A burst node (in a discovered node group) that runs no FPGA pod, DaemonSet and mirror pods
aside, and that the scale-up plan does not count on for a pending pod, is *unneeded*. Its
steps, one per invocation, kept in the cluster and not in the Lambda, as Cluster
Autoscaler does with ToBeDeletedByClusterAutoscaler:

1. annotate `fpga-burst.io/unneeded-since` with the time it was first seen unneeded;
2. once unneeded for `scale_down_unneeded_time` (or the adaptive verdict says go), taint
   it `fpga-burst.io/to-be-deleted` (NoSchedule, and cordoned) so nothing new lands on it,
   and in the same step terminate its instance with decrement (the terminate lifecycle
   hook drains it and deletes the Node). That termination is `recheck`: the shell does it
   only once the taint is on and a fresh read of the node's pods finds it still empty (a
   pod bound after the observation). Cluster Autoscaler too taints an empty node and
   deletes it in the same loop (kubernetes/autoscaler, cluster-autoscaler/core/
   scale_down.go: scheduleDeleteEmptyNodes). Waiting a tick instead paid a minute of every
   removed instance;
3. a node tainted on an earlier step (an emptying one, or a removal the re-check or a
   failure stopped) is terminated if it is still unneeded.

A node needed again loses the annotation and, if tainted, the taint. Never touched: nodes
of no node group (on-prem), nodes annotated `scale-down-disabled: "true"`, nodes with a pod
a drain may not move (burst.core.scaledown.drainable: `safe-to-evict: "false"`, no
controller, local storage, kube-system without a PodDisruptionBudget), instances already
terminating. A group never goes
below its min size, counting the nodes tainted or terminated here; and no node of a group
is tainted within `scale_down_delay_after_add` of the group's last scale-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from burst.core.errors import DemandError
from burst.core.model import (
    SCALE_DOWN_DISABLED,
    Node,
    NodeGroup,
    Plan,
    Pod,
    PodOutcome,
    Policy,
    ScaleDown,
    Snapshot,
    Taint,
)
from burst.core.scaledown import drainable, keep
from burst.core.scaledown.arrivals import Arrivals
from burst.core.scaledown.runtimes import Runs, Survival, started, survival
from burst.core.scaleup.capacity import bound_usage, registered_slots
from burst.core.scaleup.fit import alternatives, placement_problem
from burst.core.scaleup.planner import plan as scale_up_plan

UNNEEDED_SINCE = "fpga-burst.io/unneeded-since"
TO_BE_DELETED = "fpga-burst.io/to-be-deleted"
_GONE = ("Terminating", "Terminated")


def to_be_deleted_taint(now: datetime) -> Taint:
    # The value records when, as CA's ToBeDeletedByClusterAutoscaler does (unix seconds).
    return Taint(TO_BE_DELETED, str(int(now.timestamp())), "NoSchedule")


def is_to_be_deleted(node: Node) -> bool:
    return any(t.key == TO_BE_DELETED for t in node.taints)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class NodeStep:
    """One action on one node, and why."""

    node: str
    reason: str
    value: str | None = None  # the annotation's new value (Annotate); None clears it


@dataclass(frozen=True)
class Termination:
    node: str
    node_group: str
    instance_id: str
    reason: str
    # Tainted in this same plan: terminate only after the taint succeeded and a fresh read
    # of the node's pods (NodeDrainer.workload) finds none; the observation may be stale.
    recheck: bool = False


@dataclass(frozen=True)
class ScaleDownPlan:
    annotate: tuple[NodeStep, ...] = ()  # set (value) or clear (None) UNNEEDED_SINCE
    taint: tuple[NodeStep, ...] = ()  # add TO_BE_DELETED and cordon
    untaint: tuple[NodeStep, ...] = ()  # remove TO_BE_DELETED and uncordon
    terminate: tuple[Termination, ...] = ()
    kept: tuple[NodeStep, ...] = ()  # managed nodes left as they are, with why

    @property
    def empty(self) -> bool:
        return not (self.annotate or self.taint or self.untaint or self.terminate)


def planning_view(snapshot: Snapshot) -> Snapshot:
    """The snapshot with our to-be-deleted taints (and their cordon) undone.

    Planned on, a node about to be removed (or emptying) still counts as capacity: if
    pending pods need all of its free boards, scale-down gives it back instead of scale-up
    buying a new one. Not for fewer: a small pod on a big idle node would hold every board
    of it, paid, for as long as it runs, where a new instance of its size costs one boot.
    """
    groups = {g.name: g for g in snapshot.node_groups}
    pending = [p for p in snapshot.pods if p.pending]
    bound, states = _pods_by_node(snapshot.pods), _lifecycle_states(snapshot.node_groups)

    def restorable(n: Node) -> bool:
        group = groups.get(n.node_group or "")
        # A terminating instance's node is going whatever we do: never capacity.
        if not is_to_be_deleted(n) or group is None or _terminating(n, states[group.name]):
            return False
        used = sum(b for p in bound.get(n.name, ()) for _, b in bound_usage(
            p, n.allocatable, snapshot.catalog))
        return _filled(n, pending, snapshot) >= sum(n.allocatable.values()) - used

    nodes = tuple(
        replace(
            n,
            unschedulable=False,
            taints=tuple(t for t in n.taints if t.key != TO_BE_DELETED),
        )
        if restorable(n)
        else n
        for n in snapshot.nodes
    )
    return replace(snapshot, nodes=nodes)


def _filled(node: Node, pending: Iterable[Pod], snapshot: Snapshot) -> int:
    """Boards of `node` the pending pods that may run there would take, all of them."""
    total = 0
    for pod in pending:
        if placement_problem(pod, node.labels, tuple(
                t for t in node.taints if t.key != TO_BE_DELETED)) is not None:
            continue
        try:
            options = alternatives(pod, snapshot.catalog)
        except DemandError:
            continue
        total += max((a.boards for a in options
                      if a.boards <= node.allocatable.get(a.board, 0)), default=0)
    return total


def counted_on(snapshot: Snapshot, plan: Plan) -> frozenset[str]:
    """Nodes the scale-up plan places pending pods on, or waits on for their boards."""
    waiting = {d.node_group for d in plan.pods if d.outcome is PodOutcome.FITS_UPCOMING}
    names = {d.node for d in plan.pods if d.outcome is PodOutcome.FITS_EXISTING and d.node}
    # A node of such a group whose device plugin has not advertised boards yet is the
    # upcoming capacity itself.
    late = (n for n in snapshot.nodes if n.node_group in waiting)
    names.update(n.name for n in late if not any(n.allocatable.values()))
    return frozenset(names)


def unneeded(
    snapshot: Snapshot,
    policy: Policy,
    now: datetime,
    *,
    plan: Plan | None = None,
    arrivals: Arrivals | None = None,
    runs: Runs | None = None,
) -> ScaleDownPlan:
    """The next scale-down step for every burst node. `plan`: the scale-up plan made on
    planning_view(snapshot); computed here if not given. `arrivals`: what the adaptive
    policy learns the next pods from (none known: idle nodes are not kept); `runs`: how
    long FPGA pods run (none known: no partly busy node is emptied)."""
    plan = plan if plan is not None else scale_up_plan(planning_view(snapshot), policy)
    needed = counted_on(snapshot, plan)
    groups = {g.name: g for g in snapshot.node_groups}
    pods, states = _pods_by_node(snapshot.pods), _lifecycle_states(snapshot.node_groups)
    steps = _Steps()
    candidates: dict[str, list[Node]] = {}
    adaptive = policy.scale_down is ScaleDown.ADAPTIVE
    empty = (_Emptying(snapshot, arrivals or Arrivals(), runs or Runs(), policy, now)
             if adaptive else None)
    for node in sorted(snapshot.nodes, key=lambda n: n.name):
        group = groups.get(node.node_group or "")
        if group is None or _terminating(node, states[group.name]):
            continue  # on-prem, or already on its way out: never ours to touch
        on_node = pods.get(node.name, ())
        why = _why_needed(node, on_node, needed)
        emptying = empty(node, on_node) if empty and why and node.name not in needed else None
        if emptying:
            steps.empty(node, emptying)
        elif why:
            steps.keep_needed(node, why)
        else:
            candidates.setdefault(group.name, []).append(node)
    verdicts = (_verdicts(snapshot, candidates, groups, arrivals or Arrivals(), policy, now)
                if adaptive else {})
    for name, nodes in sorted(candidates.items()):
        _group_steps(groups[name], nodes, policy, now, steps, verdicts)
    return steps.result()


def _verdicts(
    snapshot: Snapshot,
    candidates: Mapping[str, list[Node]],
    groups: Mapping[str, NodeGroup],
    arrivals: Arrivals,
    policy: Policy,
    now: datetime,
) -> dict[str, keep.Verdict]:
    idle = [
        keep.Idle(node, groups[name], _since(node, now) or now)
        for name, nodes in candidates.items() for node in nodes
    ]
    idle_names = {entry.node.name for entry in idle}
    # Free boards on burst nodes that stay anyway: the next arrivals land there first.
    busy_free: dict[str, int] = {}
    for slot in registered_slots(snapshot):
        if slot.node_group is not None and slot.name not in idle_names:
            for board, count in slot.free.items():
                busy_free[board] = busy_free.get(board, 0) + max(0, count)
    return keep.decide(idle, snapshot, arrivals, policy, now, busy_free)


class _Emptying:
    """keep.emptying for the nodes of one snapshot (adaptive scale-down)."""

    def __init__(self, snapshot: Snapshot, arrivals: Arrivals, runs: Runs, policy: Policy,
                 now: datetime):
        self.snapshot, self.arrivals, self.runs, self.policy, self.now = (
            snapshot, arrivals, runs, policy, now)
        self._estimate: Survival | None = None  # made when a busy node first asks

    @property
    def estimate(self) -> Survival:
        if self._estimate is None:
            self._estimate = survival(self.runs, self.now)
        return self._estimate

    def __call__(self, node: Node, pods: Iterable[Pod]) -> str | None:
        fpga = [p for p in pods if p.fpga_job]
        if not fpga or node.annotations.get(SCALE_DOWN_DISABLED) == "true":
            return None
        used = sum(b for p in fpga for _, b in bound_usage(p, node.allocatable,
                                                              self.snapshot.catalog))
        moment = self.now.timestamp()
        # A pod whose start is not known counts as just started: it may run a full run.
        ages = [moment - s if (s := started(p, self.runs)) is not None else 0.0 for p in fpga]
        return keep.emptying(node, ages, used, self.arrivals, self.policy, self.now,
                             self.estimate)


def _pods_by_node(pods: Iterable[Pod]) -> dict[str, list[Pod]]:
    found: dict[str, list[Pod]] = {}
    for pod in pods:
        if pod.node is not None:
            found.setdefault(pod.node, []).append(pod)
    return found


def _lifecycle_states(groups: Iterable[NodeGroup]) -> dict[str, dict[str, str]]:  # per snapshot
    return {g.name: {i.instance_id: i.lifecycle_state for i in g.instances} for g in groups}


def _terminating(node: Node, states: Mapping[str, str]) -> bool:  # states: of its group
    state = states.get(node.instance_id or "")
    return state is None or state.startswith(_GONE)


def _why_needed(node: Node, pods: Iterable[Pod], needed: frozenset[str]) -> str | None:
    if node.annotations.get(SCALE_DOWN_DISABLED) == "true":
        return f"annotated {SCALE_DOWN_DISABLED}=true"
    movable = [p for p in pods if not drainable.skipped(p)]
    fpga = [p.name for p in movable if p.requests or p.accelerators]
    if fpga:
        return f"runs FPGA pod {fpga[0]}" + (f" and {len(fpga) - 1} more" if len(fpga) > 1 else "")
    unmovable = drainable.first_blocker(movable)
    if unmovable:
        return unmovable
    if node.name in needed:
        return "a pending pod is planned onto it"
    return None


def _since(node: Node, now: datetime) -> datetime | None:
    text = node.annotations.get(UNNEEDED_SINCE)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None  # unreadable: start counting again
    if parsed.tzinfo is None or parsed > now:
        return None
    return parsed


def _group_steps(
    group: NodeGroup,
    nodes: list[Node],
    policy: Policy,
    now: datetime,
    steps: _Steps,
    verdicts: Mapping[str, keep.Verdict],
) -> None:
    # Tainted nodes first (they are furthest along), then the longest unneeded.
    order = sorted(nodes, key=lambda n: (not is_to_be_deleted(n), _since(n, now) or now, n.name))
    budget = group.desired - group.min_size
    adaptive = policy.scale_down is ScaleDown.ADAPTIVE
    recent = not adaptive and group.last_scale_up is not None and (
        now - group.last_scale_up < policy.scale_down_delay_after_add
    )
    for node in order:
        since = _since(node, now)
        if since is None:
            steps.annotate(node, rfc3339(now), "no FPGA pods: unneeded from now")
            since = now
        verdict = verdicts.get(node.name)
        if verdict is not None and verdict.keep:
            steps.hold(node, verdict.reason)
        elif not adaptive and not is_to_be_deleted(node) and (
            now - since < policy.scale_down_unneeded_time
        ):
            steps.kept.append(NodeStep(node.name, f"unneeded since {rfc3339(since)}"))
        elif budget <= 0:
            steps.hold(node, f"node group {group.name} at its min size ({group.min_size})")
        elif is_to_be_deleted(node):
            budget -= 1
            steps.terminate(node, group, f"unneeded since {rfc3339(since)}, tainted, still empty")
        elif recent:
            steps.hold(node, f"node group {group.name} scaled up less than "
                             f"{policy.scale_down_delay_after_add} ago")
        else:
            budget -= 1
            why = verdict.reason if verdict is not None else f"unneeded since {rfc3339(since)}"
            steps.taint.append(NodeStep(node.name, why))
            steps.terminate(node, group, f"{why}; terminated if a fresh read finds no pod",
                            recheck=True)


class _Steps:
    def __init__(self) -> None:
        self.annotations: list[NodeStep] = []
        self.taint: list[NodeStep] = []
        self.untaint: list[NodeStep] = []
        self.terminations: list[Termination] = []
        self.kept: list[NodeStep] = []

    def annotate(self, node: Node, value: str | None, reason: str) -> None:
        self.annotations.append(NodeStep(node.name, reason, value))

    def keep_needed(self, node: Node, why: str) -> None:
        if UNNEEDED_SINCE in node.annotations:
            self.annotate(node, None, f"needed again: {why}")
        self.hold(node, why)

    def empty(self, node: Node, why: str) -> None:
        """Takes no new pods (our taint) and empties as its pods finish; removed once idle."""
        if is_to_be_deleted(node):
            self.kept.append(NodeStep(node.name, why))
        else:
            self.taint.append(NodeStep(node.name, why))

    def hold(self, node: Node, why: str) -> None:
        """Not removable now: give back the taint if it has ours."""
        if is_to_be_deleted(node):
            self.untaint.append(NodeStep(node.name, why))
        self.kept.append(NodeStep(node.name, why))

    def terminate(
        self, node: Node, group: NodeGroup, reason: str, *, recheck: bool = False
    ) -> None:
        self.terminations.append(
            Termination(node.name, group.name, node.instance_id or "", reason, recheck))

    def result(self) -> ScaleDownPlan:
        return ScaleDownPlan(
            annotate=tuple(self.annotations),
            taint=tuple(self.taint),
            untaint=tuple(self.untaint),
            terminate=tuple(self.terminations),
            kept=tuple(self.kept),
        )


def summary(plan: ScaleDownPlan) -> Mapping[str, int]:
    return {
        "annotated": sum(1 for s in plan.annotate if s.value is not None),
        "cleared": sum(1 for s in plan.annotate if s.value is None),
        "tainted": len(plan.taint),
        "untainted": len(plan.untaint),
        "terminated": len(plan.terminate),
    }
