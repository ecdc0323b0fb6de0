"""The chart over time: pending FPGA pods, nodes per group, boards in use, price per hour."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on a build machine

import matplotlib.pyplot as plt

from burst.tools.sim.engine import PolicyResult


def write_chart(outcome: PolicyResult, path: Path) -> None:
    samples = outcome.samples
    hours = [s.t / 3600 for s in samples]
    groups = sorted({g for s in samples for g in s.nodes})
    fig, axes = plt.subplots(4, 1, sharex=True, figsize=(10, 9))
    axes[0].step(hours, [s.pending for s in samples], where="post", color="tab:red")
    axes[0].set_ylabel("pending pods")
    for group in groups:
        axes[1].step(hours, [s.nodes.get(group, 0) for s in samples], where="post", label=group)
    axes[1].set_ylabel("nodes")
    axes[1].legend(loc="upper right", fontsize="small")
    axes[2].step(hours, [s.boards_in_use for s in samples], where="post", color="tab:green")
    axes[2].set_ylabel("boards in use")
    axes[3].step(hours, [s.price_per_hour for s in samples], where="post", color="tab:purple")
    axes[3].set_ylabel("$ per hour")
    axes[3].set_xlabel("hours")
    fig.suptitle(f"fpga-burst simulation: {outcome.policy}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
