"""A node group's Auto Scaling group tags, the Cluster Autoscaler way, without aws_cdk.

The CDK construct (stacks/nodegroup/construct.py) and the local demo (`burst demo`, which
creates the same groups in moto) both tag with this, so what the controller discovers in
the demo is what it discovers after `cdk deploy`.
"""

from __future__ import annotations

from burst.core.asgtags import (
    ENABLED_TAG,
    LABEL_PREFIX,
    PRIORITY_TAG,
    RESOURCES_PREFIX,
    TAINT_PREFIX,
    cluster_tag,
    taint_tag_value,
)
from burst.core.spot import SPOT_PRICE_LIVE_TAG, SPOT_PRICE_TAG
from burst.tools.deploy.groups import NodeGroupConfig

# The well-known label Cluster Autoscaler (and fpga-burst's price ranking) reads the
# instance type from when no node of the group exists yet.
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"


def node_labels(group: NodeGroupConfig) -> dict[str, str]:
    """The labels a group's nodes register with (bootstrap.sh passes them to the kubelet),
    which its node-template tags promise before any node exists."""
    return {INSTANCE_TYPE_LABEL: group.instance_type, **group.labels}


def autoscaler_tags(group: NodeGroupConfig, cluster_name: str) -> dict[str, str]:
    """Cluster Autoscaler's discovery and node-template tags, plus fpga-burst's priority."""
    tags = {
        ENABLED_TAG: "true",
        cluster_tag(cluster_name): "owned",
        PRIORITY_TAG: str(group.priority),
    }
    tags.update({f"{LABEL_PREFIX}{k}": v for k, v in node_labels(group).items()})
    tags.update({f"{TAINT_PREFIX}{t.key}": taint_tag_value(t) for t in group.taints})
    tags.update({f"{RESOURCES_PREFIX}{board}": str(n) for board, n in group.boards.items()})
    # A Spot group's price source, for the functions' planner (burst.core.spot).
    if group.spot_price_per_hour is not None:
        tags[SPOT_PRICE_TAG] = str(group.spot_price_per_hour)
    if group.spot_price_live:
        tags[SPOT_PRICE_LIVE_TAG] = "true"
    return tags
