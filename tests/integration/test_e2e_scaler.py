"""The scaler end to end: a real kube-apiserver (+ etcd, kube-scheduler), AWS as a moto_server.

The handler is invoked as Lambda invokes it: the scheduled event from events/, a context
with a deadline, settings in environment variables, cluster credentials read from Secrets
Manager. Only DescribeScalingActivities (moto always answers []) and a throttled
SetDesiredCapacity are stubbed, on the adapter's own client (stubs.OperationStubber).

Other tests share the control plane and leave pending FPGA pods behind; every node group
here carries a taint unique to the test, so only this test's pods can use it.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import scaler_env
import yaml
from awsfakes import OperationStubber
from scaler_env import emitted_metrics

from burst.adapters.aws.adapter import Aws, AwsSettings
from burst.adapters.kube.client import Json, Kube
from burst.adapters.kube.tell import STATUS_NAME, STATUS_NAMESPACE
from burst.core.asgtags import TAINT_PREFIX
from burst.core.errors import ClusterUnreachableError, KubeNotFoundError
from burst.core.scaledown import runtimes
from burst.core.scaledown.runtimes import Runs
from burst.core.scaledown.unneeded import TO_BE_DELETED, UNNEEDED_SINCE, rfc3339
from burst.handlers import runtime, scaler
from burst.loop import config as config_mod
from burst.loop.config import WatchSettings
from burst.loop.memory import RUNS_KEY
from burst.ports.aws import ClusterCredentials
from burst.ports.cluster import PendingWatcher
from burst.tools.harness import objects
from burst.tools.harness.context import LambdaContext
from burst.tools.harness.events import scheduled_event
from burst.tools.harness.moto import SECRET, MotoView
from burst.tools.harness.net import free_port
from burst.tools.harness.objects import F1, U250

XGB = "com.inaccel.xgboost.exact"


@pytest.fixture
def aws(
    moto_endpoint: str, identities: dict[str, ClusterCredentials],
    monkeypatch: pytest.MonkeyPatch, iam_policies: object,
) -> Iterator[MotoView]:
    """A fresh moto, each function's credentials secret in it, and the scaler's environment."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    view = MotoView(moto_endpoint)
    view.store_credentials(identities)
    for key, value in scaler_env.environment(moto_endpoint).items():
        monkeypatch.setenv(key, value)
    runtime.config.cache_clear()
    yield view
    runtime.config.cache_clear()


@pytest.fixture
def test_id(namespace: str) -> str:
    return namespace  # unique per test: label and taint value of this test's groups


def group_taint(test_id: str) -> dict[str, str]:
    return {"key": "fpga-burst-e2e", "value": test_id, "effect": "NoSchedule"}


def make_group(aws: MotoView, name: str, instance_type: str, test_id: str,
               desired: int = 0) -> None:
    aws.group(name, instance_type, {"fpga-burst-e2e": test_id}, desired=desired)
    aws.asg.create_or_update_tags(Tags=[{
        "ResourceId": name, "ResourceType": "auto-scaling-group", "PropagateAtLaunch": False,
        "Key": f"{TAINT_PREFIX}fpga-burst-e2e",
        "Value": f"{test_id}:NoSchedule",
    }])


def xgb_job(admin: Kube, namespace: str, name: str, test_id: str) -> Json:
    """4 x com.inaccel.xgboost.exact for this test's groups; bound by the test, not the
    scheduler (schedulerName), so the test decides when it runs."""
    return objects.pod(
        admin, namespace, name,
        nodeSelector={"fpga-burst-e2e": test_id},
        tolerations=[{"key": "fpga-burst-e2e", "operator": "Equal", "value": test_id,
                      "effect": "NoSchedule"}],
        schedulerName="fpga-burst-e2e",
        meta=objects.Meta(annotations={"fpga-burst.io/accelerators": json.dumps({XGB: 4})}),
    )


def ready_node(admin: Kube, name: str, **kwargs: Any) -> Json:
    """objects.node, then what the node lifecycle controller (not running here) does once
    the node is Ready: remove the not-ready taint the API server added at registration."""
    objects.node(admin, name, **kwargs)
    node = admin.call("read node", admin.core.read_node, name)
    node["spec"]["taints"] = [t for t in node["spec"].get("taints") or []
                              if t["key"] != "node.kubernetes.io/not-ready"]
    return admin.call("update node", admin.core.replace_node, name, node)


def burst_node(admin: Kube, name: str, instance: dict[str, Any], test_id: str,
               boards: dict[str, str] | None = None) -> Json:
    return ready_node(
        admin, name, provider_id=f"aws:///{instance['AvailabilityZone']}/{instance['InstanceId']}",
        allocatable=boards, labels={"fpga-burst-e2e": test_id}, taints=[group_taint(test_id)],
    )


def advertise(admin: Kube, name: str, boards: dict[str, str]) -> None:
    """The FPGA device plugin registers its boards, late."""
    node = admin.call("read node", admin.core.read_node_status, name)
    node["status"]["capacity"] = {**node["status"].get("capacity", {}), **boards}
    node["status"]["allocatable"] = {**node["status"].get("allocatable", {}), **boards}
    admin.call("update node status", admin.core.replace_node_status, name, node)


def bind(admin: Kube, namespace: str, pod: str, node: str) -> None:
    body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
    admin.call("bind pod", admin.core.create_namespaced_pod_binding, pod, namespace, body)


def finish(admin: Kube, namespace: str, pod: str) -> None:
    current = admin.call("read pod", admin.core.read_namespaced_pod_status, pod, namespace)
    current["status"]["phase"] = "Succeeded"
    admin.call("update pod status", admin.core.replace_namespaced_pod_status, pod, namespace,
               current)


def tick() -> dict[str, Any]:
    return scaler.handler(scheduled_event(), LambdaContext(seconds=50))


def pod_events(admin: Kube, namespace: str, pod: str) -> list[tuple[str, str]]:
    items = admin.call("list events", admin.core.list_namespaced_event, namespace)["items"]
    return [(e["reason"], e["message"]) for e in items
            if e["involvedObject"]["name"] == pod and e["source"].get("component") == "fpga-burst"]


def read_node(admin: Kube, name: str) -> Json:
    return admin.call("read node", admin.core.read_node, name)


def test_the_seed_evaluation_from_pending_job_to_scale_up_run_and_scale_down(
    aws: MotoView, admin: Kube, namespace: str, test_id: str, admin_nodes: list[str],
) -> None:
    # GIVEN an on-prem node with one U250, running job 1
    onprem = f"{test_id}-onprem"
    admin_nodes.append(onprem)
    ready_node(admin, onprem, allocatable={U250: "1"}, labels={"fpga-burst-e2e": test_id})
    objects.pod(admin, namespace, "job-1", node=onprem, limits={U250: "1"})
    make_group(aws, "onprem-f1-4xlarge", "f1.4xlarge", test_id)
    # WHEN job 2 (4 x xgboost.exact: 1 U250, or 2 F1 boards) is pending and the tick comes
    xgb_job(admin, namespace, "job-2", test_id)
    first = tick()
    # THEN the scaler raises f1-4xlarge from 0 to 1 and tells the pod
    assert first["outcome"] == "ok", first
    assert first["first"]["scaleUps"] == [{"nodeGroup": "onprem-f1-4xlarge", "from": 0, "to": 1}]
    assert aws.desired("onprem-f1-4xlarge") == 1
    assert pod_events(admin, namespace, "job-2") == [
        ("TriggeredScaleUp", "pod triggered scale-up: [{onprem-f1-4xlarge 0->1 (max: 4)}]")]

    # WHEN the instance's node registers without its boards yet, and the next tick comes
    (instance,) = aws.instances("onprem-f1-4xlarge")
    burst = f"{test_id}-burst"
    admin_nodes.append(burst)
    burst_node(admin, burst, instance, test_id)
    second = tick()
    # THEN nothing more is asked for: the node is capacity on its way
    assert second["first"]["scaleUps"] == [] and second["first"]["outcomes"]["fits-upcoming"] == 1
    assert aws.desired("onprem-f1-4xlarge") == 1
    assert UNNEEDED_SINCE not in (read_node(admin, burst)["metadata"].get("annotations") or {})

    # WHEN the boards appear, the pod is bound and runs
    advertise(admin, burst, {F1: "2"})
    third = tick()
    assert third["first"]["outcomes"] == {"fits-existing": 1}
    bind(admin, namespace, "job-2", burst)
    running = tick()
    assert running["first"]["scaleDown"]["tainted"] == 0 and aws.desired("onprem-f1-4xlarge") == 1

    # WHEN the job ends: the node is unneeded (unneeded time 0 s): annotated, tainted and,
    # re-checked still empty after the taint, terminated with decrement in the same tick
    finish(admin, namespace, "job-2")
    marked = tick()
    assert marked["first"]["scaleDown"]["tainted"] == 1
    assert marked["first"]["terminated"] == [instance["InstanceId"]]
    node = read_node(admin, burst)
    assert UNNEEDED_SINCE in node["metadata"]["annotations"]
    assert TO_BE_DELETED in {t["key"] for t in node["spec"]["taints"]}
    assert aws.desired("onprem-f1-4xlarge") == 0
    assert [i["InstanceId"] for i in aws.instances("onprem-f1-4xlarge")
            if i["LifecycleState"] == "InService"] == []
    # AND the status remembers job 2's arrival (2 F1 boards) and says why the node goes,
    # as does an Event on the node
    status = admin.call("read status", admin.core.read_namespaced_config_map, STATUS_NAME,
                        STATUS_NAMESPACE)
    seen = json.loads(status["data"]["arrivals.json"])["boards"][F1]
    assert [boards for _, boards in seen] == [2]
    steps = yaml.safe_load(status["data"]["status.yaml"])["scaleDown"]
    assert {"node": burst, "step": "taint"} == {k: steps[0][k] for k in ("node", "step")}
    assert "later than a new boot" in steps[0]["reason"]
    assert status["data"]["lastDecision"].startswith(f"terminate {instance['InstanceId']}")
    events = admin.call("list events", admin.core.list_namespaced_event, "default",
                        field_selector=f"involvedObject.kind=Node,involvedObject.name={burst}")
    assert {e["reason"] for e in events["items"]} == {"Idle", "ScaleDown"}
    # the on-prem node was never touched
    onprem_node = read_node(admin, onprem)
    assert not onprem_node["spec"].get("taints") and not onprem_node["spec"].get("unschedulable")


def test_with_the_api_server_down_a_tick_writes_nothing_to_aws_and_says_so_loudly(
    aws: MotoView, admin: Kube, control_plane: Any, test_id: str,
    admin_nodes: list[str], capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN a burst node the previous tick tainted: this tick would terminate it
    make_group(aws, "onprem-f1-4xlarge", "f1.4xlarge", test_id, desired=1)
    (instance,) = aws.instances("onprem-f1-4xlarge")
    name = f"{test_id}-burst"
    admin_nodes.append(name)
    burst_node(admin, name, instance, test_id, boards={F1: "2"})
    node = read_node(admin, name)
    node["metadata"]["annotations"] = {UNNEEDED_SINCE: "2026-01-01T00:00:00Z"}
    node["spec"]["taints"].append({"key": TO_BE_DELETED, "value": "1", "effect": "NoSchedule"})
    admin.call("update node", admin.core.replace_node, name, node)
    capfd.readouterr()
    # WHEN the API server is down during the tick
    control_plane.stop_apiserver()
    try:
        # THEN the tick fails to Lambda (its failure queue, the FailedEvents alarm) ...
        with pytest.raises(ClusterUnreachableError):
            tick()
    finally:
        control_plane.start_apiserver()
    # ... having counted it and said so, and AWS is unchanged
    out = capfd.readouterr().out
    assert emitted_metrics(out)["ClusterUnreachable"] == 1
    # (Powertools' Tracer also logs the exception it passes on to Lambda)
    (loud,) = [r for r in caplog.records if r.levelname == "ERROR"
               and r.getMessage().startswith("cluster-unreachable")]
    assert loud.getMessage().startswith("cluster-unreachable: list nodes")
    assert "nothing destructive" in loud.action  # type: ignore[attr-defined]
    assert aws.desired("onprem-f1-4xlarge") == 1
    assert [i["LifecycleState"] for i in aws.instances("onprem-f1-4xlarge")] == ["InService"]
    # and once it is back, the same tick goes ahead
    assert tick()["first"]["terminated"] == [instance["InstanceId"]]


def adapters_with_stub(*operations: str) -> tuple[config_mod.RuntimeConfig, runtime.Adapters,
                                                   OperationStubber]:
    cfg = runtime.config()
    aws = Aws(settings=AwsSettings(region=cfg.region, endpoint_url=cfg.aws_endpoint_url,
                                   max_attempts=2))
    stub = OperationStubber(aws.client("autoscaling"), *operations)
    return cfg, runtime.adapters(cfg, aws), stub


def test_a_throttled_set_desired_capacity_is_a_typed_failure_and_a_metric_not_a_crash(
    aws: MotoView, admin: Kube, namespace: str, test_id: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    make_group(aws, "onprem-f1-4xlarge", "f1.4xlarge", test_id)
    xgb_job(admin, namespace, "job-2", test_id)
    cfg, built, stub = adapters_with_stub("SetDesiredCapacity")
    stub.add_client_error("set_desired_capacity", "Throttling", "Rate exceeded", 400)
    capfd.readouterr()
    with stub:
        result = scaler.run(scheduled_event(), LambdaContext(50), cfg=cfg, adapters=built)
    runtime.metrics.flush_metrics()
    built.close()
    assert result["outcome"] == "ok"
    (failure,) = result["first"]["failures"]
    assert failure.startswith("scale-up onprem-f1-4xlarge to 1: AwsThrottledError")
    assert emitted_metrics(capfd.readouterr().out)["ScaleUpFailures"] == 1
    assert aws.desired("onprem-f1-4xlarge") == 0
    assert pod_events(admin, namespace, "job-2") == []


def failed_launch(group: str, minutes_ago: float) -> dict[str, Any]:
    end = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    message = ("We currently do not have sufficient f1.4xlarge capacity in the Availability "
               "Zone you requested (us-east-1a). Launching EC2 instance failed.")
    return {
        "ActivityId": "a-1", "AutoScalingGroupName": group,
        "Description": "Launching a new EC2 instance.  Status Reason: " + message,
        "Cause": "an instance was started in response to a difference between desired and "
                 "actual capacity, increasing the capacity from 0 to 1.",
        "StartTime": end - timedelta(seconds=3), "EndTime": end, "StatusCode": "Failed",
        "StatusMessage": message, "Progress": 100,
    }


def test_a_group_backed_off_after_insufficient_capacity_leaves_its_pods_to_another_group(
    aws: MotoView, admin: Kube, namespace: str, test_id: str,
) -> None:
    # GIVEN the cheaper group's last launch failed for lack of capacity a minute ago
    make_group(aws, "onprem-a-f1-4xlarge", "f1.4xlarge", test_id)
    make_group(aws, "onprem-b-f1-16xlarge", "f1.16xlarge", test_id)
    xgb_job(admin, namespace, "job-2", test_id)
    cfg, built, stub = adapters_with_stub("DescribeScalingActivities")
    stub.add_response("describe_scaling_activities",
                      {"Activities": [failed_launch("onprem-a-f1-4xlarge", 1)]},
                      {"AutoScalingGroupName": "onprem-a-f1-4xlarge"})
    stub.add_response("describe_scaling_activities", {"Activities": []},
                      {"AutoScalingGroupName": "onprem-b-f1-16xlarge"})
    # WHEN the tick comes
    with stub:
        result = scaler.run(scheduled_event(), LambdaContext(50), cfg=cfg, adapters=built)
    built.close()
    # THEN the other group takes the pod, and the status shows the backoff
    assert result["first"]["scaleUps"] == [
        {"nodeGroup": "onprem-b-f1-16xlarge", "from": 0, "to": 1}]
    assert aws.desired("onprem-a-f1-4xlarge") == 0 and aws.desired("onprem-b-f1-16xlarge") == 1
    stub.assert_no_pending_responses()
    status = admin.call("read status", admin.core.read_namespaced_config_map, STATUS_NAME,
                        STATUS_NAMESPACE)
    assert "InsufficientInstanceCapacity" in status["data"]["status.yaml"]


def test_a_malformed_or_foreign_event_is_logged_as_an_error_and_nothing_happens(
    aws: MotoView, admin: Kube, namespace: str, test_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    make_group(aws, "onprem-f1-4xlarge", "f1.4xlarge", test_id)
    xgb_job(admin, namespace, "job-2", test_id)
    launch = json.loads((scaler_env.EVENTS / "launch-lifecycle-action.json").read_text())
    bad = json.loads((scaler_env.EVENTS / "malformed" / "scheduled-bad-time.json").read_text())
    for event in (launch, bad):
        assert scaler.handler(event, LambdaContext(50)) == {"outcome": "bad-event"}
    assert aws.desired("onprem-f1-4xlarge") == 0
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 2 and all(e.startswith("bad-event: event ") for e in errors)
    # the lifecycle action's token is not in the log line
    assert not any(launch["detail"]["LifecycleActionToken"] in e for e in errors)


@dataclass
class SignallingWatcher:
    """The real watcher, telling the test when the invocation starts watching."""

    inner: PendingWatcher
    watching: threading.Event = field(default_factory=threading.Event)

    def next_pending_change(self, since: str, timeout: float) -> str | None:
        self.watching.set()
        return self.inner.next_pending_change(since, timeout)


def test_in_watch_mode_a_pod_created_after_the_first_pass_is_acted_on_in_the_same_invocation(
    aws: MotoView, admin: Kube, namespace: str, test_id: str,
) -> None:
    # GIVEN a scaler invocation that has reconciled once (nothing pending) and now watches
    make_group(aws, "onprem-f1-4xlarge", "f1.4xlarge", test_id)
    cfg = replace(runtime.config(), watch=WatchSettings(margin=timedelta(seconds=1)))
    built = runtime.adapters(cfg)
    watcher = SignallingWatcher(built.watcher)
    built = replace(built, watcher=watcher)
    found: dict[str, Any] = {}
    invocation = threading.Thread(target=lambda: found.update(
        scaler.run(scheduled_event(), LambdaContext(6), cfg=cfg, adapters=built)))
    invocation.start()
    try:
        assert watcher.watching.wait(timeout=30)
        # WHEN a pod arrives while it watches
        xgb_job(admin, namespace, "job-2", test_id)
    finally:
        invocation.join(timeout=60)
        built.close()
    # THEN the same invocation raised the group, after its first pass found nothing to do
    assert found["outcome"] == "ok"
    assert found["first"]["scaleUps"] == []
    assert found["reconciles"] >= 2
    assert found["watched"][0]["scaleUps"] == [
        {"nodeGroup": "onprem-f1-4xlarge", "from": 0, "to": 1}]
    assert aws.desired("onprem-f1-4xlarge") == 1


def test_a_tick_delivered_late_reconciles_once_and_leaves_the_rest_of_its_minute_alone(
    aws: MotoView, admin: Kube, namespace: str, test_id: str,
) -> None:
    # GIVEN watch mode, a pending pod, and a tick delivered 55 s after its time (it waited
    # in Lambda's async queue behind a slow invocation), with a whole minute of Lambda time
    make_group(aws, "onprem-f1-4xlarge", "f1.4xlarge", test_id)
    xgb_job(admin, namespace, "job-2", test_id)
    cfg = replace(runtime.config(), watch=WatchSettings())
    built = runtime.adapters(cfg)
    watcher = SignallingWatcher(built.watcher)
    late = datetime.now(UTC) - timedelta(seconds=55)
    try:
        # WHEN it runs
        found = scaler.run(scheduled_event(at=late), LambdaContext(60), cfg=cfg,
                           adapters=replace(built, watcher=watcher))
    finally:
        built.close()
    # THEN it still reconciles (the pod's group is raised) but does not watch: the next tick
    # is due in 5 s, less than the margin, and must find the one slot free
    assert found["outcome"] == "ok" and found["reconciles"] == 1
    assert found["first"]["scaleUps"] == [{"nodeGroup": "onprem-f1-4xlarge", "from": 0, "to": 1}]
    assert not watcher.watching.is_set()


def test_the_functions_connect_to_the_controller_endpoint_not_the_secrets_server(
    aws: MotoView, admin: Kube, namespace: str, test_id: str,
    controller_credentials: ClusterCredentials, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a credentials secret whose endpoint the functions cannot reach (the admin
    # kubeconfig's server address, say a LAN name not routed to the Lambda subnets)
    dead = f"https://127.0.0.1:{free_port()}"
    aws.secrets.put_secret_value(SecretId=SECRET, SecretString=json.dumps(
        {"endpoint": dead, "ca": controller_credentials.ca,
         "token": controller_credentials.token}))
    make_group(aws, "onprem-f1-4xlarge", "f1.4xlarge", test_id)
    xgb_job(admin, namespace, "job-2", test_id)
    # WHEN no controller endpoint is configured THEN the scaler cannot see the cluster
    with pytest.raises(ClusterUnreachableError):
        tick()
    assert aws.desired("onprem-f1-4xlarge") == 0
    # WHEN the deployment names the endpoint the functions reach (cluster.controller_endpoint)
    reachable = controller_credentials.endpoint.removeprefix("https://")
    monkeypatch.setenv("FPGA_BURST_CONTROLLER_ENDPOINT", reachable)
    runtime.config.cache_clear()
    found = tick()
    # THEN the functions use it, with the secret's CA and token
    assert found["outcome"] == "ok", found
    assert aws.desired("onprem-f1-4xlarge") == 1


SYDNEY = "ap-southeast-2"  # F1 is offered there (burst/core/regions.py)


def test_a_group_in_another_region_is_found_scaled_and_given_back_in_that_region(
    aws: MotoView, moto_endpoint: str, admin: Kube, namespace: str, test_id: str,
    admin_nodes: list[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the deployment's groups live in the home region and in Sydney, and only the
    # Sydney group can take this test's pod (the home one is another test's)
    sydney = MotoView(moto_endpoint, region=SYDNEY)
    make_group(sydney, "onprem-f1-4xlarge-syd", "f1.4xlarge", test_id)
    aws.group("onprem-f1-4xlarge-home", "f1.4xlarge", {"fpga-burst-e2e": f"{test_id}-other"})
    # (fixed scale-down, 0 s: other tests' arrivals in the shared status must not keep the
    # node idle here)
    env = scaler_env.environment(
        moto_endpoint, regions={SYDNEY: {"join_key_id": "alias/fpga-burst/onprem/join"}},
        policy={"scale_down": "fixed"})
    monkeypatch.setenv("FPGA_BURST_CONFIG", env["FPGA_BURST_CONFIG"])
    runtime.config.cache_clear()
    xgb_job(admin, namespace, "job-2", test_id)
    # WHEN the tick comes
    first = tick()
    # THEN the Sydney group grows there, and the summary names its region
    assert first["outcome"] == "ok", first
    assert first["first"]["scaleUps"] == [
        {"nodeGroup": "onprem-f1-4xlarge-syd", "from": 0, "to": 1, "region": SYDNEY}]
    assert sydney.desired("onprem-f1-4xlarge-syd") == 1
    assert aws.desired("onprem-f1-4xlarge-home") == 0
    assert aws.asg.describe_auto_scaling_groups(
        AutoScalingGroupNames=["onprem-f1-4xlarge-syd"])["AutoScalingGroups"] == []

    # WHEN its node joins with its boards, runs the job, and the job ends
    (instance,) = sydney.instances("onprem-f1-4xlarge-syd")
    assert instance["AvailabilityZone"] == f"{SYDNEY}a"
    burst = f"{test_id}-syd"
    admin_nodes.append(burst)
    burst_node(admin, burst, instance, test_id, boards={F1: "2"})
    bind(admin, namespace, "job-2", burst)
    assert tick()["first"]["scaleUps"] == []
    finish(admin, namespace, "job-2")
    # THEN the instance is tainted and terminated with decrement in Sydney, by a fresh
    # invocation that learns the group's region by discovering every configured region
    removed = tick()
    assert removed["first"]["scaleDown"]["tainted"] == 1
    assert removed["first"]["terminated"] == [instance["InstanceId"]]
    assert sydney.desired("onprem-f1-4xlarge-syd") == 0
    assert aws.desired("onprem-f1-4xlarge-home") == 0


@pytest.fixture
def learned_runs(admin: Kube) -> Iterator[None]:
    """A status ConfigMap as earlier ticks left it: half the FPGA pods ran 2 min, half 30;
    deleted afterwards, so no other test inherits the run times."""
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": STATUS_NAME, "namespace": STATUS_NAMESPACE},
            "data": {RUNS_KEY: runtimes.to_data(Runs({}, (120.0,) * 20 + (1800.0,) * 20))}}
    with contextlib.suppress(KubeNotFoundError):
        admin.call("delete status", admin.core.delete_namespaced_config_map, STATUS_NAME,
                   STATUS_NAMESPACE)
    admin.call("create status", admin.core.create_namespaced_config_map, STATUS_NAMESPACE,
               body)
    yield
    with contextlib.suppress(KubeNotFoundError):
        admin.call("delete status", admin.core.delete_namespaced_config_map, STATUS_NAME,
                   STATUS_NAMESPACE)


def test_a_pod_waits_for_a_board_its_neighbours_are_likely_to_free_and_is_told_why(
    aws: MotoView, admin: Kube, namespace: str, test_id: str, admin_nodes: list[str],
    learned_runs: None,
) -> None:
    # GIVEN an on-prem node with two U250, both running jobs its kubelet took 100 s ago
    onprem = f"{test_id}-onprem"
    admin_nodes.append(onprem)
    ready_node(admin, onprem, allocatable={U250: "2"}, labels={"fpga-burst-e2e": test_id})
    started = rfc3339(datetime.now(UTC) - timedelta(seconds=100))
    for name in ("job-1", "job-2"):
        objects.pod(admin, namespace, name, node=onprem, limits={U250: "1"})
        current = objects.running(admin, namespace, name)
        current["status"]["startTime"] = started
        admin.call("update pod status", admin.core.replace_namespaced_pod_status, name,
                   namespace, current)
    make_group(aws, "onprem-f1-4xlarge", "f1.4xlarge", test_id)
    # WHEN job 3 (one U250, or two F1 boards) is pending and the tick comes
    xgb_job(admin, namespace, "job-3", test_id)
    first = tick()
    # THEN it waits for a U250 (one of the two jobs ends within 45 s 3 times in 4): no
    # instance is asked for, and the pod is told why
    assert first["outcome"] == "ok", first
    assert first["first"]["outcomes"]["deferred"] == 1  # pods of other tests may be pending
    assert aws.desired("onprem-f1-4xlarge") == 0
    ((reason, message),) = pod_events(admin, namespace, "job-3")
    assert reason == "ScaleUpDeferred"
    assert message.startswith("scale-up deferred: pod waits up to 4")  # 40-odd s left
    assert "2 FPGA pods running where it fits, 1 or more end by then 75% of the time" in message
    # AND the status shows the waiting pod and remembers the running jobs by their start
    status = admin.call("read status", admin.core.read_namespaced_config_map, STATUS_NAME,
                        STATUS_NAMESPACE)["data"]
    assert yaml.safe_load(status["status.yaml"])["pending"]["deferred"][0]["pod"] == \
        f"{namespace}/job-3"
    seen = runtimes.from_data(status[RUNS_KEY]).running
    assert len(seen) == 2
    assert {round(t) for t, _ in seen.values()} == {
        round(datetime.fromisoformat(started).timestamp())}
