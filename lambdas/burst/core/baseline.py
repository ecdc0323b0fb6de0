"""The plain pod-by-pod plan: the baseline every plan must be at least as good as.

Biggest pod first, each to the first registered node or upcoming instance it fits, else
to the instance this plan adds that it fits best, else to one new instance chosen by the
expander chain. The planner keeps it as one candidate among its set-cover passes, so no
plan is ever worse than it, whatever the shape of the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from burst.core.bins import Budget, Opened, Packing, PodClass
from burst.core.capacity import Capacity, Slot, Template
from burst.core.expanders import Option, choose
from burst.core.fit import Alternative, placement_problem
from burst.core.model import Outcome, Pod, PodDecision, Policy
from burst.core.packing import best_alternative

# What one candidate plan decided: pods placed on registered or upcoming capacity, the
# pods left per class (to new instances, in order, then nowhere), capacity, new instances.
Attempt = tuple[dict[str, PodDecision], list[list[Pod]], Capacity, Packing]


class _Compat:
    """Which alternatives of a class a place accepts (selector, taints), computed once."""

    def __init__(self, classes: Sequence[PodClass]) -> None:
        self.classes = classes
        self.known: dict[tuple[int, int, tuple[object, ...]], tuple[Alternative, ...]] = {}

    def alternatives(self, ci: int, slot: Slot) -> tuple[Alternative, ...]:
        # Slots of one node group share its labels mapping, so id() keys them together.
        key = (ci, id(slot.labels), slot.taints)
        if key not in self.known:
            cls = self.classes[ci]
            ok = placement_problem(cls.sample, slot.labels, slot.taints) is None
            self.known[key] = cls.alternatives if ok else ()
        return self.known[key]


def pod_by_pod(
    classes: Sequence[PodClass],
    members: Sequence[Sequence[Pod]],
    capacity: Capacity,
    policy: Policy,
) -> Attempt:
    """The baseline on `capacity` (filled in place: pass a fresh copy)."""
    compat = _Compat(classes)
    registered = [*capacity.existing, *capacity.upcoming]
    added = _Added(capacity.templates)
    hosts = [
        [
            (ti, t, alt)
            for ti, t in enumerate(capacity.templates)
            if t.problem is None and (alt := best_alternative(cls, t)) is not None
        ]
        for cls in classes
    ]
    opener = _Opener(capacity.templates, hosts, policy.expanders, Budget.of(capacity, policy))
    placed: dict[str, PodDecision] = {}
    left: list[list[Pod]] = [[] for _ in classes]
    # Biggest first; pods of one class together, so each but the first usually goes where
    # the one before it went (see _Added._again).
    biggest_first = sorted(
        ((ci, pod) for ci, pods in enumerate(members) for pod in pods),
        key=lambda cp: (-max(a.boards for a in classes[cp[0]].alternatives), cp[0], cp[1].name),
    )
    for ci, pod in biggest_first:
        found = _first_fit(ci, registered, compat)
        if found is not None:
            slot, alt = registered[found[0]], found[1]
            outcome = Outcome.FITS_EXISTING if slot.registered else Outcome.FITS_UPCOMING
            record(placed, pod, slot, alt, outcome)
        elif not added.place(ci, hosts[ci]):
            ti = opener.open(ci)
            if ti is None:
                left[ci].append(pod)
            else:
                added.open(ti)
                added.place(ci, hosts[ci])
    packing = _packing(added.instances, capacity.templates, left)
    # The pods of `left` go to new instances in order; the ones nothing could host stay
    # at the end, and are the ones reported.
    nowhere = {p.name for pods in left for p in pods}
    rest = [[p for p in pods if p.name not in placed and p.name not in nowhere] for pods in members]
    return placed, [a + b for a, b in zip(rest, left, strict=True)], capacity, packing


class _Opener:
    """Picks the template for one new instance holding a pod of a class.

    Options only ever drop out (headroom and budget only shrink), so a class's last choice
    stays the chain's choice while it is still allowed: it is kept, not recomputed.
    """

    def __init__(
        self,
        templates: Sequence[Template],
        hosts: Sequence[Sequence[tuple[int, Template, Alternative]]],
        chain: Sequence[str],
        budget: Budget,
    ) -> None:
        self.templates, self.hosts, self.chain, self.budget = templates, hosts, chain, budget
        self.headroom = {ti: t.headroom for ti, t in enumerate(templates)}
        self.last: dict[int, int] = {}

    def open(self, ci: int) -> int | None:
        ti = self.last.get(ci)
        if ti is None or not self._allowed(ti):
            ti = self._choose(ci)
            if ti is None:
                return None
            self.last[ci] = ti
        self.headroom[ti] -= 1
        self.budget.spend(self.templates[ti], 1)
        return ti

    def _allowed(self, ti: int) -> bool:
        return self.headroom[ti] > 0 and self.budget.copies(self.templates[ti], 1) > 0

    def _choose(self, ci: int) -> int | None:
        options = [
            (ti, Option(t, ((ci, alt, 1),), 1.0))
            for ti, t, alt in self.hosts[ci]
            if self.headroom[ti] > 0 and self.budget.copies(t, 1)
        ]
        if not options:
            return None
        chosen = choose([o for _, o in options], self.chain)
        return next(ti for ti, o in options if o is chosen)


class _Added:
    """Instances this plan adds, found by free boards so a fit is found in O(boards)."""

    def __init__(self, templates: Sequence[Template]) -> None:
        self.templates = templates
        self.instances: list[tuple[int, Slot, list[tuple[int, Alternative]]]] = []
        # (template, board, free boards of it) -> instances, oldest first
        self.free: dict[tuple[int, str, int], list[int]] = {}
        self.last: tuple[int, int, int, Alternative] | None = None  # class, template, where

    def open(self, ti: int) -> None:
        self.instances.append((ti, _slot_of(self.templates[ti]), []))
        for board, count in self.templates[ti].boards.items():
            self.free.setdefault((ti, board, count), []).append(len(self.instances) - 1)

    def place(self, ci: int, hosts: Sequence[tuple[int, Template, Alternative]]) -> bool:
        """Best fit: the instance left with the fewest idle boards of the pod's kind."""
        if self.last is not None and self.last[0] == ci and self._again(*self.last):
            return True
        best: tuple[int, int, int, Alternative] | None = None
        for ti, template, alt in hosts:
            for free in range(alt.boards, template.boards.get(alt.board, 0) + 1):
                if self.free.get((ti, alt.board, free)):
                    if best is None or free < best[0]:
                        best = (free, ti, self.free[(ti, alt.board, free)][0], alt)
                    break
        if best is None:
            return False
        free, ti, index, alt = best
        self.free[(ti, alt.board, free)].pop(0)
        self._take(ci, ti, index, alt, free)
        return True

    def _again(self, ci: int, ti: int, index: int, alt: Alternative) -> bool:
        """The next pod of the class that was just placed: if the instance it went to still
        has room, that instance is the best fit again (its idle boards only went down,
        below every other candidate's), so no search is needed."""
        free = self.instances[index][1].free[alt.board]
        if free < alt.boards:
            return False
        self.free[(ti, alt.board, free)].remove(index)
        self._take(ci, ti, index, alt, free)
        return True

    def _take(self, ci: int, ti: int, index: int, alt: Alternative, free: int) -> None:
        self.free.setdefault((ti, alt.board, free - alt.boards), []).append(index)
        self.instances[index][1].free[alt.board] -= alt.boards
        self.instances[index][2].append((ci, alt))
        self.last = (ci, ti, index, alt)


def _packing(
    opened: Sequence[tuple[int, Slot, list[tuple[int, Alternative]]]],
    templates: Sequence[Template],
    left: Sequence[Sequence[Pod]],
) -> Packing:
    packing = Packing()
    for ti, _, pods in opened:
        counts: Mapping[tuple[int, Alternative], int] = {pa: pods.count(pa) for pa in set(pods)}
        fill = tuple((c, a, n) for (c, a), n in sorted(counts.items()))
        packing.opened.append(Opened(templates[ti], fill, 1))
    packing.unplaced = {ci: len(pods) for ci, pods in enumerate(left) if pods}
    return packing


def _first_fit(ci: int, slots: Sequence[Slot], compat: _Compat) -> tuple[int, Alternative] | None:
    """Takes the boards on the first slot that fits; returns its index and the alternative."""
    for index, slot in enumerate(slots):
        for alt in compat.alternatives(ci, slot):
            if slot.free.get(alt.board, 0) >= alt.boards:
                slot.free[alt.board] -= alt.boards
                return index, alt
    return None


def _slot_of(template: Template) -> Slot:
    group = template.group
    return Slot(group.name, dict(template.boards), group.labels, group.taints, group.name, False)


def record(
    placed: dict[str, PodDecision], pod: Pod, slot: Slot, alt: Alternative, outcome: Outcome
) -> None:
    placed[pod.name] = PodDecision(
        pod.name,
        outcome,
        node=slot.name if slot.registered else None,
        node_group=None if slot.registered else slot.node_group,
        board=alt.board,
        boards=alt.boards,
    )
