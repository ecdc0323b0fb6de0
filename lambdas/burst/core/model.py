"""The pure model: what the controller observes and what it decides.

Every type is a frozen dataclass. Mappings are never mutated after construction; the
adapters (kube.py, aws.py) and the scenario loader build them, the planner only reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

# A board resource is an extended resource as the FPGA device plugin advertises it,
# e.g. "xilinx/u250" or "xilinx/aws-vu9p-f1".
BoardResource = str

SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"
SCALE_DOWN_DISABLED = "cluster-autoscaler.kubernetes.io/scale-down-disabled"


@dataclass(frozen=True)
class Taint:
    key: str
    value: str = ""
    effect: str = "NoSchedule"

    def __str__(self) -> str:
        return (
            f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"
        )


@dataclass(frozen=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""

    def tolerates(self, taint: Taint) -> bool:
        """Kubernetes' rule: an empty key with Exists tolerates everything."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.operator == "Exists":
            return not self.key or self.key == taint.key
        return self.key == taint.key and self.value == taint.value


@dataclass(frozen=True)
class InstanceType:
    name: str
    boards: Mapping[BoardResource, int]
    price_per_hour: float
    vcpus: int = 0
    memory_gib: float = 0.0
    # What a Spot instance of the type costs, where the catalog or a scenario knows it.
    spot_price_per_hour: float | None = None


@dataclass(frozen=True)
class Catalog:
    """What the planner knows about FPGA workloads and instance types."""

    # accelerator name -> board resource -> replicas per board
    accelerators: Mapping[str, Mapping[BoardResource, int]] = field(default_factory=dict)
    instance_types: Mapping[str, InstanceType] = field(default_factory=dict)
    # Board resources node groups advertise under a name of their own (a deployment's
    # node_groups[].board_resource), so pods asking for them are known as FPGA pods.
    boards: frozenset[BoardResource] = frozenset()


@dataclass(frozen=True)
class Pod:
    name: str  # namespace/name
    node: str | None = None  # bound node; None while pending
    requests: Mapping[BoardResource, int] = field(default_factory=dict)
    accelerators: Mapping[str, int] = field(default_factory=dict)
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    daemonset: bool = False  # owned by a DaemonSet: ignored by scale-down and drain
    mirror: bool = False  # static pod mirrored by the kubelet: cannot be evicted
    # Kind of the owner reference marked controller ("" if none: a bare pod nothing
    # recreates), and the pod's volumes on the node's own disk (hostPath, emptyDir not in
    # memory): what burst.core.scaledown.drainable weighs, as Cluster Autoscaler does.
    controller: str = ""
    local_volumes: tuple[str, ...] = ()
    # A PodDisruptionBudget selects it: read for kube-system pods only, where it decides.
    disruption_budget: bool = False
    uid: str = ""  # metadata.uid, so Events attach to this pod and not a namesake
    created: datetime | None = None  # metadata.creationTimestamp: arrivals (core.arrivals)
    # status.startTime, when its node's kubelet took it: how long pods run (core.runtimes)
    started: datetime | None = None

    @property
    def pending(self) -> bool:
        return self.node is None

    @property
    def namespace(self) -> str:
        return self.name.partition("/")[0]

    @property
    def fpga_job(self) -> bool:
        """A user's FPGA pod: it asks for boards and is not a DaemonSet's or mirror pod."""
        return bool(self.requests or self.accelerators) and not (self.daemonset or self.mirror)


@dataclass(frozen=True)
class Node:
    name: str
    node_group: str | None = None  # None: not managed by fpga-burst (on-prem)
    ready: bool = True
    unschedulable: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    allocatable: Mapping[BoardResource, int] = field(default_factory=dict)
    instance_id: str | None = None  # from providerID aws:///<az>/<instance-id>
    annotations: Mapping[str, str] = field(default_factory=dict)
    created: datetime | None = None


@dataclass(frozen=True)
class Instance:
    instance_id: str
    lifecycle_state: str  # as the ASG reports it, e.g. "InService", "Terminating:Wait"
    availability_zone: str = ""


@dataclass(frozen=True)
class NodeGroup:
    name: str
    instance_type: str
    min_size: int
    max_size: int
    desired: int
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    priority: int = 0
    # Boards per instance. Empty: taken from the catalog's instance type.
    boards: Mapping[BoardResource, int] = field(default_factory=dict)
    instances: tuple[Instance, ...] = ()
    # Why the group may not grow right now (a failed launch), or None.
    backoff: str | None = None
    last_scale_up: datetime | None = None
    # The group's own price per instance-hour (a live or configured Spot price); None: the
    # catalog's (burst.core.spot.price_per_hour decides).
    price_per_hour: float | None = None
    spot_price_live: bool = False  # the functions read the live Spot price for it
    # The AWS region of its Auto Scaling group; "" where not known (scenarios): the home.
    region: str = ""


class ScaleDown(StrEnum):
    """How idle burst nodes are given back (Policy.scale_down)."""

    ADAPTIVE = "adaptive"
    FIXED = "fixed"


@dataclass(frozen=True)
class Policy:
    """The operator's choices, with their defaults; burst.core.policy parses and checks them."""

    max_boards: int | None = None
    max_price_per_hour: float | None = None
    # The expander chain (burst.core.scaleup.expanders): a higher-priority group first,
    # whatever the price; then the bill over the jobs' lifetimes; then the price per hour.
    expanders: tuple[str, ...] = ("priority", "lifetime", "price")
    # "adaptive": an idle node is kept while a pod is expected to need it sooner than a new
    # boot takes (burst.core.scaledown.keep); "fixed": given back after scale_down_unneeded_time and
    # not within scale_down_delay_after_add of a scale-up, as Cluster Autoscaler does.
    scale_down: ScaleDown = field(default_factory=lambda: ScaleDown.ADAPTIVE)
    scale_down_unneeded_time: timedelta = timedelta(minutes=10)
    scale_down_delay_after_add: timedelta = timedelta(minutes=10)
    # adaptive: launch to boards advertised; idle nodes are never kept longer than
    # max_idle_time; arrivals are learned over arrival_window.
    boot_estimate: timedelta = timedelta(minutes=5)
    max_idle_time: timedelta = timedelta(minutes=15)
    arrival_window: timedelta = timedelta(minutes=30)
    # A pod waits up to this long after it was created for a board a running pod is likely
    # to free, instead of a new instance (burst.core.scaledown.defer); zero: never. 45 s keeps a pod
    # that waits and then needs an instance after all within boot + one minute.
    defer_scale_up: timedelta = timedelta(seconds=45)
    # An instance still launching (no Node, or a Node without its boards) that no pending
    # pod is planned onto is terminated with decrement (burst.core.scaledown.surplus).
    give_back_launching: bool = True
    token_ttl: timedelta = timedelta(hours=1)  # lifetime of each kubeadm join token
    # region -> $/h per board added to a group's price when groups are weighed (data
    # locality, egress); a region not named costs burst.core.regions.DEFAULT_REGION_PENALTY.
    region_penalties: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class VcpuQuota:
    """The region's F-instance vCPU quotas, by capacity type, and the vCPUs that F
    instances outside the managed groups already take of them (burst.core.quota)."""

    limits: Mapping[str, int] = field(default_factory=dict)  # "on-demand"/"spot" -> vCPUs
    used_elsewhere: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot:
    node_groups: tuple[NodeGroup, ...] = ()
    nodes: tuple[Node, ...] = ()
    pods: tuple[Pod, ...] = ()
    catalog: Catalog = field(default_factory=Catalog)
    vcpu_quota: VcpuQuota | None = None  # None: not known, no limit applied


class PodOutcome(StrEnum):
    FITS_EXISTING = "fits-existing"
    FITS_UPCOMING = "fits-upcoming"
    SCALE_UP = "scale-up"
    DEFERRED = "deferred"  # waits for a board a running pod is likely to free (core.defer)
    UNSCHEDULABLE = "unschedulable"


@dataclass(frozen=True)
class ScaleUp:
    node_group: str
    from_size: int
    to_size: int
    region: str = ""  # the group's (NodeGroup.region)


@dataclass(frozen=True)
class PodDecision:
    pod: str
    outcome: PodOutcome
    node: str | None = None
    node_group: str | None = None
    board: BoardResource | None = None
    boards: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Plan:
    scale_ups: tuple[ScaleUp, ...]
    pods: tuple[PodDecision, ...]
    price_per_hour_added: float
    # Per node group, the instances counted as upcoming (asked for, boards not advertised
    # yet) that no pending pod is planned onto: what burst.core.scaledown.surplus gives back.
    idle_upcoming: Mapping[str, int] = field(default_factory=dict)
