"""Local moves on the instances a plan adds, each lowering its price (or, at equal price,
its instance count), applied one instance at a time until none is left:

- move: an instance whose pods fit a cheaper group goes there;
- merge: two part-filled instances whose pods fit one instance no dearer become one;
- dissolve: an instance whose pods all fit, any alternative, in the idle boards of others
  goes away (a pod may switch board kind to share an instance bought anyway).

With the priority expander no move hands pods to a lower-priority group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from burst.core.model import BoardResource
from burst.core.scaleup.bins import EPSILON, Caps, Opened
from burst.core.scaleup.capacity import Template
from burst.core.scaleup.fit import Alternative


def improve(
    opened: list[Opened],
    templates: Sequence[Template],
    fits: Mapping[tuple[int, int], Alternative],
    headroom: dict[int, int],
    budget: Caps,
    chain: Sequence[str],
) -> None:
    """Local moves that lower the price, each applied one instance at a time until none."""
    index = {id(t): ti for ti, t in enumerate(templates)}
    room = max((t.board_total for t in templates), default=0)
    for _ in range(4 * len(opened) + 8):
        # Only part-filled instances can be merged or shrunk: full ones were chosen at the
        # best price per unit of demand and stay.
        idle = [o for o in opened if o.copies > 0 and _used(o) < o.template.board_total]
        move = _find_move(idle, templates, fits, index, headroom, budget, chain, room)
        if move is not None:
            _apply(opened, *move, index, headroom, budget)
        elif not _dissolve_one(opened, idle, fits, index, headroom, budget, chain):
            break
    opened[:] = [o for o in opened if o.copies > 0]


_Move = tuple[Opened, "Opened | None", Template, int, tuple[tuple[int, Alternative, int], ...]]


def _find_move(
    idle: list[Opened],
    templates: Sequence[Template],
    fits: Mapping[tuple[int, int], Alternative],
    index: Mapping[int, int],
    headroom: dict[int, int],
    budget: Caps,
    chain: Sequence[str],
    room: int,
) -> _Move | None:
    for a in idle:
        for b in [None, *idle]:
            if (b is a and a.copies < 2) or _used(a) + (_used(b) if b else 0) > room:
                continue
            pods = _pods_of(a) + (_pods_of(b) if b is not None else [])
            current = a.template.cost + (b.template.cost if b is not None else 0.0)
            for ti, template in enumerate(templates):
                cheaper = template.cost < current - EPSILON
                fewer = b is not None and template.cost <= current + EPSILON
                if not (cheaper or fewer) or not _same_rank(template, a, b, chain):
                    continue
                freed = (index[id(a.template)] == ti) + (
                    b is not None and index[id(b.template)] == ti
                )
                if headroom[ti] + freed < 1 or not _budget_allows(budget, template, a, b):
                    continue
                fill = _repack(pods, ti, template, fits)
                if fill is not None:
                    return a, b, template, ti, fill
    return None


def _dissolve_one(
    opened: list[Opened],
    idle: list[Opened],
    fits: Mapping[tuple[int, int], Alternative],
    index: Mapping[int, int],
    headroom: dict[int, int],
    budget: Caps,
    chain: Sequence[str],
) -> bool:
    """Removes one instance whose pods all fit, any alternative, in others' idle boards."""
    # Any instance may go, full ones too: its pods may have another alternative that
    # fits where boards of a different kind sit idle.
    for a in sorted((o for o in opened if o.copies > 0), key=lambda o: -o.template.cost):
        moves = _rehome(a, idle, fits, index, chain)
        if moves is None:
            continue
        a.copies -= 1
        headroom[index[id(a.template)]] += 1
        budget.spend(a.template, -1)
        for b, added in moves:
            b.copies -= 1
            merged: dict[tuple[int, Alternative], int] = {(c, alt): n for c, alt, n in b.fill}
            for key in added:
                merged[key] = merged.get(key, 0) + 1
            fill = tuple((c, alt, n) for (c, alt), n in sorted(merged.items()))
            opened.append(Opened(b.template, fill, 1))
        return True
    return False


def _rehome(
    a: Opened,
    idle: list[Opened],
    fits: Mapping[tuple[int, int], Alternative],
    index: Mapping[int, int],
    chain: Sequence[str],
) -> list[tuple[Opened, list[tuple[int, Alternative]]]] | None:
    hosts = [
        b for b in idle if (b is not a or a.copies > 1) and _same_rank(b.template, a, None, chain)
    ]
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
    return [(b, added[id(b)]) for b in hosts if id(b) in added]


def _free(opened: Opened) -> dict[BoardResource, int]:
    free = dict(opened.template.boards)
    for _, alt, n in opened.fill:
        free[alt.board] -= alt.boards * n
    return free


def _used(opened: Opened) -> int:
    return sum(alt.boards * n for _, alt, n in opened.fill)


def _same_rank(template: Template, a: Opened, b: Opened | None, chain: Sequence[str]) -> bool:
    # With the priority expander, a move may never hand pods to a lower-priority group.
    if "priority" not in chain:
        return True
    floor = max(a.template.group.priority, b.template.group.priority if b else -(10**9))
    return template.group.priority >= floor


def _pods_of(opened: Opened) -> list[int]:
    return [ci for ci, _, n in opened.fill for _ in range(n)]


def _repack(
    pods: list[int], ti: int, template: Template, fits: Mapping[tuple[int, int], Alternative]
) -> tuple[tuple[int, Alternative, int], ...] | None:
    free = dict(template.boards)
    counts: dict[tuple[int, Alternative], int] = {}
    for ci in pods:
        alt = fits.get((ci, ti))
        if alt is None or free.get(alt.board, 0) < alt.boards:
            return None
        free[alt.board] -= alt.boards
        counts[(ci, alt)] = counts.get((ci, alt), 0) + 1
    return tuple((ci, alt, n) for (ci, alt), n in sorted(counts.items(), key=lambda kv: kv[0][0]))


def _budget_allows(budget: Caps, template: Template, a: Opened, b: Opened | None) -> bool:
    released = [a.template] + ([b.template] if b is not None else [])
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


def _apply(
    opened: list[Opened],
    a: Opened,
    b: Opened | None,
    template: Template,
    ti: int,
    fill: tuple[tuple[int, Alternative, int], ...],
    index: Mapping[int, int],
    headroom: dict[int, int],
    budget: Caps,
) -> None:
    for old in [a] + ([b] if b is not None else []):
        old.copies -= 1
        headroom[index[id(old.template)]] += 1
        budget.spend(old.template, -1)
    headroom[ti] -= 1
    budget.spend(template, 1)
    opened.append(Opened(template, fill, 1))
