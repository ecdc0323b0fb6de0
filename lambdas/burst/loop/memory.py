"""Memory: everything the scaler keeps from one reconcile to the next, and its form in the
status ConfigMap, from which the next invocation (whichever Lambda runs it) reads it back.

The scaler's shell (burst.loop.reconcile.Shell) owns one Memory: read from the status on
its first reconcile, then kept in the process (watch mode's reconciles, the simulator's
whole run) and written into every status (burst.loop.status.status_data). What it holds:

- the FPGA pod arrivals seen (adaptive scale-down learns from them: core.scaledown.arrivals);
- the FPGA pods running and the run times seen (deferral: core.scaledown.runtimes);
- the pod Events told, as short digests of (pod, reason, message) (burst.loop.tell), so a
  decision is told once, not once a tick; a digest is dropped once the pod no longer has
  that decision. Reading the Events back instead would cost a list of every Event each
  tick; the digests cost 8 bytes a pod in one object the tick writes anyway;
- the TriggeredScaleUp Events due and not written yet (the tick's budget ran out);
- each group's last scale-up, as those Events word it;
- and, in the process only, the status as last written and the YAML of its recent
  documents (burst.loop.status: dumping it again cost the simulator a third of its run).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from burst.core.errors import BurstError, ClusterUnreachableError
from burst.core.model import Policy, Snapshot
from burst.core.scaledown import arrivals, runtimes
from burst.core.scaledown.arrivals import Arrivals
from burst.core.scaledown.runtimes import Runs
from burst.loop.result import Log
from burst.ports.cluster import ClusterReader

ARRIVALS_KEY = "arrivals.json"
RUNS_KEY = "runs.json"
TOLD_KEY = "toldEvents"
OWED_KEY = "owedEvents"
SCALE_UPS_KEY = "scaleUps.json"
# Characters of digests the status may hold, told and owed together: a ConfigMap holds at
# most 1 MiB. Past it (some 90,000 pods) digests are left out, owed ones first: their
# pods miss a TriggeredScaleUp, or hear a NotTriggerScaleUp a second time, but the status
# is still written.
DIGEST_ROOM = 720_000
_DIGEST = 6  # bytes: 8 base64 characters a pod; a collision (~1 in 10^6 at 30,000 pods
# told at once) only keeps one pod's Event back while the other's stands


def told_key(pod: str, reason: str, message: str) -> str:
    """The digest of an Event told: `pod` is its uid (or name, if it has none)."""
    digest = hashlib.blake2b(f"{pod}\0{reason}\0{message}".encode(), digest_size=_DIGEST)
    return base64.b64encode(digest.digest()).decode()


_DIGEST_WIDTH = len(told_key("", "", ""))


@dataclass
class Memory:
    """What the scaler keeps between reconciles; `to_data` and `from_data` are its form in
    the status ConfigMap. Changed in place by the reconcile that owns it."""

    arrivals: Arrivals = field(default_factory=Arrivals)
    runs: Runs = field(default_factory=Runs)
    told: set[str] = field(default_factory=set)  # digests of the pod Events told
    owed: set[str] = field(default_factory=set)  # digests of TriggeredScaleUps not written
    scale_ups: dict[str, str] = field(default_factory=dict)  # group -> its last scale-up
    # In the process only: the status as last written, and (document, YAML) of the last
    # documents dumped, newest first (burst.loop.status).
    written: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    dumps: list[tuple[Mapping[str, Any], str]] = field(
        default_factory=list, compare=False, repr=False)

    def learn(self, snapshot: Snapshot, now: datetime, policy: Policy) -> None:
        """The arrivals and runs, as of `snapshot` seen at `now`."""
        self.arrivals = arrivals.observe(self.arrivals, snapshot, now, policy.arrival_window)
        self.runs = runtimes.observe(self.runs, snapshot, now)

    def to_data(self) -> dict[str, str]:
        """Its keys of the status ConfigMap's data (times rounded to the second)."""
        told = "".join(sorted(self.told))[:DIGEST_ROOM]
        return {
            ARRIVALS_KEY: arrivals.to_data(self.arrivals),
            RUNS_KEY: runtimes.to_data(self.runs),
            TOLD_KEY: told,
            OWED_KEY: "".join(sorted(self.owed))[:DIGEST_ROOM - len(told)],
            SCALE_UPS_KEY: json.dumps(dict(sorted(self.scale_ups.items()))),
        }

    @classmethod
    def from_data(cls, data: Mapping[str, str]) -> Memory:
        """What `to_data` wrote; a missing or unreadable record reads as empty."""
        try:
            scale_ups = json.loads(data.get(SCALE_UPS_KEY) or "{}")
        except ValueError:
            scale_ups = {}
        if not isinstance(scale_ups, dict):
            scale_ups = {}
        return cls(arrivals.from_data(data.get(ARRIVALS_KEY)),
                   runtimes.from_data(data.get(RUNS_KEY)),
                   _digests(data.get(TOLD_KEY) or ""), _digests(data.get(OWED_KEY) or ""),
                   {str(k): str(v) for k, v in scale_ups.items()})


def read_memory(cluster: ClusterReader, log: Log) -> Memory:
    """What the last tick wrote; nothing if there is no status or it cannot be read
    (arrivals start again from the pods visible now: scale-down keeps less idle; Events
    are told again, once). Raises ClusterUnreachableError."""
    try:
        data = cluster.read_status()
    except ClusterUnreachableError:
        raise
    except BurstError as exc:
        log.warning(f"read status failed: {exc}; arrivals start from the visible pods",
                    extra={"decision": "read status", "error": type(exc).__name__})
        return Memory()
    return Memory.from_data(data)


def _digests(text: str) -> set[str]:
    return {text[i:i + _DIGEST_WIDTH]
            for i in range(0, len(text) - _DIGEST_WIDTH + 1, _DIGEST_WIDTH)}
