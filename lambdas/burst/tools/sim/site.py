"""Where a simulation's jobs run: the node groups, the on-prem nodes and the catalog."""

from __future__ import annotations

from dataclasses import dataclass, replace

from burst.core.model import Catalog, Node, NodeGroup, Snapshot


@dataclass(frozen=True)
class Site:
    groups: tuple[NodeGroup, ...]  # as they start: their desired capacity and instances
    onprem: tuple[Node, ...]
    catalog: Catalog

    @classmethod
    def of(cls, snapshot: Snapshot) -> Site:
        """A scenario's cluster, its groups at their minimum size with no instance yet."""
        groups = tuple(replace(g, desired=g.min_size, instances=()) for g in snapshot.node_groups)
        onprem = tuple(n for n in snapshot.nodes if n.node_group is None)
        return cls(groups, onprem, snapshot.catalog)
