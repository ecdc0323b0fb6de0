"""The scale-up decision: `plan(snapshot, policy) -> Plan`. Pure: no I/O, no clock.

Pending pods are placed, in this order, on free boards of registered nodes, on capacity
already asked for (upcoming), and only then on new instances (see packing.py). Pods the
scheduler cannot tell apart are handled as one class, so the cost grows with the number
of distinct pod shapes, not with the number of pods. Every pod gets a decision; a pod
that cannot be helped gets a reason and adds no capacity.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from burst.core.errors import DemandError
from burst.core.model import Plan, Pod, PodDecision, PodOutcome, Policy, ScaleUp, Snapshot
from burst.core.quota import describe
from burst.core.scaleup.baseline import Attempt, Inputs, pod_by_pod, record
from burst.core.scaleup.bins import QUOTA_CAP, Caps, Packing, PodClass
from burst.core.scaleup.capacity import Capacity, Slot, Template, build
from burst.core.scaleup.expanders import Chain
from burst.core.scaleup.fit import Alternative, alternatives, placement_problem
from burst.core.scaleup.lifetime import spread
from burst.core.scaleup.mixed import unify
from burst.core.scaleup.packing import best_alternative, fits_of, pack, place_most, score


def plan(snapshot: Snapshot, policy: Policy) -> Plan:
    decisions: dict[str, PodDecision] = {}
    pending = sorted((p for p in snapshot.pods if p.pending), key=lambda p: p.name)
    classes, members = _classify(pending, snapshot, decisions)
    base = build(snapshot, policy.region_penalties)
    fits = fits_of(classes, base.templates)
    chain = Chain.of(policy.expanders)
    weights, scarce = fits.weights, fits.scarce
    # Which pods take the registered and upcoming boards decides what is left to buy.
    # Several orders are tried, and the plan placing more pods, then the chain prefers, is kept:
    # pods with no way into AWS first, then the costliest to buy; the same with pods that
    # have fewer node groups to go to counted heavier; simply the biggest first; and the
    # pods with fewer board kinds to choose from first.
    indices = range(len(classes))
    orders = [
        sorted(indices, key=lambda ci: (ci in weights, -weights.get(ci, 0.0))),
        sorted(indices, key=lambda ci: (ci in scarce, -scarce.get(ci, 0.0))),
        sorted(indices, key=lambda ci: -max(a.boards for a in classes[ci].alternatives)),
    ]
    if len({len(c.alternatives) for c in classes}) > 1:
        # Pods that can run on one board kind only go first, before pods that could have
        # gone elsewhere take the last boards of that kind.
        orders.append(sorted(indices, key=lambda ci: len(classes[ci].alternatives)))
    if not any(slot.free for slot in (*base.existing, *base.upcoming)):
        orders = orders[:1]  # with nothing registered or upcoming, the order cannot matter
    inputs = Inputs(classes, members, policy, fits, chain)
    # An attempt depends on its order alone (each on a fresh copy): an order met again
    # (one pod class gives one order) would give the same plan, and min() below keeps the
    # first of equals anyway.
    unique = dict.fromkeys(tuple(order) for order in orders)
    attempts = [_attempt(order, inputs, base.fresh()) for order in unique]
    attempts.append(pod_by_pod(inputs, base.fresh()))
    placed, left, capacity, packing = min(attempts, key=lambda a: score(a[3], chain))
    counts = {ci: len(pods) for ci, pods in enumerate(left) if pods}
    packing = place_most(packing, counts, fits, chain, Caps.of(capacity, policy))
    packing = spread(packing, classes, capacity.templates, Caps.of(capacity, policy), chain)
    arriving = {slot.node_group for slot in base.upcoming}
    packing = unify(packing, classes, Caps.of(capacity, policy),
                    [t for t in capacity.templates if t.group.name in arriving], chain)
    decisions.update(placed)
    scale_ups, added = _assign_new(packing, left, decisions)
    for ci, pods in enumerate(left):
        reason = _reason(classes[ci], capacity, packing) if pods else ""
        for pod in pods:
            decisions[pod.name] = PodDecision(pod.name, PodOutcome.UNSCHEDULABLE, reason=reason)
    return Plan(
        scale_ups=scale_ups,
        pods=tuple(decisions[p.name] for p in pending),
        price_per_hour_added=round(added, 6),
        idle_upcoming=_idle_upcoming(capacity),
    )


def _idle_upcoming(capacity: Capacity) -> dict[str, int]:
    """Per group, the upcoming slots of the chosen plan that no pending pod took a board of."""
    whole = {t.group.name: dict(t.boards) for t in capacity.templates}
    idle: dict[str, int] = {}
    for slot in capacity.upcoming:
        group = slot.node_group or ""
        if slot.free == whole.get(group):
            idle[group] = idle.get(group, 0) + 1
    return idle


def _attempt(order: Sequence[int], inputs: Inputs, capacity: Capacity) -> Attempt:
    """One candidate plan on `capacity` (filled in place: pass a fresh copy)."""
    left = [list(pods) for pods in inputs.members]
    placed: dict[str, PodDecision] = {}
    for slots, outcome in (
        (capacity.existing, PodOutcome.FITS_EXISTING),
        (capacity.upcoming, PodOutcome.FITS_UPCOMING),
    ):
        for ci in order:
            _place_on_slots(inputs.classes[ci], left[ci], slots, outcome, placed)
    counts = {ci: len(pods) for ci, pods in enumerate(left) if pods}
    packing = pack(counts, inputs.fits, inputs.chain, Caps.of(capacity, inputs.policy))
    return placed, left, capacity, packing


def _classify(
    pending: Sequence[Pod], snapshot: Snapshot, decisions: dict[str, PodDecision]
) -> tuple[list[PodClass], list[list[Pod]]]:
    index: dict[tuple[object, ...], int] = {}
    classes: list[PodClass] = []
    members: list[list[Pod]] = []
    demands: dict[tuple[object, ...], tuple[Alternative, ...] | DemandError] = {}
    for pod in pending:
        demand = (tuple(pod.requests.items()), tuple(pod.accelerators.items()))
        if demand not in demands:
            try:
                demands[demand] = alternatives(pod, snapshot.catalog)
            except DemandError as exc:
                demands[demand] = exc
        alts = demands[demand]
        if isinstance(alts, DemandError):
            decisions[pod.name] = PodDecision(pod.name, PodOutcome.UNSCHEDULABLE, reason=str(alts))
            continue
        if not alts:
            reason = "requests no FPGA boards"
            decisions[pod.name] = PodDecision(pod.name, PodOutcome.UNSCHEDULABLE, reason=reason)
            continue
        key = (alts, tuple(sorted(pod.node_selector.items())), pod.tolerations)
        if key not in index:
            index[key] = len(classes)
            classes.append(PodClass(alts, pod))
            members.append([])
        members[index[key]].append(pod)
    return classes, members


def _place_on_slots(
    cls: PodClass,
    pods: list[Pod],
    slots: Sequence[Slot],
    outcome: PodOutcome,
    decisions: dict[str, PodDecision],
) -> None:
    """Best fit: each pod goes where it leaves the fewest boards of its kind idle (ties: the
    slot's name, then the class's order of alternatives).

    The slots are kept in buckets by (alternative, free boards), each a heap by name, so a
    pod looks at one bucket per free-board count, not at every slot: O(slots + pods * log)
    for a class instead of O(slots * pods). Boards only get taken, so a slot moves to a
    lower bucket; the entry it leaves behind is dropped when it comes to the top.
    """
    if not pods:
        return
    buckets = _Buckets(cls.alternatives, slots, _compatible(cls, slots))
    placed = 0
    while placed < len(pods):
        found = buckets.best()
        if found is None:
            break
        si, alt = found
        slot = slots[si]
        slot.free[alt.board] -= alt.boards
        buckets.moved(si, alt.board)
        record(decisions, pods[placed], slot, alt, outcome)
        placed += 1
    del pods[:placed]  # once, not pop(0) per pod: classes can hold thousands


def _compatible(cls: PodClass, slots: Sequence[Slot]) -> list[int]:
    """Indices of the slots whose labels and taints admit the class (checked once per
    node group: its slots share one labels mapping)."""
    known: dict[tuple[int, tuple[object, ...]], bool] = {}
    found = []
    for si, slot in enumerate(slots):
        key = (id(slot.labels), slot.taints)
        if key not in known:
            known[key] = placement_problem(cls.sample, slot.labels, slot.taints) is None
        if known[key]:
            found.append(si)
    return found


class _Buckets:
    """Slots by (alternative index, free boards of its kind) -> heap of (name, slot index)."""

    def __init__(
        self, alts: Sequence[Alternative], slots: Sequence[Slot], indices: Sequence[int]
    ) -> None:
        self.alts, self.slots = alts, slots
        self.heaps: dict[tuple[int, int], list[tuple[str, int]]] = {}
        self.top = 0
        for si in indices:
            slot = slots[si]
            for ai, alt in enumerate(alts):
                if alt.board in slot.free:
                    self.heaps.setdefault((ai, slot.free[alt.board]), []).append((slot.name, si))
                    self.top = max(self.top, slot.free[alt.board])
        for heap in self.heaps.values():
            heapq.heapify(heap)

    def best(self) -> tuple[int, Alternative] | None:
        """The slot and alternative of the best fit, or None if nothing fits."""
        best: tuple[int, str, int, int] | None = None  # (idle after, name, alt, slot)
        for ai, alt in enumerate(self.alts):
            for free in range(alt.boards, self.top + 1):
                entry = self._peek(ai, free)
                if entry is not None:
                    candidate = (free - alt.boards, entry[0], ai, entry[1])
                    best = candidate if best is None or candidate < best else best
                    break
        return None if best is None else (best[3], self.alts[best[2]])

    def _peek(self, ai: int, free: int) -> tuple[str, int] | None:
        heap = self.heaps.get((ai, free))
        board = self.alts[ai].board
        while heap and self.slots[heap[0][1]].free[board] != free:
            heapq.heappop(heap)  # the slot has moved to a lower bucket since
        return heap[0] if heap else None

    def moved(self, si: int, board: str) -> None:
        """Slot `si` gave boards of `board`: file it under its new count."""
        slot = self.slots[si]
        for ai, alt in enumerate(self.alts):
            if alt.board == board:
                heapq.heappush(self.heaps.setdefault((ai, slot.free[board]), []), (slot.name, si))


def _assign_new(
    packing: Packing, members: list[list[Pod]], decisions: dict[str, PodDecision]
) -> tuple[tuple[ScaleUp, ...], float]:
    added: dict[str, int] = {}
    groups = {}
    price = 0.0
    for opened in packing.opened:
        group = opened.template.group
        groups[group.name] = group
        added[group.name] = added.get(group.name, 0) + opened.copies
        price += opened.template.price * opened.copies
        for ci, alt, n in opened.fill:
            for pod in _take(members[ci], n * opened.copies):
                decisions[pod.name] = _scale_up_decision(pod, group.name, alt)
    scale_ups = tuple(
        ScaleUp(name, groups[name].desired, groups[name].desired + n, groups[name].region)
        for name, n in sorted(added.items())
        if n > 0
    )
    return scale_ups, price


def _take(pods: list[Pod], n: int) -> list[Pod]:
    taken = pods[:n]
    del pods[:n]
    return taken


def _scale_up_decision(pod: Pod, group: str, alt: Alternative) -> PodDecision:
    return PodDecision(
        pod.name, PodOutcome.SCALE_UP, node_group=group, board=alt.board, boards=alt.boards
    )


def _reason(cls: PodClass, capacity: Capacity, packing: Packing) -> str:
    able = [t for t in capacity.templates if best_alternative(cls, t) is not None]
    if not able:
        return _nowhere(cls, capacity.templates)
    blocked = [f"{t.group.name}: {t.problem}" for t in able if t.problem]
    free = [t for t in able if t.problem is None]
    parts = []
    caps = sorted(c for c in packing.limited if not c.startswith(QUOTA_CAP))
    quotas = sorted(c.removeprefix(QUOTA_CAP) for c in packing.limited if c.startswith(QUOTA_CAP))
    if free and quotas and capacity.vcpus_left is not None:
        left = capacity.vcpus_left
        parts.append("not enough left of the " + " and ".join(describe(q, left) for q in quotas))
    if free and caps:
        parts.append(f"policy cap {' and '.join(caps)} reached for burst capacity")
    elif free and not quotas:
        names = ", ".join(t.group.name for t in free)
        parts.append(f"this plan fills {names} to max size")
    parts.extend(blocked)
    return "node groups that could host it cannot grow: " + "; ".join(parts)


def _nowhere(cls: PodClass, templates: Sequence[Template]) -> str:
    if not templates:
        return "no node group can host it: there are no node groups"
    needs = " or ".join(f"{a.boards} x {a.board}" for a in cls.alternatives)
    why = "; ".join(f"{t.group.name}: {_mismatch(cls, t)}" for t in templates)
    return f"no node group can host it (needs {needs} on one node): {why}"


def _mismatch(cls: PodClass, template: Template) -> str:
    problem = placement_problem(cls.sample, template.group.labels, template.group.taints)
    if problem:
        return problem
    if not template.boards:
        return template.problem or "no FPGA boards"
    offers = ", ".join(f"{n} x {b}" for b, n in sorted(template.boards.items()))
    return f"offers {offers} per instance"
