"""Board resources, AWS FPGA instance types and accelerators.

The built-in instance table is what the planner uses when a node group's tags do not say
how many boards its instances carry; deployment config and scenarios may override it.
Accelerators map a name to the replicas of it one board of each resource can hold, from
config or imported from an InAccel-style bitstream repository (`bitstream.json` files).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from burst.model import BoardResource, Catalog, InstanceType

F1_BOARD: BoardResource = "xilinx/aws-vu9p-f1"
# F2 carries AMD (Xilinx) Virtex UltraScale+ VU47P boards; the name follows the F1 one,
# as an InAccel-style device plugin would advertise it.
F2_BOARD: BoardResource = "xilinx/aws-vu47p-f2"

# On-demand Linux prices in us-east-1, vCPUs and memory, from the Amazon EC2 On-Demand
# pricing page and the accelerated-computing instance specifications (F1: published 2017,
# unchanged since; F2: f2.12xlarge/48xlarge published at launch, December 2024, and
# f2.6xlarge when it was added in 2025). Check current prices before relying on them.
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


@dataclass(frozen=True)
class ImportProblem:
    path: Path
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


@dataclass(frozen=True)
class ImportResult:
    accelerators: Mapping[str, Mapping[BoardResource, int]]
    problems: tuple[ImportProblem, ...]


def import_bitstreams(root: Path) -> ImportResult:
    """Builds accelerators from every `bitstream.json` below `root`.

    An accelerator is `<bitstreamId>.<kernelId>`; its replicas per board are the number of
    kernels with that kernelId. Two bitstreams for the same accelerator and board keep the
    larger count. Files that cannot be read are returned as problems, never dropped silently.
    """
    found: dict[str, dict[BoardResource, int]] = {}
    problems: list[ImportProblem] = []
    for path in sorted(root.rglob("bitstream.json")):
        try:
            entries = list(_parse_bitstream(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
            problems.append(ImportProblem(path, str(exc)))
            continue
        for accelerator, board, replicas in entries:
            boards = found.setdefault(accelerator, {})
            boards[board] = max(boards.get(board, 0), replicas)
    return ImportResult(accelerators=found, problems=tuple(problems))


def _parse_bitstream(doc: Any) -> Iterator[tuple[str, BoardResource, int]]:
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    bitstream_id = _text(doc, "bitstreamId")
    platform = doc.get("platform")
    if not isinstance(platform, dict):
        raise ValueError("platform: missing or not an object")
    board = board_resource(
        _text(platform, "vendor", "platform."), _text(platform, "name", "platform.")
    )
    kernels = doc.get("kernels")
    if not isinstance(kernels, list) or not kernels:
        raise ValueError("kernels: missing or empty")
    counts: dict[str, int] = {}
    for index, kernel in enumerate(kernels):
        if not isinstance(kernel, dict):
            raise ValueError(f"kernels[{index}]: not an object")
        kernel_id = _text(kernel, "kernelId", f"kernels[{index}].")
        # Real files carry `name` as a string or as a list of compute-unit names.
        names = kernel.get("name")
        if not (isinstance(names, str) or (isinstance(names, list) and names)):
            raise ValueError(f"kernels[{index}].name: must be a string or a non-empty list")
        counts[kernel_id] = counts.get(kernel_id, 0) + 1
    for kernel_id, replicas in counts.items():
        yield f"{bitstream_id}.{kernel_id}", board, replicas


def _text(doc: Mapping[str, Any], key: str, prefix: str = "") -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{prefix}{key}: missing or not a string")
    return value.strip()
