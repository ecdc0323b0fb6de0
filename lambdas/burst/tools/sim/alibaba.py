"""Alibaba's GPU cluster trace (cluster-trace-gpu-v2023, `openb_pod_list_*.csv`) as jobs.

Columns: name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,
creation_time,deletion_time,scheduled_time (times in seconds). Rules:
- pods with num_gpu 0 are skipped (CPU and memory are not simulated: FPGA boards only);
- a pod's GPUs become its FPGA demand by `--gpu-as`: `xilinx/u250` (one board per GPU),
  `accel.name` (one accelerator replica per GPU), or per GPU model, `V100M32=xilinx/u250`;
  a GPU-sharing pod (gpu_milli < 1000, num_gpu 1) gets one whole board or replica;
  a gpu_spec `A|B` takes the first model mapped; an empty one takes the unnamed mapping;
- submit = creation_time; duration = deletion_time - scheduled_time (the time it held its
  GPUs); a pod never scheduled (empty scheduled_time) held none and is skipped, as are
  pods with no deletion_time (still running when the trace ends);
- `--window busiest:24h` keeps the pods created in the 24 h whose pods ask for the most
  GPUs (GPU-seconds would pick a window of a few months-long pods), `--window START:END`
  (seconds, or 2d/36h/90m) those created in [START, END);
  submit times are shifted so the window starts at 0.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from burst.core.errors import ConfigError
from burst.tools.sim import trace
from burst.tools.sim.trace import Job, duration_s

COLUMNS = (
    "name",
    "cpu_milli",
    "memory_mib",
    "num_gpu",
    "gpu_milli",
    "gpu_spec",
    "qos",
    "pod_phase",
    "creation_time",
    "deletion_time",
    "scheduled_time",
)
ANY_MODEL = ""


@dataclass(frozen=True)
class Import:
    """How GPUs become FPGA demand, and which part of the trace to keep."""

    gpu_as: Mapping[str, str]  # GPU model ("" for any) -> board resource or accelerator
    window: str = ""
    selector: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Imported:
    jobs: tuple[Job, ...]
    skipped: Mapping[str, int]


def load(path: Path, options: Import | None) -> Imported:
    """Either trace format, told apart by its header; raises ConfigError naming the file."""
    source = str(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
            if "gpu_milli" not in header:
                return Imported(trace.load(path), {})
            if options is None or not options.gpu_as:
                raise ConfigError(
                    source, "", "an Alibaba GPU trace needs --gpu-as (see docs/simulation.md)")
            handle.seek(0)
            return read(handle, source, options)
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(source, "", f"not a CSV file: {exc}") from exc


def parse_gpu_as(items: Sequence[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        model, sep, demand = item.rpartition("=")
        if not demand.strip() or (sep and not model.strip()):
            raise ConfigError("--gpu-as", item, "must be DEMAND or GPU_MODEL=DEMAND")
        mapping[model.strip()] = demand.strip()
    return mapping


def read(handle: TextIO, source: str, options: Import) -> Imported:
    """Raises ConfigError naming the file, row and column of the first bad value."""
    rows = csv.reader(handle)
    header = next(rows, [])
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ConfigError(source, "row 1", f"missing columns {', '.join(missing)}")
    at = {c: header.index(c) for c in COLUMNS}
    kept: list[tuple[float, float, str, int, str]] = []  # submit, duration, name, gpus, demand
    skipped: dict[str, int] = {}
    for number, row in enumerate(rows, start=2):
        if not row:
            continue
        reason = _row(_Cells(row, number, at, source), options.gpu_as, kept)
        if reason:
            skipped[reason] = skipped.get(reason, 0) + 1
    start, end = _window(options.window, kept)
    jobs = [
        _job(name, submit - start, duration, gpus, demand, options.selector)
        for submit, duration, name, gpus, demand in kept
        if start <= submit < end
    ]
    if not jobs:
        raise ConfigError(source, "", "has no GPU pods to simulate (in the window)")
    return Imported(tuple(sorted(jobs, key=lambda j: (j.submit, j.name))), skipped)


@dataclass(frozen=True)
class _Cells:
    """One row's values by column; errors name the file, row and column."""

    row: Sequence[str]
    number: int
    at: Mapping[str, int]
    source: str

    def fail(self, column: str, problem: str) -> ConfigError:
        return ConfigError(self.source, f"row {self.number}: column {column}", problem)

    def text(self, column: str) -> str:
        index = self.at[column]
        if index >= len(self.row):
            raise self.fail(column, "is missing")
        return self.row[index].strip()

    def seconds(self, column: str) -> float | None:
        """A non-negative number, or None if empty."""
        text = self.text(column)
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            raise self.fail(column, f"{text!r} is not a number") from None
        if value < 0:
            raise self.fail(column, "must not be negative")
        return value


def _row(
    cells: _Cells, gpu_as: Mapping[str, str], kept: list[tuple[float, float, str, int, str]]
) -> str | None:
    """Appends the row's job to `kept`, or returns why it was skipped."""
    gpus = int(cells.seconds("num_gpu") or 0)
    cells.seconds("gpu_milli")  # validated; any share becomes a whole board
    if gpus == 0:
        return "num_gpu 0"
    spec = cells.text("gpu_spec")
    demand = _demand(spec, gpu_as)
    if demand is None:
        raise cells.fail("gpu_spec", f"GPU model {spec or '(any)'!r} has no --gpu-as mapping")
    created = cells.seconds("creation_time")
    if created is None:
        raise cells.fail("creation_time", "is empty")
    deleted = cells.seconds("deletion_time")
    scheduled = cells.seconds("scheduled_time")
    if deleted is None:
        return "no deletion_time (still running)"
    if scheduled is None:
        return "never scheduled"
    duration = deleted - max(scheduled, created)
    if duration <= 0:
        return "deleted before it ran"
    kept.append((created, duration, cells.text("name"), gpus, demand))
    return None


def _demand(spec: str, gpu_as: Mapping[str, str]) -> str | None:
    for model in spec.split("|") if spec else []:
        if model in gpu_as:
            return gpu_as[model]
    return gpu_as.get(ANY_MODEL)


def _window(text: str, kept: Sequence[tuple[float, float, str, int, str]]) -> tuple[float, float]:
    if not text:
        return 0.0, float("inf")
    kind, sep, span = text.partition(":")
    if not sep:
        raise ConfigError("--window", text, "must be busiest:DURATION or START:END")
    if kind == "busiest":
        return _busiest(duration_s(span, "--window", text), kept)
    start, end = duration_s(kind, "--window", text), duration_s(span, "--window", text)
    if end <= start:
        raise ConfigError("--window", text, "END must be after START")
    return start, end


def _busiest(
    width: float, kept: Sequence[tuple[float, float, str, int, str]]
) -> tuple[float, float]:
    """The window of `width` starting at a pod's creation with the most GPUs asked for."""
    ordered = sorted(kept)
    best, best_start, total, left = -1.0, 0.0, 0.0, 0
    for submit, _, _, gpus, _ in ordered:
        total += gpus
        while ordered[left][0] <= submit - width:
            total -= ordered[left][3]
            left += 1
        if total > best:
            best, best_start = total, ordered[left][0]
    return best_start, best_start + width


def _job(
    name: str, submit: float, duration: float, gpus: int, demand: str, selector: Mapping[str, str]
) -> Job:
    requests = {demand: gpus} if "/" in demand else {}
    accelerators = {} if "/" in demand else {demand: gpus}
    return Job(f"alibaba/{name}", submit, duration, requests, accelerators, dict(selector))
