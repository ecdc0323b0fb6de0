"""What a deployment config says the preflight must find, before anything is deployed.

`burst doctor --config` builds a Deployment from the validated deployment config
(burst.tools.deploy); the checks read only these values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from burst.core.catalog import F1_BOARD, F2_BOARD

# What the device plugin of the node image the stack builds advertises
# (image/device-plugin/boards.go names the catalog's boards).
PLUGIN_BOARDS = frozenset({F1_BOARD, F2_BOARD})


@dataclass(frozen=True)
class GroupPlan:
    name: str
    region: str
    instance_type: str
    ami_id: str  # "": the node image the stack builds (node_image)
    root_device_name: str
    max_size: int
    vcpus: int  # per instance
    capacity_type: str
    subnets: Mapping[str, str]  # subnet id -> its Availability Zone
    boards: Mapping[str, int]


@dataclass(frozen=True)
class RegionPlan:
    region: str
    vpc_id: str
    vpn_secret: str


@dataclass(frozen=True)
class Deployment:
    cluster: str
    account: str
    region: str  # home: the functions, Service Quotas
    node_endpoint: str  # host:port the nodes dial (cluster.api_endpoint)
    credentials_secrets: Mapping[str, str]  # function -> secret ARN
    function_subnets: tuple[str, ...]
    regions: tuple[RegionPlan, ...]  # home first
    groups: tuple[GroupPlan, ...]
    plugin_boards: frozenset[str] = field(default=PLUGIN_BOARDS)

    def vpc(self, region: str) -> str:
        return next(r.vpc_id for r in self.regions if r.region == region)
