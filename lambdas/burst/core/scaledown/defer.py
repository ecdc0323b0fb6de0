"""Which pending pods wait for a board about to be freed instead of a new instance. Pure.

A new instance costs its boot, paid by the second until its boards are advertised (about
five minutes for F2), and the pod waits as long. A board freed by a pod ending, on a node
the pending pod could use, costs nothing. So a pod the plan would scale up for waits
instead, for at most `policy.defer_scale_up` after it was created, when the FPGA pods
running where it fits are likely to free a board for it within that time; after it, its
scale-up goes ahead. The wait is bounded, so however the guess turns out the pod waits at
most that bound longer than a boot; a wrong guess costs no money.

The chance that a pod ends so soon is read off the cluster's own run times, given how long
it has run (burst.core.scaledown.runtimes): no user gives a duration. Pending pods are taken in the
order kube-scheduler takes them, oldest first; a pod that k waiting pods before it count on
the same running pods for waits only if k + 1 or more of those pods are LIKELY to end in
time (the Poisson binomial tail of their chances). Only a running pod whose end alone leaves
room for the pending one counts; free boards are free boards to kube-scheduler, so on-prem
pods ending count as much as paid ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from burst.core.errors import DemandError
from burst.core.model import BoardResource, Plan, Pod, PodDecision, PodOutcome, Policy, Snapshot
from burst.core.scaledown.runtimes import Runs, Survival, started, survival
from burst.core.scaleup.capacity import Slot, bound_usage, registered_slots
from burst.core.scaleup.fit import alternatives, placement_problem
from burst.core.scaleup.planner import plan as make_plan
from burst.core.words import span

# The least chance that enough boards are freed in time for a pod to wait for them.
LIKELY = 0.5


@dataclass(frozen=True)
class _Running:
    """A running FPGA pod, where it runs, the boards it holds and how long it has run."""

    pod: str
    slot: Slot
    boards: Mapping[BoardResource, int]
    age: float


def hold(plan: Plan, view: Snapshot, runs: Runs, policy: Policy, now: datetime) -> Plan:
    """`plan` (made on `view`) with the pods that wait for a freed board taken out of its
    scale-ups, each decided DEFERRED with its reason; `plan` itself if none waits."""
    if policy.defer_scale_up <= timedelta(0):
        return plan
    # A pod without a creation time could wait for ever: it never waits.
    pending = {p.name: p for p in view.pods if p.pending and p.created is not None}
    scaling = sorted(
        (pending[d.pod] for d in plan.pods
         if d.outcome is PodOutcome.SCALE_UP and d.pod in pending),
        key=lambda p: (p.created, p.name),
    )
    running = _running(view, runs, now) if scaling else []
    if not running:
        return plan
    estimate = survival(runs, now)
    waiting: dict[str, str] = {}
    shares: list[frozenset[str]] = []  # the running pods each waiting pod counts on
    for pod in scaling:
        assert pod.created is not None  # `pending` holds only pods with one
        left = (pod.created + policy.defer_scale_up - now).total_seconds()
        if left <= 0:
            continue
        chances = _chances(pod, view, running, estimate, left)
        if not chances:
            continue
        names = frozenset(chances)
        ahead = sum(1 for other in shares if other & names)  # pods that take those boards first
        chance = at_least(list(chances.values()), ahead + 1)
        if chance < LIKELY:
            continue
        shares.append(names)
        waiting[pod.name] = (
            f"waits up to {span(timedelta(seconds=left))} for a board: of the {len(chances)} "
            f"FPGA pods running where it fits, {ahead + 1} or more end by then "
            f"{chance:.0%} of the time (their run times so far); a new instance takes "
            f"~{span(policy.boot_estimate)}"
        )
    if not waiting:
        return plan
    rest = replace(view, pods=tuple(p for p in view.pods if p.name not in waiting))
    replanned = make_plan(rest, policy)
    held = tuple(PodDecision(name, PodOutcome.DEFERRED, reason=why)
                 for name, why in waiting.items())
    return replace(replanned, pods=replanned.pods + held)


def _running(view: Snapshot, runs: Runs, now: datetime) -> list[_Running]:
    """The FPGA pods running on nodes that take new pods, with how long they have run
    (from status.startTime, or from when they were first seen running)."""
    slots = {s.name: s for s in registered_slots(view)}
    allocatable = {n.name: n.allocatable for n in view.nodes}
    found = []
    for pod in view.pods:
        slot = slots.get(pod.node or "")
        start = started(pod, runs)
        if slot is None or start is None or not pod.fpga_job:
            continue
        boards = dict(bound_usage(pod, allocatable[slot.name], view.catalog))
        found.append(_Running(pod.name, slot, boards, now.timestamp() - start))
    return found


def _chances(
    pod: Pod, view: Snapshot, running: Sequence[_Running], estimate: Survival, left: float
) -> dict[str, float]:
    """Running pod -> the chance it ends within `left` seconds, for those whose end alone
    would leave room for `pod` (none known: not counted)."""
    try:
        options = alternatives(pod, view.catalog)
    except DemandError:
        return {}
    found: dict[str, float] = {}
    for other in running:
        if placement_problem(pod, other.slot.labels, other.slot.taints) is not None:
            continue
        free = other.slot.free
        if not any(free.get(a.board, 0) + other.boards.get(a.board, 0) >= a.boards
                   for a in options):
            continue
        chance = estimate.ends_within(other.age, left)
        if chance is not None and chance > 0:
            found[other.pod] = chance
    return found


def at_least(chances: Sequence[float], count: int) -> float:
    """The chance that at least `count` of independent events with these chances happen
    (the Poisson binomial tail)."""
    if count <= 0:
        return 1.0
    # exactly[k]: the chance that k of those seen so far happened, k < count; beyond: done.
    exactly = [1.0] + [0.0] * count
    for p in chances:
        for k in range(count, 0, -1):
            exactly[k] = exactly[k] * (1 - p) + exactly[k - 1] * p if k < count else \
                exactly[k] + exactly[k - 1] * p
        exactly[0] *= 1 - p
    return exactly[count]
