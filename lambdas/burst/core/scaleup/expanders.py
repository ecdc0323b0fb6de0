"""The expander chain: how the planner chooses, as Cluster Autoscaler chains its expanders.

An expander is a small pure step registered by name in EXPANDERS; a chain (the policy's
`expanders`, checked when config loads) applies its steps in order, each deciding only
among what the steps before it left tied. The planner chooses at three kinds of place
and every one asks the chain; no pass ranks by anything else behind it:

- a new instance (the set cover's next instance, the pod-by-pod baseline's): each step
  keeps the options best by its `rate`; ties go to more demand served (so fewer
  instances), then more boards used, then the node group name;
- a change to the instances chosen (improve.py: move, merge, dissolve) and a choice
  between whole packings: each step's `packing` measure, summed over the instances, in
  chain order; ties go to fewer instances;
- whether pods share an instance (lifetime.py: a shared instance against one smaller
  instance per pod, and which smaller one): each step's `sharing` measure; ties keep the
  shared instance.
No change moves pods to a node group a step does not `allow`.

    step         a new instance            packing         sharing          allows
    priority     higher group priority     -               -                no lower group
    lifetime     price per unit of demand  price per hour  price x H(pods)  any
    price        price per unit of demand  price per hour  price per hour   any
    least-waste  idle boards               idle boards     idle boards      any

lifetime is the bill over the jobs' lifetimes: an instance lives as long as its longest
job, so one of price P shared by k pods of independent, memoryless durations is expected
to cost P * H(k) (H the harmonic number) where separate ones cost their prices. The
packing's fills are provisional (every shared instance is weighed against separate ones
last), so while instances are chosen and packed it weighs their price per hour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from burst.core.errors import ConfigError
from burst.core.scaleup.bins import EPSILON, Opened
from burst.core.scaleup.capacity import Template
from burst.core.scaleup.fit import Alternative

Fill = tuple[tuple[int, Alternative, int], ...]  # (pod class, alternative, pods)


@dataclass(frozen=True)
class Option:
    """One new instance of `template`, filled with `fill`."""

    template: Template
    fill: Fill
    weight: float  # the demand it serves, in price units (see packing.class_weights)

    @property
    def boards_used(self) -> int:
        return used(self.fill)


def used(fill: Fill) -> int:
    """Boards the fill takes on one instance."""
    return sum(alt.boards * n for _, alt, n in fill)


Rate = Callable[[Option], float]  # lower is better
Measure = Callable[[Opened], float]  # of one of its instances; lower is better


def _anywhere(source: Template, target: Template) -> bool:
    return True


@dataclass(frozen=True)
class Expander:
    rate: Rate
    packing: Measure | None = None  # None: the step does not rank packings
    sharing: Measure | None = None
    # May pods move from an instance of `source` to one of `target`?
    allows: Callable[[Template, Template], bool] = _anywhere


def harmonic(k: int) -> float:
    return sum(1.0 / i for i in range(1, k + 1))


def _price_per_demand(option: Option) -> float:
    # The region's penalty counted: Template.cost.
    return option.template.cost / option.weight


def _price(opened: Opened) -> float:
    return opened.template.cost


def _idle(opened: Opened) -> float:
    return opened.template.board_total - used(opened.fill)


EXPANDERS: dict[str, Expander] = {
    "priority": Expander(
        rate=lambda o: -o.template.group.priority,
        allows=lambda source, target: target.group.priority >= source.group.priority,
    ),
    "lifetime": Expander(
        rate=_price_per_demand,
        packing=_price,
        sharing=lambda o: o.template.cost * harmonic(sum(n for _, _, n in o.fill)),
    ),
    "price": Expander(rate=_price_per_demand, packing=_price, sharing=_price),
    "least-waste": Expander(rate=lambda o: o.template.board_total - o.boards_used,
                            packing=_idle, sharing=_idle),
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


@dataclass(frozen=True)
class Chain:
    """The steps of a validated chain, in order, and the comparisons they make."""

    steps: tuple[Expander, ...]

    @classmethod
    def of(cls, names: Sequence[str]) -> Chain:
        return cls(tuple(EXPANDERS[name] for name in names))

    def choose(self, options: Sequence[Option]) -> Option:
        """The new instance the chain picks among `options` (not empty)."""
        remaining = list(options)
        for step in self.steps:
            best = min(step.rate(o) for o in remaining)
            remaining = [o for o in remaining if step.rate(o) <= best + EPSILON]
        return min(remaining, key=lambda o: (-o.weight, -o.boards_used, o.template.group.name))

    def allows(self, source: Template, target: Template) -> bool:
        return all(step.allows(source, target) for step in self.steps)

    def packing(self, instances: Iterable[Opened]) -> tuple[float, ...]:
        """Instances as the packing comparisons weigh them: one sum a step, lower better."""
        return _measure([s.packing for s in self.steps if s.packing], list(instances))

    def sharing(self, instances: Iterable[Opened]) -> tuple[float, ...]:
        """Instances as the decision to share weighs them: one sum a step, lower better."""
        return _measure([s.sharing for s in self.steps if s.sharing], list(instances))


def _measure(measures: Sequence[Measure], instances: Sequence[Opened]) -> tuple[float, ...]:
    return tuple(sum(measure(o) * o.copies for o in instances) for measure in measures)


def compare(a: Sequence[float], b: Sequence[float]) -> int:
    """-1 if `a` is better (lower) at the first measure that differs by more than EPSILON,
    1 if `b` is, 0 if they tie."""
    for x, y in zip(a, b, strict=True):
        if x < y - EPSILON:
            return -1
        if x > y + EPSILON:
            return 1
    return 0
