"""Discrete-event simulation: jobs arrive, the controller ticks, instances boot, jobs end.

For fpga-burst's policies each scaler tick runs the controller's own shell
(reconcile.Shell) against the simulated world, so the planner, scale-down and lifecycle
code under test is the code that runs in Lambda; only the clock and the far side of the
ports are simulated. A baseline (baselines.py) ticks at its own period instead. Virtual
time only: a day of jobs takes seconds.
"""

from __future__ import annotations

import heapq
import logging
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from burst.core.model import Catalog, Node, NodeGroup, Policy
from burst.loop.config import RuntimeConfig
from burst.loop.reconcile import Shell
from burst.tools.sim.billing import Bill
from burst.tools.sim.ports import SimAws, SimCluster, writers
from burst.tools.sim.trace import Job
from burst.tools.sim.world import Timings, World

TICK_S = 60.0  # the scaler's EventBridge schedule
_QUIET = logging.getLogger("burst.tools.sim.shell")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


class _NoMetrics:
    def add_metric(self, name: str, unit: object, value: float) -> None:
        return None


class _Clock:
    def __init__(self, world: World) -> None:
        self.world = world

    def wall(self) -> datetime:
        return self.world.moment

    def monotonic(self) -> float:
        return self.world.now


class Controller(Protocol):
    """What decides capacity: given the simulated world at its time, act on it."""

    period_s: float  # seconds between two ticks

    def act(self, world: World) -> None: ...


# Builds the controller for one run, over the world the engine made.
ControllerFactory = Callable[[World, Catalog, Policy], Controller]


class ShellController:
    """fpga-burst itself: the scaler's shell over the simulated ports."""

    period_s = TICK_S

    def __init__(self, world: World, catalog: Catalog, policy: Policy) -> None:
        config = RuntimeConfig(cluster_name="sim", catalog=catalog, policy=policy)
        self.shell = Shell(
            cluster=SimCluster(world),
            groups=SimAws(world),
            config=config,
            log=_QUIET,
            metrics=_NoMetrics(),
            writers=writers(world),
            clock=_Clock(world),
        )

    def act(self, world: World) -> None:
        self.shell.reconcile(stop_at=world.now + 30.0)


@dataclass(frozen=True)
class Sample:
    """The world at one tick, for the chart."""

    t: float
    pending: int
    nodes: dict[str, int]
    boards_in_use: int
    price_per_hour: float


@dataclass(frozen=True)
class PolicyResult:
    policy: str
    waits: tuple[float, ...]
    unfinished: int
    bill: Bill
    scale_ups: int
    failed_launches: int
    samples: tuple[Sample, ...] = field(repr=False, default=())
    interruptions: int = 0  # Spot interruption notices
    restarts: int = 0  # pods they evicted, run again from the start
    lost: float = 0.0  # board-hours of work those pods lost

    def percentile(self, q: float) -> float:
        if not self.waits:
            return 0.0
        ordered = sorted(self.waits)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def fpga_hours_paid(self) -> float:
        return self.bill.paid

    @property
    def fpga_hours_used(self) -> float:
        return self.bill.used

    @property
    def cost(self) -> float:
        return self.bill.cost

    @property
    def p50(self) -> float:
        return statistics.median(self.waits) if self.waits else 0.0


def simulate(
    name: str,
    groups: tuple[NodeGroup, ...],
    onprem: tuple[Node, ...],
    catalog: Catalog,
    policy: Policy,
    jobs: Sequence[Job],
    timings: Timings,
    seed: int = 0,
    controller: ControllerFactory = ShellController,
) -> PolicyResult:
    world = World(groups, onprem, catalog, timings, seed)
    acting = controller(world, catalog, policy)
    queue: list[tuple[float, int, str, str]] = []
    for order, job in enumerate(jobs):
        heapq.heappush(queue, (job.submit, order, "submit", job.name))
    by_name = {job.name: job for job in jobs}
    heapq.heappush(queue, (0.0, len(jobs), "tick", ""))  # after the jobs of the same instant
    last_submit = max((j.submit for j in jobs), default=0.0)
    horizon = last_submit + 7 * 86400.0  # a job nothing can run must not spin for ever
    samples: list[Sample] = []
    next_sample = 0.0
    serial = len(jobs)
    while queue:
        t, _, kind, payload = heapq.heappop(queue)
        for when, what, instance_id in world.due(t):
            world.now = when
            world.advance(what, instance_id)
            # kube-scheduler binds within moments of boards appearing, before anyone acts
            serial = _start(world, queue, serial)
        world.now = t
        if kind == "submit":
            world.submit(by_name[payload])
        elif kind == "end":
            world.finish(payload)
        else:
            acting.act(world)
            if t >= next_sample:  # one sample a minute whatever the controller's period
                samples.append(_sample(world))
                next_sample = t + TICK_S
            if (t <= last_submit or not _done(world)) and t < horizon:
                serial += 1
                heapq.heappush(queue, (t + acting.period_s, serial, "tick", ""))
        serial = _start(world, queue, serial)
    return _outcome(name, world, samples)


def _start(world: World, queue: list[tuple[float, int, str, str]], serial: int) -> int:
    """Binds what kube-scheduler would bind now; queues the ends of the jobs started."""
    for started in world.schedule():
        serial += 1
        heapq.heappush(queue, (world.now + started.job.duration, serial, "end", started.job.name))
    return serial


def _done(world: World) -> bool:
    """Nothing is left that could change: no job running, no burst instance alive.

    Pods still pending then are ones the controller cannot help (they are reported as
    never run), or the scale-up the last tick just asked for would show in `instances`.
    """
    alive = any(i.ended is None for i in world.instances.values())
    running = world.running > 0
    return not running and not alive and not world.timers


def _sample(world: World) -> Sample:
    nodes: dict[str, int] = {}
    for node in world.nodes.values():
        key = node.node_group or "on-prem"
        nodes[key] = nodes.get(key, 0) + 1
    running = [p for p in world.pods.values() if p.node is not None]
    price = sum(world.price(i.group) for i in world.instances.values() if i.ended is None)
    return Sample(
        world.now, len(world.pods) - len(running), nodes, sum(p.boards for p in running), price
    )


def _outcome(name: str, world: World, samples: list[Sample]) -> PolicyResult:
    done = [p for p in world.finished if p.started is not None]
    waits = tuple(p.started - p.job.submit for p in done if p.started is not None)
    return PolicyResult(
        name,
        waits,
        len(world.pods),
        world.ledger.bill(world.now),
        world.scale_ups,
        world.failed_launches,
        tuple(samples),
        world.interruptions,
        world.restarts,
        world.lost_s / 3600.0,
    )
