"""`burst simulate` on the seed evaluation's scenario, as the simulator's tests call it."""

from __future__ import annotations

from pathlib import Path

from burst.tools.cli import main

ROOT = Path(__file__).parents[2]
SEED = ROOT / "examples" / "seed-evaluation.yaml"


def simulate_cli(trace: Path, *options: str) -> int:
    """`burst simulate --scenario SEED --trace TRACE OPTIONS...`; its exit code."""
    return main(["simulate", "--scenario", str(SEED), "--trace", str(trace), *options])
