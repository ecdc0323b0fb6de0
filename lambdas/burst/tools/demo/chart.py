"""The demo's chart: the simulator's four panels (burst.tools.sim.chart), over seconds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from burst.tools.sim.chart import draw
from burst.tools.sim.engine import Sample


def write_chart(samples: Sequence[Sample], path: Path, title: str, unit: float = 1.0,
                unit_name: str = "seconds") -> None:
    """Pending FPGA pods, nodes per group, boards in use, price per hour; x in `unit_name`
    (sample times divided by `unit`)."""
    draw(samples, path, title, unit, unit_name, "$ per hour (burst)")
