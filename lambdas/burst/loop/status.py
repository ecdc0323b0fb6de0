"""The status ConfigMap's content: what the controller saw and last decided, for kubectl;
and the FPGA pod arrivals it has seen, which the next tick reads back (core.arrivals)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import yaml

from burst.core import arrivals
from burst.core.arrivals import Arrivals
from burst.core.errors import BurstError, ClusterUnreachableError
from burst.core.model import NodeGroup
from burst.core.scaledown import ScaleDownPlan
from burst.loop.result import Log
from burst.ports.cluster import ClusterReader

ARRIVALS_KEY = "arrivals.json"

# libyaml's dumper where it is built in: the pure-Python one costs milliseconds a tick.
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_arrivals(cluster: ClusterReader, log: Log) -> Arrivals:
    """The arrivals the last tick wrote; none if there is no status or it cannot be read
    (the estimate starts again from the pods visible now: scale-down keeps less idle)."""
    try:
        return arrivals.from_data(cluster.read_status().get(ARRIVALS_KEY))
    except ClusterUnreachableError:
        raise
    except BurstError as exc:
        log.warning(f"read status failed: {exc}; arrivals start from the visible pods",
                    extra={"decision": "read status", "error": type(exc).__name__})
        return Arrivals()


def status_data(
    node_groups: Sequence[NodeGroup],
    upcoming: Mapping[str, int],
    last_decision: str,
    now: datetime,
    scale_down: ScaleDownPlan | None = None,
    seen: Arrivals | None = None,
) -> dict[str, str]:
    """The status ConfigMap's data: the whole status as YAML, plus two keys for a quick look
    and the arrivals record."""
    document: dict[str, Any] = {
        "time": _time(now),
        "lastDecision": last_decision,
        "nodeGroups": [
            {
                "name": g.name,
                "instanceType": g.instance_type,
                "min": g.min_size,
                "max": g.max_size,
                "desired": g.desired,
                "instances": len(g.instances),
                "upcoming": upcoming.get(g.name, 0),
                **({"backoff": g.backoff} if g.backoff else {}),
            }
            for g in sorted(node_groups, key=lambda g: g.name)
        ],
    }
    if scale_down is not None:
        document["scaleDown"] = _scale_down(scale_down)
    data = {
        # libyaml's dumper: the pure-Python one costs milliseconds on every tick.
        "status.yaml": yaml.dump(document, Dumper=_Dumper, sort_keys=False),
        "lastDecision": last_decision,
        "lastDecisionTime": _time(now),
    }
    if seen is not None:
        data[ARRIVALS_KEY] = arrivals.to_data(seen)
    return data


def _scale_down(plan: ScaleDownPlan) -> list[dict[str, str]]:
    """Each burst node's scale-down step this tick, and why (kept ones too)."""
    steps = [
        *(("taint", s.node, s.reason) for s in plan.taint),
        *(("untaint", s.node, s.reason) for s in plan.untaint),
        *(("terminate", t.node, t.reason) for t in plan.terminate),
        *(("keep", s.node, s.reason) for s in plan.kept),
    ]
    return [{"node": node, "step": step, "reason": reason}
            for step, node, reason in sorted(steps, key=lambda s: (s[1], s[0]))]
