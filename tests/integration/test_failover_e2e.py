"""Failover end to end: a Spot group's launch fails while the scaler watches, and the same
invocation sends the pod to the on-demand group. Real kube-apiserver + etcd, moto_server;
DescribeScalingActivities (moto always answers []) from the harness's ActivityFeed. The
watch window runs on a fake clock: no pod changes, and each watch spends its timeout on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

import yaml
from test_e2e_scaler import aws, make_group, pod_events, xgb_job  # noqa: F401

from burst.adapters.aws.adapter import Aws, AwsSettings
from burst.adapters.kube.client import Kube
from burst.adapters.kube.tell import STATUS_NAME, STATUS_NAMESPACE
from burst.core.asgtags import LABEL_PREFIX
from burst.core.spot import CAPACITY_TYPE_LABEL, SPOT_PRICE_TAG
from burst.handlers import runtime, scaler
from burst.loop.config import WatchSettings
from burst.tools.harness.clock import FakeClock
from burst.tools.harness.context import LambdaContext
from burst.tools.harness.events import scheduled_event
from burst.tools.harness.moto import ActivityFeed, MotoView, failed_launch

NO_SPOT = ("There is no Spot capacity available that matches your request. "
           "Launching EC2 instance failed.")


def spot_group(view: MotoView, name: str, test_id: str, price: str) -> None:
    make_group(view, name, "f1.4xlarge", test_id)
    view.asg.create_or_update_tags(Tags=[
        {"ResourceId": name, "ResourceType": "auto-scaling-group", "PropagateAtLaunch": False,
         "Key": k, "Value": v}
        for k, v in ((f"{LABEL_PREFIX}{CAPACITY_TYPE_LABEL}", "spot"),
                     (SPOT_PRICE_TAG, price))])


@dataclass
class QuietWatcher:
    """No pending pod changes: each watch spends its whole timeout on the fake clock. During
    the first, `first` happens."""

    clock: FakeClock
    first: Callable[[], None]
    asked: list[float] = field(default_factory=list)

    def next_pending_change(self, since: str, timeout: float) -> str | None:
        if not self.asked:
            self.first()
        self.asked.append(timeout)
        self.clock.sleep(timeout)
        return None


def test_a_spot_launch_failure_sends_the_pod_to_on_demand_within_the_same_watch(
    aws: MotoView, admin: Kube, namespace: str,  # noqa: F811
) -> None:
    # GIVEN a cheap Spot group and an on-demand group of the same size, and a pending pod
    test_id = namespace
    spot_group(aws, "onprem-a-spot", test_id, price="1.10")
    make_group(aws, "onprem-b-on-demand", "f1.4xlarge", test_id)
    xgb_job(admin, namespace, "job-2", test_id)
    cfg = replace(runtime.config(), watch=WatchSettings(
        margin=timedelta(seconds=1), recheck=timedelta(seconds=1)))
    client = Aws(settings=AwsSettings(region=cfg.region, endpoint_url=cfg.aws_endpoint_url))
    feed = ActivityFeed(client.client("autoscaling"))
    built = runtime.adapters(cfg, client)
    clock = FakeClock.starting_now()
    raised_first: list[int] = []

    def spot_fails() -> None:
        raised_first.append(aws.desired("onprem-a-spot"))
        feed.fail("onprem-a-spot", failed_launch("onprem-a-spot", NO_SPOT, clock.wall()))

    watcher = QuietWatcher(clock, spot_fails)
    # WHEN the Spot group, asked first for its price, fails to launch while the scaler
    # watches (nothing about the pod changes), in an invocation with 4 s left: a watch of
    # 3 s (the margin is 1 s), two rechecks
    try:
        found = scaler.run(scheduled_event(clock.wall()), LambdaContext(4), cfg=cfg,
                           adapters=replace(built, watcher=watcher), clock=clock)
    finally:
        built.close()
    # THEN the same invocation, in its watch, asked the on-demand group
    assert raised_first == [1]
    assert watcher.asked[0] == cfg.watch.recheck.total_seconds()
    assert aws.desired("onprem-b-on-demand") == 1
    assert found["outcome"] == "ok"
    assert found["first"]["scaleUps"] == [{"nodeGroup": "onprem-a-spot", "from": 0, "to": 1}]
    assert {"nodeGroup": "onprem-b-on-demand", "from": 0, "to": 1} in [
        s for r in found["watched"] for s in r["scaleUps"]]
    status = yaml.safe_load(admin.call("read status", admin.core.read_namespaced_config_map,
                                       STATUS_NAME, STATUS_NAMESPACE)["data"]["status.yaml"])
    (spot,) = [g for g in status["nodeGroups"] if g["name"] == "onprem-a-spot"]
    assert "(no Spot capacity: There is no Spot capacity available" in spot["backoff"]
    reasons = " ".join(message for _, message in pod_events(admin, namespace, "job-2"))
    assert "onprem-b-on-demand" in reasons
