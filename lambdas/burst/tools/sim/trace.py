"""Job traces: the CSV that `burst simulate --trace` reads.

One job a row, header required, columns (extra columns are refused):
  submit_s      seconds from the start when the job's pod is created
  name          namespace/name of the pod, unique
  duration_s    seconds the job runs once it has its boards
  demand        `accelerator=replicas` (resolved by the scenario's catalog) or
                `vendor/board=boards` (a board resource request); several joined with `;`
  node_selector optional, `key=value` pairs joined with `;`
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from burst.core.errors import ConfigError

# Makes the ConfigError for one column of one row, from the problem in words.
_Fail = Callable[[str], ConfigError]

COLUMNS = ("submit_s", "name", "duration_s", "demand", "node_selector")


@dataclass(frozen=True)
class Job:
    name: str
    submit: float
    duration: float
    requests: Mapping[str, int] = field(default_factory=dict)
    accelerators: Mapping[str, int] = field(default_factory=dict)
    node_selector: Mapping[str, str] = field(default_factory=dict)


def load(path: Path) -> tuple[Job, ...]:
    """Reads a trace; raises ConfigError naming the file, row and column."""
    source = str(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
            header = tuple(rows[0].keys()) if rows else ()
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(source, "", f"not a CSV file: {exc}") from exc
    return _jobs(rows, header, source)


def _jobs(
    rows: list[dict[str, str | None]], header: tuple[str, ...], source: str
) -> tuple[Job, ...]:
    if not rows:
        raise ConfigError(source, "", "has no jobs (a header and at least one row)")
    unknown = [c for c in header if c not in COLUMNS]
    missing = [c for c in COLUMNS[:4] if c not in header]
    if unknown or missing:
        problem = f"columns must be {', '.join(COLUMNS)} (unknown: {unknown}, missing: {missing})"
        raise ConfigError(source, "row 1", problem)
    jobs = [_job(row, f"row {n}", source) for n, row in enumerate(rows, start=2)]
    names = set()
    for n, job in enumerate(jobs, start=2):
        if job.name in names:
            raise ConfigError(source, f"row {n}: column name", f"duplicate job {job.name!r}")
        names.add(job.name)
    return tuple(sorted(jobs, key=lambda j: (j.submit, j.name)))


def _job(row: Mapping[str, str | None], where: str, source: str) -> Job:
    def fail(column: str, problem: str) -> ConfigError:
        return ConfigError(source, f"{where}: column {column}", problem)

    name = (row.get("name") or "").strip()
    if name.count("/") != 1 or not all(name.split("/")):
        raise fail("name", f"must be namespace/name, not {name!r}")
    submit = _seconds(row.get("submit_s"), lambda p: fail("submit_s", p))
    duration = _seconds(row.get("duration_s"), lambda p: fail("duration_s", p))
    requests: dict[str, int] = {}
    accelerators: dict[str, int] = {}
    for key, value in _pairs(row.get("demand"), lambda p: fail("demand", p)).items():
        try:
            count = int(value)
        except ValueError:
            raise fail("demand", f"{key}: {value!r} is not a whole number") from None
        if count < 1:
            raise fail("demand", f"{key}: must be at least 1")
        (requests if "/" in key else accelerators)[key] = count
    if not requests and not accelerators:
        raise fail("demand", "is empty")
    selector = _pairs(row.get("node_selector"), lambda p: fail("node_selector", p))
    return Job(name, submit, duration, requests, accelerators, selector)


def _seconds(text: str | None, fail: _Fail) -> float:
    try:
        value = float(text or "")
    except ValueError:
        raise fail(f"{text!r} is not a number of seconds") from None
    if value < 0:
        raise fail(f"must not be negative, not {value}")
    return value


def _pairs(text: str | None, fail: _Fail) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise fail(f"{part!r} is not key=value")
        pairs[key.strip()] = value.strip()
    return pairs


def write(jobs: Iterable[Job], handle: TextIO) -> None:
    """Writes jobs in the format `load` reads."""
    out = csv.writer(handle, lineterminator="\n")
    out.writerow(COLUMNS)
    for job in jobs:
        demand = {**job.requests, **job.accelerators}
        out.writerow(
            (
                f"{job.submit:g}",
                job.name,
                f"{job.duration:g}",
                ";".join(f"{k}={v}" for k, v in demand.items()),
                ";".join(f"{k}={v}" for k, v in job.node_selector.items()),
            )
        )


def duration_s(text: str, source: str, spec: str) -> float:
    """`90`, `90s`, `10m`, `36h` or `2d` in seconds; raises ConfigError naming source."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip()
    scale = units.get(text[-1:], 0)
    try:
        value = float(text[:-1] if scale else text) * (scale or 1)
    except ValueError:
        raise ConfigError(source, spec, f"{text!r} is not a duration like 10m") from None
    if value < 0:
        raise ConfigError(source, spec, f"{text!r} must not be negative")
    return value


def pairs(text: str, flag: str) -> dict[str, str]:
    """`key=value;key=value` from a command-line flag; raises ConfigError naming it."""

    def fail(problem: str) -> ConfigError:
        return ConfigError(flag, text, problem)

    return _pairs(text, fail)
