"""Expanders: which new instance to add next, as Cluster Autoscaler chains them.

Each expander is a small pure function that keeps the best of the candidate options by
one criterion; a chain applies them in order, and a fixed tie-break (more demand served,
so fewer instances; then more boards used; then the node group name) makes the choice deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from burst.core.errors import ConfigError
from burst.core.scaleup.bins import EPSILON
from burst.core.scaleup.capacity import Template
from burst.core.scaleup.fit import Alternative


@dataclass(frozen=True)
class Option:
    """One new instance of `template`, filled with `fill`: (pod class, alternative, pods)."""

    template: Template
    fill: tuple[tuple[int, Alternative, int], ...]
    weight: float  # the demand it serves, in price units (see packing.class_weights)

    @property
    def boards_used(self) -> int:
        return sum(alt.boards * count for _, alt, count in self.fill)


Expander = Callable[[Sequence[Option]], list[Option]]


def priority(options: Sequence[Option]) -> list[Option]:
    """Keeps the options of the highest-priority node groups."""
    best = max(o.template.group.priority for o in options)
    return [o for o in options if o.template.group.priority == best]


def price(options: Sequence[Option]) -> list[Option]:
    """Keeps the options that cost least per unit of demand served (the region's penalty
    counted: Template.cost)."""
    best = min(o.template.cost / o.weight for o in options)
    return [o for o in options if o.template.cost / o.weight <= best + EPSILON]


def least_waste(options: Sequence[Option]) -> list[Option]:
    """Keeps the options that leave the fewest boards idle."""
    best = min(o.template.board_total - o.boards_used for o in options)
    return [o for o in options if o.template.board_total - o.boards_used == best]


EXPANDERS: dict[str, Expander] = {
    "priority": priority,
    "price": price,
    "least-waste": least_waste,
}


def validate_chain(
    names: Sequence[str], source: str, field: str = "policy.expanders"
) -> tuple[str, ...]:
    """Refuses an unknown or repeated expander when config loads, not mid-plan."""
    if not names:
        raise ConfigError(source, field, "must name at least one expander")
    for name in names:
        if name not in EXPANDERS:
            known = ", ".join(sorted(EXPANDERS))
            raise ConfigError(source, field, f"unknown expander {name!r} (known: {known})")
    if len(set(names)) != len(names):
        raise ConfigError(source, field, "names an expander twice")
    return tuple(names)


def choose(options: Sequence[Option], chain: Sequence[str]) -> Option:
    remaining = list(options)
    for name in chain:
        remaining = EXPANDERS[name](remaining)
    return min(remaining, key=lambda o: (-o.weight, -o.boards_used, o.template.group.name))
