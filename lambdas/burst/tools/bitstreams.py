"""`burst catalog import`: accelerators from an InAccel-style bitstream repository.

Reads every `bitstream.json` below a folder; the board resource naming rule lives in the
core (burst.core.catalog.board_resource).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from burst.core.catalog import board_resource
from burst.core.model import BoardResource


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
