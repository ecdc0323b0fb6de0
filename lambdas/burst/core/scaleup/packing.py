"""New instances for pods that nothing registered or upcoming can host.

Algorithm: greedy weighted set cover, then local improvement.
1. Each pod class gets a weight: the cheapest price it could be served at, counting only
   the boards it uses (price * boards / boards per instance, minimised over templates).
2. Repeatedly, every node group proposes its best single instance: an exact bounded
   knapsack over the remaining pods, maximising weight within its boards. The expander
   chain picks one (by default: highest priority, then least price per weight); it is
   committed as many times as the same fill still applies.
3. Improvement (improve.py): instances move to other groups, merge, or dissolve into
   the idle boards of others, where the chain judges the plan better.
4. Only if pods that could be hosted are still left out (max sizes or caps bind): steps
   2-3 again with a weight of one per pod, and the plan leaving fewer out wins
   (place_most).
Bound: step 2 is the classic ln(n)-approximate greedy; step 3 removes the waste it leaves
at the tail (the last, part-filled instances), which is where almost all of it is.
Cost: O(groups * (classes + boards^2)) per distinct fill, independent of the pod count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from burst.core.model import BoardResource
from burst.core.scaleup.bins import EPSILON, QUOTA_CAP, Caps, Opened, Packing, PodClass
from burst.core.scaleup.capacity import Template
from burst.core.scaleup.expanders import Chain, Option
from burst.core.scaleup.fit import Alternative, placement_problem
from burst.core.scaleup.improve import improve


def best_alternative(cls: PodClass, template: Template) -> Alternative | None:
    """The alternative using the smallest share of one instance of `template`, if any."""
    if placement_problem(cls.sample, template.group.labels, template.group.taints):
        return None
    fitting = [a for a in cls.alternatives if 0 < a.boards <= template.boards.get(a.board, 0)]
    return min(fitting, key=lambda a: (a.boards / template.boards[a.board], a), default=None)


@dataclass(frozen=True)
class Fits:
    """Where each pod class may go among the node groups that can grow, worked out once
    per plan and shared by all its candidate plans."""

    templates: Sequence[Template]  # the templates without a problem; `ti` indexes these
    alternative: Mapping[tuple[int, int], Alternative]  # (class, ti) -> best_alternative
    weights: Mapping[int, float]  # class -> cheapest price it could be served at
    scarce: Mapping[int, float]  # class -> weight, fewer places to go counted heavier


def fits_of(classes: Sequence[PodClass], templates: Sequence[Template]) -> Fits:
    usable = [t for t in templates if t.problem is None]
    alternative = {
        (ci, ti): alt
        for ci, cls in enumerate(classes)
        for ti, t in enumerate(usable)
        if (alt := best_alternative(cls, t)) is not None
    }
    weights = _class_weights(usable, alternative)
    return Fits(usable, alternative, weights, _scarcity_weights(weights, alternative, len(usable)))


def _class_weights(
    templates: Sequence[Template], alternative: Mapping[tuple[int, int], Alternative]
) -> dict[int, float]:
    """Each class's cheapest price: price * boards it uses / boards per instance."""
    costs: dict[int, list[float]] = {}
    for (ci, ti), alt in alternative.items():
        template = templates[ti]
        costs.setdefault(ci, []).append(
            template.cost * alt.boards / template.boards[alt.board]
        )
    return {ci: max(min(c), EPSILON) for ci, c in costs.items()}


def _scarcity_weights(
    weights: Mapping[int, float],
    alternative: Mapping[tuple[int, int], Alternative],
    templates: int,
) -> dict[int, float]:
    """Weights that put pods with fewer node groups to go to ahead of all others."""
    places = dict.fromkeys(weights, 0)
    for ci, _ in alternative:
        places[ci] += 1
    most = max(places.values(), default=0)
    base = float(templates + 1)
    return {ci: w * base ** (most - places[ci]) for ci, w in weights.items()}


def pack(
    counts: Mapping[int, int],
    fits: Fits,
    chain: Chain,
    budget: Caps,
) -> Packing:
    # Cheapest-first can spend scarce room (headroom, the only group a big pod fits) on
    # pods that had other places to go. A second pass serves the pods with the fewest
    # places first; the plan that places more pods, then the chain prefers, wins.
    passes = [fits.weights] if fits.scarce == fits.weights else [fits.weights, fits.scarce]
    plans = [
        _pack_once(counts, fits.templates, fits.alternative, w, chain, replace(budget))
        for w in passes
    ]
    return min(plans, key=lambda p: score(p, chain))


def place_most(
    packing: Packing, counts: Mapping[int, int], fits: Fits, chain: Chain, budget: Caps
) -> Packing:
    """`packing`, or a packing of the same `counts` that leaves fewer pods out.

    Price weights value a pod by the boards it takes, and a knapsack tie keeps the fewer,
    bigger pods: when max sizes or caps run out, the small pods that would have fitted the
    same boards are the ones left out. This pass counts pods instead, so it places the most
    it can; between fills of as many pods, the pods with fewer places to go, then the
    dearer, win (the scarcity weights break the tie). The planner runs it once, on its best
    candidate, and only when pods that some node group could host are left out: otherwise
    it cannot place more, and the usual case pays nothing for it.
    """
    if not any(ci in fits.weights for ci in packing.unplaced):
        return packing
    weights = _count_weights(fits.scarce, counts)
    counted = _pack_once(counts, fits.templates, fits.alternative, weights, chain, budget)
    return min((packing, counted), key=lambda p: score(p, chain))


def _count_weights(weights: Mapping[int, float], counts: Mapping[int, int]) -> dict[int, float]:
    """One per pod, plus its weight in `weights` scaled so that all of them together add
    less than one pod: any fill holding more pods outweighs every fill holding fewer."""
    total = sum(w * counts.get(ci, 0) for ci, w in weights.items())
    return {ci: 1.0 + w / (2 * total + EPSILON) for ci, w in weights.items()}


def _pack_once(
    counts: Mapping[int, int],
    usable: Sequence[Template],
    fits: Mapping[tuple[int, int], Alternative],
    weights: Mapping[int, float],
    chain: Chain,
    budget: Caps,
) -> Packing:
    state = _PassState(
        left={ci: n for ci, n in counts.items() if n > 0},
        headroom={ti: t.headroom for ti, t in enumerate(usable)},
        menus=_menus(usable, fits, weights),
    )
    for ci, ti in fits:
        state.hosts.setdefault(ci, set()).add(ti)
    result = Packing()
    while options := state.options(usable, weights, budget, result.limited):
        chosen = chain.choose([o for _, o in options])
        ti = next(ti for ti, o in options if o is chosen)
        repeat = min(state.left[ci] // n for ci, _, n in chosen.fill)
        copies = budget.copies(chosen.template, min(repeat, state.headroom[ti]))
        state.commit(ti, chosen.fill, copies)
        budget.spend(chosen.template, copies)
        result.opened.append(Opened(chosen.template, chosen.fill, copies))
    improve(result.opened, usable, fits, state.headroom, budget, chain)
    result.unplaced = {ci: n for ci, n in state.left.items() if n > 0}
    return result


@dataclass
class _PassState:
    left: dict[int, int]  # class -> pods still without a place
    headroom: dict[int, int]  # template -> instances it may still add
    menus: dict[int, _Menu]
    hosts: dict[int, set[int]] = field(default_factory=dict)  # class -> templates
    # A template's best fill only changes when the count of a class it can host changes.
    cached: dict[int, Option | None] = field(default_factory=dict)
    solved: dict[_Units, list[tuple[int, Alternative, int]]] = field(default_factory=dict)

    def options(
        self,
        usable: Sequence[Template],
        weights: Mapping[int, float],
        budget: Caps,
        limited: set[str],
    ) -> list[tuple[int, Option]]:
        options = []
        for ti, template in enumerate(usable):
            if self.headroom[ti] == 0:
                continue
            if budget.copies(template, 1) == 0:
                limited.update(_cap_names(budget, template))
                continue
            if ti not in self.cached:
                fill = _fill(template, self.menus[ti], self.left, weights, self.solved)
                weight = sum(weights[ci] * n for ci, _, n in fill)
                self.cached[ti] = Option(template, fill, weight) if fill else None
            if (option := self.cached[ti]) is not None:
                options.append((ti, option))
        return options

    def commit(self, ti: int, fill: tuple[tuple[int, Alternative, int], ...], copies: int) -> None:
        self.headroom[ti] -= copies
        for ci, _, n in fill:
            self.left[ci] -= n * copies
            for stale in self.hosts.get(ci, ()):
                self.cached.pop(stale, None)


def score(packing: Packing, chain: Chain) -> tuple[float, ...]:
    """Lower is better: pods left out, then the chain's packing measures (expanders.py; the
    price counts the region's penalties: Template.cost), then instances."""
    measures = chain.packing(packing.opened)
    instances = sum(o.copies for o in packing.opened)
    return sum(packing.unplaced.values()), *(round(m, 6) for m in measures), instances


def _cap_names(budget: Caps, template: Template) -> set[str]:
    names = set()
    if budget.boards is not None and budget.boards < template.board_total:
        names.add("max_boards")
    if budget.price is not None and budget.price + EPSILON < template.price:
        names.add("max_price_per_hour")
    if (left := budget.vcpus_for(template)) is not None and left < template.vcpus:
        names.add(f"{QUOTA_CAP}{template.capacity_type}")
    return names


# template -> board -> pod size -> the classes it can host, heaviest first
_Menu = dict[BoardResource, dict[int, list[tuple[int, Alternative]]]]


def _menus(
    templates: Sequence[Template],
    fits: Mapping[tuple[int, int], Alternative],
    weights: Mapping[int, float],
) -> dict[int, _Menu]:
    """Sorted once per pass: weights never change, only how many pods of each are left."""
    menus: dict[int, _Menu] = {ti: {} for ti in range(len(templates))}
    for (ci, ti), alt in fits.items():
        menus[ti].setdefault(alt.board, {}).setdefault(alt.boards, []).append((ci, alt))
    for menu in menus.values():
        for sizes in menu.values():
            for items in sizes.values():
                items.sort(key=lambda item: (-weights[item[0]], item[0]))
    return menus


def _fill(
    template: Template,
    menu: _Menu,
    left: Mapping[int, int],
    weights: Mapping[int, float],
    solved: dict[_Units, list[tuple[int, Alternative, int]]],
) -> tuple[tuple[int, Alternative, int], ...]:
    """The heaviest set of remaining pods one instance can hold: a knapsack per board."""
    fill: list[tuple[int, Alternative, int]] = []
    for board, sizes in sorted(menu.items()):
        units = _units(template.boards[board], sizes, left)
        # Most commits leave a template's candidate pods as they were (plenty of each class
        # remain), so the same knapsack comes back: it is solved once per pass.
        if units not in solved:
            solved[units] = _knapsack(*units, weights)
        fill.extend(solved[units])
    return tuple(fill)


# A knapsack's whole input besides the (per pass fixed) weights: its capacity and the
# candidate pods, as runs of (class, alternative, pods) in the order they are tried.
_Units = tuple[int, tuple[tuple[int, Alternative, int], ...]]


def _units(
    capacity: int, sizes: Mapping[int, list[tuple[int, Alternative]]], left: Mapping[int, int]
) -> _Units:
    # Only the heaviest capacity // size pods of each size can be in an optimal fill, so
    # the 0/1 expansion stays small however many pods are pending.
    runs = []
    for size, items in sizes.items():
        room = capacity // size
        for ci, alt in items:
            take = min(left.get(ci, 0), room)
            if take > 0:
                runs.append((ci, alt, take))
                room -= take
            if room == 0:
                break
    return capacity, tuple(runs)


def _knapsack(
    capacity: int,
    runs: tuple[tuple[int, Alternative, int], ...],
    weights: Mapping[int, float],
) -> list[tuple[int, Alternative, int]]:
    """0/1 knapsack over the pods of `runs`, each pod one item, tried in order.

    weight[c], pods[c]: the best fill using at most c boards; on equal weight (within
    EPSILON), fewer and so larger pods win: small ones fill the gaps of later instances.
    took[i] holds the capacities item i improved, so the chosen items are read back from
    the end rather than carried along as tuples.
    """
    items = [(ci, alt) for ci, alt, n in runs for _ in range(n)]
    weight = [0.0] * (capacity + 1)
    pods = [0] * (capacity + 1)
    took: list[list[int]] = []
    for ci, alt in items:
        w, size, improved = weights[ci], alt.boards, []
        for c in range(capacity, size - 1, -1):
            new, old = weight[c - size] + w, weight[c]
            if new - old > EPSILON or (new - old >= -EPSILON and pods[c - size] - 1 > pods[c]):
                weight[c], pods[c] = new, pods[c - size] - 1
                improved.append(c)
        took.append(improved)
    counts: dict[tuple[int, Alternative], int] = {}
    c = capacity
    for index in range(len(items) - 1, -1, -1):
        if c in took[index]:
            counts[items[index]] = counts.get(items[index], 0) + 1
            c -= items[index][1].boards
    return [(ci, alt, n) for (ci, alt), n in sorted(counts.items(), key=lambda kv: kv[0][0])]
