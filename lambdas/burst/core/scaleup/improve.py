"""Local moves on the instances a plan adds, each one the expander chain judges better
(expanders.Chain.packing; at a tie, one that leaves fewer instances), applied one instance
at a time until none is left:

- move: an instance whose pods fit one instance of another group goes there;
- merge: two part-filled instances whose pods fit one instance become one;
- dissolve: an instance whose pods all fit, any alternative, in the idle boards of others
  goes away (a pod may switch board kind to share an instance bought anyway).

No move hands pods to a group the chain does not allow (priority: a lower-priority one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from burst.core.model import BoardResource
from burst.core.scaleup.bins import EPSILON, Caps, Opened
from burst.core.scaleup.capacity import Template
from burst.core.scaleup.expanders import Chain, Fill, compare, used
from burst.core.scaleup.fit import Alternative


def improve(
    opened: list[Opened],
    templates: Sequence[Template],
    fits: Mapping[tuple[int, int], Alternative],
    headroom: dict[int, int],
    budget: Caps,
    chain: Chain,
) -> None:
    """Local moves the chain judges better, each applied one instance at a time until none."""
    moves = _Moves(opened, templates, fits, headroom, budget, chain)
    for _ in range(4 * len(opened) + 8):
        # Only part-filled instances can be merged or shrunk: full ones were chosen by the
        # chain as they are and stay.
        idle = [o for o in opened if o.copies > 0 and used(o.fill) < o.template.board_total]
        move = moves.find(idle)
        if move is not None:
            moves.apply(*move)
        elif not moves.dissolve_one(idle):
            break
    opened[:] = [o for o in opened if o.copies > 0]


@dataclass
class _Moves:
    """The plan's instances and what they may still take, as the moves change them."""

    opened: list[Opened]
    templates: Sequence[Template]
    fits: Mapping[tuple[int, int], Alternative]
    headroom: dict[int, int]  # template -> instances it may still add
    budget: Caps
    chain: Chain
    index: dict[int, int] = field(init=False)  # id(template) -> its index
    room: int = field(init=False)  # the most boards one instance has

    def __post_init__(self) -> None:
        self.index = {id(t): ti for ti, t in enumerate(self.templates)}
        self.room = max((t.board_total for t in self.templates), default=0)

    def find(self, idle: list[Opened]) -> tuple[Opened, Opened | None, int, Fill] | None:
        """The first move or merge the chain judges better: (a, b or None, template, fill)."""
        for a in idle:
            for b in [None, *idle]:
                boards = used(a.fill) + (used(b.fill) if b is not None else 0)
                if (b is a and a.copies < 2) or boards > self.room:
                    continue
                found = self._target([a] if b is None else [a, b])
                if found is not None:
                    return a, b, *found
        return None

    def _target(self, replaced: list[Opened]) -> tuple[int, Fill] | None:
        """The first template whose one instance, holding the pods of `replaced`, the chain
        judges better than them (at a tie: better if it replaces two)."""
        pods = [ci for o in replaced for ci in _pods_of(o)]
        before = self.chain.packing(_one(o) for o in replaced)
        for ti, template in enumerate(self.templates):
            if not all(self.chain.allows(o.template, template) for o in replaced):
                continue
            freed = sum(self.index[id(o.template)] == ti for o in replaced)
            if self.headroom[ti] + freed < 1 or not _budget_allows(self.budget, template, replaced):
                continue
            fill = _repack(pods, ti, template, self.fits)
            if fill is None:
                continue
            verdict = compare(self.chain.packing([Opened(template, fill, 1)]), before)
            if verdict < 0 or (verdict == 0 and len(replaced) > 1):
                return ti, fill
        return None

    def apply(self, a: Opened, b: Opened | None, ti: int, fill: Fill) -> None:
        for old in [a] + ([b] if b is not None else []):
            self._drop(old)
        template = self.templates[ti]
        self.headroom[ti] -= 1
        self.budget.spend(template, 1)
        self.opened.append(Opened(template, fill, 1))

    def dissolve_one(self, idle: list[Opened]) -> bool:
        """Removes one instance whose pods all fit, any alternative, in others' idle boards,
        if the chain judges the plan without it better (at a tie: better, one fewer)."""
        # Any instance may go, full ones too: its pods may have another alternative that
        # fits where boards of a different kind sit idle. The heaviest by the chain first.
        live = [o for o in self.opened if o.copies > 0]
        for a in sorted(live, key=lambda o: self.chain.packing([_one(o)]), reverse=True):
            hosts = _rehome(a, [b for b in idle if self.chain.allows(a.template, b.template)],
                            self.fits, self.index)
            if hosts is None:
                continue
            before = [_one(o) for o in [a, *(b for b, _ in hosts)]]
            after = [Opened(b.template, fill, 1) for b, fill in hosts]
            if compare(self.chain.packing(after), self.chain.packing(before)) > 0:
                continue
            self._drop(a)
            for b, fill in hosts:
                b.copies -= 1
                self.opened.append(Opened(b.template, fill, 1))
            return True
        return False

    def _drop(self, old: Opened) -> None:
        """One instance of `old` goes: its group and the caps get it back."""
        old.copies -= 1
        self.headroom[self.index[id(old.template)]] += 1
        self.budget.spend(old.template, -1)


def _one(opened: Opened) -> Opened:
    """One of `opened`'s instances: what a move takes away."""
    return Opened(opened.template, opened.fill, 1)


def _rehome(
    a: Opened,
    hosts: list[Opened],
    fits: Mapping[tuple[int, int], Alternative],
    index: Mapping[int, int],
) -> list[tuple[Opened, Fill]] | None:
    """The instances among `hosts` that take a's pods, first fit, biggest pod first, each
    with its new fill; None if some pod fits none."""
    hosts = [b for b in hosts if b is not a or a.copies > 1]
    free = {id(b): _free(b) for b in hosts}
    added: dict[int, list[tuple[int, Alternative]]] = {}
    size = {ci: alt.boards for ci, alt, _ in a.fill}
    for ci in sorted(_pods_of(a), key=lambda c: -size[c]):
        for b in hosts:
            alt = fits.get((ci, index[id(b.template)]))
            if alt is not None and free[id(b)].get(alt.board, 0) >= alt.boards:
                free[id(b)][alt.board] -= alt.boards
                added.setdefault(id(b), []).append((ci, alt))
                break
        else:
            return None
    return [(b, _merged(b.fill, added[id(b)])) for b in hosts if id(b) in added]


def _merged(fill: Fill, added: list[tuple[int, Alternative]]) -> Fill:
    merged: dict[tuple[int, Alternative], int] = {(c, alt): n for c, alt, n in fill}
    for key in added:
        merged[key] = merged.get(key, 0) + 1
    return tuple((c, alt, n) for (c, alt), n in sorted(merged.items()))


def _free(opened: Opened) -> dict[BoardResource, int]:
    free = dict(opened.template.boards)
    for _, alt, n in opened.fill:
        free[alt.board] -= alt.boards * n
    return free


def _pods_of(opened: Opened) -> list[int]:
    return [ci for ci, _, n in opened.fill for _ in range(n)]


def _repack(
    pods: list[int], ti: int, template: Template, fits: Mapping[tuple[int, int], Alternative]
) -> Fill | None:
    free = dict(template.boards)
    counts: dict[tuple[int, Alternative], int] = {}
    for ci in pods:
        alt = fits.get((ci, ti))
        if alt is None or free.get(alt.board, 0) < alt.boards:
            return None
        free[alt.board] -= alt.boards
        counts[(ci, alt)] = counts.get((ci, alt), 0) + 1
    return tuple((ci, alt, n) for (ci, alt), n in sorted(counts.items(), key=lambda kv: kv[0][0]))


def _budget_allows(budget: Caps, template: Template, replaced: list[Opened]) -> bool:
    released = [o.template for o in replaced]
    if budget.boards is not None:
        boards = budget.boards + sum(t.board_total for t in released)
        if boards < template.board_total:
            return False
    if budget.price is not None:
        price = budget.price + sum(t.price for t in released)
        if price + EPSILON < template.price:
            return False
    if (left := budget.vcpus_for(template)) is not None:
        left += sum(t.vcpus for t in released if t.capacity_type == template.capacity_type)
        if left < template.vcpus:
            return False
    return True
