"""The chart over time: pending FPGA pods, nodes per group, boards in use, price per hour."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on a build machine

import matplotlib.pyplot as plt

from burst.tools.sim.engine import PolicyResult, Sample


def write_chart(outcome: PolicyResult, path: Path) -> None:
    draw(outcome.samples, path, f"fpga-burst simulation: {outcome.policy}")


def draw(samples: Sequence[Sample], path: Path, title: str, unit: float = 3600.0,
         unit_name: str = "hours", price_label: str = "$ per hour") -> None:
    """The four panels; x in `unit_name` (sample times divided by `unit`). The simulator's
    chart and the demo's (burst.tools.demo.chart) are this one drawing."""
    xs = [s.t / unit for s in samples]
    groups = sorted({g for s in samples for g in s.nodes})
    fig, axes = plt.subplots(4, 1, sharex=True, figsize=(10, 9))
    axes[0].step(xs, [s.pending for s in samples], where="post", color="tab:red")
    axes[0].set_ylabel("pending FPGA pods")
    for group in groups:
        axes[1].step(xs, [s.nodes.get(group, 0) for s in samples], where="post", label=group)
    axes[1].set_ylabel("nodes")
    if groups:
        axes[1].legend(loc="center right", fontsize="small")
    axes[2].step(xs, [s.boards_in_use for s in samples], where="post", color="tab:green")
    axes[2].set_ylabel("boards in use")
    axes[3].step(xs, [s.price_per_hour for s in samples], where="post", color="tab:purple")
    axes[3].set_ylabel(price_label)
    axes[3].set_xlabel(unit_name)
    for ax in axes[:3]:  # counts: whole ticks (the price panel keeps its cents)
        ax.yaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
