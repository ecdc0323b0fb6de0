"""What one reconcile saw, decided and did; and how a failed step is kept in it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from burst.core.errors import BurstError, ClusterUnreachableError
from burst.core.model import Plan, Snapshot
from burst.core.scaledown import unneeded
from burst.core.scaledown.surplus import Surplus
from burst.core.scaledown.unneeded import ScaleDownPlan
from burst.loop import lifecycle
from burst.ports.aws import CapacityChange

T = TypeVar("T")


class Log(Protocol):
    def debug(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...
    def info(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...
    def warning(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...
    def error(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...


class MetricSink(Protocol):
    def add_metric(self, name: str, unit: Any, value: float) -> Any: ...


@dataclass(frozen=True)
class Reconciled:
    """What one reconcile saw, decided and did."""

    time: datetime
    snapshot: Snapshot
    plan: Plan
    scale_down: ScaleDownPlan
    pending_version: str
    changes: tuple[CapacityChange, ...] = ()
    terminated: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()
    lifecycle: tuple[lifecycle.HookOutcome, ...] = ()
    dry_run: bool = False
    # Launching instances no pending pod needs (decided), and those terminated for it.
    surplus: tuple[Surplus, ...] = ()
    given_back: tuple[Surplus, ...] = ()

    def summary(self) -> dict[str, Any]:
        outcomes: dict[str, int] = {}
        for d in self.plan.pods:
            outcomes[d.outcome.value] = outcomes.get(d.outcome.value, 0) + 1
        # Each scale-up names its group's region once groups live in more than one.
        regions = {g.name: g.region for g in self.snapshot.node_groups}
        several = len(set(regions.values())) > 1
        return {
            "pending": len(self.plan.pods),
            "outcomes": outcomes,
            "scaleUps": [
                {"nodeGroup": c.node_group, "from": c.from_size, "to": c.to_size,
                 **({"region": regions.get(c.node_group, "")} if several else {})}
                for c in self.changes if c.changed
            ],
            "scaleDown": dict(unneeded.summary(self.scale_down)),
            "terminated": list(self.terminated),
            "givenBack": [s.instance_id for s in self.given_back],
            "lifecycle": [o.summary() for o in self.lifecycle],
            "failures": list(self.failures),
            "dryRun": self.dry_run,
        }


def attempt(
    log: Log, failures: list[str], what: str, call: Callable[[], T]
) -> tuple[bool, T | None]:
    """(True, call()), or (False, None) after logging a BurstError; unreachable stops all."""
    try:
        return True, call()
    except ClusterUnreachableError:
        raise
    except BurstError as exc:
        failed(log, failures, what, exc)
        return False, None


def failed(log: Log, failures: list[str], what: str, exc: BurstError) -> None:
    """Keep `what` failed with `exc` in `failures`, and log it."""
    failures.append(f"{what}: {type(exc).__name__}: {exc}")
    log.error(f"{what} failed: {exc}",
              extra={"decision": what, "error": type(exc).__name__, "detail": str(exc)})
