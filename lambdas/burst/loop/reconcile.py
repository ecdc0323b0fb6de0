"""The shell every scaler invocation runs: observe -> plan -> act -> tell.

- observe (burst.loop.observe): node groups with their backoff, the cluster, one Snapshot;
- plan: planner.plan on unneeded.planning_view (a node we were about to remove still
  counts as capacity) with the FPGA pods of rebalancing nodes as demand
  (marks.demand_view), and unneeded.unneeded with that plan;
- act and tell, in the order that matters when time runs short (each step is skipped, or
  stops, once the tick's deadline has passed; skipped steps are the next tick's):
  scale-up (burst.loop.act), the status ConfigMap, pod Events within their budget
  (burst.loop.tell), scale-down and lifecycle actions, node Events, the status again if
  what it says has changed; then logs and metrics. A dry run only logs and counts.

What the shell keeps from one reconcile to the next is its Memory (burst.loop.memory), read
from the status ConfigMap on its first reconcile and written into every status.

Only ports are used here; the handler builds the adapters. Watch mode is burst.loop.watch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from burst.core.notices import marks
from burst.core.scaledown import defer, unneeded
from burst.core.scaledown.surplus import surplus
from burst.core.scaleup.planner import plan as make_plan
from burst.loop.act import Act, Writers
from burst.loop.clock import Clock, SystemClock
from burst.loop.config import RuntimeConfig
from burst.loop.market import with_market
from burst.loop.memory import Memory, read_memory
from burst.loop.observe import observe
from burst.loop.result import Log, MetricSink, Reconciled
from burst.loop.tell import EventBudget, Tell, Told
from burst.ports.aws import NodeGroups, SpotPrices, VcpuQuotas
from burst.ports.cluster import ClusterReader


@dataclass
class Shell:
    """One invocation's view of the world through the ports. `writers` None: dry run."""

    cluster: ClusterReader
    groups: NodeGroups
    config: RuntimeConfig
    log: Log
    metrics: MetricSink
    writers: Writers | None = None
    clock: Clock = field(default_factory=SystemClock)
    # Live Spot prices and F vCPU quotas (burst.loop.market); None: not read.
    prices: SpotPrices | None = None
    quotas: VcpuQuotas | None = None
    tell: Tell = field(init=False)
    # What is kept between reconciles: read from the status ConfigMap the first time.
    memory: Memory | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        teller = self.writers.teller if self.writers else None
        self.tell = Tell(self.log, self.metrics, self.clock, teller)

    @property
    def dry_run(self) -> bool:
        return self.config.dry_run or self.writers is None

    def reconcile(self, stop_at: float | None = None) -> Reconciled:
        """One pass. `stop_at` (clock.monotonic scale): nothing after scale-up and the
        status is started later (Events, scale-down, drains).

        Raises ClusterUnreachableError (nothing written if raised by observe) and the AWS
        read errors of discovery; write failures are in Reconciled.failures.
        """
        now, policy = self.clock.wall(), self.config.policy
        snapshot, version = observe(self.cluster, self.groups, self.config, now)
        snapshot = with_market(snapshot, self.prices, self.quotas, self.log)
        if self.memory is None:
            self.memory = read_memory(self.cluster, self.log)
        memory = self.memory
        memory.learn(snapshot, now, policy)
        view = marks.demand_view(unneeded.planning_view(snapshot))
        plan = defer.hold(make_plan(view, policy), view, memory.runs, policy, now)
        down = unneeded.unneeded(snapshot, policy, now, plan=plan, arrivals=memory.arrivals,
                                  runs=memory.runs)
        extra = surplus(snapshot, plan) if policy.give_back_launching else ()
        result = Reconciled(now, snapshot, plan, down, version, dry_run=self.dry_run,
                            surplus=extra)
        if self.writers is not None and not self.dry_run:
            act = Act(self.writers, self.config, self.log, self.metrics, self.clock, self.cluster)
            result = self._act_and_tell(act, result, memory, stop_at)
        self.tell.summarise(result)
        return result

    def _act_and_tell(self, act: Act, result: Reconciled, memory: Memory,
                      stop_at: float | None) -> Reconciled:
        tell = self.tell
        result = act.scale_up(result)
        due = tell.pod_events_due(result, memory)
        told = Told(deferred=len(due))
        tell.status(result, told, memory)
        budget = EventBudget.of(self.config.events, self.clock, stop_at)
        told = tell.events(due, budget, memory)
        result = act.scale_down(result, stop_at)
        told.add(tell.events(tell.node_events_due(result), budget, memory))
        tell.status(result, told, memory)
        return result
