"""A simulated hybrid cluster and its Auto Scaling groups, on virtual time.

It stands in for the API server and AWS behind the controller's own ports (cluster.py's
ClusterReader/ClusterWriter and cloud.py's AwsReader/AwsWriter), so the shell drives it
exactly as it drives the real ones. It also plays the parts nobody controls: kube-scheduler
binding pods to free boards, instances booting, device plugins advertising boards late,
launches failing, jobs finishing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from burst.core import spot
from burst.core.model import Instance, Node, NodeGroup, Pod
from burst.core.scaleup.backoff import ScalingActivity, backoff
from burst.core.scaleup.capacity import group_boards
from burst.ports.aws import CapacityChange
from burst.tools.sim.billing import Account, Ledger
from burst.tools.sim.scheduler import KUBE, binder
from burst.tools.sim.site import Site
from burst.tools.sim.timing import Distribution, constant, luck
from burst.tools.sim.trace import Job

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Timings:
    # launch to the node registering (VPN, kubeadm join)
    boot: Distribution = field(default_factory=lambda: constant(240.0))
    # registration to boards advertised
    device_plugin: Distribution = field(default_factory=lambda: constant(60.0))
    # launch to EC2 `running`, when billing starts (the pending state is short and unbilled)
    pending_s: float = 15.0
    failure_rate: Mapping[str, float] = field(default_factory=dict)  # group -> probability
    # group -> Spot interruptions per instance-hour (exponential), and the notice EC2 gives
    interruption_rate: Mapping[str, float] = field(default_factory=dict)
    notice_s: float = 120.0
    scheduler: str = KUBE  # how kube-scheduler binds pods (scheduler.py)


@dataclass
class _Instance:
    instance_id: str
    group: str
    launched: float
    ordinal: int  # the how-manieth launch in its group (the key of its draws)
    state: str = "Pending"  # Pending -> Pending:Wait (node registered) -> InService
    ended: float | None = None


@dataclass
class _Pod:
    job: Job
    pod: Pod
    node: str | None = None
    board: str = ""
    boards: int = 0
    started: float | None = None


class World:
    """Everything the simulation knows; `now` is seconds since EPOCH, set by the engine."""

    def __init__(self, site: Site, timings: Timings, seed: int = 0) -> None:
        groups = site.groups
        self.catalog = site.catalog
        self.timings = timings
        self.seed = seed
        self.launches: dict[str, int] = {}  # group -> launches asked for so far
        self.now = 0.0
        self.groups = {g.name: g for g in groups}
        self.nodes: dict[str, Node] = {n.name: n for n in site.onprem}
        self.node_instance: dict[str, str] = {}  # node name -> instance id
        self.instances: dict[str, _Instance] = {}
        self.activities: dict[str, list[ScalingActivity]] = {g.name: [] for g in groups}
        self.pods: dict[str, _Pod] = {}  # pending and running
        self.status: dict[str, str] = {}  # the status ConfigMap's data, as last written
        self.pending: dict[str, _Pod] = {}  # oldest first
        self.used: dict[str, dict[str, int]] = {}  # node -> board -> boards of running pods
        self.finished: list[_Pod] = []
        self.scale_ups = 0
        self.failed_launches = 0
        self.interruptions = 0
        self.restarts = 0  # pods evicted by an interruption notice, run again from the start
        self.lost_s = 0.0  # board-seconds of work those pods lost
        self.given_back = 0  # instances terminated while still launching (Pending...)
        self.timers: list[tuple[float, str, str]] = []  # (when, what, instance id)
        self.burst_nodes: set[str] = set()  # every node a burst instance ever registered
        self.ledger = Ledger()  # instance id -> its bill
        self.dirty = True  # something changed that kube-scheduler would act on
        self._serial = 0
        self.binder = binder(timings.scheduler, self.catalog, self.groups, seed)

    @property
    def moment(self) -> datetime:
        return EPOCH + timedelta(seconds=self.now)

    # -- jobs and kube-scheduler ------------------------------------------------------

    def submit(self, job: Job) -> None:
        pod = Pod(
            job.name,
            requests=job.requests,
            accelerators=job.accelerators,
            node_selector=job.node_selector,
            created=self.moment,
        )
        self.pods[job.name] = self.pending[job.name] = _Pod(job, pod)
        self.dirty = True

    def schedule(self) -> list[_Pod]:
        """Binds pending pods to nodes with free boards, oldest first; returns the started.

        Only after a change that can free or add boards, or add a pod: otherwise the
        answer is the same as last time, and asking costs pods x nodes.
        """
        if not self.dirty:
            return []
        self.dirty = False
        free = self.free_boards()
        started = []
        pods_on = Counter(e.node for e in self.pods.values() if e.node)
        misfits: set[tuple[object, ...]] = set()  # demands no node had room for
        # Jobs are submitted in time order, so `pending` is oldest first.
        for entry in list(self.pending.values()):
            shape = (
                tuple(entry.pod.requests.items()),
                tuple(entry.pod.accelerators.items()),
                tuple(entry.pod.node_selector.items()),
            )
            if shape in misfits:
                continue
            spot = self.binder.place(entry.pod, free, self.nodes, pods_on)
            if spot is None:
                misfits.add(shape)
                continue
            node, board, boards = spot
            free[node][board] -= boards
            pods_on[node] = pods_on.get(node, 0) + 1
            self._bind(entry, node, board, boards)
            started.append(entry)
        return started

    def _bind(self, entry: _Pod, node: str, board: str, boards: int) -> None:
        del self.pending[entry.pod.name]
        entry.node, entry.board, entry.boards, entry.started = node, board, boards, self.now
        entry.pod = replace(entry.pod, node=node, requests={board: boards}, accelerators={},
                            started=self.moment)
        used = self.used.setdefault(node, {})
        used[board] = used.get(board, 0) + boards
        self._account_change(node, boards)

    def _account_change(self, node: str, boards: int) -> None:
        account = self.ledger.accounts.get(self.node_instance.get(node, ""))
        if account is not None:
            account.change(self.now, boards)

    def free_boards(self) -> dict[str, dict[str, int]]:
        free = {}
        for node in self.nodes.values():
            if node.ready and not node.unschedulable and node.allocatable:
                used = self.used.get(node.name, {})
                free[node.name] = {b: n - used.get(b, 0) for b, n in node.allocatable.items()}
        return free

    def finish(self, name: str) -> None:
        entry = self.pods.get(name)
        if entry is None or entry.started is None:
            return
        if self.now < entry.started + entry.job.duration - 1e-6:
            return  # the end of a run an interruption cut short: the job runs again
        del self.pods[name]
        if entry.node is not None:
            used = self.used[entry.node]
            used[entry.board] -= entry.boards
            self._account_change(entry.node, -entry.boards)
            self.finished.append(entry)
            self.dirty = True

    @property
    def running(self) -> int:
        return len(self.pods) - len(self.pending)

    # -- instances booting -------------------------------------------------------------

    def due(self, until: float) -> list[tuple[float, str, str]]:
        ready = sorted(t for t in self.timers if t[0] <= until)
        self.timers = [t for t in self.timers if t[0] > until]
        return ready

    def advance(self, what: str, instance_id: str) -> None:
        instance = self.instances.get(instance_id)
        if instance is None or instance.ended is not None:
            return
        group = self.groups[instance.group]
        name = f"ip-{instance_id[2:]}"
        if what in ("register", "boards") and instance.state.startswith("Term"):
            return  # terminated while launching (given back): it boots no further
        if what == "register":
            instance.state = "Pending:Wait"
            self.nodes[name] = Node(
                name,
                group.name,
                labels=dict(group.labels),
                taints=group.taints,
                instance_id=instance_id,
                created=self.moment,
            )
            self.node_instance[name] = instance_id
            self.burst_nodes.add(name)
            key = (self.seed, "device-plugin", group.name, instance.ordinal)
            delay = self.timings.device_plugin.draw(luck(*key))
            self.timers.append((self.now + delay, "boards", instance_id))
        elif what == "boards" and name in self.nodes:
            boards = dict(group_boards(group, self.catalog))
            self.nodes[name] = replace(self.nodes[name], allocatable=boards)
            self.ledger.accounts[instance_id].advertise(self.now)
            self.dirty = True
        elif what == "interrupt" and not instance.state.startswith("Term"):
            self._interrupt(instance, name)
        elif what == "reclaim":
            self._reclaim(instance)

    # -- Spot interruptions ------------------------------------------------------------

    def _interrupt(self, instance: _Instance, node: str) -> None:
        """The two-minute notice: the lifecycle function cordons the node and evicts its
        pods at once (burst.loop.notices); their Jobs make new pods, which start over."""
        self.interruptions += 1
        self.timers.append((self.now + self.timings.notice_s, "reclaim", instance.instance_id))
        if node not in self.nodes:
            return  # still booting: nothing to drain
        self.change_node(node, unschedulable=True)
        for entry in [e for e in self.pods.values() if e.node == node]:
            self._evict(entry)

    def _evict(self, entry: _Pod) -> None:
        node, started = entry.node or "", entry.started or self.now
        self.used[node][entry.board] -= entry.boards
        self._account_change(node, -entry.boards)
        self.lost_s += entry.boards * (self.now - started)
        self.restarts += 1
        job = entry.job
        entry.node, entry.board, entry.boards, entry.started = None, "", 0, None
        entry.pod = Pod(job.name, requests=job.requests, accelerators=job.accelerators,
                        node_selector=job.node_selector, created=self.moment)
        self.pending[job.name] = entry
        # kube-scheduler takes pending pods by creation time: the oldest stay first
        self.pending = dict(sorted(self.pending.items(), key=lambda kv: kv[1].job.submit))

    def _reclaim(self, instance: _Instance) -> None:
        """EC2 takes the instance back. Interrupted by EC2 in its first hour, a Linux Spot
        instance is not charged; later, the seconds used are (EC2 user guide, "Billing for
        interrupted Spot Instances"). The group keeps its desired capacity, so Auto Scaling
        launches a replacement unless the instance was already being terminated."""
        if instance.ended is not None:
            return
        replace_it = not instance.state.startswith("Term")
        instance.state, instance.ended = "Terminated", self.now
        self.ledger.accounts[instance.instance_id].interrupt(self.now)
        for node, owner in list(self.node_instance.items()):
            if owner == instance.instance_id:
                self.delete_node(node)
                self.dirty = True
        group = self.groups[instance.group]
        if replace_it and not self._launch(group):
            self.groups[group.name] = replace(group, desired=max(0, group.desired - 1))

    # -- node and instance changes, as the API server and the ASG make them ------------------

    def change_node(self, name: str, **changes: object) -> bool:
        current = self.nodes.get(name)
        if current is None:
            return False
        updated = replace(current, **changes)  # type: ignore[arg-type]
        self.nodes[name] = updated
        self.dirty = True
        return updated != current

    def delete_node(self, name: str) -> bool:
        self.node_instance.pop(name, None)
        return self.nodes.pop(name, None) is not None

    def node_groups(self, now: datetime) -> tuple[NodeGroup, ...]:
        alive = self.instances_alive()
        out = []
        for group in self.groups.values():
            stopped = backoff(self.activities[group.name], now)
            out.append(
                replace(
                    group,
                    instances=tuple(alive.get(group.name, ())),
                    backoff=stopped.reason if stopped else None,
                )
            )
        return tuple(out)

    def instances_alive(self) -> dict[str, list[Instance]]:
        """Group -> its instances not ended, in launch order: one pass over the instances
        for every group, not one per group (they are every instance of the run)."""
        alive: dict[str, list[Instance]] = {}
        for i in self.instances.values():
            if i.ended is None:
                alive.setdefault(i.group, []).append(Instance(i.instance_id, i.state, "us-east-1a"))
        return alive

    def raise_desired(self, node_group: str, target: int) -> CapacityChange:
        group = self.groups[node_group]
        before = group.desired
        new = min(max(target, before), group.max_size)
        # A failed launch gives its capacity up; the failed activity backs the group off.
        failed = sum(not self._launch(group) for _ in range(new - before))
        if new > before:
            self.scale_ups += 1
            self.groups[node_group] = replace(
                group, desired=new - failed, last_scale_up=self.moment
            )
        return CapacityChange(node_group, before, new, target, clamped=new < target)

    def _launch(self, group: NodeGroup) -> bool:
        self._serial += 1
        instance_id = f"i-{self._serial:017x}"
        ordinal = self.launches[group.name] = self.launches.get(group.name, 0) + 1
        if luck(self.seed, "failure", group.name, ordinal).random() < \
                self.timings.failure_rate.get(group.name, 0.0):
            self.failed_launches += 1
            self.activities[group.name].append(
                ScalingActivity(f"a-{self._serial}", "Failed", self.moment, self.moment,
                                f"Launching a new EC2 instance: {instance_id}",
                                "InsufficientInstanceCapacity: simulated")
            )
            return False
        self.instances[instance_id] = _Instance(instance_id, group.name, self.now, ordinal)
        self.ledger.accounts[instance_id] = Account(
            self.boards(group.name), self.price(group.name), self.now + self.timings.pending_s
        )
        boot = self.timings.boot.draw(luck(self.seed, "boot", group.name, ordinal))
        self.timers.append((self.now + boot, "register", instance_id))
        rate = self.timings.interruption_rate.get(group.name, 0.0)
        if rate > 0:
            lasts = luck(self.seed, "interruption", group.name, ordinal).expovariate(rate / 3600.0)
            self.timers.append((self.now + self.timings.pending_s + lasts, "interrupt",
                                instance_id))
        return True

    def terminate(self, instance_id: str) -> bool:
        """Terminate with decrement: the instance waits in its terminate hook. One still
        launching boots no further; its bill ends when the hook completes (billing.py:
        nothing if that is before `running`)."""
        instance = self.instances.get(instance_id)
        if instance is None or instance.ended is not None or instance.state.startswith("Term"):
            return False
        self.given_back += instance.state.startswith("Pending")
        instance.state = "Terminating:Wait"
        group = self.groups[instance.group]
        self.groups[group.name] = replace(group, desired=max(0, group.desired - 1))
        return True

    def complete(self, instance_id: str) -> None:
        """The lifecycle action is done: a launch goes in service, a termination ends."""
        instance = self.instances.get(instance_id)
        if instance is None or instance.ended is not None:
            return
        if instance.state == "Pending:Wait":
            instance.state = "InService"
        elif instance.state == "Terminating:Wait":
            instance.state, instance.ended = "Terminated", self.now
            self.ledger.accounts[instance_id].end(self.now)
            for node, owner in list(self.node_instance.items()):
                if owner == instance_id:
                    self.delete_node(node)

    # -- accounting -----------------------------------------------------------------------

    def price(self, group: str) -> float:
        # What the planner prices the group at (a Spot group: its Spot price) is billed.
        return spot.price_per_hour(self.groups[group], self.catalog) or 0.0

    def boards(self, group: str) -> int:
        return sum(group_boards(self.groups[group], self.catalog).values())
