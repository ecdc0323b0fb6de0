"""The status ConfigMap's content: what the controller saw and last decided, for kubectl
(status.yaml, lastDecision, lastDecisionTime), and the scaler's Memory, which the next
invocation reads back (burst.loop.memory)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from burst.core.model import NodeGroup
from burst.core.scaledown.unneeded import ScaleDownPlan
from burst.loop.memory import Memory

# libyaml's dumper where it is built in: the pure-Python one costs milliseconds a tick.
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
# Documents whose YAML a Memory keeps. Between reconciles the status usually says the same
# but for its time (each reconcile writes it twice, before and after its Events), and
# turning it into YAML (PyYAML's representer is Python even with libyaml) cost the
# simulator a third of its run.
_DUMPS_KEPT = 2


@dataclass(frozen=True)
class Report:
    """What the status tells kubectl of one reconcile.

    `upcoming`: instances asked for and not serving yet, per group; `pending`: the pending
    pods by outcome and reason (burst.loop.tell.pending_summary); `events`: this tick's
    Events written, failed and left for a later tick; `given_back`: the launching instances
    this reconcile terminated, and why."""

    time: datetime
    last_decision: str
    node_groups: Sequence[NodeGroup] = ()
    upcoming: Mapping[str, int] = field(default_factory=dict)
    scale_down: ScaleDownPlan | None = None
    pending: Mapping[str, Any] | None = None
    events: Mapping[str, int] | None = None
    # instance -> why it was terminated while launching (burst.loop.giveback), this tick
    given_back: Mapping[str, str] = field(default_factory=dict)


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_data(report: Report, memory: Memory) -> dict[str, str]:
    """The status ConfigMap's data: the whole report as YAML, plus two keys for a quick
    look, and the memory's keys (Memory.to_data). Keeps the YAML in `memory.dumps`."""
    # The time leads the document, apart: it changes every reconcile, the rest seldom.
    document: dict[str, Any] = {
        "lastDecision": report.last_decision,
        "nodeGroups": [
            {
                "name": g.name,
                "instanceType": g.instance_type,
                "min": g.min_size,
                "max": g.max_size,
                "desired": g.desired,
                "instances": len(g.instances),
                "upcoming": report.upcoming.get(g.name, 0),
                **({"backoff": g.backoff} if g.backoff else {}),
            }
            for g in sorted(report.node_groups, key=lambda g: g.name)
        ],
    }
    if report.pending is not None:
        document["pending"] = dict(report.pending)
    if report.events is not None:
        document["events"] = dict(report.events)
    if report.scale_down is not None:
        document["scaleDown"] = _scale_down(report.scale_down)
    if report.given_back:
        document["givenBack"] = [{"instance": i, "reason": why}
                                 for i, why in sorted(report.given_back.items())]
    stamp = _time(report.time)
    return {
        "status.yaml": yaml.dump({"time": stamp}, Dumper=_Dumper) + _text(document, memory),
        "lastDecision": report.last_decision,
        "lastDecisionTime": stamp,
        **memory.to_data(),
    }


def _text(document: Mapping[str, Any], memory: Memory) -> str:
    """The document's YAML, made again only if none of the memory's last dumps is of it."""
    for seen, text in memory.dumps:
        if seen == document:
            return text
    text = yaml.dump(document, Dumper=_Dumper, sort_keys=False)
    memory.dumps = [(document, text), *memory.dumps[:_DUMPS_KEPT - 1]]
    return text


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
