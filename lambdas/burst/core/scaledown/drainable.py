"""Which pods a drain may evict, and which keep fpga-burst from choosing a node. Pure.

Cluster Autoscaler's drainability rules (kubernetes/autoscaler, cluster-autoscaler/
simulator/drainability/rules/rules.go and utils/drain/drain.go), in its order:

- DaemonSet and mirror (static) pods are never evicted: they go with the node (`skipped`).
- `safe-to-evict: "true"` lets a pod move whatever else holds (rules/safetoevict).
- These pods block a scale-down (`blocker`): one with no controller owner reference, which
  nothing recreates (rules/replicated); one in kube-system that no PodDisruptionBudget
  covers (rules/system); one annotated `safe-to-evict: "false"` (rules/notsafetoevict);
  one with a hostPath or on-disk emptyDir volume not named in
  `safe-to-evict-local-volumes` (rules/localstorage, HasBlockingLocalStorage).

Any controller counts, not only CA's built-in kinds: a custom controller (a job operator)
recreates its pods too; CA does the same with --skip-nodes-with-custom-controller-pods=false.

A termination fpga-burst did not choose (Spot, Health, the group's own) takes the node
whatever its pods are: there a drain evicts every pod but those annotated
`safe-to-evict: "false"` (`held`), since the others are lost anyway and eviction at least
honours their PodDisruptionBudget and grace period.
"""

from __future__ import annotations

from burst.core.model import SAFE_TO_EVICT, Pod

SAFE_TO_EVICT_LOCAL_VOLUMES = "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes"
SYSTEM_NAMESPACE = "kube-system"


def skipped(pod: Pod) -> bool:
    """Not evicted by any drain: it goes with the node."""
    return pod.daemonset or pod.mirror


def held(pod: Pod) -> str | None:
    """Why even a drain forced on fpga-burst leaves `pod` on the node; None: evict it."""
    if not skipped(pod) and pod.annotations.get(SAFE_TO_EVICT) == "false":
        return f"annotated {SAFE_TO_EVICT}=false"
    return None


def blocker(pod: Pod) -> str | None:
    """Why fpga-burst must not choose to remove the node `pod` runs on; None: it may move."""
    if skipped(pod) or pod.annotations.get(SAFE_TO_EVICT) == "true":
        return None
    if not pod.controller:
        return "has no controller to recreate it"
    if pod.namespace == SYSTEM_NAMESPACE and not pod.disruption_budget:
        return f"is a {SYSTEM_NAMESPACE} pod no PodDisruptionBudget covers"
    why = held(pod)
    if why:
        return why
    named = {v.strip() for v in pod.annotations.get(SAFE_TO_EVICT_LOCAL_VOLUMES, "").split(",")}
    local = [v for v in pod.local_volumes if v not in named]
    if local:
        return f"has local storage (volume {local[0]})"
    return None


def first_blocker(pods: tuple[Pod, ...] | list[Pod]) -> str | None:
    """Why the node these pods run on may not be chosen for removal, naming one pod."""
    for pod in pods:
        why = blocker(pod)
        if why:
            return f"pod {pod.name} {why}"
    return None
