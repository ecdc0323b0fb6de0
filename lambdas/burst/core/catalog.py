"""Board resources, AWS FPGA instance types and accelerators.

The built-in instance table is what the planner uses when a node group's tags do not say
how many boards its instances carry; deployment config and scenarios may override it.
Accelerators map a name to the replicas of it one board of each resource can hold, from
config or imported by `burst catalog import` (burst.tools.bitstreams).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from burst.core.model import BoardResource, Catalog, InstanceType

F1_BOARD: BoardResource = "xilinx/aws-vu9p-f1"
# F2 carries AMD (Xilinx) Virtex UltraScale+ VU47P boards; the name follows the F1 one and
# is what fpga-burst's device plugin advertises (image/device-plugin/boards.go).
F2_BOARD: BoardResource = "xilinx/aws-vu47p-f2"

# On-demand Linux prices in us-east-1, vCPUs and memory, from the Amazon EC2 On-Demand
# pricing page and the accelerated-computing instance specifications (F1: published 2017,
# unchanged since; F2: f2.12xlarge/48xlarge published at launch, December 2024, and
# f2.6xlarge when it was added in 2025). Check current prices before relying on them. F2's
# vCPUs and memory (24/256, 48/512, 192/2048 GiB) as the F2 Developer Kit's release notes
# v2.0.4 list them (awsdocs-fpga-f2.readthedocs-hosted.com, RELEASE_NOTES); the simulated
# kube-scheduler scores Nodes by them (burst.tools.sim.scheduler).
INSTANCE_TYPES: Mapping[str, InstanceType] = {
    it.name: it
    for it in (
        InstanceType("f1.2xlarge", {F1_BOARD: 1}, 1.65, vcpus=8, memory_gib=122),
        InstanceType("f1.4xlarge", {F1_BOARD: 2}, 3.30, vcpus=16, memory_gib=244),
        InstanceType("f1.16xlarge", {F1_BOARD: 8}, 13.20, vcpus=64, memory_gib=976),
        InstanceType("f2.6xlarge", {F2_BOARD: 1}, 1.98, vcpus=24, memory_gib=256),
        InstanceType("f2.12xlarge", {F2_BOARD: 2}, 3.96, vcpus=48, memory_gib=512),
        InstanceType("f2.48xlarge", {F2_BOARD: 8}, 15.84, vcpus=192, memory_gib=2048),
    )
}

# Shell-versioned platform names (e.g. "aws-vu9p-f1-04261818") map to the resource the
# device plugin advertises ("xilinx/aws-vu9p-f1"): drop a trailing all-digit version.
_SHELL_VERSION = re.compile(r"^(?P<base>.+?)(?:[-_]\d{6,})+$")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$")


def default_catalog() -> Catalog:
    return Catalog(accelerators={}, instance_types=dict(INSTANCE_TYPES))


def board_resource(vendor: str, platform: str) -> BoardResource:
    """The extended resource a node advertises for boards of this vendor and platform."""
    vendor, platform = vendor.strip().lower(), platform.strip().lower()
    match = _SHELL_VERSION.match(platform)
    if match:
        platform = match.group("base")
    if not _NAME.match(vendor) or not _NAME.match(platform):
        raise ValueError(f"platform {vendor!r}/{platform!r} is not a valid resource name")
    return f"{vendor}/{platform}"
