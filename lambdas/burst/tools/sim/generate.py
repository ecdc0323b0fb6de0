"""Synthetic job traces, seeded: the same arguments give the same trace.

diurnal   arrivals follow the working day (a sine over 24 h, busiest mid-afternoon);
          durations lognormal around 20 minutes
bursty    a light background plus bursts of hundreds of pods at one instant
longtail  steady arrivals, durations Pareto (alpha 1.5): most short, a few for many hours
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

from burst.tools.sim.trace import Job

KINDS = ("diurnal", "bursty", "longtail")
DAY_S = 86400.0
MAX_DURATION_S = DAY_S  # a long tail, cut where a day-long simulation ends


def generate(
    kind: str,
    jobs: int,
    seed: int,
    demands: Sequence[Mapping[str, int]],
    selector: Mapping[str, str],
    hours: float = 24.0,
) -> tuple[Job, ...]:
    rng = random.Random(seed)
    span = hours * 3600.0
    arrivals = {"diurnal": _diurnal, "bursty": _bursty, "longtail": _uniform}[kind](rng, jobs, span)
    duration = _pareto if kind == "longtail" else _lognormal
    out = []
    for i, submit in enumerate(sorted(arrivals)):
        demand = rng.choice(demands)
        boards = {k: v for k, v in demand.items() if "/" in k}
        accelerators = {k: v for k, v in demand.items() if "/" not in k}
        out.append(
            Job(
                f"{kind}/job-{i:05}",
                round(submit),
                round(duration(rng)),
                boards,
                accelerators,
                dict(selector),
            )
        )
    return tuple(out)


def _uniform(rng: random.Random, n: int, span: float) -> list[float]:
    return [rng.uniform(0, span) for _ in range(n)]


def _diurnal(rng: random.Random, n: int, span: float) -> list[float]:
    """Thinning: rate 1 + 0.9 sin(...), lowest at 03:00, highest at 15:00."""
    out: list[float] = []
    while len(out) < n:
        t = rng.uniform(0, span)
        rate = 1 + 0.9 * math.sin(2 * math.pi * ((t % DAY_S) / DAY_S - 0.375))
        if rng.uniform(0, 1.9) < rate:
            out.append(t)
    return out


def _bursty(rng: random.Random, n: int, span: float) -> list[float]:
    """A fifth of the jobs in the background, the rest in bursts of 100-400 at once."""
    out = _uniform(rng, n // 5, span)
    while len(out) < n:
        at = rng.uniform(0, span * 0.9)
        out.extend([at] * min(n - len(out), rng.randint(100, 400)))
    return out


def _lognormal(rng: random.Random) -> float:
    return min(MAX_DURATION_S, rng.lognormvariate(math.log(1200), 0.8))


def _pareto(rng: random.Random) -> float:
    return min(MAX_DURATION_S, 300 * rng.paretovariate(1.5))
