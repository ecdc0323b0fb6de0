"""The values new-instance planning works with: pod classes, the policy budget, and the
instances a plan adds (`Opened`), shared by the set-cover passes, their improvement moves
and the pod-by-pod baseline."""

from __future__ import annotations

from dataclasses import dataclass, field

from burst.core.capacity import Capacity, Template
from burst.core.fit import Alternative
from burst.core.model import Pod, Policy

# Prices are sums of floats: values this close are equal, so ties break by rule.
EPSILON = 1e-9


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
            wanted = min(wanted, int((self.price + EPSILON) // template.price))
        return max(0, wanted)

    @classmethod
    def of(cls, capacity: Capacity, policy: Policy) -> Budget:
        """What the caps leave once the managed groups' current capacity is counted."""
        boards = None if policy.max_boards is None else policy.max_boards - capacity.burst_boards
        price = None
        if policy.max_price_per_hour is not None:
            price = policy.max_price_per_hour - capacity.burst_price
        return cls(boards=boards, price=price)

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
