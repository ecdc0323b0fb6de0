"""Rules of the ASG lifecycle hooks, pure: which node is an instance's, when a launched node
is useful, when a drain began and when its hook needs a heartbeat.

The loop (loop/lifecycle.py) acts on them through the ports; see ARCHITECTURE.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from burst.core.model import Node, NodeGroup, Taint
from burst.core.scaledown.unneeded import TO_BE_DELETED

PENDING_WAIT = "Pending:Wait"
TERMINATING_WAIT = "Terminating:Wait"
TERMINATED = "Terminated"
TERMINATING = "Terminating"  # the prefix of every state of an instance on its way out
DRAIN_STARTED = "fpga-burst.io/drain-started"
# On the Node of an instance given back while launching: why (burst.loop.giveback).
GIVEN_BACK = "fpga-burst.io/given-back"
# The scale-down's own taint key: a node it already marked is not tainted twice.
REMOVAL_TAINT = Taint(TO_BE_DELETED, "terminating", "NoSchedule")


def node_of(nodes: Iterable[Node], instance_id: str) -> Node | None:
    """The Node whose providerID names `instance_id`, if it has joined."""
    return next((n for n in nodes if n.instance_id == instance_id), None)


def not_useful(node: Node | None, group: NodeGroup | None) -> str | None:
    """Why a launched instance's node cannot take FPGA pods yet; None once it can.

    Useful: joined, Ready, and every board resource of the group advertised (> 0). A group
    whose boards are unknown (no resources tag, instance type not in the catalog) needs any
    board at all.
    """
    if node is None:
        return "no node with its providerID has joined"
    if not node.ready:
        return f"node {node.name} is not Ready"
    boards = group.boards if group is not None else {}
    missing = sorted(b for b in boards if node.allocatable.get(b, 0) <= 0)
    if missing:
        return f"node {node.name} does not advertise {', '.join(missing)} yet"
    if not boards and not any(v > 0 for v in node.allocatable.values()):
        return f"node {node.name} advertises no FPGA boards yet"
    return None


def leaving(group: NodeGroup | None, instance_id: str) -> str | None:
    """The instance's state if its group lists it on its way out (Terminating...), else None."""
    state = next((i.lifecycle_state for i in group.instances if i.instance_id == instance_id),
                 "") if group is not None else ""
    return state if state.startswith(TERMINATING) else None


def given_back(node: Node | None) -> str | None:
    """Why the node's instance was given back while launching, if it was."""
    return node.annotations.get(GIVEN_BACK) if node is not None else None


def drain_started(node: Node, default: datetime) -> datetime:
    """When the node's drain began (its annotation), else `default`."""
    text = node.annotations.get(DRAIN_STARTED)
    if text:
        try:
            found = datetime.fromisoformat(text)
        except ValueError:
            return default  # unreadable: the drain restarts its clock rather than never ending
        return found if found.tzinfo else found.replace(tzinfo=UTC)
    return default


def heartbeat_due(started: datetime, now: datetime, timeout: timedelta, fresh: bool) -> bool:
    """Whether to heartbeat before draining on.

    A drain this call started from the event's own time runs within the hook's first
    timeout until half of it is gone. A continued drain always heartbeats first: its hook
    may have started (or last beaten) before what the annotation says.
    """
    return not fresh or now - started >= timeout / 2


def pending(groups: Iterable[NodeGroup], state: str) -> list[tuple[NodeGroup, str]]:
    """(group, instance id) for every instance in lifecycle state `state`."""
    return [(g, i.instance_id) for g in groups for i in g.instances if i.lifecycle_state == state]


def gone(groups: Iterable[NodeGroup], nodes: Iterable[Node]) -> list[Node]:
    """Nodes whose terminate hook began (DRAIN_STARTED) and whose instance no group lists
    any more, or lists as Terminated: nothing runs there, the Node only keeps its pods bound."""
    running = {i.instance_id for g in groups for i in g.instances
               if i.lifecycle_state != TERMINATED}
    return [n for n in nodes if DRAIN_STARTED in n.annotations and n.instance_id
            and n.instance_id not in running]


def instance_groups(
    groups: Iterable[NodeGroup], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """instance id -> group, for observe(): so a node of any of them counts as ours."""
    found = {i.instance_id: g.name for g in groups for i in g.instances}
    return {**found, **(extra or {})}
