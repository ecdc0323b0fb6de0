"""The plain pod-by-pod plan: the baseline every plan must be at least as good as.

Biggest pod first, each to the first registered node or upcoming instance it fits, else
to the instance this plan adds that it fits best, else to one new instance chosen by the
expander chain. The planner keeps it as one candidate among its set-cover passes, so no
plan is ever worse than it, whatever the shape of the cluster.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from burst.core.model import Pod, PodDecision, PodOutcome, Policy
from burst.core.scaleup.bins import Caps, Opened, Packing, PodClass
from burst.core.scaleup.capacity import Capacity, Slot, Template
from burst.core.scaleup.expanders import Chain, Option
from burst.core.scaleup.fit import Alternative, placement_problem
from burst.core.scaleup.packing import Fits

# What one candidate plan decided: pods placed on registered or upcoming capacity, the
# pods left per class (to new instances, in order, then nowhere), capacity, new instances.
Attempt = tuple[dict[str, PodDecision], list[list[Pod]], Capacity, Packing]


@dataclass(frozen=True)
class Inputs:
    """What every candidate plan of one planning works from: the pending pods by class
    (`members`: each class's pods in name order), the policy, the fits and the chain."""

    classes: Sequence[PodClass]
    members: Sequence[Sequence[Pod]]
    policy: Policy
    fits: Fits
    chain: Chain


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


def pod_by_pod(inputs: Inputs, capacity: Capacity) -> Attempt:
    """The baseline on `capacity` (filled in place: pass a fresh copy).

    Pods are
    taken biggest first, a class at a time, each pod where the one before it went if it
    still fits there: so a class's pods are placed in runs, one run per node, and the
    cost grows with the nodes and instances used, not with the pods.
    """
    classes, members, fits = inputs.classes, inputs.members, inputs.fits
    compat = _Compat(classes)
    registered = [*capacity.existing, *capacity.upcoming]
    templates = fits.templates
    added = _Added(templates)
    hosts = [
        [(ti, t, fits.alternative[(ci, ti)]) for ti, t in enumerate(templates)
         if (ci, ti) in fits.alternative]
        for ci in range(len(classes))
    ]
    opener = _Opener(templates, hosts, inputs.chain, Caps.of(capacity, inputs.policy))
    placed: dict[str, PodDecision] = {}
    rest: list[list[Pod]] = [[] for _ in classes]  # pods not on registered capacity
    left: list[list[Pod]] = [[] for _ in classes]  # of those, the ones nothing could host
    biggest_first = sorted(
        range(len(classes)), key=lambda ci: (-max(a.boards for a in classes[ci].alternatives), ci)
    )
    for ci in biggest_first:
        pods = members[ci]
        on_registered = _fill_registered(ci, pods, registered, compat, placed)
        wanted = len(pods) - on_registered
        on_new = _fill_new(ci, wanted, hosts[ci], added, opener)
        # The pods of `rest` go to new instances in order; the ones nothing could host
        # stay at the end, and are the ones reported.
        rest[ci] = list(pods[on_registered:])
        left[ci] = rest[ci][on_new:]
    packing = _packing(added.instances, templates, left)
    return placed, rest, capacity, packing


def _fill_registered(
    ci: int,
    pods: Sequence[Pod],
    registered: Sequence[Slot],
    compat: _Compat,
    placed: dict[str, PodDecision],
) -> int:
    """First fit on registered nodes and upcoming instances; returns the pods placed.

    Boards only get taken, so a slot that had no room for a pod of the class has none for
    the next either: the search goes on from where the last pod went, and once a pod
    finds no slot, no later pod of its class does.
    """
    start = 0
    for count, pod in enumerate(pods):
        found = _first_fit(ci, registered, compat, start)
        if found is None:
            return count
        start, alt = found
        slot = registered[start]
        outcome = PodOutcome.FITS_EXISTING if slot.registered else PodOutcome.FITS_UPCOMING
        record(placed, pod, slot, alt, outcome)
    return len(pods)


def _fill_new(
    ci: int,
    wanted: int,
    hosts: Sequence[tuple[int, Template, Alternative]],
    added: _Added,
    opener: _Opener,
) -> int:
    """Places `wanted` pods of a class on instances this plan adds; returns how many."""
    alt_of = {ti: alt for ti, _, alt in hosts}
    done = 0
    while done < wanted:
        got = added.place(ci, hosts, wanted - done)
        if not got:
            ti = opener.open(ci)
            if ti is None:
                break
            # Nothing added before had room for the pod, so the new instance is its fit.
            got = added.open(ti, ci, alt_of[ti], wanted - done)
        done += got
    return done


class _Opener:
    """Picks the template for one new instance holding a pod of a class.

    Options only ever drop out (headroom and budget only shrink), so a class's last choice
    stays the chain's choice while it is still allowed: it is kept, not recomputed.
    """

    def __init__(
        self,
        templates: Sequence[Template],
        hosts: Sequence[Sequence[tuple[int, Template, Alternative]]],
        chain: Chain,
        budget: Caps,
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
        chosen = self.chain.choose([o for _, o in options])
        return next(ti for ti, o in options if o is chosen)


class _Added:
    """Instances this plan adds, found by free boards so a fit is found in O(boards)."""

    def __init__(self, templates: Sequence[Template]) -> None:
        self.templates = templates
        # (template, free boards per kind, pods per (class, alternative))
        self.instances: list[tuple[int, dict[str, int], dict[tuple[int, Alternative], int]]] = []
        # (template, board, free boards of it) -> instances, in the order they got there
        self.free: dict[tuple[int, str, int], deque[int]] = {}
        # class -> n: no instance before the n-th has room for a pod of the class. Boards
        # only get taken, so this stays true, and a search that must fail is skipped.
        self.full: dict[int, int] = {}

    def open(self, ti: int, ci: int, alt: Alternative, wanted: int) -> int:
        """A new instance of template ti, filled with up to `wanted` pods of class ci."""
        index = len(self.instances)
        self.instances.append((ti, dict(self.templates[ti].boards), {}))
        for board, count in self.templates[ti].boards.items():
            self.free.setdefault((ti, board, count), deque()).append(index)
        self.free[(ti, alt.board, self.templates[ti].boards[alt.board])].pop()
        got = self._take(ci, ti, index, alt, wanted)
        if self.full.get(ci, 0) == index and self.instances[index][1][alt.board] < alt.boards:
            self.full[ci] = index + 1
        return got

    def place(
        self, ci: int, hosts: Sequence[tuple[int, Template, Alternative]], wanted: int
    ) -> int:
        """Best fit: the instance left with the fewest idle boards of the pod's kind takes
        the pod, and the next ones of its class while they fit; returns how many."""
        if self.full.get(ci, 0) == len(self.instances):
            return 0
        best: tuple[int, int, Alternative] | None = None
        for ti, template, alt in hosts:
            for free in range(alt.boards, template.boards.get(alt.board, 0) + 1):
                if self.free.get((ti, alt.board, free)):
                    if best is None or free < best[0]:
                        best = (free, ti, alt)
                    break
        if best is None:
            self.full[ci] = len(self.instances)
            return 0
        free, ti, alt = best
        index = self.free[(ti, alt.board, free)].popleft()
        return self._take(ci, ti, index, alt, wanted)

    def _take(self, ci: int, ti: int, index: int, alt: Alternative, wanted: int) -> int:
        """Puts pods of class ci on instance `index` (already out of its free-boards list)
        while they fit, as the pod-by-pod rule does: each where the one before it went."""
        _, free, pods = self.instances[index]
        got = min(wanted, free[alt.board] // alt.boards)
        free[alt.board] -= alt.boards * got
        pods[(ci, alt)] = pods.get((ci, alt), 0) + got
        self.free.setdefault((ti, alt.board, free[alt.board]), deque()).append(index)
        return got


def _packing(
    opened: Sequence[tuple[int, dict[str, int], dict[tuple[int, Alternative], int]]],
    templates: Sequence[Template],
    left: Sequence[Sequence[Pod]],
) -> Packing:
    packing = Packing()
    for ti, _, pods in opened:
        fill = tuple((c, a, n) for (c, a), n in sorted(pods.items()))
        packing.opened.append(Opened(templates[ti], fill, 1))
    packing.unplaced = {ci: len(pods) for ci, pods in enumerate(left) if pods}
    return packing


def _first_fit(
    ci: int, slots: Sequence[Slot], compat: _Compat, start: int
) -> tuple[int, Alternative] | None:
    """Takes the boards on the first slot from `start` that fits; returns its index and the
    alternative."""
    for index in range(start, len(slots)):
        slot = slots[index]
        for alt in compat.alternatives(ci, slot):
            if slot.free.get(alt.board, 0) >= alt.boards:
                slot.free[alt.board] -= alt.boards
                return index, alt
    return None


def record(
    placed: dict[str, PodDecision], pod: Pod, slot: Slot, alt: Alternative, outcome: PodOutcome
) -> None:
    placed[pod.name] = PodDecision(
        pod.name,
        outcome,
        node=slot.name if slot.registered else None,
        node_group=None if slot.registered else slot.node_group,
        board=alt.board,
        boards=alt.boards,
    )
