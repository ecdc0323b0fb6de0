"""Names the functions and the stack must spell alike, written once.

The code that emits a metric, completes a lifecycle action or records a pod Event imports
its name from here, and so does the stack that alarms on the metric or creates the hook:
a typo is an AttributeError, not an alarm that never fires. tests/cdk/test_names.py checks
that every alarm and dashboard metric is one the functions emit, and that every name here
is used.
"""

from __future__ import annotations

from enum import StrEnum

# Powertools' `service` (also the metrics' one dimension) and metrics namespace: the stack
# sets both in the functions' environment and selects both in the alarms.
SERVICE = "fpga-burst"
METRICS_NAMESPACE = "fpga-burst"
# The group a bootstrap token authenticates in besides system:bootstrappers: the tokens
# function sets it (auth-extra-groups) and kubeadm binds its join RBAC to it (kubeadm's
# phases/bootstraptoken/node: kubeadm:kubelet-bootstrap, kubeadm:node-autoapprove-bootstrap).
BOOTSTRAP_GROUP = "system:bootstrappers:kubeadm:default-node-token"


class Metric(StrEnum):
    """Every metric the functions publish (EMF through Powertools Metrics)."""

    # scaler (burst.loop.reconcile)
    PENDING_FPGA_PODS = "PendingFpgaPods"
    BOARDS_REQUESTED = "BoardsRequested"
    UNSCHEDULABLE_PODS = "UnschedulablePods"
    SCALE_UPS = "ScaleUps"
    SCALE_UP_FAILURES = "ScaleUpFailures"  # also the lifecycle function's failed launches
    NODES_TERMINATED = "NodesTerminated"
    # instances terminated while launching: no pending pod needed them (burst.loop.giveback)
    LAUNCHES_GIVEN_BACK = "LaunchesGivenBack"
    # lifecycle steps (burst.loop.lifecycle), published by the lifecycle function and scaler
    LAUNCHES_COMPLETED = "LaunchesCompleted"
    TERMINATIONS_COMPLETED = "TerminationsCompleted"
    DRAINS_OVER_DEADLINE = "DrainsOverDeadline"
    DRAIN_TIME = "DrainTime"
    LIFECYCLE_HEARTBEATS = "LifecycleHeartbeats"
    # tokens
    TOKENS_ROTATED = "TokensRotated"
    # failures, by error class (burst.handlers.runtime)
    CLUSTER_UNREACHABLE = "ClusterUnreachable"
    CLUSTER_THROTTLED = "ClusterThrottled"
    CLUSTER_UNAUTHORIZED = "ClusterUnauthorized"  # 401: the token expired or was revoked
    CLUSTER_FORBIDDEN = "ClusterForbidden"  # 403: manifests/rbac.yaml not applied
    CLUSTER_API_ERRORS = "ClusterApiErrors"
    AWS_THROTTLED = "AwsThrottled"
    AWS_UNAVAILABLE = "AwsUnavailable"
    AWS_ERRORS = "AwsErrors"
    BAD_EVENTS = "BadEvents"
    CONFIGURATION_ERRORS = "ConfigurationErrors"
    # the controller's token: days until its `exp` (the scaler, every tick)
    CREDENTIALS_DAYS_LEFT = "CredentialsDaysLeft"
    # a launch hook abandoned: the node never joined in time (the lifecycle function)
    JOIN_FAILURES = "JoinFailures"


class Hook(StrEnum):
    """The node groups' lifecycle hooks (stacks/nodegroup), completed by burst.loop.lifecycle."""

    LAUNCH = "fpga-burst-launch"
    TERMINATE = "fpga-burst-terminate"


class EventReason(StrEnum):
    """Reasons of the pod and node Events (kubectl describe), as Cluster Autoscaler words
    them where it has one."""

    TRIGGERED_SCALE_UP = "TriggeredScaleUp"
    NOT_TRIGGER_SCALE_UP = "NotTriggerScaleUp"
    # A pod waiting for a board a running pod is likely to free (burst.core.scaledown.defer).
    SCALE_UP_DEFERRED = "ScaleUpDeferred"
    # On burst nodes: first seen idle (kept or not, and why); marked for deletion or not.
    IDLE = "Idle"
    SCALE_DOWN = "ScaleDown"
    # An instance terminated while launching: no pending pod needed it (burst.loop.giveback).
    GIVEN_BACK = "GivenBack"
    # On burst nodes whose instance is going or at risk (burst.loop.notices).
    SPOT_INTERRUPTION = "SpotInterruption"
    REBALANCE_RECOMMENDATION = "RebalanceRecommendation"
    SCHEDULED_CHANGE = "ScheduledChange"
