"""Whether pods share an instance: the packing's shared instances against separate ones,
as the expander chain weighs them (expanders.Chain.sharing). Pure.

The packing chooses instances and fills them; whether pods that could each have an
instance of their own should share one is decided here, last, for every instance the
packing fills with two or more pods. Each of its pods is offered an instance of its own
in a group with smaller instances that can host it and still grow, the one the chain
weighs lightest (ties: fewer boards, then the group name), never in a group the chain does
not allow (priority: a lower-priority one); the separate instances replace the shared one
when the chain weighs them lighter and the groups' max sizes and the policy caps allow.

With the default chain that is the bill over the jobs' lifetimes (the lifetime step): an
instance lives as long as its longest job, so k pods of independent, memoryless durations
with mean m keep a shared instance of price P for P * H(k) * m in expectation (H the
harmonic number: 1.5 for 2 jobs, 2.7 for 8), and separate instances cost sum(P_i) * m;
the durations need not be known, m cancels out. With AWS's FPGA prices, which are linear
in boards, separate ones win whenever such a group exists: the same boards per hour or
fewer, and none of them kept by somebody else's job.
"""

from __future__ import annotations

from collections.abc import Sequence

from burst.core.scaleup.bins import Caps, Opened, Packing, PodClass
from burst.core.scaleup.capacity import Template
from burst.core.scaleup.expanders import Chain, Fill, compare
from burst.core.scaleup.packing import best_alternative


def spread(
    packing: Packing,
    classes: Sequence[PodClass],
    templates: Sequence[Template],
    budget: Caps,
    chain: Chain,
) -> Packing:
    """The packing with shared instances split where the chain prefers separate ones.

    `budget`: what the policy caps left before this packing was made.
    """
    left = budget.copy()
    headroom = {t.group.name: t.headroom for t in templates if t.problem is None}
    for opened in packing.opened:
        left.spend(opened.template, opened.copies)
        headroom[opened.template.group.name] -= opened.copies
    result: list[Opened] = []
    for opened in packing.opened:
        split = _split(opened, classes, templates, headroom, left, chain)
        result.extend(split if split is not None else [opened])
    return Packing(result, packing.unplaced, packing.limited)


def _split(
    opened: Opened,
    classes: Sequence[PodClass],
    templates: Sequence[Template],
    headroom: dict[str, int],
    left: Caps,
    chain: Chain,
) -> list[Opened] | None:
    pods = sum(n for _, _, n in opened.fill)
    if pods < 2:
        return None
    shared = opened.template
    wanted: dict[tuple[int, str], int] = {}  # (class, group) -> instances
    chosen: dict[str, Template] = {}
    room = dict(headroom)  # what each group may still add, as this split takes it
    separate: list[Opened] = []  # per copy of the shared instance
    for ci, _, n in opened.fill:
        need = n * opened.copies
        template = _smaller_home(classes[ci], shared, templates, room, need, chain)
        if template is None:
            return None
        group = template.group.name
        wanted[(ci, group)] = wanted.get((ci, group), 0) + need
        room[group] -= need
        chosen[group] = template
        separate.append(Opened(template, _alone(classes[ci], template), n))
    if compare(chain.sharing(separate), chain.sharing([Opened(shared, opened.fill, 1)])) >= 0:
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
    chain: Chain,
) -> Template | None:
    """The group with smaller instances that may host the pod and still grow, the chain
    weighing the pod alone on one lightest (ties: fewer boards, then the name); never one
    the chain does not allow (priority: a lower-priority group)."""
    homes = [
        t for t in templates
        if t.problem is None
        and t.board_total < shared.board_total
        and chain.allows(shared, t)
        and room.get(t.group.name, 0) >= need
        and best_alternative(cls, t) is not None
    ]
    return min(homes, default=None, key=lambda t: (
        *chain.sharing([Opened(t, _alone(cls, t), 1)]), t.board_total, t.group.name
    ))


def _alone(cls: PodClass, template: Template) -> Fill:
    """An instance of `template` holding one pod of `cls`, as the chain's measures see it
    (they read the boards it takes, not which class it is)."""
    alt = best_alternative(cls, template)
    return ((0, alt, 1),) if alt is not None else ()
