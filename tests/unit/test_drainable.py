"""Which pods keep fpga-burst from choosing a node, and which a forced drain holds: Cluster
Autoscaler's drainability rules (cluster-autoscaler/simulator/drainability/rules)."""

from __future__ import annotations

import pytest

from burst.core.model import SAFE_TO_EVICT, Pod
from burst.core.scaledown.drainable import (
    SAFE_TO_EVICT_LOCAL_VOLUMES,
    blocker,
    first_blocker,
    held,
)

RS = "ReplicaSet"


@pytest.mark.parametrize(("pod", "why"), [
    pytest.param(Pod("ml/web", controller=RS), None, id="replicaset-pod-moves"),
    pytest.param(Pod("ml/run", controller="Job"), None, id="job-pod-moves"),
    pytest.param(Pod("ml/ray", controller="RayCluster"), None,
                 id="custom-controller-pod-moves"),
    pytest.param(Pod("ml/bare"), "has no controller to recreate it", id="bare-pod-blocks"),
    pytest.param(Pod("ml/bare", annotations={SAFE_TO_EVICT: "true"}), None,
                 id="bare-pod-safe-to-evict-true-moves"),
    pytest.param(Pod("ml/db", controller=RS, annotations={SAFE_TO_EVICT: "false"}),
                 f"annotated {SAFE_TO_EVICT}=false", id="safe-to-evict-false-blocks"),
    pytest.param(Pod("ml/cache", controller=RS, local_volumes=("scratch",)),
                 "has local storage (volume scratch)", id="local-storage-blocks"),
    pytest.param(Pod("ml/cache", controller=RS, local_volumes=("scratch", "logs"),
                     annotations={SAFE_TO_EVICT_LOCAL_VOLUMES: "scratch, logs"}), None,
                 id="local-volumes-named-safe-move"),
    pytest.param(Pod("ml/cache", controller=RS, local_volumes=("scratch", "logs"),
                     annotations={SAFE_TO_EVICT_LOCAL_VOLUMES: "scratch"}),
                 "has local storage (volume logs)", id="an-unnamed-local-volume-blocks"),
    pytest.param(Pod("ml/cache", controller=RS, local_volumes=("scratch",),
                     annotations={SAFE_TO_EVICT: "true"}), None,
                 id="local-storage-safe-to-evict-true-moves"),
    pytest.param(Pod("kube-system/dns", controller=RS),
                 "is a kube-system pod no PodDisruptionBudget covers",
                 id="kube-system-pod-without-pdb-blocks"),
    pytest.param(Pod("kube-system/dns", controller=RS, disruption_budget=True), None,
                 id="kube-system-pod-with-pdb-moves"),
    pytest.param(Pod("kube-system/agent", daemonset=True, controller="DaemonSet",
                     annotations={SAFE_TO_EVICT: "false"}, local_volumes=("host",)), None,
                 id="daemonset-pod-never-blocks"),
    pytest.param(Pod("kube-system/static", mirror=True), None, id="mirror-pod-never-blocks"),
])
def test_blocker_follows_cluster_autoscalers_rules(pod: Pod, why: str | None) -> None:
    assert blocker(pod) == why


@pytest.mark.parametrize(("pod", "why"), [
    pytest.param(Pod("ml/db", annotations={SAFE_TO_EVICT: "false"}),
                 f"annotated {SAFE_TO_EVICT}=false", id="safe-to-evict-false-is-held"),
    pytest.param(Pod("ml/bare"), None, id="bare-pod-is-evicted-when-the-node-goes-anyway"),
    pytest.param(Pod("ml/cache", local_volumes=("scratch",)), None,
                 id="local-storage-is-evicted-when-the-node-goes-anyway"),
    pytest.param(Pod("kube-system/dns", controller=RS), None,
                 id="kube-system-pod-is-evicted-when-the-node-goes-anyway"),
    pytest.param(Pod("ml/agent", daemonset=True, annotations={SAFE_TO_EVICT: "false"}), None,
                 id="daemonset-pod-is-skipped-not-held"),
])
def test_a_forced_drain_holds_only_pods_marked_not_safe_to_evict(
    pod: Pod, why: str | None
) -> None:
    assert held(pod) == why


def test_the_first_blocker_names_the_pod() -> None:
    pods = [Pod("ml/web", controller=RS), Pod("ml/bare"), Pod("ml/db")]
    assert first_blocker(pods) == "pod ml/bare has no controller to recreate it"
    assert first_blocker(pods[:1]) is None
