"""Spot and on-demand node groups: the capacity-type label, the price tags, a group's price.

Nodes carry `karpenter.sh/capacity-type: spot | on-demand`, Karpenter's well-known label
(karpenter.sh docs, "NodePools": requirements on `karpenter.sh/capacity-type`), so a pod
refuses Spot the way the field already writes it: `nodeSelector: {karpenter.sh/
capacity-type: on-demand}`. The label is one of the group's labels, so the planner matches
selectors against it like any other.

`price_per_hour` is the one way the planner (and the simulator) learns what an instance of
a group costs: the group's own price if it was observed (live Spot price) or configured,
else the catalog's price for the group's capacity type.
"""

from __future__ import annotations

from burst.core.model import Catalog, NodeGroup

CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"
ON_DEMAND = "on-demand"
SPOT = "spot"
CAPACITY_TYPES = (ON_DEMAND, SPOT)
# A Spot group's configured price per hour (USD), and whether the functions read the live
# one (DescribeSpotPriceHistory) instead; both written by the CDK construct.
SPOT_PRICE_TAG = "fpga-burst.io/spot-price-per-hour"
SPOT_PRICE_LIVE_TAG = "fpga-burst.io/spot-price-live"


def capacity_type(group: NodeGroup) -> str:
    """The group's capacity type, from its label; on-demand when unlabelled."""
    return SPOT if group.labels.get(CAPACITY_TYPE_LABEL) == SPOT else ON_DEMAND


def price_per_hour(group: NodeGroup, catalog: Catalog) -> float | None:
    """What one new instance of `group` costs per hour, or None if nothing says.

    The group's own price first (observed or configured), then the catalog: its Spot
    price for a Spot group, its on-demand price otherwise. A Spot group is never priced
    at the on-demand rate: that would hide the saving it exists for.
    """
    if group.price_per_hour is not None:
        return group.price_per_hour
    instance_type = catalog.instance_types.get(group.instance_type)
    if instance_type is None:
        return None
    if capacity_type(group) == SPOT:
        return instance_type.spot_price_per_hour
    return instance_type.price_per_hour
