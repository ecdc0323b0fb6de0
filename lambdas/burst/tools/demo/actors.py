"""The demo's stand-ins for what is not fpga-burst: Lambda + EventBridge, the booting
instances, and the kubelets that run the jobs. Each runs on its own thread."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any, TextIO

from burst.adapters.aws.adapter import Aws, AwsSettings
from burst.adapters.kube.client import Json, Kube
from burst.handlers import lifecycle, runtime, scaler, tokens
from burst.loop.config import RuntimeConfig
from burst.ports.aws import JoinData
from burst.tools import credentials
from burst.tools.demo import cluster
from burst.tools.demo.hooks import LifecycleHooks
from burst.tools.demo.timeline import Timeline
from burst.tools.harness.context import LambdaContext
from burst.tools.sim.engine import Sample

FUNCTIONS: Mapping[str, ModuleType] = {"scaler": scaler, "lifecycle": lifecycle,
                                       "tokens": tokens}


@dataclass(frozen=True)
class Timings:
    """Seconds. Real AWS: a tick a minute, minutes to boot; here, short enough to watch."""

    tick: float  # the scaler's schedule; also its Lambda timeout, so ticks never overlap
    boot: float  # launch -> the node registers
    device_plugin: float  # registered -> boards advertised (the late device plugin)
    job: float  # how long each job runs
    lifecycle_timeout: float = 60.0


@dataclass
class Functions:
    """Lambda: each invocation builds its adapters from the config, as the handler does
    (cluster credentials from the Secrets Manager secret), with the emulated hooks."""

    cfg: RuntimeConfig
    hooks: LifecycleHooks
    timeline: Timeline
    summaries: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def invoke(self, function: str, event: dict[str, Any], timeout: float) -> dict[str, Any]:
        aws = self.hooks.attach(Aws(settings=AwsSettings(
            region=self.cfg.region, endpoint_url=self.cfg.aws_endpoint_url)))
        context = LambdaContext(timeout, f"fpga-burst-demo-{function}")
        # Each function with its own credentials secret, so its own Kubernetes identity.
        cfg = replace(self.cfg, credentials_secret=credentials.secret_id(
            self.cfg.credentials_secret or "", function))
        built = runtime.adapters(cfg, aws_adapter=aws)
        try:
            summary: dict[str, Any] = FUNCTIONS[function].run(
                event, context, cfg=cfg, adapters=built)
        finally:
            built.close()
            # Never flushed to stdout (the timeline is the output); counted per invocation.
            runtime.metrics.clear_metrics()
        with self._lock:
            self.summaries.append((self.timeline.now(), function, summary))
        if summary.get("outcome") != "ok":
            self.timeline.say(function, f"failed: {summary.get('outcome')}")
        return summary


class Decisions(logging.Handler):
    """The handlers' decision log lines (Powertools `extra={"decision": ...}`) as timeline
    lines, live: a scaler invocation watches for a whole tick before it returns."""

    def __init__(self, timeline: Timeline) -> None:
        super().__init__(logging.INFO)
        self.timeline = timeline

    def emit(self, record: logging.LogRecord) -> None:
        decision = getattr(record, "decision", None)
        if not isinstance(decision, str):
            return
        message = record.getMessage()
        if decision == "reconcile":
            self.timeline.bump("reconcile")
            outcomes = getattr(record, "outcomes", {}) or {}
            said = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()))
            self.timeline.say_changed("reconcile", "scaler",
                                      f"reconcile: {message}" + (f" [{said}]" if said else ""))
        elif decision in ("launch", "terminate"):
            # The tick's continue_launches / continue_terminations: say each state once.
            instance = getattr(record, "instance", "")
            self.timeline.say_changed(f"{decision}:{instance}", "scaler", message)
        elif decision == "unschedulable":
            self.timeline.say_changed(f"unschedulable:{getattr(record, 'pod', '')}", "scaler",
                                      message)
        elif decision in ("scale-up", "scale-down") or "failed" in message:
            self.timeline.say("scaler", message)


@contextlib.contextmanager
def said_if_failed(timeline: Timeline, who: str) -> Iterator[None]:
    """A stand-in's thread must not die silently: the demo would just wait for its limit."""
    try:
        yield
    except Exception as exc:  # any failure of a stand-in is shown, then the loop goes on
        timeline.say("demo", f"{who} failed: {type(exc).__name__}: {exc}")


@contextlib.contextmanager
def handler_logs(timeline: Timeline, log_file: TextIO) -> Iterator[None]:
    """Powertools' JSON log lines go to a file in the report, decisions to the timeline;
    as they were again afterwards (the test suite shares the process)."""
    powertools = logging.getLogger(runtime.logger.name)
    plain = logging.getLogger("burst")
    streams = [h for h in powertools.handlers if isinstance(h, logging.StreamHandler)]
    before = [h.setStream(log_file) for h in streams]
    decisions, to_file = Decisions(timeline), logging.StreamHandler(log_file)
    saved = powertools.propagate, plain.propagate
    powertools.propagate = plain.propagate = False
    powertools.addHandler(decisions)
    plain.addHandler(to_file)
    try:
        yield
    finally:
        powertools.removeHandler(decisions)
        plain.removeHandler(to_file)
        powertools.propagate, plain.propagate = saved
        for handler, stream in zip(streams, before, strict=True):
            if stream is not None:
                handler.setStream(stream)


@dataclass
class Schedule:
    """EventBridge's scaler rule, one invocation after the other (reserved concurrency 1)."""

    functions: Functions
    event: Callable[[], dict[str, Any]]
    timings: Timings
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            with said_if_failed(self.functions.timeline, "scaler invocation"):
                self.functions.invoke("scaler", self.event(), self.timings.tick)
            self.stop.wait(max(0.0, self.timings.tick - (time.monotonic() - started)))


@dataclass
class Booting:
    """A launched instance: reads the join data, joins (registers its Node), then its device
    plugin advertises the group's boards. What stacks/nodegroup/user_data.py does on AWS."""

    admin: Kube
    ssm: Any
    join_parameter: str
    timeline: Timeline
    timings: Timings
    labels: Mapping[str, Mapping[str, str]]  # group -> node labels
    boards: Mapping[str, Mapping[str, int]]  # group -> boards per instance
    nodes: dict[str, str] = field(default_factory=dict)  # node -> group

    def start(self, group: str, instance: str, zone: str) -> None:
        threading.Thread(target=self._boot, args=(group, instance, zone), daemon=True,
                         name=f"boot-{instance}").start()

    def _boot(self, group: str, instance: str, zone: str) -> None:
        with said_if_failed(self.timeline, f"instance {instance}"):
            self._join(group, instance, zone)

    def _join(self, group: str, instance: str, zone: str) -> None:
        time.sleep(self.timings.boot)
        reply = self.ssm.get_parameter(Name=self.join_parameter, WithDecryption=True)
        join = JoinData.from_json(reply["Parameter"]["Value"])
        hashes = ", ".join(h[:19] + "…" for h in join.ca_cert_hashes)
        self.timeline.say("instance", f"{instance}: kubeadm join {join.endpoint} "
                                      f"(CA {hashes}; token from SSM, not shown)")
        name = f"{group}-{instance}"
        self.nodes[name] = group
        cluster.register_node(self.admin, name, self.labels[group], {},
                              f"aws:///{zone}/{instance}")
        self.timeline.say("node", f"{name} joined: Ready, no boards yet "
                                  "(device plugin still starting)")
        seen = self.timeline.count("reconcile")
        time.sleep(self.timings.device_plugin)
        # Late by at least one whole scaler reconcile (the second to end after the node
        # registered began after it), however slow the machine: the window in which Cluster
        # Autoscaler would scale up a second time is always exercised.
        stop = time.monotonic() + 4 * self.timings.tick
        while self.timeline.count("reconcile") < seen + 2 and time.monotonic() < stop:
            time.sleep(0.1)
        boards = self.boards[group]
        if cluster.advertise(self.admin, name, boards):
            said = ", ".join(f"{n} x {b}" for b, n in boards.items())
            self.timeline.say("node", f"{name}: device plugin advertises {said}")


@dataclass
class Kubelets:
    """Runs the jobs kube-scheduler binds (Running, then Succeeded after `job` seconds),
    says what the cluster shows (events, nodes joining and leaving) and samples the chart."""

    admin: Kube
    timeline: Timeline
    timings: Timings
    hooks: LifecycleHooks
    groups: Mapping[str, str]  # node name -> group (Booting.nodes; on-prem: absent)
    boards: frozenset[str]
    ran_on: dict[str, str] = field(default_factory=dict)  # job -> node
    finished: dict[str, float] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    _started: dict[str, float] = field(default_factory=dict)
    present: set[str] = field(default_factory=set)  # node names, as last listed
    _events: set[str] = field(default_factory=set)

    def run(self) -> None:
        while not self.stop.is_set():
            with said_if_failed(self.timeline, "kubelet stand-in"):
                pods = cluster.jobs(self.admin)
                self._run_jobs(pods)
                nodes = cluster.fpga_nodes(self.admin)
                self._say_nodes(nodes)
                self._say_events()
                self._sample(pods, nodes)
            self.stop.wait(0.25)

    def _run_jobs(self, pods: list[Json]) -> None:
        for pod in pods:
            name, node = pod["metadata"]["name"], pod["spec"].get("nodeName")
            phase = (pod.get("status") or {}).get("phase")
            if node and phase == "Pending":
                cluster.set_phase(self.admin, pod, "Running")
                self._started[name] = time.monotonic()
                self.ran_on[name] = node
                self.timeline.say("job", f"{name} running on {node}")
            elif phase == "Running" and \
                    time.monotonic() - self._started.get(name, 0.0) >= self.timings.job:
                cluster.set_phase(self.admin, pod, "Succeeded")
                self.finished[name] = self.timeline.now()
                self.timeline.say("job", f"{name} succeeded on {node}; its boards are free")

    def _say_nodes(self, nodes: list[Json]) -> None:
        names = {n["metadata"]["name"] for n in nodes}
        for gone in sorted(self.present - names):
            self.timeline.say("node", f"{gone} left the cluster (Node deleted)")
        self.present = names

    def _say_events(self) -> None:
        listed = self.admin.call("list events", self.admin.core.list_namespaced_event,
                                 cluster.NAMESPACE)
        for event in listed.get("items") or ():
            uid = event["metadata"]["uid"]
            reason = event.get("reason") or ""
            if uid in self._events or reason not in _TOLD:
                continue
            self._events.add(uid)
            source = (event.get("source") or {}).get("component") or \
                event.get("reportingComponent") or "?"
            who = (event.get("involvedObject") or {}).get("name")
            self.timeline.say("event", f"{who}: {reason} ({source}): {event.get('message')}")

    def _sample(self, pods: list[Json], nodes: list[Json]) -> None:
        pending = sum(1 for p in pods if not p["spec"].get("nodeName")
                      and (p.get("status") or {}).get("phase") == "Pending")
        per_group: dict[str, int] = {}
        for node in nodes:
            group = self.groups.get(node["metadata"]["name"], "on-prem")
            per_group[group] = per_group.get(group, 0) + 1
        in_use = sum(_boards(p, self.boards) for p in pods
                     if (p.get("status") or {}).get("phase") == "Running")
        price = sum(m.price for m in list(self.hooks.fleet.values()) if m.terminated is None)
        self.samples.append(Sample(self.timeline.now(), pending, per_group, in_use, price))


_TOLD = frozenset({"FailedScheduling", "Scheduled", "TriggeredScaleUp", "NotTriggerScaleUp",
                   "Evicted", "Killing"})


def _boards(pod: Json, boards: frozenset[str]) -> int:
    total = 0
    for container in pod["spec"].get("containers") or ():
        limits = (container.get("resources") or {}).get("limits") or {}
        total += sum(int(v) for k, v in limits.items() if k in boards)
    return total
