"""The seed tutorial's evaluation, run for real on this machine.

A real kube-apiserver + etcd + kube-scheduler, moto for AWS with the node groups of
demo.yaml (the demo's deploy config), and the three Lambda handlers invoked as EventBridge
would: the scaler on its schedule, the lifecycle function on each lifecycle action, the
tokens function once.
One on-prem node with an idle U250; job 1 lands on it; job 2 needs 2 VU9P boards on one
node, so f1-4xlarge goes 0 -> 1; the instance joins, its device plugin advertises its
boards late, job 2 runs there; the idle node is tainted and, in the same tick, terminated
with decrement, drained and deleted by the terminate hook; desired capacity is 0 again.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from burst.adapters.kube import client
from burst.loop.lifecycle import LAUNCH_HOOK
from burst.tools.demo import cluster, setup
from burst.tools.demo.actors import (
    Booting,
    Functions,
    Kubelets,
    Schedule,
    Timings,
    handler_logs,
    said_if_failed,
)
from burst.tools.demo.hooks import Calls, LifecycleHooks, Machine
from burst.tools.demo.timeline import Timeline
from burst.tools.harness import events
from burst.tools.harness.moto import MotoView, moto_server, own_keys
from burst.tools.sim.engine import Sample

NORMAL = Timings(tick=8.0, boot=3.0, device_plugin=10.0, job=8.0)
# For the test: every wait shorter, the same order of events (boards still come after a tick).
FAST = Timings(tick=4.0, boot=1.0, device_plugin=5.0, job=3.0)
ONPREM = "onprem-1"
FPGA_LABELS = {"inaccel/fpga": "enabled"}
XGBOOST = {"com.inaccel.xgboost.exact": 4}


@dataclass
class Story:
    """What happened, for the report and the test."""

    timeline: Timeline
    timings: Timings
    groups: dict[str, str]  # config name -> ASG name
    calls: Calls
    fleet: dict[str, Machine]
    ran_on: dict[str, str]  # job -> node
    node_groups: dict[str, str]  # burst node -> ASG name
    desired: dict[str, int]  # ASG name -> desired capacity at the end
    samples: list[Sample]
    summaries: list[tuple[float, str, dict[str, Any]]]
    finished: bool
    wall: float = 0.0
    notes: list[str] = field(default_factory=list)


def jobs(timings: Timings) -> tuple[cluster.Job, cluster.Job]:
    return (
        cluster.Job("xgboost-job-1", XGBOOST, "xilinx/u250", 1, FPGA_LABELS, timings.job),
        cluster.Job("xgboost-job-2", XGBOOST, "xilinx/aws-vu9p-f1", 2, FPGA_LABELS,
                    timings.job),
    )


def run(report: Path, timings: Timings, timeline: Timeline | None = None,
        limit: float = 240.0) -> Story:
    """Raises setup.ControlPlaneUnavailableError before anything else starts if the
    control plane cannot be built or started."""
    timeline = timeline or Timeline()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto_server's request lines
    report.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fpga-burst-demo-") as work:
        cp = setup.control_plane(timeline, Path(work) / "controlplane")
        try:
            with moto_server() as endpoint, (report / "handlers.log").open("w") as log_file, \
                    handler_logs(timeline, log_file), own_keys():
                return _play(cp, endpoint, timings, timeline, limit)
        finally:
            cp.stop()


def _play(cp: Any, endpoint: str, timings: Timings, timeline: Timeline, limit: float) -> Story:
    deploy = setup.deploy_config()
    aws = MotoView(endpoint, deploy.region)
    timeline.say("setup", f"moto_server at {aws.endpoint}; deploy config {setup.DEMO_CONFIG.name}"
                          f" (cluster {deploy.cluster_name})")
    setup.node_groups(aws, deploy, timeline)
    with client.from_kubeconfig(cp.admin_kubeconfig) as admin:
        setup.store_credentials(aws, admin, cp, timeline)
        cfg = setup.handler_config(deploy, timings, endpoint=aws.endpoint,
                                   key=setup.join_key(aws, timeline))
        timeline.say("setup", f"timings: scaler tick {timings.tick:g} s (AWS: 1 min), boot "
                              f"{timings.boot:g} s, device plugin +{timings.device_plugin:g} s, "
                              f"jobs {timings.job:g} s; scale-down "
                              f"{deploy.policy.scale_down.value}")
        return _stage(admin, aws, deploy, cfg, timings, timeline, limit)


def _stage(admin: Any, aws: MotoView, deploy: Any, cfg: Any, timings: Timings,
           timeline: Timeline, limit: float) -> Story:
    groups = {g.name: g.asg_name(deploy.cluster_name) for g in deploy.node_groups}
    booting = Booting(admin, aws.client("ssm"), deploy.join_parameter_name, timeline, timings,
                      {groups[g.name]: dict(g.labels) for g in deploy.node_groups},
                      {groups[g.name]: dict(g.boards) for g in deploy.node_groups})
    functions: Functions
    hooks: LifecycleHooks

    def raise_event(event: dict[str, Any]) -> None:
        detail = event["detail"]
        instance, hook = detail["EC2InstanceId"], detail["LifecycleHookName"]
        timeline.say("event", f"EventBridge -> lifecycle: {event['detail-type']} {instance}")
        threading.Thread(target=_lifecycle, args=(functions, event, timings, timeline),
                         daemon=True).start()
        if hook == LAUNCH_HOOK:
            booting.start(detail["AutoScalingGroupName"], instance, hooks.fleet[instance].zone)

    hooks = LifecycleHooks(timeline, aws.client("autoscaling"), raise_event)
    functions = Functions(cfg, hooks, timeline)
    cluster.prepare(admin)
    _tokens(functions, timeline)
    cluster.register_node(admin, ONPREM, FPGA_LABELS, {"xilinx/u250": 1})
    timeline.say("node", f"{ONPREM} (on-prem) Ready: 1 x xilinx/u250 idle")
    kubelets = Kubelets(admin, timeline, timings, hooks, booting.nodes, cfg.boards)
    schedule = Schedule(functions, events.scheduled_event, timings)
    threads = [threading.Thread(target=t.run, daemon=True, name=n)
               for n, t in (("kubelets", kubelets), ("schedule", schedule))]
    for thread in threads:
        thread.start()
    finished = _jobs(admin, kubelets, hooks, booting, timings, timeline, limit)
    schedule.stop.set()
    kubelets.stop.set()
    for thread in threads:
        thread.join(timeout=timings.tick + 15)
    desired = {name: _desired(aws, name) for name in groups.values()}
    return Story(timeline, timings, groups, hooks.calls, dict(hooks.fleet), dict(kubelets.ran_on),
                 dict(booting.nodes), desired, list(kubelets.samples),
                 list(functions.summaries), finished, timeline.now())


def _tokens(functions: Functions, timeline: Timeline) -> None:
    timeline.say("event", "EventBridge -> tokens: Scheduled Event")
    summary = functions.invoke("tokens", events.scheduled_event(), 30.0)
    if summary.get("outcome") == "ok":
        # The token id is the public half of a bootstrap token; the secret half is not shown.
        timeline.say("tokens", f"bootstrap token {summary.get('created')}.<secret> created, "
                               f"expires {summary.get('expiration')} ({summary.get('reason')})")


def _jobs(admin: Any, kubelets: Kubelets, hooks: LifecycleHooks, booting: Booting,
          timings: Timings, timeline: Timeline, limit: float) -> bool:
    """Submit job 1, then (once it runs) job 2; wait for the story's end or `limit`."""
    first, second = jobs(timings)
    cluster.submit(admin, first)
    timeline.say("job", f"{first.name} submitted: 4 x com.inaccel.xgboost.exact "
                        f"(requests {first.boards} x {first.board})")
    deadline = time.monotonic() + limit
    while first.name not in kubelets.ran_on and time.monotonic() < deadline:
        time.sleep(0.2)
    cluster.submit(admin, second)
    timeline.say("job", f"{second.name} submitted: 4 x com.inaccel.xgboost.exact "
                        f"(requests {second.boards} x {second.board})")
    while time.monotonic() < deadline:
        done = {first.name, second.name} <= set(kubelets.finished)
        machines = list(hooks.fleet.values())
        gone = machines and all(m.terminated is not None for m in machines)
        if done and gone and not kubelets.present & set(booting.nodes):
            timeline.say("demo", "both jobs done, the burst node is gone: the end")
            return True
        time.sleep(0.25)
    timeline.say("demo", f"stopped after {limit:g} s: the story did not finish")
    return False


def _lifecycle(functions: Functions, event: dict[str, Any], timings: Timings,
               timeline: Timeline) -> None:
    summary: dict[str, Any] = {}
    with said_if_failed(timeline, "lifecycle invocation"):
        summary = functions.invoke("lifecycle", event, timings.lifecycle_timeout)
    if summary.get("outcome") == "ok":
        timeline.say("lifecycle", f"{summary.get('transition')} {summary.get('instance')}: "
                                  f"{summary.get('result')}: {summary.get('reason')}")


def _desired(aws: MotoView, name: str) -> int:
    reply = aws.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    return int(reply["AutoScalingGroups"][0]["DesiredCapacity"])
