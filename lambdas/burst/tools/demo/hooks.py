"""AWS as the demo's handlers see it: moto, plus the Auto Scaling lifecycle hooks moto lacks.

moto 5.2.1 launches and terminates instances at once, has no lifecycle hooks (instances are
never in Pending:Wait or Terminating:Wait) and raises NotImplementedError for
CompleteLifecycleAction and RecordLifecycleActionHeartbeat. `LifecycleHooks` plays the two
hooks the CDK creates, on the boto3 clients of the controller's own Aws adapter (botocore
event handlers), so the adapter's code runs unchanged:

- a new instance is reported in `Pending:Wait` until its launch action is completed;
- an instance terminated with TerminateInstanceInAutoScalingGroup is still reported in
  `Terminating:Wait` (moto removed it; desired capacity is already decremented, as on AWS)
  until its terminate action is completed;
- CompleteLifecycleAction and RecordLifecycleActionHeartbeat are answered here, never sent,
  and printed as "[emulated]"; with no action pending they fail as AWS does (ValidationError
  "No active Lifecycle Action found"), so the controller's idempotence is exercised too;
- each lifecycle action raises the EventBridge event AWS would send (burst.tools.harness.events).

Every write the controller makes to AWS is printed on the timeline; join tokens never are.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from burst.adapters.aws.adapter import Aws
from burst.core.catalog import INSTANCE_TYPES
from burst.core.lifecycle import PENDING_WAIT, TERMINATING_WAIT
from burst.loop.lifecycle import LAUNCH_HOOK, TERMINATE_HOOK
from burst.tools.demo.timeline import Timeline
from burst.tools.harness import events

EMULATED = "[emulated: moto has no lifecycle hooks]"


@dataclass(frozen=True)
class Reply:
    """The HTTP side of an answer given without sending the request: botocore reads only
    its status code (what Stubber hands back too, without importing botocore here: aws.py
    is the package's only boto3/botocore importer)."""

    status_code: int
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes = b""


@dataclass
class Machine:
    """One instance moto launched, as the demo's fleet record (for the chart and price)."""

    instance_id: str
    group: str
    instance_type: str
    zone: str
    launched: float
    terminated: float | None = None

    @property
    def price(self) -> float:
        known = INSTANCE_TYPES.get(self.instance_type)
        return known.price_per_hour if known else 0.0


@dataclass
class Action:
    group: str
    hook: str
    instance_id: str
    token: str = field(repr=False)


@dataclass
class Calls:
    """What the controller asked of AWS, for the report and the demo's test."""

    # (t, group, from, to), (t, instance), (t, hook, instance, result)
    desired: list[tuple[float, str, int, int]] = field(default_factory=list)
    terminated: list[tuple[float, str]] = field(default_factory=list)
    completed: list[tuple[float, str, str, str]] = field(default_factory=list)
    heartbeats: int = 0
    published: int = 0


class LifecycleHooks:
    def __init__(self, timeline: Timeline, raw_autoscaling: Any,
                 raise_event: Callable[[dict[str, Any]], None]) -> None:
        self.timeline = timeline
        self.raw = raw_autoscaling  # moto without these hooks: the "real" AWS state
        self.raise_event = raise_event
        self.pending: dict[tuple[str, str], Action] = {}  # (hook, instance id) -> action
        self.fleet: dict[str, Machine] = {}
        self.calls = Calls()
        self._lock = threading.RLock()

    # -- wiring ------------------------------------------------------------------------

    def attach(self, aws: Aws) -> Aws:
        """Route `aws`'s Auto Scaling and SSM clients through the emulation and the log."""
        asg = aws.client("autoscaling").meta.events
        asg.register("provide-client-params.auto-scaling", _keep_params)
        asg.register("before-call.auto-scaling.CompleteLifecycleAction", self._complete)
        asg.register("before-call.auto-scaling.RecordLifecycleActionHeartbeat", self._heartbeat)
        asg.register("after-call.auto-scaling.DescribeAutoScalingGroups", self._describe)
        asg.register("after-call.auto-scaling.SetDesiredCapacity", self._desired)
        asg.register("provide-client-params.auto-scaling.SetDesiredCapacity", self._before_desired)
        asg.register("after-call.auto-scaling.TerminateInstanceInAutoScalingGroup",
                     self._terminated)
        ssm = aws.client("ssm").meta.events
        ssm.register("provide-client-params.ssm.PutParameter", _keep_params)
        ssm.register("after-call.ssm.PutParameter", self._published)
        return aws

    # -- what AWS reports ----------------------------------------------------------------

    def _describe(self, parsed: dict[str, Any], **_: Any) -> None:
        with self._lock:
            for asg in parsed.get("AutoScalingGroups", []):
                self._patch_group(asg)

    def _patch_group(self, asg: dict[str, Any]) -> None:
        name = asg["AutoScalingGroupName"]
        instances = asg.setdefault("Instances", [])
        for item in instances:
            if (LAUNCH_HOOK, item["InstanceId"]) in self.pending:
                item["LifecycleState"] = PENDING_WAIT
        present = {i["InstanceId"] for i in instances}
        for (hook, instance), action in self.pending.items():
            if hook == TERMINATE_HOOK and action.group == name and instance not in present:
                machine = self.fleet[instance]
                instances.append({
                    "InstanceId": instance, "InstanceType": machine.instance_type,
                    "AvailabilityZone": machine.zone, "LifecycleState": TERMINATING_WAIT,
                    "HealthStatus": "Healthy", "ProtectedFromScaleIn": False,
                })

    # -- the controller's writes --------------------------------------------------------

    def _before_desired(self, params: dict[str, Any], context: dict[str, Any],
                        **_: Any) -> None:
        group = params.get("AutoScalingGroupName", "")
        reply = self.raw.describe_auto_scaling_groups(AutoScalingGroupNames=[group])
        found = reply["AutoScalingGroups"]
        context["demo.before"] = int(found[0]["DesiredCapacity"]) if found else 0

    def _desired(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if http_response.status_code >= 300:
            return
        params = context.get("demo.params", {})
        group, to = params.get("AutoScalingGroupName", ""), int(params.get("DesiredCapacity", 0))
        before = int(context.get("demo.before", 0))
        with self._lock:
            self.calls.desired.append((self.timeline.now(), group, before, to))
        self.timeline.say("aws", f"SetDesiredCapacity {group}: {before} -> {to}")
        self._launched(group)

    def _launched(self, group: str) -> None:
        reply = self.raw.describe_auto_scaling_groups(AutoScalingGroupNames=[group])
        for item in reply["AutoScalingGroups"][0].get("Instances", []):
            instance = item["InstanceId"]
            with self._lock:
                if instance in self.fleet:
                    continue
                self.fleet[instance] = Machine(instance, group, item.get("InstanceType", ""),
                                               item.get("AvailabilityZone", ""),
                                               self.timeline.now())
            self.timeline.say("aws", f"moto launched {instance} ({item.get('InstanceType')}, "
                                     f"{item.get('AvailabilityZone')}) in {group}")
            self._start_action(group, LAUNCH_HOOK, instance)

    def _terminated(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if http_response.status_code >= 300:
            return
        instance = context.get("demo.params", {}).get("InstanceId", "")
        with self._lock:
            machine = self.fleet.get(instance)
            self.calls.terminated.append((self.timeline.now(), instance))
        group = machine.group if machine else "?"
        self.timeline.say("aws", f"TerminateInstanceInAutoScalingGroup {instance} "
                                 f"(ShouldDecrementDesiredCapacity) in {group}")
        if machine is not None:
            self._start_action(group, TERMINATE_HOOK, instance)

    def _published(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if http_response.status_code >= 300:
            return
        params = context.get("demo.params", {})
        with self._lock:
            self.calls.published += 1
        # Name, type and key only: the value holds the join token.
        self.timeline.say("aws", f"PutParameter {params.get('Name')} ({params.get('Type')}, "
                                 f"KMS key {params.get('KeyId')}): join data, token not shown")

    # -- the emulated hooks ---------------------------------------------------------------

    def _start_action(self, group: str, hook: str, instance: str) -> None:
        token = str(uuid.uuid4())
        with self._lock:
            self.pending[(hook, instance)] = Action(group, hook, instance, token)
        state = PENDING_WAIT if hook == LAUNCH_HOOK else TERMINATING_WAIT
        self.timeline.say("aws", f"{instance} is {state} (hook {hook}) {EMULATED}")
        self.raise_event(self.event(group, hook, instance, token))

    def event(self, group: str, hook: str, instance: str, token: str) -> dict[str, Any]:
        """The EventBridge event AWS sends for the action."""
        return events.lifecycle_action(group, hook, instance, token,
                                       launching=hook == LAUNCH_HOOK)

    def _action(self, context: dict[str, Any]) -> tuple[dict[str, Any], Action | None]:
        params = context.get("demo.params", {})
        key = (params.get("LifecycleHookName", ""), params.get("InstanceId", ""))
        action = self.pending.get(key)
        if action and action.group != params.get("AutoScalingGroupName"):
            action = None
        token = params.get("LifecycleActionToken")
        if action and token and token != action.token:
            action = None
        return params, action

    def _complete(self, context: dict[str, Any], **_: Any) -> tuple[Reply, dict[str, Any]]:
        with self._lock:
            params, action = self._action(context)
            if action is None:
                return _not_found(params.get("InstanceId", ""))
            del self.pending[(action.hook, action.instance_id)]
            result = str(params.get("LifecycleActionResult"))
            now = self.timeline.now()
            self.calls.completed.append((now, action.hook, action.instance_id, result))
            if action.hook == TERMINATE_HOOK and action.instance_id in self.fleet:
                self.fleet[action.instance_id].terminated = now
        self.timeline.say("aws", f"CompleteLifecycleAction {action.hook} {action.instance_id} "
                                 f"{result} {EMULATED}")
        return _ok()

    def _heartbeat(self, context: dict[str, Any], **_: Any) -> tuple[Reply, dict[str, Any]]:
        with self._lock:
            params, action = self._action(context)
            if action is None:
                return _not_found(params.get("InstanceId", ""))
            self.calls.heartbeats += 1
        self.timeline.say("aws", f"RecordLifecycleActionHeartbeat {action.hook} "
                                 f"{action.instance_id} {EMULATED}")
        return _ok()


def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    # provide-client-params sees the caller's parameters; before-call and after-call see only
    # the serialized request, so they read them from the call's shared context.
    context["demo.params"] = dict(params)


def _ok() -> tuple[Reply, dict[str, Any]]:
    return Reply(200), {"ResponseMetadata": {"HTTPStatusCode": 200}}


def _not_found(instance: str) -> tuple[Reply, dict[str, Any]]:
    return Reply(400), {
        "Error": {"Code": "ValidationError",
                  "Message": f"No active Lifecycle Action found with instance ID {instance}"},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
