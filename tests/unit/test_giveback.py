"""Giving back launching instances through the shell, over in-memory fakes of our ports:
the fresh read before acting, what is never terminated, and what is told."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import yaml
from test_reconcile import CONFIG, XGB, FakeAws, FakeCluster, f1_group, shell

from burst.core.lifecycle import GIVEN_BACK
from burst.core.model import Instance, Node, Pod
from burst.core.names import EventReason
from burst.core.scaledown.surplus import REASON
from burst.core.scaledown.unneeded import TO_BE_DELETED
from burst.loop.reconcile import Shell
from burst.ports.cluster import ClusterView

LAUNCHING = (Instance("i-1", "Pending:Wait"), Instance("i-2", "Pending:Wait"))
JOINED = Node("ip-1", ready=True, instance_id="i-1")  # no boards advertised yet


def test_launching_instances_no_pod_needs_are_terminated_in_the_same_reconcile() -> None:
    # GIVEN two instances launching (one's Node joined without boards) and no pending pod
    cluster = FakeCluster([JOINED], [])
    aws = FakeAws([f1_group(2, LAUNCHING)])
    s, t = shell(cluster, aws)
    # WHEN reconciled
    result = s.reconcile()
    # THEN both are terminated with decrement, the joined Node marked first
    assert [w for w in aws.writes if w[0] == "terminate"] == [("terminate", "i-2"),
                                                              ("terminate", "i-1")]
    assert ("cordon", "ip-1", TO_BE_DELETED) in cluster.writes
    assert ("annotate", "ip-1", {GIVEN_BACK: REASON}) in cluster.writes
    assert [g.instance_id for g in result.given_back] == ["i-2", "i-1"]
    assert t.counted["LaunchesGivenBack"] == 2
    # AND no launch hook of theirs is completed in this tick
    assert [w for w in aws.writes if w[0] == "complete"] == []
    # AND an Event says why (on the Node, or on the status for the one without), and so
    # does the status
    told = {(where, reason) for where, reason, message, _ in cluster.events
            if message.endswith(REASON)}
    assert told == {("ip-1", EventReason.GIVEN_BACK), ("status", EventReason.GIVEN_BACK)}
    given = yaml.safe_load(cluster.status["status.yaml"])["givenBack"]
    assert [g["instance"] for g in given] == ["i-1", "i-2"]


def test_an_instance_a_pending_pod_is_planned_onto_is_kept() -> None:
    cluster = FakeCluster([], [XGB])  # 2 F1 boards: one f1.4xlarge
    aws = FakeAws([f1_group(1, LAUNCHING[:1])])
    s, _ = shell(cluster, aws)
    assert s.reconcile().given_back == ()
    assert [w for w in aws.writes if w[0] == "terminate"] == []


@dataclass
class BindsAfterObserve(FakeCluster):
    """The cluster as observed, then as it is once `pod` bound after that observation."""

    late: Pod | None = None
    calls: int = 0

    def observe(self, instance_groups: Mapping[str, str]) -> ClusterView:
        view = super().observe(instance_groups)
        self.calls += 1
        if self.calls == 1 and self.late is not None:
            self.pods.append(self.late)
        return view


def test_a_pod_bound_after_the_observation_keeps_its_instance_and_the_mark_comes_off() -> None:
    # GIVEN the Node of a launching instance, and a pod (no FPGA one) binds to it after the
    # reconcile observed the cluster
    agent = Pod("ops/agent", node="ip-1")
    cluster = BindsAfterObserve([JOINED], [], late=agent)
    aws = FakeAws([f1_group(1, LAUNCHING[:1])])
    s, t = shell(cluster, aws)
    # WHEN reconciled
    result = s.reconcile()
    # THEN the fresh read sees the pod: nothing is terminated, the Node's mark comes off
    assert cluster.calls == 2
    assert result.given_back == () and [w for w in aws.writes if w[0] == "terminate"] == []
    assert ("uncordon", "ip-1", TO_BE_DELETED) in cluster.writes
    assert ("annotate", "ip-1", {GIVEN_BACK: None}) in cluster.writes
    kept = [x for _, msg, x in t.lines if msg.startswith("give-back: instance i-1 kept")]
    assert kept and "ops/agent" in kept[0]["reason"]


def test_a_node_that_joins_after_the_observation_is_left_to_the_next_reconcile() -> None:
    @dataclass
    class JoinsAfterObserve(FakeCluster):
        calls: int = 0

        def observe(self, instance_groups: Mapping[str, str]) -> ClusterView:
            view = super().observe(instance_groups)
            self.calls += 1
            if self.calls == 1:
                self.nodes.append(JOINED)
            return view

    cluster = JoinsAfterObserve([], [])
    aws = FakeAws([f1_group(1, LAUNCHING[:1])])
    s, _ = shell(cluster, aws)
    assert s.reconcile().given_back == ()
    assert [w for w in aws.writes if w[0] == "terminate"] == []


def test_nothing_is_given_back_when_the_policy_says_so() -> None:
    cluster = FakeCluster([], [])
    aws = FakeAws([f1_group(2, LAUNCHING)])
    s, _ = shell(cluster, aws)
    off = replace(CONFIG, policy=replace(CONFIG.policy, give_back_launching=False))
    quiet = Shell(s.cluster, s.groups, off, s.log, s.metrics, writers=s.writers, clock=s.clock)
    assert quiet.reconcile().given_back == ()
    assert [w for w in aws.writes if w[0] == "terminate"] == []


def test_on_prem_nodes_and_their_pods_are_never_touched() -> None:
    onprem = Node("onprem-1", allocatable={"xilinx/u250": 1})
    cluster = FakeCluster([onprem], [])
    aws = FakeAws([f1_group(1, LAUNCHING[:1])])
    s, _ = shell(cluster, aws)
    s.reconcile()
    assert [w for w in cluster.writes if w[1] == "onprem-1"] == []
