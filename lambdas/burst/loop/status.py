"""The status ConfigMap's content: what the controller saw and last decided, for kubectl;
and the FPGA pod arrivals it has seen, which the next tick reads back (core.arrivals)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from burst.core.errors import BurstError, ClusterUnreachableError
from burst.core.model import NodeGroup
from burst.core.scaledown import arrivals, runtimes
from burst.core.scaledown.arrivals import Arrivals
from burst.core.scaledown.runtimes import Runs
from burst.core.scaledown.unneeded import ScaleDownPlan
from burst.loop.result import Log
from burst.ports.cluster import ClusterReader

ARRIVALS_KEY = "arrivals.json"
RUNS_KEY = "runs.json"  # how long FPGA pods ran (core.runtimes)
TOLD_KEY = "toldEvents"  # digests of the pod Events told (burst.loop.tell)
OWED_KEY = "owedEvents"  # digests of the TriggeredScaleUp Events not written yet
# Characters of digests the status may hold, told and owed together: a ConfigMap holds at
# most 1 MiB. Past it (some 90,000 pods) digests are left out, owed ones first: their
# pods miss a TriggeredScaleUp, or hear a NotTriggerScaleUp a second time, but the status
# is still written.
DIGEST_ROOM = 720_000
SCALE_UPS_KEY = "scaleUps.json"  # each group's last scale-up, as pod Events word it
_DIGEST = 6  # bytes: 8 base64 characters a pod; a collision (~1 in 10^6 at 30,000 pods
# told at once) only keeps one pod's Event back while the other's stands

# libyaml's dumper where it is built in: the pure-Python one costs milliseconds a tick.
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Recent:
    """The YAML of the last documents dumped. Between reconciles the status usually says
    the same but for its time (each reconcile writes it twice, before and after its
    Events), and turning it into YAML (PyYAML's representer is Python even with libyaml)
    cost the simulator a third of its run."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self.texts: list[tuple[Mapping[str, Any], str]] = []

    def text(self, document: Mapping[str, Any]) -> str:
        for seen, text in self.texts:
            if seen == document:
                return text
        text = yaml.dump(document, Dumper=_Dumper, sort_keys=False)
        self.texts = [(document, text), *self.texts[:self.kept - 1]]
        return text


_RECENT = _Recent(kept=2)


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def told_key(pod: str, reason: str, message: str) -> str:
    """The digest of an Event told: `pod` is its uid (or name, if it has none)."""
    digest = hashlib.blake2b(f"{pod}\0{reason}\0{message}".encode(), digest_size=_DIGEST)
    return base64.b64encode(digest.digest()).decode()


@dataclass(frozen=True)
class Memory:
    """What a tick reads back of the last one's status."""

    arrivals: Arrivals = field(default_factory=Arrivals)
    told: set[str] = field(default_factory=set)
    scale_ups: dict[str, str] = field(default_factory=dict)
    owed: set[str] = field(default_factory=set)
    runs: Runs = field(default_factory=Runs)


def read_memory(cluster: ClusterReader, log: Log) -> Memory:
    """What the last tick wrote; nothing if there is no status or it cannot be read
    (arrivals start again from the pods visible now: scale-down keeps less idle; Events
    are told again, once). A record that does not parse is read as empty."""
    try:
        data = cluster.read_status()
    except ClusterUnreachableError:
        raise
    except BurstError as exc:
        log.warning(f"read status failed: {exc}; arrivals start from the visible pods",
                    extra={"decision": "read status", "error": type(exc).__name__})
        return Memory()
    try:
        scale_ups = json.loads(data.get(SCALE_UPS_KEY) or "{}")
    except ValueError:
        scale_ups = {}
    if not isinstance(scale_ups, dict):
        scale_ups = {}
    return Memory(arrivals.from_data(data.get(ARRIVALS_KEY)), _told(data.get(TOLD_KEY) or ""),
                  {str(k): str(v) for k, v in scale_ups.items()}, _told(data.get(OWED_KEY) or ""),
                  runtimes.from_data(data.get(RUNS_KEY)))


def _told(text: str) -> set[str]:
    width = len(told_key("", "", ""))
    return {text[i:i + width] for i in range(0, len(text) - width + 1, width)}


def status_data(
    node_groups: Sequence[NodeGroup],
    upcoming: Mapping[str, int],
    last_decision: str,
    now: datetime,
    scale_down: ScaleDownPlan | None = None,
    seen: Arrivals | None = None,
    *,
    pending: Mapping[str, Any] | None = None,
    events: Mapping[str, int] | None = None,
    told: Collection[str] | None = None,
    scale_ups: Mapping[str, str] | None = None,
    owed: Collection[str] | None = None,
    runs: Runs | None = None,
) -> dict[str, str]:
    """The status ConfigMap's data: the whole status as YAML, plus two keys for a quick look,
    the arrivals record and the told Events' digests.

    `pending`: the pending pods by outcome and reason (burst.loop.tell.pending_summary);
    `events`: this tick's Events written, failed and left for a later tick."""
    # The time leads the document, apart: it changes every reconcile, the rest seldom.
    document: dict[str, Any] = {
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
    if pending is not None:
        document["pending"] = dict(pending)
    if events is not None:
        document["events"] = dict(events)
    if scale_down is not None:
        document["scaleDown"] = _scale_down(scale_down)
    stamp = _time(now)
    data = {
        "status.yaml": yaml.dump({"time": stamp}, Dumper=_Dumper) + _RECENT.text(document),
        "lastDecision": last_decision,
        "lastDecisionTime": stamp,
    }
    if seen is not None:
        data[ARRIVALS_KEY] = arrivals.to_data(seen)
    if runs is not None:
        data[RUNS_KEY] = runtimes.to_data(runs)
    if told is not None:
        data[TOLD_KEY] = "".join(sorted(told))[:DIGEST_ROOM]
    if owed is not None:
        data[OWED_KEY] = "".join(sorted(owed))[:DIGEST_ROOM - len(data.get(TOLD_KEY, ""))]
    if scale_ups is not None:
        data[SCALE_UPS_KEY] = json.dumps(dict(sorted(scale_ups.items())))
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
