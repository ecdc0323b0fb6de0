"""A node group's template from its Auto Scaling group tags, as Cluster Autoscaler reads it.

Mirrors cluster-autoscaler/cloudprovider/aws/aws_manager.go (kubernetes/autoscaler):
`extractLabelsFromAsg`, `extractTaintsFromAsg` and `extractAllocatableResourcesFromAsg`,
so an ASG tagged for Cluster Autoscaler describes the same node to fpga-burst. Pure: tags
in, values out; aws.py fetches the tags.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from burst.core.model import BoardResource, InstanceType, Taint
from burst.core.quantity import parse_count

log = logging.getLogger(__name__)

# The instance tag a node's bootstrap sets when it fails to join: the step and the reason
# (stacks/nodegroup/bootstrap.sh), where `burst doctor` and the console can read it.
JOIN_ERROR_TAG = "fpga-burst.io/join-error"

ENABLED_TAG = "k8s.io/cluster-autoscaler/enabled"
CLUSTER_TAG_PREFIX = "k8s.io/cluster-autoscaler/"
LABEL_PREFIX = "k8s.io/cluster-autoscaler/node-template/label/"
TAINT_PREFIX = "k8s.io/cluster-autoscaler/node-template/taint/"
RESOURCES_PREFIX = "k8s.io/cluster-autoscaler/node-template/resources/"
# Our own: Cluster Autoscaler's priority expander keeps priorities in a ConfigMap, which a
# Lambda outside the cluster should not need to read to rank groups.
PRIORITY_TAG = "fpga-burst.io/priority"

# CA's gate: the value must contain "<value>:<Effect>". The Go regexp is unanchored
# (MatchString), so it is used with re.search, not re.fullmatch.
_TAINT_VALUE = re.compile(r"(.*):(?:NoSchedule|NoExecute|PreferNoSchedule)")
_EFFECTS = frozenset({"NoSchedule", "NoExecute", "PreferNoSchedule"})
# Resources the kubelet reports itself; everything else domain-prefixed is an extended
# resource, which is how an FPGA device plugin advertises boards.
_NATIVE_PREFIXES = ("kubernetes.io/", "requests.", "limits.", "hugepages-")


def cluster_tag(cluster: str) -> str:
    """The tag that marks an ASG as belonging to `cluster`."""
    return f"{CLUSTER_TAG_PREFIX}{cluster}"


@dataclass(frozen=True)
class NodeTemplate:
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    boards: Mapping[BoardResource, int] = field(default_factory=dict)
    priority: int = 0


def _after(key: str, prefix: str) -> str | None:
    # CA uses strings.Split(key, prefix) and takes splits[1]: the text after the first
    # occurrence of the prefix (up to a second occurrence, which no sane tag has).
    parts = key.split(prefix)
    return parts[1] if len(parts) > 1 else None


def extract_labels(tags: Mapping[str, str]) -> dict[str, str]:
    """Labels from `.../node-template/label/<name>` tags; an empty name is skipped.

    CA also reads EKS `eks:` tags as labels; fpga-burst runs kubeadm nodes, so it does not.
    """
    labels: dict[str, str] = {}
    for key, value in tags.items():
        name = _after(key, LABEL_PREFIX)
        if name:
            labels[name] = value
    return labels


def taint_tag_value(taint: Taint) -> str:
    """The node-template taint tag's value, `value:Effect`: what extract_taints reads back."""
    return f"{taint.value}:{taint.effect}"


def extract_taints(tags: Mapping[str, str]) -> tuple[Taint, ...]:
    """Taints from `.../node-template/taint/<key>` = `<value>:<Effect>` tags.

    Like CA, a value without a known effect is ignored and the value is split at its first
    colon. Unlike CA, a split that yields an invalid effect ("a:b:NoSchedule" gives effect
    "b:NoSchedule") is skipped with a warning instead of producing a taint the scheduler
    would reject.
    """
    taints: list[Taint] = []
    for key, value in sorted(tags.items()):
        taint_key = _after(key, TAINT_PREFIX)
        if not taint_key or not _TAINT_VALUE.search(value):
            continue
        taint_value, effect = value.split(":", 1)
        if effect not in _EFFECTS:
            log.warning("ignoring ASG taint tag %s=%s: effect %r is not valid", key, value, effect)
            continue
        taints.append(Taint(key=taint_key, value=taint_value, effect=effect))
    return tuple(taints)


def is_extended_resource(name: str) -> bool:
    """Whether a resource name is an extended resource (e.g. an FPGA board), not cpu/memory."""
    return "/" in name and not name.startswith(_NATIVE_PREFIXES)


def extract_boards(tags: Mapping[str, str]) -> dict[BoardResource, int]:
    """Extended resources from `.../node-template/resources/<name>` tags, as counts.

    CA parses each value with resource.ParseQuantity and skips what does not parse; so does
    this, and it also skips a value that is not a whole number, since an extended resource
    cannot be fractional. cpu, memory and the like are not boards and are left out.
    """
    boards: dict[BoardResource, int] = {}
    for key, value in tags.items():
        name = _after(key, RESOURCES_PREFIX)
        if not name or not is_extended_resource(name):
            continue
        try:
            boards[name] = parse_count(value)
        except ValueError:
            log.warning("ignoring ASG resource tag %s=%s: not a whole quantity", key, value)
    return boards


def extract_priority(tags: Mapping[str, str]) -> int:
    """The `fpga-burst.io/priority` tag as an integer; absent or invalid is 0 (a warning)."""
    raw = tags.get(PRIORITY_TAG)
    if raw is None:
        return 0
    try:
        return int(raw.strip())
    except ValueError:
        log.warning("ignoring ASG tag %s=%r: not an integer", PRIORITY_TAG, raw)
        return 0


def node_template(
    tags: Mapping[str, str],
    instance_type: str,
    instance_types: Mapping[str, InstanceType],
) -> NodeTemplate:
    """Labels, taints, boards and priority of a group's nodes.

    Boards come from the resources tags; without any, from the instance type table; for an
    unknown type with no tags, empty (the planner then cannot use the group and says so).
    """
    boards = extract_boards(tags)
    if not boards and instance_type in instance_types:
        boards = dict(instance_types[instance_type].boards)
    return NodeTemplate(
        labels=extract_labels(tags),
        taints=extract_taints(tags),
        boards=boards,
        priority=extract_priority(tags),
    )
