"""The shell every scaler invocation runs: observe -> plan -> act -> tell.

- observe (burst.loop.observe): node groups with their backoff, the cluster, one Snapshot;
- plan: planner.plan on scaledown.planning_view (a node we were about to remove still
  counts as capacity), and scaledown.unneeded with that plan;
- act (burst.loop.act; skipped in a dry run): scale up, scale down, continue lifecycle actions;
- tell (burst.loop.tell): pod Events, the status ConfigMap, logs, metrics.

Only ports are used here; the handler builds the adapters. Watch mode is burst.loop.watch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from burst.core import arrivals, scaledown
from burst.core.arrivals import Arrivals
from burst.core.planner import plan as make_plan
from burst.loop.act import Act, Writers
from burst.loop.clock import Clock, SystemClock
from burst.loop.config import RuntimeConfig
from burst.loop.observe import observe
from burst.loop.result import Log, MetricSink, Result
from burst.loop.status import read_arrivals
from burst.loop.tell import Tell
from burst.ports.aws import NodeGroups
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
    tell: Tell = field(init=False)  # one per invocation: it remembers the Events it told
    # The arrivals as of the last reconcile; read from the status ConfigMap the first time.
    arrivals: Arrivals | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.tell = Tell(self.log, self.metrics, self.writers.teller if self.writers else None)

    @property
    def dry_run(self) -> bool:
        return self.config.dry_run or self.writers is None

    def reconcile(self, stop_at: float | None = None) -> Result:
        """One pass. `stop_at` (clock.monotonic scale) bounds lifecycle drains.

        Raises ClusterUnreachableError (nothing written if raised by observe) and the AWS
        read errors of discovery; write failures are in Result.failures.
        """
        now, policy = self.clock.wall(), self.config.policy
        snapshot, version = observe(self.cluster, self.groups, self.config, now)
        seen = self.arrivals or read_arrivals(self.cluster, self.log)
        self.arrivals = arrivals.observe(seen, snapshot, now, policy.arrival_window)
        plan = make_plan(scaledown.planning_view(snapshot), policy)
        down = scaledown.unneeded(snapshot, policy, now, plan=plan, arrivals=self.arrivals)
        result = Result(now, snapshot, plan, down, version, dry_run=self.dry_run,
                        arrivals=self.arrivals)
        if self.writers is not None and not self.dry_run:
            act = Act(self.writers, self.config, self.log, self.metrics, self.clock)
            result = act(result, stop_at)
        self.tell(result)
        return result
