"""Percentiles and one printed line of them, for the cluster benchmarks' timings."""

from __future__ import annotations


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def line(name: str, values: list[float], width: int = 46) -> str:
    if not values:
        return f"{name:<{width}} (no samples)"
    return (f"{name:<{width}} n={len(values):<5} p50={pct(values, 0.5):6.2f} s  "
            f"p99={pct(values, 0.99):6.2f} s  max={max(values):6.2f} s")
