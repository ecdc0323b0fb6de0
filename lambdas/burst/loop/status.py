"""The status ConfigMap's content: what the controller saw and last decided, for kubectl."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import yaml

from burst.core.model import NodeGroup

# libyaml's dumper where it is built in: the pure-Python one costs milliseconds a tick.
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_data(
    node_groups: Sequence[NodeGroup],
    upcoming: Mapping[str, int],
    last_decision: str,
    now: datetime,
) -> dict[str, str]:
    """The status ConfigMap's data: the whole status as YAML, plus two keys for a quick look."""
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
    return {
        # libyaml's dumper: the pure-Python one costs milliseconds on every tick.
        "status.yaml": yaml.dump(document, Dumper=_Dumper, sort_keys=False),
        "lastDecision": last_decision,
        "lastDecisionTime": _time(now),
    }
