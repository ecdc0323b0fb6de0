"""The scale-up decision: `plan(snapshot, policy) -> Plan`. Pure: no I/O, no clock.

Pending pods are placed, in this order, on free boards of registered nodes, on capacity
already asked for (upcoming), and only then on new instances (see packing.py). Pods the
scheduler cannot tell apart are handled as one class, so the cost grows with the number
of distinct pod shapes, not with the number of pods. Every pod gets a decision; a pod
that cannot be helped gets a reason and adds no capacity.
"""

from __future__ import annotations

from collections.abc import Sequence

from burst.core.baseline import Attempt, pod_by_pod, record
from burst.core.bins import Budget, Packing, PodClass
from burst.core.capacity import Capacity, Slot, Template, build
from burst.core.errors import DemandError
from burst.core.fit import Alternative, alternatives, placement_problem
from burst.core.lifetime import spread
from burst.core.model import Outcome, Plan, Pod, PodDecision, Policy, ScaleUp, Snapshot
from burst.core.packing import Fits, best_alternative, fits_of, pack, score


def plan(snapshot: Snapshot, policy: Policy) -> Plan:
    decisions: dict[str, PodDecision] = {}
    pending = sorted((p for p in snapshot.pods if p.pending), key=lambda p: p.name)
    classes, members = _classify(pending, snapshot, decisions)
    base = build(snapshot)
    fits = fits_of(classes, base.templates)
    weights, scarce = fits.weights, fits.scarce
    # Which pods take the registered and upcoming boards decides what is left to buy.
    # Several orders are tried, and the plan placing more pods, then costing less, is kept:
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
    attempts = [_attempt(order, classes, members, base.fresh(), policy, fits) for order in orders]
    attempts.append(pod_by_pod(classes, members, base.fresh(), policy, fits))
    placed, left, capacity, packing = min(attempts, key=lambda a: score(a[3]))
    packing = spread(packing, classes, capacity.templates, Budget.of(capacity, policy))
    decisions.update(placed)
    scale_ups, added = _assign_new(packing, left, decisions)
    for ci, pods in enumerate(left):
        reason = _reason(classes[ci], capacity, packing) if pods else ""
        for pod in pods:
            decisions[pod.name] = PodDecision(pod.name, Outcome.UNSCHEDULABLE, reason=reason)
    return Plan(
        scale_ups=scale_ups,
        pods=tuple(decisions[p.name] for p in pending),
        price_per_hour_added=round(added, 6),
    )


def _attempt(
    order: Sequence[int],
    classes: Sequence[PodClass],
    members: Sequence[Sequence[Pod]],
    capacity: Capacity,
    policy: Policy,
    fits: Fits,
) -> Attempt:
    """One candidate plan on `capacity` (filled in place: pass a fresh copy)."""
    left = [list(pods) for pods in members]
    placed: dict[str, PodDecision] = {}
    for slots, outcome in (
        (capacity.existing, Outcome.FITS_EXISTING),
        (capacity.upcoming, Outcome.FITS_UPCOMING),
    ):
        for ci in order:
            _place_on_slots(classes[ci], left[ci], slots, outcome, placed)
    counts = {ci: len(pods) for ci, pods in enumerate(left) if pods}
    packing = pack(counts, fits, policy.expanders, Budget.of(capacity, policy))
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
            decisions[pod.name] = PodDecision(pod.name, Outcome.UNSCHEDULABLE, reason=str(alts))
            continue
        if not alts:
            reason = "requests no FPGA boards"
            decisions[pod.name] = PodDecision(pod.name, Outcome.UNSCHEDULABLE, reason=reason)
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
    outcome: Outcome,
    decisions: dict[str, PodDecision],
) -> None:
    """Best fit: each pod goes where it leaves the fewest boards of its kind idle."""
    candidates = [
        (slot, alt)
        for slot in slots
        if placement_problem(cls.sample, slot.labels, slot.taints) is None
        for alt in cls.alternatives
        if alt.board in slot.free
    ]
    placed = 0
    while placed < len(pods) and candidates:
        fitting = [(s, a) for s, a in candidates if s.free[a.board] >= a.boards]
        if not fitting:
            break
        slot, alt = min(
            fitting, key=lambda sa: (sa[0].free[sa[1].board] - sa[1].boards, sa[0].name)
        )
        slot.free[alt.board] -= alt.boards
        record(decisions, pods[placed], slot, alt, outcome)
        placed += 1
    del pods[:placed]  # once, not pop(0) per pod: classes can hold thousands


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
        ScaleUp(name, groups[name].desired, groups[name].desired + n)
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
        pod.name, Outcome.SCALE_UP, node_group=group, board=alt.board, boards=alt.boards
    )


def _reason(cls: PodClass, capacity: Capacity, packing: Packing) -> str:
    able = [t for t in capacity.templates if best_alternative(cls, t) is not None]
    if not able:
        return _nowhere(cls, capacity.templates)
    blocked = [f"{t.group.name}: {t.problem}" for t in able if t.problem]
    free = [t for t in able if t.problem is None]
    parts = []
    if free and packing.limited:
        caps = " and ".join(sorted(packing.limited))
        parts.append(f"policy cap {caps} reached for burst capacity")
    elif free:
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
