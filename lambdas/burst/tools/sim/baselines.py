"""Baselines the engine can run instead of fpga-burst: Cluster-Autoscaler-like and
Karpenter-like controllers, acting straight on the simulated world.

They are models, not ports of the real code; what they assume is written here once and
printed beside the results (ASSUMPTIONS).

`ca`: scans every 10 s (CA's --scan-interval default). Pending pods that fit neither free
boards nor upcoming instances are estimated pod by pod, first fit, onto new nodes of each
node group; the least-waste expander picks one group per scan. A node is removed after
10 minutes without an FPGA pod (--scale-down-unneeded-time) and not within 10 minutes of
a scale-up (--scale-down-delay-after-add). CA treats a Ready node without its accelerator
as upcoming only for GPUs (the GPU label); an FPGA extended resource gets no such care by
default: a registered node whose device plugin has not advertised boards counts as a node
with none, so the pods waiting for it ask for more nodes (double scale-up). With
`startup-taint=yes` the nodes register with a startup taint that the device plugin's
set-up removes, and CA treats a node carrying it as still upcoming (`--startup-taint`,
Cluster Autoscaler 1.29.0 release notes: "taints that are used to prevent pods from
scheduling before node is fully initialized (e.g. when using daemonset to install device
plugin)"): its boards count as on their way, and it is not empty before it has them.

`karpenter`: batches pending pods as Karpenter does: a batch ends once no new pending pod
came for 1 s, or 10 s after its first (BATCH_IDLE_DURATION and BATCH_MAX_DURATION
defaults, https://karpenter.sh/docs/reference/settings/; `batch-idle=`, `batch-max=`
change them); pods left over are tried again every 10 s. It packs them first-fit-decreasing onto the
capacity in flight, then onto new nodes, each launched as the cheapest instance type that
fits what was packed onto it. A launched node counts with its instance type's boards
until it has them (Karpenter knows the capacity of what it launched). Consolidation:
`WhenEmpty` only (running jobs are not moved), after consolidateAfter, which the v1
NodePool API requires (no default; kubernetes-sigs/karpenter pkg/apis/v1/nodepool.go) and
which the docs' examples set to 0s; we default to 0 s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from burst.core.errors import DemandError
from burst.core.model import Catalog, NodeGroup, Pod
from burst.core.scaleup.capacity import group_boards
from burst.core.scaleup.fit import Alternative, alternatives, placement_problem
from burst.loop.config import WatchSettings
from burst.tools.sim.engine import ControllerFactory
from burst.tools.sim.world import World

SCAN_S = 10.0
CA_UNNEEDED = timedelta(minutes=10)
CA_DELAY_AFTER_ADD = timedelta(minutes=10)
KARPENTER_CONSOLIDATE_AFTER = timedelta(0)
BATCH_IDLE = timedelta(seconds=1)
BATCH_MAX = timedelta(seconds=10)
ASSUMPTIONS = {
    "ca": "scan 10 s; least-waste; unneeded 10 min; delay after add 10 min; "
    "node Ready without boards = node with none (may double scale-up) unless "
    "startup-taint=yes (then upcoming)",
    "karpenter": "batch ends 1 s after the last new pod, 10 s after the first (Karpenter's "
    "defaults), leftovers every 10 s; FFD, cheapest type that fits; WhenEmpty consolidation; "
    "in-flight nodes count with their type's boards",
}


@dataclass(frozen=True)
class Settings:
    """A baseline's own settings, as `--policy` spells them (run.py)."""

    idle: timedelta | None = None  # removal time; None: the baseline's default
    startup_taint: bool = False  # CA: nodes awaiting their boards are upcoming
    batch_idle: timedelta = BATCH_IDLE  # Karpenter's batching window
    batch_max: timedelta = BATCH_MAX


@dataclass
class _Slot:
    """Room for pods: a node's free boards, or an instance type's on a new node."""

    group: NodeGroup | None
    labels: Mapping[str, str]
    free: dict[str, int]

    def take(self, pod: Pod, options: tuple[Alternative, ...]) -> int:
        """Boards taken for the pod, 0 if it does not fit (then nothing changes)."""
        if self.group is not None and placement_problem(pod, self.labels, self.group.taints):
            return 0
        for alt in options:
            if self.free.get(alt.board, 0) >= alt.boards:
                self.free[alt.board] -= alt.boards
                return alt.boards
        return 0


def _options(pod: Pod, catalog: Catalog) -> tuple[Alternative, ...]:
    try:
        return alternatives(pod, catalog)
    except DemandError:  # unknown accelerator: no controller can help it
        return ()


def _room(world: World, advertised_only: bool) -> list[_Slot]:
    """Free boards on nodes, then whole instance types for instances still coming."""
    slots = []
    for name, free in world.free_boards().items():
        node = world.nodes[name]
        slots.append(_Slot(None, node.labels, dict(free)))
    registered = {
        iid: world.nodes[name] for name, iid in world.node_instance.items() if name in world.nodes
    }
    for iid, instance in world.instances.items():
        if instance.ended is not None or instance.state.startswith("Term"):
            continue
        joined = registered.get(iid)
        if joined is None or (not advertised_only and not joined.allocatable):
            group = world.groups[instance.group]
            slots.append(_Slot(group, group.labels, dict(group_boards(group, world.catalog))))
    return slots


def _unhelped(world: World, advertised_only: bool) -> list[tuple[Pod, tuple[Alternative, ...]]]:
    """Pending pods that fit neither free boards nor capacity on its way."""
    slots = _room(world, advertised_only)
    left = []
    for entry in world.pending.values():
        options = _options(entry.pod, world.catalog)
        if options and not any(slot.take(entry.pod, options) for slot in slots):
            left.append((entry.pod, options))
    return left


def _groups(world: World) -> list[NodeGroup]:
    """Groups that can grow now: room under max size, not backed off."""
    return [
        g for g in world.node_groups(world.moment) if g.desired < g.max_size and g.backoff is None
    ]


@dataclass
class _EmptyNodes:
    """Removes burst nodes that held no FPGA pod for `idle` (cordon, terminate, gone)."""

    idle_s: float
    count_unadvertised: bool  # CA: a node without boards is empty; Karpenter: not yet ready
    since: dict[str, float] = field(default_factory=dict)

    def sweep(self, world: World, allowed: bool) -> None:
        empty = set()
        for name, iid in list(world.node_instance.items()):
            node = world.nodes.get(name)
            if node is None or (not node.allocatable and not self.count_unadvertised):
                continue
            if any(world.used.get(name, {}).values()):
                continue
            empty.add(name)
            since = self.since.setdefault(name, world.now)
            if allowed and world.now - since >= self.idle_s:
                world.change_node(name, unschedulable=True)
                world.terminate(iid)
                world.complete(iid)  # no terminate hook in these setups: the instance ends
        self.since = {n: t for n, t in self.since.items() if n in empty and n in world.nodes}


class ClusterAutoscaler:
    period_s = SCAN_S
    watch: WatchSettings | None = None  # scans on its own period only

    def __init__(self, idle: timedelta, startup_taint: bool = False) -> None:
        self.startup_taint = startup_taint
        self.empty = _EmptyNodes(idle.total_seconds(), count_unadvertised=not startup_taint)
        self.last_scale_up = float("-inf")

    def act(self, world: World) -> bool:
        if self._scale_up(world):
            self.last_scale_up = world.now
        settled = world.now - self.last_scale_up >= CA_DELAY_AFTER_ADD.total_seconds()
        self.empty.sweep(world, settled)
        return False  # it scans on its own period, nothing in between

    def _scale_up(self, world: World) -> bool:
        pods = _unhelped(world, advertised_only=not self.startup_taint)
        if not pods:
            return False
        best: tuple[float, int, str] | None = None
        chosen: tuple[NodeGroup, int] | None = None
        for group in _groups(world):
            nodes, served, used = self._estimate(world, group, pods)
            if not nodes:
                continue
            total = nodes * sum(group_boards(group, world.catalog).values())
            key = ((total - used) / total, -served, group.name)  # least waste, then more pods
            if best is None or key < best:
                best, chosen = key, (group, nodes)
        if chosen is None:
            return False
        group, nodes = chosen
        world.raise_desired(group.name, group.desired + nodes)
        return True

    @staticmethod
    def _estimate(
        world: World, group: NodeGroup, pods: Iterable[tuple[Pod, tuple[Alternative, ...]]]
    ) -> tuple[int, int, int]:
        """CA's binpacking estimator: first fit, pod by pod, onto new nodes of `group`."""
        template = dict(group_boards(group, world.catalog))
        bins: list[_Slot] = []
        served = used = 0
        for pod, options in pods:
            taken = next((n for n in (b.take(pod, options) for b in bins) if n), 0)
            if not taken and len(bins) < group.max_size - group.desired:
                fresh = _Slot(group, group.labels, dict(template))
                taken = fresh.take(pod, options)
                if taken:
                    bins.append(fresh)
            served += bool(taken)
            used += taken
        return len(bins), served, used


@dataclass
class _Claim:
    """A node Karpenter is about to launch: the groups that could still hold its pods."""

    fits: dict[str, _Slot]

    def add(self, pod: Pod, options: tuple[Alternative, ...]) -> bool:
        trial = {n: _Slot(s.group, s.labels, dict(s.free)) for n, s in self.fits.items()}
        kept = {n: s for n, s in trial.items() if s.take(pod, options)}
        if not kept:
            return False
        self.fits = kept
        return True


class Karpenter:
    period_s = SCAN_S  # leftovers and consolidation

    def __init__(self, idle: timedelta, batch_idle: timedelta = BATCH_IDLE,
                 batch_max: timedelta = BATCH_MAX) -> None:
        self.empty = _EmptyNodes(idle.total_seconds(), count_unadvertised=False)
        # The engine batches new pending pods as the watch does (engine._Watch): the same
        # rule as Karpenter's batcher; nothing rechecks (act never reports waiting), and no
        # margin (Karpenter runs all the time, not in invocations).
        self.watch: WatchSettings | None = WatchSettings(
            idle=batch_idle, max_batch=batch_max, margin=timedelta(0))

    def act(self, world: World) -> bool:
        self._provision(world)
        self.empty.sweep(world, allowed=True)
        return False  # it scans on its own period, nothing in between

    def _provision(self, world: World) -> None:
        pods = _unhelped(world, advertised_only=False)
        if not pods:
            return
        groups = {g.name: g for g in _groups(world)}
        pods.sort(key=lambda p: -min(a.boards for a in p[1]))  # decreasing
        claims: list[_Claim] = []
        for pod, options in pods:
            if any(c.add(pod, options) for c in claims):
                continue
            claim = _Claim(
                {
                    n: _Slot(g, g.labels, dict(group_boards(g, world.catalog)))
                    for n, g in groups.items()
                }
            )
            if claim.add(pod, options):
                claims.append(claim)
        room = {n: g.max_size - g.desired for n, g in groups.items()}
        launch: dict[str, int] = {}
        for claim in claims:
            for name in sorted(claim.fits, key=lambda n: (world.price(n), n)):
                if room[name] > 0:
                    room[name] -= 1
                    launch[name] = launch.get(name, 0) + 1
                    break
        for name, count in launch.items():
            world.raise_desired(name, groups[name].desired + count)


def baseline(kind: str, settings: Settings = Settings()) -> ControllerFactory:
    """A controller factory for the engine."""
    if kind == "ca":
        idle = CA_UNNEEDED if settings.idle is None else settings.idle
        return lambda world, catalog, policy: ClusterAutoscaler(idle, settings.startup_taint)
    idle = KARPENTER_CONSOLIDATE_AFTER if settings.idle is None else settings.idle
    return lambda world, catalog, policy: Karpenter(idle, settings.batch_idle, settings.batch_max)
