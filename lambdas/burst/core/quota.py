"""The EC2 vCPU quotas for F instances, and what is left of them for new instances.

EC2 limits running On-Demand instances and Spot requests per instance family in vCPUs, per
account and region. F1 and F2 share "Running On-Demand F instances" (L-74FC7D96) and "All
F Spot Instance Requests" (L-88CF9481) (Amazon EC2 User Guide, "Amazon EC2 service quotas"
and "Spot Instance quotas"; read with Service Quotas' GetServiceQuota).

What is left for the planner, per capacity type, is the quota less:
- the F instances in the region outside the managed groups (pending or running, counted
  by the adapter from DescribeInstances), and
- every managed group of that type at its desired capacity, or at its instance count if
  more are still there (instances terminating still count until they are gone): desired
  capacity not yet launched is capacity EC2 will be asked for, so it is counted before it
  shows up in DescribeInstances.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from burst.core.model import Catalog, NodeGroup, VcpuQuota
from burst.core.spot import ON_DEMAND, SPOT, capacity_type

QUOTA_CODES = {ON_DEMAND: "L-74FC7D96", SPOT: "L-88CF9481"}
QUOTA_NAMES = {ON_DEMAND: "Running On-Demand F instances", SPOT: "All F Spot Instance Requests"}
# Instance types the F quotas count.
F_PREFIXES = ("f1.", "f2.")


def is_f(instance_type: str) -> bool:
    return instance_type.startswith(F_PREFIXES)


def group_vcpus(group: NodeGroup, catalog: Catalog) -> int:
    """vCPUs of one instance of the group that the F quotas count (0: not an F type or
    not in the catalog, so not limited)."""
    instance_type = catalog.instance_types.get(group.instance_type)
    return instance_type.vcpus if instance_type and is_f(group.instance_type) else 0


def remaining(
    quota: VcpuQuota, groups: Sequence[NodeGroup], catalog: Catalog
) -> dict[str, int]:
    """vCPUs still free per capacity type whose quota is known (never below 0)."""
    used: dict[str, int] = dict(quota.used_elsewhere)
    for group in groups:
        kind = capacity_type(group)
        size = max(group.desired, len(group.instances))
        used[kind] = used.get(kind, 0) + size * group_vcpus(group, catalog)
    return {kind: max(0, limit - used.get(kind, 0)) for kind, limit in quota.limits.items()}


def describe(kind: str, left: Mapping[str, int]) -> str:
    """How a pod's reason names the quota that stopped it."""
    name, code = QUOTA_NAMES[kind], QUOTA_CODES[kind]
    return f"{kind} F vCPU quota ({name}, {code}; {left[kind]} vCPUs left)"
