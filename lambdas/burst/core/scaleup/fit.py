"""Can a pod go there? Demand alternatives, selectors and taints, with reasons.

These are the scheduler's rules the planner simulates: a pod's boards all on one node,
its node selector matching the node's labels, every NoSchedule/NoExecute taint tolerated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from burst.core.errors import DemandError
from burst.core.model import BoardResource, Catalog, Pod, Taint, Toleration

# PreferNoSchedule is a preference: the scheduler may still place the pod there.
_BLOCKING_EFFECTS = frozenset({"NoSchedule", "NoExecute"})


@dataclass(frozen=True, order=True)
class Alternative:
    """One way to run a pod: `boards` boards of `board`, all on one node."""

    board: BoardResource
    boards: int


def alternatives(pod: Pod, catalog: Catalog) -> tuple[Alternative, ...]:
    """The pod's demand as alternatives, sorted by board resource.

    `requests` give one alternative; `accelerators` give one per board resource that can
    run every accelerator the pod asks for, with ceil(replicas / replicas_per_board) boards.
    """
    if pod.requests:
        if len(pod.requests) > 1:
            kinds = ", ".join(sorted(pod.requests))
            raise DemandError(f"requests more than one kind of FPGA board ({kinds})")
        ((board, boards),) = pod.requests.items()
        return (Alternative(board, boards),)
    if not pod.accelerators:
        return ()
    per_board: dict[BoardResource, int] = {}
    for index, (name, replicas) in enumerate(sorted(pod.accelerators.items())):
        entry = catalog.accelerators.get(name)
        if entry is None:
            raise DemandError(f"accelerator {name} is not in the catalog")
        needs = {board: math.ceil(replicas / per) for board, per in entry.items() if per > 0}
        per_board = needs if index == 0 else _common(per_board, needs)
    if not per_board:
        raise DemandError("no single board kind can run all of its accelerators")
    return tuple(Alternative(board, boards) for board, boards in sorted(per_board.items()))


def _common(a: Mapping[BoardResource, int], b: Mapping[BoardResource, int]) -> dict[str, int]:
    return {board: a[board] + b[board] for board in a.keys() & b.keys()}


def selector_mismatch(selector: Mapping[str, str], labels: Mapping[str, str]) -> str | None:
    """The first selector term the labels fail, in words, or None if they match."""
    for key, value in sorted(selector.items()):
        if labels.get(key) != value:
            return f"node selector {key}={value} does not match"
    return None


def untolerated(tolerations: tuple[Toleration, ...], taints: tuple[Taint, ...]) -> Taint | None:
    """The first blocking taint none of the tolerations accepts, or None."""
    for taint in taints:
        if taint.effect in _BLOCKING_EFFECTS and not any(t.tolerates(taint) for t in tolerations):
            return taint
    return None


def placement_problem(pod: Pod, labels: Mapping[str, str], taints: tuple[Taint, ...]) -> str | None:
    """Why the pod may not run on a node with these labels and taints, or None."""
    mismatch = selector_mismatch(pod.node_selector, labels)
    if mismatch:
        return mismatch
    taint = untolerated(pod.tolerations, taints)
    return f"taint {taint} is not tolerated" if taint else None
