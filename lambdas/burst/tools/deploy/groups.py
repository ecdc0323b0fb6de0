"""A node group's part of the deployment configuration: its instance type, sizes, subnets,
labels and taints, boards and capacity type, checked as the CDK and the functions need them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from burst.core.catalog import INSTANCE_TYPES
from burst.core.model import Taint
from burst.core.regions import OFFERED_IN
from burst.core.spot import CAPACITY_TYPE_LABEL, CAPACITY_TYPES, ON_DEMAND, SPOT
from burst.tools.deploy.reader import LABEL_KEY, LABEL_VALUE, NAME, NAME_HINT, Obj, bad

_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# An extended resource name: a DNS-subdomain prefix, '/', a name (kubectl's rules).
_BOARD = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
# Ubuntu's root device name (the node image's parent); "/dev/xvda" is Amazon Linux's.
NODE_IMAGE_ROOT_DEVICE = "/dev/sda1"


@dataclass(frozen=True)
class Subnet:
    id: str
    availability_zone: str


@dataclass(frozen=True)
class NodeGroupConfig:
    name: str
    instance_type: str
    ami_id: str
    min_size: int
    max_size: int
    subnets: tuple[Subnet, ...]
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    priority: int
    root_volume_gib: int
    # Must be the AMI's RootDeviceName, or the encrypted gp3 volume is added beside the root
    # instead of replacing it (`aws ec2 describe-images --query 'Images[].RootDeviceName'`).
    root_device_name: str
    boards: Mapping[str, int]  # board resource -> boards per instance
    # on-demand | spot; `labels` carry it as karpenter.sh/capacity-type (burst.core.spot).
    capacity_type: str = ON_DEMAND
    # A Spot group's price source: this price per hour (USD), the live Spot price, or both
    # (live first, this when the live price cannot be read).
    spot_price_per_hour: float | None = None
    spot_price_live: bool = False
    region: str = ""  # its AWS region: aws.region (home) or a key of `regions`

    def asg_name(self, cluster: str) -> str:
        return f"{cluster}-{self.name}"



def parse_subnet(item: Obj) -> Subnet:
    return Subnet(
        id=item.text("id", pattern=re.compile(r"^subnet-[0-9a-f]{8,17}$")),
        availability_zone=item.text("availability_zone", pattern=re.compile(r"^[a-z0-9-]+[a-z]$")),
    )


def parse_node_group(
    item: Obj, networks: Mapping[str, tuple[Subnet, ...]], home: str
) -> NodeGroupConfig:
    instance_type = item.text("instance_type")
    known = INSTANCE_TYPES.get(instance_type)
    if known is None:
        raise bad(
            item.path("instance_type"),
            f"{instance_type!r} is not a known FPGA instance type "
            f"(known: {', '.join(sorted(INSTANCE_TYPES))})",
        )
    region = item.text("region", default=home)
    if region not in networks:
        raise bad(item.path("region"),
                   f"{region!r} is neither aws.region nor a key of `regions`")
    if region not in OFFERED_IN.get(instance_type, frozenset()):
        raise bad(
            item.path("instance_type"),
            f"{instance_type} is not known to be offered in {region} (known: "
            f"{', '.join(sorted(OFFERED_IN.get(instance_type, ())))}; burst/core/regions.py)",
        )
    subnets = {s.id: s for s in networks[region]}
    subnets_of = "network.subnets" if region == home else f"regions.{region}.subnets"
    min_size = item.integer("min_size", default=0, minimum=0)
    max_size = item.integer("max_size", minimum=1)
    if max_size < min_size:
        raise bad(item.path("max_size"), f"{max_size} is below min_size {min_size}")
    ids = item.str_list("subnet_ids", default=list(subnets))
    for i, subnet_id in enumerate(ids):
        if subnet_id not in subnets:
            raise bad(
                f"{item.path('subnet_ids')}[{i}]", f"{subnet_id!r} is not in {subnets_of}"
            )
    capacity = _capacity(item)
    if capacity["spot_price_live"] and region != home:
        # The functions read Spot prices (and the F quotas) in the home region only.
        raise bad(item.path("spot_price_live"),
                   f"is read in the home region ({home}) only: give a group in {region} "
                   "a spot_price_per_hour")
    return NodeGroupConfig(
        name=item.text("name", pattern=NAME, hint=NAME_HINT),
        instance_type=instance_type,
        # "": the node image fpga-burst builds (node_image)
        ami_id=item.text("ami_id", default="", pattern=re.compile(r"^ami-[0-9a-f]{8,17}$")),
        min_size=min_size,
        max_size=max_size,
        subnets=tuple(subnets[i] for i in ids),
        labels={**_labels(item), CAPACITY_TYPE_LABEL: capacity["capacity_type"]},
        taints=tuple(_taint(t) for t in item.items("taints", min_len=0, required=False)),
        priority=item.integer("priority", default=0, minimum=0),
        root_volume_gib=item.integer("root_volume_gib", default=100, minimum=8),
        root_device_name=item.text(
            "root_device_name",
            default="/dev/xvda" if item.get("ami_id") else NODE_IMAGE_ROOT_DEVICE,
            pattern=re.compile(r"^/dev/[a-z0-9]+$"),
        ),
        boards=_boards(item, dict(known.boards)),
        **capacity,
        region=region,
    )


def _capacity(item: Obj) -> dict[str, Any]:
    """capacity_type and the Spot price source; the capacity-type label joins `labels`."""
    kind = item.text("capacity_type", default=ON_DEMAND)
    if kind not in CAPACITY_TYPES:
        raise bad(item.path("capacity_type"),
                   f"{kind!r} is not one of {', '.join(CAPACITY_TYPES)}")
    price = item.get("spot_price_per_hour")
    live = item.get("spot_price_live")
    live = False if live is None else live
    if not isinstance(live, bool):
        raise bad(item.path("spot_price_live"), f"must be true or false, got {live!r}")
    if price is not None and (isinstance(price, bool) or not isinstance(price, (int, float))
                              or price <= 0):
        raise bad(item.path("spot_price_per_hour"), f"{price!r} is not a price per hour > 0")
    if kind != SPOT and (price is not None or live):
        field = "spot_price_per_hour" if price is not None else "spot_price_live"
        raise bad(item.path(field), "is for a Spot group only (capacity_type: spot)")
    if kind == SPOT and price is None and not live:
        raise bad(item.path("spot_price_per_hour"),
                   "a Spot group needs a price source: a price per hour, or spot_price_live: true")
    if CAPACITY_TYPE_LABEL in item.mapping("labels"):
        raise bad(f"{item.path('labels')}.{CAPACITY_TYPE_LABEL}",
                   "is set from capacity_type; do not set it here")
    return {"capacity_type": kind, "spot_price_live": live,
            "spot_price_per_hour": None if price is None else float(price)}


def _boards(item: Obj, known: dict[str, int]) -> dict[str, int]:
    """The instance type's boards, under the name its device plugin advertises if given."""
    name = item.text("board_resource", default=None, pattern=_BOARD,
                     hint="vendor/name, as the device plugin advertises it")
    if name is None:
        return known
    return {name: sum(known.values())}


def _labels(item: Obj) -> dict[str, str]:
    labels = item.mapping("labels")
    for key, value in labels.items():
        where = f"{item.path('labels')}.{key}"
        if not isinstance(value, str) or not LABEL_VALUE.match(value):
            raise bad(where, f"{value!r} is not a valid label value")
        if not LABEL_KEY.match(key):
            raise bad(where, "not a valid label key")
    return {str(k): str(v) for k, v in labels.items()}


def _taint(item: Obj) -> Taint:
    key = item.text("key", pattern=LABEL_KEY)
    value = item.text("value", default="", pattern=LABEL_VALUE)
    effect = item.text("effect", default="NoSchedule")
    if effect not in _TAINT_EFFECTS:
        raise bad(item.path("effect"), f"{effect!r} is not one of {_TAINT_EFFECTS}")
    return Taint(key=key, value=value, effect=effect)
