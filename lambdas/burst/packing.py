"""New instances for pods that nothing registered or upcoming can host.

Algorithm: greedy weighted set cover, then local improvement.
1. Each pod class gets a weight: the cheapest price it could be served at, counting only
   the boards it uses (price * boards / boards per instance, minimised over templates).
2. Repeatedly, every node group proposes its best single instance: an exact bounded
   knapsack over the remaining pods, maximising weight within its boards. The expander
   chain picks one (by default: highest priority, then least price per weight); it is
   committed as many times as the same fill still applies.
3. Improvement: an instance whose pods fit a cheaper group moves there; an instance whose
   pods fit in another's idle boards, or two that fit one cheaper instance, are merged.
Bound: step 2 is the classic ln(n)-approximate greedy; step 3 removes the waste it leaves
at the tail (the last, part-filled instances), which is where almost all of it is.
Cost: O(groups * (classes + boards^2)) per distinct fill, independent of the pod count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from burst.capacity import Template
from burst.expanders import Option, choose
from burst.fit import Alternative, placement_problem
from burst.model import BoardResource, Pod

_EPSILON = 1e-9


@dataclass(frozen=True)
class PodClass:
    """Pending pods the scheduler cannot tell apart: same demand, selector, tolerations."""

    alternatives: tuple[Alternative, ...]
    sample: Pod


@dataclass
class Budget:
    """What the policy still allows all managed groups to add; None is unlimited."""

    boards: int | None
    price: float | None

    def copies(self, template: Template, wanted: int) -> int:
        if self.boards is not None and template.board_total:
            wanted = min(wanted, self.boards // template.board_total)
        if self.price is not None and template.price > 0:
            wanted = min(wanted, int((self.price + _EPSILON) // template.price))
        return max(0, wanted)

    def spend(self, template: Template, copies: int) -> None:
        if self.boards is not None:
            self.boards -= template.board_total * copies
        if self.price is not None:
            self.price -= template.price * copies


@dataclass
class Opened:
    """`copies` new instances of one template, each holding the same fill."""

    template: Template
    fill: tuple[tuple[int, Alternative, int], ...]
    copies: int


@dataclass
class Packing:
    opened: list[Opened] = field(default_factory=list)
    unplaced: dict[int, int] = field(default_factory=dict)  # class index -> pods left
    limited: set[str] = field(default_factory=set)  # policy caps that stopped a placement


def best_alternative(cls: PodClass, template: Template) -> Alternative | None:
    """The alternative using the smallest share of one instance of `template`, if any."""
    if placement_problem(cls.sample, template.group.labels, template.group.taints):
        return None
    fitting = [a for a in cls.alternatives if 0 < a.boards <= template.boards.get(a.board, 0)]
    return min(fitting, key=lambda a: (a.boards / template.boards[a.board], a), default=None)


def class_weights(classes: Sequence[PodClass], templates: Sequence[Template]) -> dict[int, float]:
    weights: dict[int, float] = {}
    for index, cls in enumerate(classes):
        costs = []
        for template in templates:
            alt = best_alternative(cls, template)
            if alt is not None:
                costs.append(template.price * alt.boards / template.boards[alt.board])
        if costs:
            weights[index] = max(min(costs), _EPSILON)
    return weights


def pack(
    classes: Sequence[PodClass],
    counts: Mapping[int, int],
    templates: Sequence[Template],
    chain: Sequence[str],
    budget: Budget,
) -> Packing:
    usable = [t for t in templates if t.problem is None]
    weights = class_weights(classes, usable)
    fits = {
        (ci, ti): alt
        for ci in weights
        for ti, t in enumerate(usable)
        if (alt := best_alternative(classes[ci], t)) is not None
    }
    # Cheapest-first can spend scarce room (headroom, the only group a big pod fits) on
    # pods that had other places to go. A second pass serves the pods with the fewest
    # places first; the plan that places more pods, then costs less, wins.
    scarce = scarcity_weights(classes, weights, usable)
    passes = [weights] if scarce == weights else [weights, scarce]
    plans = [_pack_once(classes, counts, usable, fits, w, chain, replace(budget)) for w in passes]
    return min(plans, key=score)


def _pack_once(
    classes: Sequence[PodClass],
    counts: Mapping[int, int],
    usable: Sequence[Template],
    fits: Mapping[tuple[int, int], Alternative],
    weights: Mapping[int, float],
    chain: Sequence[str],
    budget: Budget,
) -> Packing:
    left = {ci: n for ci, n in counts.items() if n > 0}
    headroom = {ti: t.headroom for ti, t in enumerate(usable)}
    result = Packing()
    while True:
        options = []
        for ti, template in enumerate(usable):
            if headroom[ti] == 0:
                continue
            if budget.copies(template, 1) == 0:
                result.limited.update(_cap_names(budget, template))
                continue
            fill = _fill(template, ti, left, fits, weights)
            if fill:
                weight = sum(weights[ci] * n for ci, _, n in fill)
                options.append((ti, Option(template, fill, weight)))
        if not options:
            break
        chosen = choose([o for _, o in options], chain)
        ti = next(ti for ti, o in options if o is chosen)
        repeat = min(left[ci] // n for ci, _, n in chosen.fill)
        copies = budget.copies(chosen.template, min(repeat, headroom[ti]))
        headroom[ti] -= copies
        budget.spend(chosen.template, copies)
        for ci, _, n in chosen.fill:
            left[ci] -= n * copies
        result.opened.append(Opened(chosen.template, chosen.fill, copies))
    _improve(result.opened, classes, usable, headroom, budget, chain)
    result.unplaced = {ci: n for ci, n in left.items() if n > 0}
    return result


def open_one(
    cls_index: int,
    cls: PodClass,
    templates: Sequence[Template],
    headroom: dict[int, int],
    chain: Sequence[str],
    budget: Budget,
) -> tuple[int, Alternative] | None:
    """The template the chain picks for one new instance holding this pod, or None."""
    options = [
        (ti, Option(t, ((cls_index, alt, 1),), 1.0))
        for ti, t in enumerate(templates)
        if t.problem is None
        and headroom[ti] > 0
        and budget.copies(t, 1)
        and (alt := best_alternative(cls, t)) is not None
    ]
    if not options:
        return None
    chosen = choose([o for _, o in options], chain)
    ti = next(ti for ti, o in options if o is chosen)
    headroom[ti] -= 1
    budget.spend(templates[ti], 1)
    return ti, chosen.fill[0][1]


def scarcity_weights(
    classes: Sequence[PodClass], weights: Mapping[int, float], templates: Sequence[Template]
) -> dict[int, float]:
    """Weights that put pods with fewer node groups to go to ahead of all others."""
    places = {
        ci: sum(best_alternative(classes[ci], t) is not None for t in templates) for ci in weights
    }
    most = max(places.values(), default=0)
    base = float(len(templates) + 1)
    return {ci: w * base ** (most - places[ci]) for ci, w in weights.items()}


def score(packing: Packing) -> tuple[int, float, int]:
    """Lower is better: pods left out, then price per hour, then instances."""
    price = sum(o.template.price * o.copies for o in packing.opened)
    return sum(packing.unplaced.values()), round(price, 6), sum(o.copies for o in packing.opened)


def _cap_names(budget: Budget, template: Template) -> set[str]:
    names = set()
    if budget.boards is not None and budget.boards < template.board_total:
        names.add("max_boards")
    if budget.price is not None and budget.price + _EPSILON < template.price:
        names.add("max_price_per_hour")
    return names


def _fill(
    template: Template,
    ti: int,
    left: Mapping[int, int],
    fits: Mapping[tuple[int, int], Alternative],
    weights: Mapping[int, float],
) -> tuple[tuple[int, Alternative, int], ...]:
    """The heaviest set of remaining pods one instance can hold: a knapsack per board."""
    by_board: dict[BoardResource, list[tuple[int, Alternative]]] = {}
    for ci, n in left.items():
        alt = fits.get((ci, ti))
        if n > 0 and alt is not None:
            by_board.setdefault(alt.board, []).append((ci, alt))
    fill: list[tuple[int, Alternative, int]] = []
    for board, items in sorted(by_board.items()):
        fill.extend(_knapsack(template.boards[board], items, left, weights))
    return tuple(fill)


def _knapsack(
    capacity: int,
    items: list[tuple[int, Alternative]],
    left: Mapping[int, int],
    weights: Mapping[int, float],
) -> list[tuple[int, Alternative, int]]:
    # Only the heaviest capacity // size pods of each size can be in an optimal fill, so
    # the 0/1 expansion stays small however many pods are pending.
    units: list[tuple[int, Alternative]] = []
    by_size: dict[int, list[tuple[int, Alternative]]] = {}
    for ci, alt in items:
        by_size.setdefault(alt.boards, []).append((ci, alt))
    for size, group in by_size.items():
        group.sort(key=lambda item: (-weights[item[0]], item[0]))
        room = capacity // size
        for ci, alt in group:
            take = min(left[ci], room)
            units.extend([(ci, alt)] * take)
            room -= take
            if room == 0:
                break
    # best[c]: (weight, -pods, chosen unit indices) using at most c boards. On equal
    # weight, fewer and so larger pods win: small ones fill the gaps of later instances.
    best: list[tuple[float, int, tuple[int, ...]]] = [(0.0, 0, ())] * (capacity + 1)
    for index, (ci, alt) in enumerate(units):
        for c in range(capacity, alt.boards - 1, -1):
            weight, pods, chosen = best[c - alt.boards]
            candidate = (weight + weights[ci], pods - 1, (*chosen, index))
            if _better(candidate[:2], best[c][:2]):
                best[c] = candidate
    counts: dict[tuple[int, Alternative], int] = {}
    for index in best[capacity][2]:
        counts[units[index]] = counts.get(units[index], 0) + 1
    return [(ci, alt, n) for (ci, alt), n in sorted(counts.items(), key=lambda kv: kv[0][0])]


def _better(a: tuple[float, int], b: tuple[float, int]) -> bool:
    """Heavier wins; weights within rounding noise of each other tie and go to fewer pods."""
    if abs(a[0] - b[0]) > _EPSILON:
        return a[0] > b[0]
    return a[1] > b[1]


def _improve(
    opened: list[Opened],
    classes: Sequence[PodClass],
    templates: Sequence[Template],
    headroom: dict[int, int],
    budget: Budget,
    chain: Sequence[str],
) -> None:
    """Local moves that lower the price, each applied one instance at a time until none."""
    index = {id(t): ti for ti, t in enumerate(templates)}
    for _ in range(4 * len(opened) + 8):
        if not _improve_once(opened, classes, templates, index, headroom, budget, chain):
            break
    opened[:] = [o for o in opened if o.copies > 0]


def _improve_once(
    opened: list[Opened],
    classes: Sequence[PodClass],
    templates: Sequence[Template],
    index: Mapping[int, int],
    headroom: dict[int, int],
    budget: Budget,
    chain: Sequence[str],
) -> bool:
    live = [o for o in opened if o.copies > 0]
    for a in live:
        for b in [None, *live]:
            if b is a and a.copies < 2:
                continue
            pods = _pods_of(a) + (_pods_of(b) if b is not None else [])
            current = a.template.price + (b.template.price if b is not None else 0.0)
            for ti, template in enumerate(templates):
                if template.price >= current - _EPSILON and not (
                    b is not None and template.price <= current + _EPSILON
                ):
                    continue
                if not _same_rank(template, a, b, chain):
                    continue
                freed = {index[id(a.template)]: 1}
                if b is not None:
                    freed[index[id(b.template)]] = freed.get(index[id(b.template)], 0) + 1
                if headroom[ti] + freed.get(ti, 0) < 1:
                    continue
                fill = _repack(pods, classes, template)
                if fill is None or not _budget_allows(budget, template, a, b):
                    continue
                _apply(opened, a, b, template, ti, fill, index, headroom, budget)
                return True
    return False


def _same_rank(template: Template, a: Opened, b: Opened | None, chain: Sequence[str]) -> bool:
    # With the priority expander, a move may never hand pods to a lower-priority group.
    if "priority" not in chain:
        return True
    floor = max(a.template.group.priority, b.template.group.priority if b else -(10**9))
    return template.group.priority >= floor


def _pods_of(opened: Opened) -> list[int]:
    return [ci for ci, _, n in opened.fill for _ in range(n)]


def _repack(
    pods: list[int], classes: Sequence[PodClass], template: Template
) -> tuple[tuple[int, Alternative, int], ...] | None:
    free = dict(template.boards)
    counts: dict[tuple[int, Alternative], int] = {}
    for ci in pods:
        alt = best_alternative(classes[ci], template)
        if alt is None or free.get(alt.board, 0) < alt.boards:
            return None
        free[alt.board] -= alt.boards
        counts[(ci, alt)] = counts.get((ci, alt), 0) + 1
    return tuple((ci, alt, n) for (ci, alt), n in sorted(counts.items(), key=lambda kv: kv[0][0]))


def _budget_allows(budget: Budget, template: Template, a: Opened, b: Opened | None) -> bool:
    released = [a.template] + ([b.template] if b is not None else [])
    if budget.boards is not None:
        boards = budget.boards + sum(t.board_total for t in released)
        if boards < template.board_total:
            return False
    if budget.price is not None:
        price = budget.price + sum(t.price for t in released)
        if price + _EPSILON < template.price:
            return False
    return True


def _apply(
    opened: list[Opened],
    a: Opened,
    b: Opened | None,
    template: Template,
    ti: int,
    fill: tuple[tuple[int, Alternative, int], ...],
    index: Mapping[int, int],
    headroom: dict[int, int],
    budget: Budget,
) -> None:
    for old in [a] + ([b] if b is not None else []):
        old.copies -= 1
        headroom[index[id(old.template)]] += 1
        budget.spend(old.template, -1)
    headroom[ti] -= 1
    budget.spend(template, 1)
    opened.append(Opened(template, fill, 1))
