"""The values new-instance planning works with: pod classes, the policy budget, and the
instances a plan adds (`Opened`), shared by the set-cover passes, their improvement moves
and the pod-by-pod baseline."""

from __future__ import annotations

from dataclasses import dataclass, field

from burst.core.model import Pod, Policy
from burst.core.scaleup.capacity import Capacity, Template
from burst.core.scaleup.fit import Alternative

# Prices are sums of floats: values this close are equal, so ties break by rule.
EPSILON = 1e-9
# Packing.limited names a policy cap by its field, and a quota as this prefix + the
# capacity type whose F vCPU quota ran out.
QUOTA_CAP = "vcpu-quota:"


@dataclass(frozen=True)
class PodClass:
    """Pending pods the scheduler cannot tell apart: same demand, selector, tolerations."""

    alternatives: tuple[Alternative, ...]
    sample: Pod


@dataclass
class Caps:
    """What the policy and the F vCPU quotas still allow all managed groups to add; None
    is unlimited."""

    boards: int | None
    price: float | None
    vcpus: dict[str, int] | None = None  # capacity type -> vCPUs left of its quota

    def copies(self, template: Template, wanted: int) -> int:
        if self.boards is not None and template.board_total:
            wanted = min(wanted, self.boards // template.board_total)
        if self.price is not None and template.price > 0:
            wanted = min(wanted, int((self.price + EPSILON) // template.price))
        if (left := self.vcpus_for(template)) is not None:
            wanted = min(wanted, left // template.vcpus)
        return max(0, wanted)

    def vcpus_for(self, template: Template) -> int | None:
        """The quota left for the template's capacity type; None if it is not limited."""
        if self.vcpus is None or not template.vcpus:
            return None
        return self.vcpus.get(template.capacity_type)

    def copy(self) -> Caps:
        return Caps(self.boards, self.price, None if self.vcpus is None else dict(self.vcpus))

    @classmethod
    def of(cls, capacity: Capacity, policy: Policy) -> Caps:
        """What the caps leave once the managed groups' current capacity is counted."""
        boards = None if policy.max_boards is None else policy.max_boards - capacity.burst_boards
        price = None
        if policy.max_price_per_hour is not None:
            price = policy.max_price_per_hour - capacity.burst_price
        vcpus = None if capacity.vcpus_left is None else dict(capacity.vcpus_left)
        return cls(boards=boards, price=price, vcpus=vcpus)

    def spend(self, template: Template, copies: int) -> None:
        if self.boards is not None:
            self.boards -= template.board_total * copies
        if self.price is not None:
            self.price -= template.price * copies
        if self.vcpus_for(template) is not None and self.vcpus is not None:
            self.vcpus[template.capacity_type] -= template.vcpus * copies


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
