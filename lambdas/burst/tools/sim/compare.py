"""What a policy's cost is measured against: the cheapest comparator of the same run, and a
lower bound no controller can beat without making jobs wait.

The bound (docs/simulation.md, "The lower bound"): every job runs from its submission for
its duration on the fewest boards it can use; whatever that asks above the on-prem boards
is bought at the cheapest price per board-hour among the node groups, for exactly as long
as it is asked. It ignores boot time, the billing minimum and packing (instances come in
whole sizes; on-prem boards of any kind serve any job), so every policy that starts jobs on
submission pays at least this; a policy that lets jobs wait can shift some work onto
on-prem boards freed later, and so could go under it (by little: waits are minutes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from burst.core import spot
from burst.core.errors import DemandError
from burst.core.model import Pod
from burst.core.scaleup.capacity import group_boards
from burst.core.scaleup.fit import alternatives
from burst.tools.sim.engine import PolicyResult
from burst.tools.sim.site import Site
from burst.tools.sim.trace import Job


@dataclass(frozen=True)
class Bound:
    board_hours: float  # demand above on-prem capacity, integrated over time
    per_board_hour: float  # the cheapest price of a board-hour among the groups
    group: str  # the group with that price

    @property
    def cost(self) -> float:
        return self.board_hours * self.per_board_hour


def lower_bound(jobs: Sequence[Job], site: Site) -> Bound:
    """The bound above; jobs no board of the catalog can run are left out (nothing runs
    them). A site without priced groups has no bound: per_board_hour 0."""
    prices = []
    for node_group in site.groups:
        price = spot.price_per_hour(node_group, site.catalog)
        boards = sum(group_boards(node_group, site.catalog).values())
        if price is not None and boards:
            prices.append((price / boards, node_group.name))
    per_board, group = min(prices, default=(0.0, ""))
    onprem = sum(sum(n.allocatable.values()) for n in site.onprem)
    steps: dict[float, int] = {}  # time -> change of boards asked
    for job in jobs:
        boards = _fewest_boards(job, site)
        if boards:
            steps[job.submit] = steps.get(job.submit, 0) + boards
            end = job.submit + job.duration
            steps[end] = steps.get(end, 0) - boards
    above = 0.0  # board-seconds
    asked, last = 0, 0.0
    for t in sorted(steps):
        above += max(0, asked - onprem) * (t - last)
        asked, last = asked + steps[t], t
    return Bound(above / 3600.0, per_board, group)


def _fewest_boards(job: Job, site: Site) -> int:
    pod = Pod(job.name, requests=job.requests, accelerators=job.accelerators)
    try:
        options = alternatives(pod, site.catalog)
    except DemandError:
        return 0
    return min((alt.boards for alt in options), default=0)


def cheapest(outcomes: Mapping[str, PolicyResult], comparators: Sequence[str]) -> PolicyResult:
    """The comparator of the run that cost least (ties: the first listed)."""
    return min((outcomes[s] for s in comparators if s in outcomes), key=lambda o: o.cost)


def summary(outcomes: Mapping[str, PolicyResult], default: str,
            comparators: Sequence[str], bound: Bound) -> list[str]:
    """Lines under the table: the bound, and the default against the cheapest comparator."""
    lines = [
        f"lower bound: {bound.board_hours:.1f} board-hours above on-prem capacity x "
        f"${bound.per_board_hour:.3f}/board-hour ({bound.group}) = ${bound.cost:,.2f} "
        "(no boot, no billing minimum, no packing: docs/simulation.md)"
    ]
    if default in outcomes and any(s in outcomes for s in comparators):
        best = cheapest(outcomes, comparators)
        ratio = outcomes[default].cost / best.cost if best.cost else float("nan")
        lines.append(f"{default} ÷ cheapest comparator ({best.policy}, ${best.cost:,.2f}): "
                     f"{ratio:.2f}")
    return lines


def over_bound(cost: float, bound: Bound) -> str:
    return f"{cost / bound.cost:.2f}" if bound.cost else "-"
