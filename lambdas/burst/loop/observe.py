"""observe: AWS node groups (by tags) with their instances and backoff, then the cluster's
FPGA nodes and pods, into one Snapshot. Read-only; if the cluster cannot be observed the
error propagates before anything is written anywhere."""

from __future__ import annotations

from datetime import datetime

from burst.core.lifecycle import instance_groups
from burst.core.model import NodeGroup, Snapshot
from burst.core.scaleup.backoff import LOOKBACK, with_backoff
from burst.loop.config import RuntimeConfig
from burst.ports.aws import NodeGroups
from burst.ports.cluster import ClusterReader


def node_groups(reader: NodeGroups, config: RuntimeConfig, now: datetime) -> tuple[NodeGroup, ...]:
    """The discovered groups, each backed off as its scaling activities say at `now`."""
    since = now - LOOKBACK
    return tuple(
        with_backoff(group, reader.scaling_activities(group.name, since), now)
        for group in reader.discover_node_groups(
            config.cluster_name, config.catalog.instance_types
        )
    )


def observe(
    cluster: ClusterReader, groups: NodeGroups, config: RuntimeConfig, now: datetime
) -> tuple[Snapshot, str]:
    """The Snapshot at `now`, and the resourceVersion of its pending-pod list."""
    found = node_groups(groups, config, now)
    view = cluster.observe(instance_groups(found))
    return Snapshot(found, view.nodes, view.pods, config.catalog), view.pending_version
