"""Mixed bursts: new instances of several sizes for one board kind, which kube-scheduler
can break. Pure.

kube-scheduler does not know the plan. It takes pending pods in queue order and binds each
to a Node with room as Nodes appear, so a 1-board pod planned onto an f2.6xlarge takes
the f2.48xlarge meant for an 8-board pod whenever that registers first (or scores higher:
LeastAllocated prefers the larger Node). The 8-board pod is stranded, the planner asks
again, and the small instance boots for nobody (docs/planner.md, "Mixed bursts").

A board kind is at risk when the plan opens instances of a smaller size beside a bigger
one, planned here or already on its way, whose boards the smaller instances' pods fit,
and some pending pod needs more boards than the smaller instances have: that pod can be
stranded. Against the mixed plan stands the same pods packed on the bigger size alone,
first fit decreasing. Those instances are interchangeable for the pods at hand: whichever
pod takes whichever Node, a pod that finds no room finds it on the next one that comes.
The mixed plan's risk is priced at one more instance of the bigger size (at the least,
the one bought again for the stranded pod); the uniform plan replaces it when it costs
no more than the mixed plan plus that, within the group's max size, the policy caps and
the expander chain (never onto a lower-priority group). With AWS's FPGA prices (linear in
boards) and pod sizes of 1, 2 and 8, the uniform plan costs the same or one instance's
rounding more; the lifetime step's reason for separate instances (an instance lives as
long as its longest job) is given up for them. What stays mixed (a pod the bigger size
cannot host, a bigger group at max size) and what the scheduler still breaks is
re-planned, its surplus instances given back while they boot (issue 26 item 5).
"""

from __future__ import annotations

from collections.abc import Sequence

from burst.core.model import BoardResource
from burst.core.scaleup.bins import EPSILON, Caps, Opened, Packing, PodClass
from burst.core.scaleup.capacity import Template
from burst.core.scaleup.expanders import Chain
from burst.core.scaleup.fit import Alternative
from burst.core.scaleup.packing import best_alternative

Fill = tuple[tuple[int, Alternative, int], ...]


def unify(
    packing: Packing,
    classes: Sequence[PodClass],
    budget: Caps,
    arriving: Sequence[Template],
    chain: Chain,
) -> Packing:
    """The packing with each board kind's mixed sizes on its biggest one, where that costs
    no more per hour than the mixed plan and its risk.

    `budget`: what the policy caps left before this packing was made; `arriving`: the
    templates of the groups with instances on their way (upcoming capacity).
    """
    kinds = sorted({board for o in packing.opened for board in o.template.boards})
    for board in kinds:
        packing = _unify_kind(packing, board, classes, budget, arriving, chain)
    return packing


def _unify_kind(
    packing: Packing,
    board: BoardResource,
    classes: Sequence[PodClass],
    budget: Caps,
    arriving: Sequence[Template],
    chain: Chain,
) -> Packing:
    mine = [o for o in packing.opened if _on(o, board)]
    on_way = [t for t in arriving if set(t.boards) == {board} and t.problem is None]
    candidates = [*(o.template for o in mine), *on_way]
    if not mine:
        return packing
    big = max(candidates, key=lambda t: (t.boards[board], -t.cost, t.group.name))
    at_risk = [o for o in mine if o.template.group.name == big.group.name]
    smaller = [o for o in mine if o.template.boards[board] < big.boards[board]]
    movable = [
        o for o in smaller
        if chain.allows(o.template, big)
        and all(best_alternative(classes[ci], big) is not None for ci, _, _ in o.fill)
    ]
    if not movable or len(movable) < len(smaller):
        return packing  # nothing to move, or sizes would stay mixed whatever it cost
    if _largest(classes, big) <= min(o.template.boards[board] for o in smaller):
        return packing  # every pending pod fits the smaller instances: none can be stranded
    # The smaller instances can lose their pods to the bigger ones, planned or on their
    # way: at the least, one more of the big size is bought for the pod it was meant for.
    risk = big.cost
    before = sum(o.template.cost * o.copies for o in (*at_risk, *movable))
    pods: dict[int, int] = {}
    for o in (*at_risk, *movable):
        for ci, _, n in o.fill:
            pods[ci] = pods.get(ci, 0) + n * o.copies
    fills = _first_fit_decreasing(pods, classes, big, board)
    copies = sum(fills.values())
    if big.cost * copies > before + risk + EPSILON or copies > big.headroom:
        return packing
    replaced = {id(o) for o in (*at_risk, *movable)}
    kept = [o for o in packing.opened if id(o) not in replaced]
    trial = budget.copy()
    for o in kept:
        trial.spend(o.template, o.copies)
    if trial.copies(big, copies) < copies:
        return packing
    uniform = [Opened(big, fill, n) for fill, n in sorted(fills.items(), key=_fill_order)]
    return Packing([*kept, *uniform], packing.unplaced, packing.limited)


def _largest(classes: Sequence[PodClass], big: Template) -> int:
    """The most boards a pending pod that `big` can host needs of it (planned on
    registered, upcoming or new capacity alike: kube-scheduler does not know the plan)."""
    return max((_boards(c, big) for c in classes), default=0)


def _on(opened: Opened, board: BoardResource) -> bool:
    """The instance is of `board` alone and holds pods of it alone."""
    return set(opened.template.boards) == {board} and all(
        alt.board == board for _, alt, _ in opened.fill
    )


def _first_fit_decreasing(
    pods: dict[int, int], classes: Sequence[PodClass], big: Template, board: BoardResource
) -> dict[Fill, int]:
    """The pods on instances of `big`, biggest first, each into the first with room; the
    instances by what they hold -> how many hold it."""
    room = big.boards[board]
    bins: list[tuple[int, dict[int, int]]] = []  # (boards free, class -> pods)
    alts: dict[int, Alternative] = {}
    for ci in sorted(pods, key=lambda c: (-_boards(classes[c], big), c)):
        alt = best_alternative(classes[ci], big)
        assert alt is not None  # _unify_kind moved only pods that fit
        alts[ci] = alt
        for _ in range(pods[ci]):
            bins = _put(bins, ci, alt.boards, room)
    out: dict[Fill, int] = {}
    for _, held in bins:
        fill = tuple((ci, alts[ci], n) for ci, n in sorted(held.items()))
        out[fill] = out.get(fill, 0) + 1
    return out


def _put(
    bins: list[tuple[int, dict[int, int]]], ci: int, boards: int, room: int
) -> list[tuple[int, dict[int, int]]]:
    # Sizes come biggest first, so room is mostly in the last bins opened: only the last
    # eight are looked at (first fit among them), which keeps this linear in the pods.
    for i in range(len(bins) - 1, max(-1, len(bins) - 9), -1):
        free, held = bins[i]
        if free >= boards:
            held[ci] = held.get(ci, 0) + 1
            bins[i] = (free - boards, held)
            return bins
    bins.append((room - boards, {ci: 1}))
    return bins


def _boards(cls: PodClass, big: Template) -> int:
    alt = best_alternative(cls, big)
    return 0 if alt is None else alt.boards


def _fill_order(item: tuple[Fill, int]) -> tuple[object, ...]:
    fill, _ = item
    return tuple((ci, n) for ci, _, n in fill)
