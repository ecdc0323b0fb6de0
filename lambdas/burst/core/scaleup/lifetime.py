"""Instance choice over the jobs' lifetimes: pods share a bigger instance only when that is
expected to be cheaper. Pure.

The packing minimises price per hour for the moment; the bill is for the day. An instance
lives as long as its longest job: k jobs of independent, memoryless durations with mean m
keep a shared instance for H(k) * m in expectation (H the harmonic number: 1.5 for 2 jobs,
2.7 for 8), while an instance of its own lives for its job's m only. So an instance of
price P shared by k pods is expected to cost P * H(k) * m, and separate instances
sum(P_i) * m. The durations are not known and need not be: m cancels out.

`spread` takes the packing's instances that hold two or more pods and gives every pod an
instance of its own, in the cheapest group with smaller instances that can host it, when
sum(P_i) < P * H(k) and the groups' max sizes and the policy caps allow. With AWS's FPGA
prices, which are linear in boards, that is whenever such a group exists: the same boards
per hour or fewer, and none of them kept by somebody else's job.
"""

from __future__ import annotations

from collections.abc import Sequence

from burst.core.scaleup.bins import EPSILON, Caps, Opened, Packing, PodClass
from burst.core.scaleup.capacity import Template
from burst.core.scaleup.packing import best_alternative


def harmonic(k: int) -> float:
    return sum(1.0 / i for i in range(1, k + 1))


def spread(
    packing: Packing,
    classes: Sequence[PodClass],
    templates: Sequence[Template],
    budget: Caps,
) -> Packing:
    """The packing with shared instances split where separate ones are expected cheaper.

    `budget`: what the policy caps left before this packing was made.
    """
    left = budget.copy()
    headroom = {t.group.name: t.headroom for t in templates if t.problem is None}
    for opened in packing.opened:
        left.spend(opened.template, opened.copies)
        headroom[opened.template.group.name] -= opened.copies
    result: list[Opened] = []
    for opened in packing.opened:
        split = _split(opened, classes, templates, headroom, left)
        result.extend(split if split is not None else [opened])
    return Packing(result, packing.unplaced, packing.limited)


def _split(
    opened: Opened,
    classes: Sequence[PodClass],
    templates: Sequence[Template],
    headroom: dict[str, int],
    left: Caps,
) -> list[Opened] | None:
    pods = sum(n for _, _, n in opened.fill)
    if pods < 2:
        return None
    shared = opened.template
    wanted: dict[tuple[int, str], int] = {}  # (class, group) -> instances
    chosen: dict[str, Template] = {}
    room = dict(headroom)  # what each group may still add, as this split takes it
    cost = 0.0
    for ci, _, n in opened.fill:
        need = n * opened.copies
        template = _smaller_home(classes[ci], shared, templates, room, need)
        if template is None:
            return None
        group = template.group.name
        wanted[(ci, group)] = wanted.get((ci, group), 0) + need
        room[group] -= need
        chosen[group] = template
        cost += template.cost * n
    if cost >= shared.cost * harmonic(pods) - EPSILON:
        return None
    # The caps with the shared instances given back, then the separate ones taken.
    trial = left.copy()
    trial.spend(shared, -opened.copies)
    for (_, group), copies in wanted.items():
        if trial.copies(chosen[group], copies) < copies:
            return None
        trial.spend(chosen[group], copies)
    left.boards, left.price, left.vcpus = trial.boards, trial.price, trial.vcpus
    headroom[shared.group.name] += opened.copies
    split = []
    for (ci, group), copies in sorted(wanted.items()):
        headroom[group] -= copies
        alt = best_alternative(classes[ci], chosen[group])
        assert alt is not None  # _smaller_home checked it
        split.append(Opened(chosen[group], ((ci, alt, 1),), copies))
    return split


def _smaller_home(
    cls: PodClass,
    shared: Template,
    templates: Sequence[Template],
    room: dict[str, int],
    need: int,
) -> Template | None:
    """The cheapest group with smaller instances that may host the pod and still grow; never
    one of lower priority (the priority expander's order stands)."""
    homes = [
        t for t in templates
        if t.problem is None
        and t.board_total < shared.board_total
        and t.group.priority >= shared.group.priority
        and room.get(t.group.name, 0) >= need
        and best_alternative(cls, t) is not None
    ]
    return min(homes, key=lambda t: (t.cost, t.board_total, t.group.name), default=None)
