"""The lifecycle function end to end: the real API server as the controller's identity, moto
for AWS, and a Stubber for only CompleteLifecycleAction / RecordLifecycleActionHeartbeat.

Time is a fake clock shared by the handler and the drain (it moves only when the drain
sleeps), so hook deadlines of ten minutes pass in milliseconds and heartbeats are counted
exactly.
"""

from __future__ import annotations

import contextlib
import copy
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from awsfakes import LIFECYCLE_CALLS, OperationStubber
from iamenforce import session_keys as iam_keys
from moto import mock_aws

from burst.adapters.aws.adapter import Aws, AwsSettings
from burst.adapters.kube.adapter import KubeCluster
from burst.adapters.kube.client import Json, Kube
from burst.adapters.kube.drain import Backoff
from burst.adapters.kube.watch import PendingWatch
from burst.core import lifecycle as rules
from burst.core.asgtags import JOIN_ERROR_TAG
from burst.core.errors import AwsThrottledError, KubeNotFoundError
from burst.core.model import Instance, NodeGroup
from burst.handlers import lifecycle as handler
from burst.handlers import runtime
from burst.loop import config, lifecycle
from burst.tools.harness import objects
from burst.tools.harness.clock import FakeClock
from burst.tools.harness.context import LambdaContext
from burst.tools.harness.objects import F1

REGION = "us-east-1"
CLUSTER = "onprem"
GROUP = "onprem-f1-4xlarge"  # as the stack names it: <cluster>-<group>
EVENTS = Path(__file__).parents[2] / "events"
TAGS = ("k8s.io/cluster-autoscaler/enabled", f"k8s.io/cluster-autoscaler/{CLUSTER}")
NOT_FOUND = "No active Lifecycle Action found with instance ID {}"


@dataclass
class World:
    aws: Aws
    stub: OperationStubber
    adapters: runtime.Adapters
    cfg: config.RuntimeConfig
    clock: FakeClock
    admin: Kube
    instance: str

    def event(self, name: str, **detail: str) -> dict[str, Any]:
        raw: dict[str, Any] = json.loads((EVENTS / name).read_text())
        raw["time"] = self.clock.wall().isoformat()
        # The samples name the seed config's group; this world's group is named as the stack
        # names it for this cluster, so the function's policy covers it.
        raw["detail"].update({"EC2InstanceId": self.instance, "AutoScalingGroupName": GROUP,
                              **detail})
        return copy.deepcopy(raw)

    def invoke(self, event: dict[str, Any], seconds: float = 300.0) -> dict[str, Any]:
        context = LambdaContext(seconds, "fpga-burst-onprem-lifecycle")
        return handler.run(event, context, cfg=self.cfg, adapters=self.adapters, clock=self.clock)

    def expect(self, hook: str, token: str, operation: str = "complete_lifecycle_action") -> None:
        params = {"AutoScalingGroupName": GROUP, "LifecycleHookName": hook,
                  "InstanceId": self.instance, "LifecycleActionToken": token}
        if operation == "complete_lifecycle_action":
            params["LifecycleActionResult"] = "CONTINUE"
        self.stub.add_response(operation, {}, params)

    def already_done(self) -> None:
        self.stub.add_client_error("complete_lifecycle_action", "ValidationError",
                                   NOT_FOUND.format(self.instance), 400)


LAUNCH_TOKEN = "c613620e-07e2-4ed2-a9e2-ef8258911ade"
TERMINATE_TOKEN = "4d8a8e61-5f2b-4c0e-b8f6-2a9d3c7e1f05"


@pytest.fixture
def world(lifecycle_kube: Kube, admin: Kube, iam_policies: object) -> Iterator[World]:
    kube = lifecycle_kube  # the function's own Kubernetes identity
    with mock_aws():
        s = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                          region_name=REGION)
        template = s.client("ec2").create_launch_template(
            LaunchTemplateName="lt-f1", LaunchTemplateData={"InstanceType": "f1.4xlarge"},
        )["LaunchTemplate"]
        s.client("autoscaling").create_auto_scaling_group(
            AutoScalingGroupName=GROUP, MinSize=0, MaxSize=4, DesiredCapacity=0,
            LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"]},
            AvailabilityZones=[f"{REGION}a"],
            Tags=[{"Key": k, "Value": "owned", "PropagateAtLaunch": False, "ResourceId": GROUP,
                   "ResourceType": "auto-scaling-group"} for k in TAGS],
        )
        # The function's own key: its calls are checked against its policy (iamenforce).
        aws = Aws(boto3.Session(**iam_keys("lifecycle"), region_name=REGION),
                  AwsSettings(region=REGION))
        cfg = config.load(environ={}, cluster_name=CLUSTER, config={})
        clock = FakeClock.starting_now()
        cluster = KubeCluster(kube, cfg.boards, clock=clock.monotonic, sleep=clock.sleep,
                              drain_backoff=Backoff(initial=20, maximum=120))
        with OperationStubber(aws.client("autoscaling"), *LIFECYCLE_CALLS) as stub:
            adapters = runtime.Adapters(aws, cluster, PendingWatch(kube, cfg.boards))
            w = World(aws, stub, adapters, cfg, clock, admin,
                      f"i-{secrets.token_hex(8)}")
            runtime.metrics.clear_metrics()
            yield w
            stub.assert_no_pending_responses()
        runtime.metrics.clear_metrics()


def join(w: World, name: str, *, ready: bool, boards: int) -> None:
    """The node registers (first time) or its kubelet and device plugin report status."""
    try:
        current = w.admin.call("read node", w.admin.core.read_node, name)
    except KubeNotFoundError:
        objects.node(w.admin, name, provider_id=f"aws:///{REGION}a/{w.instance}",
                     allocatable={F1: str(boards)} if boards else {}, ready=ready)
        return
    current["status"]["allocatable"] = {F1: str(boards)}
    current["status"]["capacity"] = {F1: str(boards)}
    current["status"]["conditions"][0]["status"] = "True" if ready else "False"
    w.admin.call("update node status", w.admin.core.replace_node_status, name, current)


def read_node(w: World, name: str) -> Json | None:
    with contextlib.suppress(KubeNotFoundError):
        return w.admin.call("read node", w.admin.core.read_node, name)
    return None


def guarded_job(w: World, namespace: str, node: str) -> None:
    """A running pod on `node` and a PDB that refuses its eviction (no controller computes
    disruptionsAllowed here, so it stays 0 until the PDB is deleted)."""
    objects.pod(w.admin, namespace, "job", node=node, meta=objects.Meta(labels={"app": "job"}))
    objects.running(w.admin, namespace, "job")
    w.admin.call("create pdb", w.admin.policy.create_namespaced_pod_disruption_budget, namespace,
                 {"metadata": {"name": "job"},
                  "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "job"}}}})


def unguard(w: World, namespace: str) -> None:
    w.admin.call("delete pdb", w.admin.policy.delete_namespaced_pod_disruption_budget,
                 "job", namespace)


def test_launch_completes_only_once_the_node_has_joined_is_ready_and_shows_its_boards(
    world: World, node_name: str
) -> None:
    launch = world.event("launch-lifecycle-action.json")
    # GIVEN the instance launched but its node has not joined: no completion, hook waits
    assert world.invoke(launch)["result"] == "waiting"
    # WHEN the node registers NotReady, then Ready without boards: still waiting
    join(world, node_name, ready=False, boards=0)
    assert world.invoke(launch)["result"] == "waiting"
    join(world, node_name, ready=True, boards=0)
    assert "does not advertise" in world.invoke(launch)["reason"]
    # THEN once the device plugin advertises the boards, the launch completes with CONTINUE
    join(world, node_name, ready=True, boards=2)
    world.expect(lifecycle.LAUNCH_HOOK, LAUNCH_TOKEN)
    done = world.invoke(launch)
    assert (done["result"], done["node"]) == ("completed", node_name)
    # AND a duplicate of the event finds nothing pending, which is fine
    world.already_done()
    assert world.invoke(launch)["result"] == "already-done"
    assert "LaunchesCompleted" in runtime.metrics.metric_set


def test_a_launch_whose_node_failed_to_join_says_what_the_instance_said(world: World) -> None:
    """
    GIVEN an instance whose bootstrap failed and tagged it (bootstrap.sh report_failure)
    WHEN  its launch event comes
    THEN  the launch waits (the hook ABANDONs at its timeout) and the outcome carries the
          instance's own account of the failure, read under the lifecycle function's policy
    """
    moto = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                         region_name=REGION).client("ec2")
    (image,) = moto.describe_images(Owners=["amazon"])["Images"][:1]
    instance = moto.run_instances(ImageId=image["ImageId"], MinCount=1, MaxCount=1)[
        "Instances"][0]["InstanceId"]
    moto.create_tags(Resources=[instance], Tags=[
        {"Key": JOIN_ERROR_TAG, "Value": "join-data: the join token expired at 10:00Z"}])
    world.instance = instance

    waiting = world.invoke(world.event("launch-lifecycle-action.json"))

    assert waiting["result"] == "waiting"
    assert waiting["reason"].endswith(
        "the instance says its join failed at join-data: the join token expired at 10:00Z")


def test_a_terminate_drains_respecting_the_pdb_and_a_killed_invocation_is_finished_by_the_next(
    world: World, node_name: str, namespace: str
) -> None:
    join(world, node_name, ready=True, boards=2)
    guarded_job(world, namespace, node_name)
    terminate = world.event("terminate-lifecycle-action.json")
    # GIVEN an invocation with only seconds left while the PDB refuses the eviction
    first = world.invoke(terminate, seconds=handler.MARGIN_SECONDS + 5)
    # THEN it stops unfinished: node cordoned, tainted, drain start kept; pod still there
    assert first["result"] == "draining" and first["remaining"] == [f"{namespace}/job"]
    node = read_node(world, node_name)
    assert node is not None and node["spec"]["unschedulable"] is True
    assert rules.REMOVAL_TAINT.key in {t["key"] for t in node["spec"]["taints"]}
    assert rules.DRAIN_STARTED in node["metadata"]["annotations"]
    assert "job" in objects.pods_in(world.admin, namespace)
    # WHEN the PDB allows it and Lambda retries the event (a continued drain heartbeats)
    unguard(world, namespace)
    world.expect(lifecycle.TERMINATE_HOOK, TERMINATE_TOKEN, "record_lifecycle_action_heartbeat")
    world.expect(lifecycle.TERMINATE_HOOK, TERMINATE_TOKEN)
    second = world.invoke(terminate)
    # THEN the pod is evicted, the Node deleted and the action completed with CONTINUE
    assert (second["result"], second["evicted"], second["heartbeats"]) == (
        "completed", [f"{namespace}/job"], 1)
    assert read_node(world, node_name) is None
    assert "job" not in objects.pods_in(world.admin, namespace)
    # AND the same event again: node gone, nothing pending, fine
    world.already_done()
    assert world.invoke(terminate)["result"] == "already-done"


def test_a_throttled_completion_is_raised_so_lambda_retries_it_and_the_retry_completes(
    world: World, node_name: str, namespace: str
) -> None:
    join(world, node_name, ready=True, boards=2)
    objects.pod(world.admin, namespace, "web", node=node_name)
    terminate = world.event("terminate-lifecycle-action.json")
    # GIVEN Auto Scaling throttles CompleteLifecycleAction past the client's own retries
    world.stub.add_client_error("complete_lifecycle_action", "Throttling", "Rate exceeded", 400)
    # WHEN the event comes: the node is drained and deleted, then the completion fails
    with pytest.raises(AwsThrottledError, match="Rate exceeded"):
        world.invoke(terminate)
    # THEN the error reached Lambda (which retries the event), counted for the dashboards
    assert "AwsThrottled" in runtime.metrics.metric_set
    assert read_node(world, node_name) is None
    assert "web" not in objects.pods_in(world.admin, namespace)
    # WHEN Lambda invokes again with the same event: the node is gone, the action completes
    world.expect(lifecycle.TERMINATE_HOOK, TERMINATE_TOKEN)
    done = world.invoke(terminate)
    assert (done["outcome"], done["result"]) == ("ok", "completed")


def test_a_drain_killed_mid_way_is_finished_by_the_scaler_tick(
    world: World, node_name: str, namespace: str
) -> None:
    join(world, node_name, ready=True, boards=2)
    guarded_job(world, namespace, node_name)
    first = world.invoke(world.event("terminate-lifecycle-action.json"),
                         seconds=handler.MARGIN_SECONDS + 5)
    assert first["result"] == "draining"
    unguard(world, namespace)
    # WHEN the scaler's tick sees the instance in Terminating:Wait (no token: by instance id)
    group = NodeGroup(GROUP, "f1.4xlarge", 0, 4, 0,
                      instances=(Instance(world.instance, "Terminating:Wait"),))
    cluster = world.adapters.cluster
    nodes = cluster.observe(rules.instance_groups([group])).nodes
    for operation in ("record_lifecycle_action_heartbeat", "complete_lifecycle_action"):
        params = {"AutoScalingGroupName": GROUP, "LifecycleHookName": lifecycle.TERMINATE_HOOK,
                  "InstanceId": world.instance}
        if operation == "complete_lifecycle_action":
            params["LifecycleActionResult"] = "CONTINUE"
        world.stub.add_response(operation, {}, params)
    drainer = lifecycle.Drainer(cluster, cluster, world.aws.lifecycle, world.clock,
                                world.cfg.lifecycle.terminate_timeout,
                                stop_at=world.clock.monotonic() + 40)
    (outcome,) = lifecycle.continue_terminations(drainer, [group], nodes)
    # THEN it finishes the drain, deletes the Node and completes the action
    assert outcome.result is lifecycle.HookResult.COMPLETED and not outcome.over_deadline
    assert read_node(world, node_name) is None


def test_a_drain_that_cannot_finish_completes_at_the_hook_deadline_keeps_the_node_says_why(
    world: World, node_name: str, namespace: str
) -> None:
    join(world, node_name, ready=True, boards=2)
    guarded_job(world, namespace, node_name)  # never lifted
    world.expect(lifecycle.TERMINATE_HOOK, TERMINATE_TOKEN, "record_lifecycle_action_heartbeat")
    world.expect(lifecycle.TERMINATE_HOOK, TERMINATE_TOKEN)
    # WHEN the invocation has more time than the hook (fake time: 10 minutes pass in ms)
    done = world.invoke(world.event("terminate-lifecycle-action.json"), seconds=10_000)
    # THEN at the deadline it completes anyway and counts the overrun, but keeps the Node:
    # deleting it would take the guarded pod down past its budget. The outcome says so.
    assert (done["result"], done["overDeadline"], done["heartbeats"]) == ("completed", True, 1)
    assert world.clock.mono == world.cfg.lifecycle.terminate_timeout.total_seconds()
    assert read_node(world, node_name) is not None
    assert list(done["left"]) == [f"{namespace}/job"]
    assert "disruption budget" in done["left"][f"{namespace}/job"]
    assert "DrainsOverDeadline" in runtime.metrics.metric_set


def test_terminate_before_launch_completes_the_terminate_and_the_late_launch_does_nothing(
    world: World,
) -> None:
    # GIVEN an instance terminated before its node ever joined
    world.expect(lifecycle.TERMINATE_HOOK, TERMINATE_TOKEN)
    assert world.invoke(world.event("terminate-lifecycle-action.json"))["result"] == "completed"
    # WHEN its launch event arrives late: no node, so no call (the Stubber has none queued)
    assert world.invoke(world.event("launch-lifecycle-action.json"))["result"] == "waiting"


def test_events_for_other_groups_or_hooks_and_malformed_events_cause_no_action(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    foreign = world.event("terminate-lifecycle-action.json", AutoScalingGroupName="someone-else")
    assert world.invoke(foreign)["result"] == "not-ours"
    other_hook = world.event("terminate-lifecycle-action.json", LifecycleHookName="backup-hook")
    assert world.invoke(other_hook)["result"] == "not-ours"
    malformed = json.loads(
        (EVENTS / "malformed" / "launch-lifecycle-action-missing-instance-id.json").read_text())
    assert world.invoke(malformed) == {"outcome": "bad-event"}
    scheduled = json.loads((EVENTS / "scheduled.json").read_text())
    assert world.invoke(scheduled) == {"outcome": "bad-event"}


def test_a_failed_launch_is_counted_and_nothing_else_happens(world: World) -> None:
    event = json.loads((EVENTS / "launch-unsuccessful.json").read_text())
    assert world.invoke(event)["launchFailed"] == event["detail"]["AutoScalingGroupName"]
    assert "ScaleUpFailures" in runtime.metrics.metric_set


def test_the_scaler_tick_completes_a_launch_whose_event_came_before_the_node_was_useful(
    world: World, node_name: str
) -> None:
    # GIVEN the one launch event came and went while the node was not Ready
    join(world, node_name, ready=False, boards=2)
    assert world.invoke(world.event("launch-lifecycle-action.json"))["result"] == "waiting"
    join(world, node_name, ready=True, boards=2)
    # WHEN the tick sees the instance still in Pending:Wait (by instance id: no token)
    group = NodeGroup(GROUP, "f1.4xlarge", 0, 4, 1, boards={F1: 2},
                      instances=(Instance(world.instance, "Pending:Wait"),))
    nodes = world.adapters.cluster.observe(rules.instance_groups([group])).nodes
    world.stub.add_response("complete_lifecycle_action", {}, {
        "AutoScalingGroupName": GROUP, "LifecycleHookName": lifecycle.LAUNCH_HOOK,
        "InstanceId": world.instance, "LifecycleActionResult": "CONTINUE"})
    (outcome,) = lifecycle.continue_launches(world.aws.lifecycle, [group], nodes)
    # THEN it completes the launch with CONTINUE
    assert (outcome.result, outcome.node) == (lifecycle.HookResult.COMPLETED, node_name)
