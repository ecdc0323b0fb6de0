"""Discrete-event simulation: jobs arrive, the controller ticks, instances boot, jobs end.

For fpga-burst's policies each scaler tick runs the controller's own shell
(reconcile.Shell) against the simulated world, so the planner, scale-down and lifecycle
code under test is the code that runs in Lambda; only the clock and the far side of the
ports are simulated. In watch mode (the deployment's default, burst.loop.watch) the shell
also reconciles between ticks as the watch would: `idle` after the last of a batch of new
pending pods (at most `max_batch` after its first), and every `recheck` while pods wait for
instances asked for, except in the last `margin` before each tick, where the watch has
ended. A baseline (baselines.py) ticks at its own period instead; the Karpenter-like one
also batches new pending pods through the same rule (its `watch`: 1 s idle, 10 s at most,
no margin). Virtual time only.
"""

from __future__ import annotations

import heapq
import logging
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from burst.core.model import Catalog, Policy
from burst.loop.config import RuntimeConfig, WatchSettings
from burst.loop.memory import Memory
from burst.loop.reconcile import Shell
from burst.loop.result import Reconciled
from burst.loop.tell import Due, EventBudget, Tell, Told
from burst.loop.watch import awaits_capacity
from burst.tools.sim.billing import Bill
from burst.tools.sim.ports import SimAws, SimCluster, writers
from burst.tools.sim.site import Site
from burst.tools.sim.trace import Job
from burst.tools.sim.world import Timings, World

TICK_S = 60.0  # the scaler's EventBridge schedule
_QUIET = logging.getLogger("burst.tools.sim.shell")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


class _NoMetrics:
    def add_metric(self, name: str, unit: object, value: float) -> None:
        return None


class _Untold(Tell):
    """Tells nothing: no status, Events, logs or metrics. Nothing in a simulation reads
    them (the status's Memory stays in the shell between reconciles), and the decisions
    never depend on them, but making them (the status's YAML above all) was most of a
    simulated reconcile's cost."""

    def summarise(self, result: Reconciled) -> None:
        return None

    def pod_events_due(self, result: Reconciled, memory: Memory) -> list[Due]:
        return []

    def node_events_due(self, result: Reconciled) -> list[Due]:
        return []

    def events(self, due: Sequence[Due], budget: EventBudget, memory: Memory) -> Told:
        return Told()

    def status(self, result: Reconciled, told: Told, memory: Memory) -> None:
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
    watch: WatchSettings | None  # None: only the ticks

    def act(self, world: World) -> bool:
        """Acts; True while pods wait for capacity it asked for (watch mode rechecks)."""
        ...


# Builds the controller for one run, over the world the engine made.
ControllerFactory = Callable[[World, Catalog, Policy], Controller]


class ShellController:
    """fpga-burst itself: the scaler's shell over the simulated ports."""

    period_s = TICK_S

    def __init__(self, world: World, catalog: Catalog, policy: Policy,
                 watch: WatchSettings | None = None) -> None:
        watch = watch or WatchSettings()
        self.watch = watch if watch.enabled else None
        config = RuntimeConfig(cluster_name="sim", catalog=catalog, policy=policy, watch=watch)
        self.shell = Shell(
            cluster=SimCluster(world),
            groups=SimAws(world),
            config=config,
            log=_QUIET,
            metrics=_NoMetrics(),
            writers=writers(world),
            clock=_Clock(world),
        )
        self.shell.tell = _Untold(_QUIET, self.shell.metrics, self.shell.clock)

    def act(self, world: World) -> bool:
        return awaits_capacity(self.shell.reconcile(stop_at=world.now + 30.0))


def poll_controller(world: World, catalog: Catalog, policy: Policy) -> ShellController:
    """fpga-burst in poll mode: one reconcile per tick."""
    return ShellController(world, catalog, policy, WatchSettings(enabled=False))


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
    given_back: int = 0  # instances terminated while launching (burst.loop.giveback)

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
    site: Site,
    policy: Policy,
    jobs: Sequence[Job],
    timings: Timings,
    seed: int = 0,
    controller: ControllerFactory = ShellController,
) -> PolicyResult:
    world = World(site, timings, seed)
    acting = controller(world, site.catalog, policy)
    queue: list[tuple[float, int, str, str]] = []
    for order, job in enumerate(jobs):
        heapq.heappush(queue, (job.submit, order, "submit", job.name))
    by_name = {job.name: job for job in jobs}
    heapq.heappush(queue, (0.0, len(jobs), "tick", ""))  # after the jobs of the same instant
    last_submit = max((j.submit for j in jobs), default=0.0)
    horizon = last_submit + 7 * 86400.0  # a job nothing can run must not spin for ever
    samples: list[Sample] = []
    next_sample = 0.0
    watch = _Watch(acting.watch, queue, len(jobs))
    while queue:
        t, _, kind, payload = heapq.heappop(queue)
        for when, what, instance_id in world.due(t):
            world.now = when
            world.advance(what, instance_id)
            # kube-scheduler binds within moments of boards appearing, before anyone acts
            watch.serial = _start(world, queue, watch.serial)
        world.now = t
        if kind == "submit":
            world.submit(by_name[payload])
            watch.changed(t)
        elif kind == "end":
            world.finish(payload)
        elif kind == "watch":
            if watch.due(t, payload):
                watch.acted(t, acting.act(world))
        else:
            watch.acted(t, acting.act(world), tick=True)
            if t >= next_sample:  # one sample a minute whatever the controller's period
                samples.append(_sample(world))
                next_sample = t + TICK_S
            if (t <= last_submit or not _done(world)) and t < horizon:
                watch.serial += 1
                heapq.heappush(queue, (t + acting.period_s, watch.serial, "tick", ""))
        watch.serial = _start(world, queue, watch.serial)
    return _outcome(name, world, samples)


class _Watch:
    """When watch mode reconciles between ticks (burst.loop.watch.watch, on virtual time).

    A batch of new pending pods is acted on `idle` after its last pod, or `max_batch` after
    its first; while the last reconcile left pods waiting for capacity asked for, the shell
    reconciles again every `recheck`. Nothing in the last `margin` before a tick: the
    invocation has ended, and the tick acts. A tick's own reconcile ends any batch.
    """

    def __init__(self, settings: WatchSettings | None,
                 queue: list[tuple[float, int, str, str]], serial: int) -> None:
        self.settings, self.queue, self.serial = settings, queue, serial
        self.batch_start: float | None = None
        self.batch = self.recheck = ""  # the one due event of each kind still valid

    def changed(self, t: float) -> None:
        if self.settings is None:
            return
        if self.batch_start is None:
            self.batch_start = t
        due = min(t + self.settings.idle.total_seconds(),
                  self.batch_start + self.settings.max_batch.total_seconds())
        self.batch = self._push(due, "batch")

    def due(self, t: float, payload: str) -> bool:
        """Whether the watch event `payload` reconciles now."""
        if payload == self.batch:
            self.batch, self.batch_start = "", None
        elif payload != self.recheck:
            return False  # superseded by a later change or reconcile
        assert self.settings is not None
        return t % TICK_S < TICK_S - self.settings.margin.total_seconds()

    def acted(self, t: float, awaiting: bool, tick: bool = False) -> None:
        if self.settings is None:
            return
        if tick:
            self.batch, self.batch_start = "", None
        self.recheck = self._push(t + self.settings.recheck.total_seconds(), "recheck") \
            if awaiting else ""

    def _push(self, when: float, kind: str) -> str:
        self.serial += 1
        token = f"{kind}-{self.serial}"
        heapq.heappush(self.queue, (when, self.serial, "watch", token))
        return token


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
        world.given_back,
    )
