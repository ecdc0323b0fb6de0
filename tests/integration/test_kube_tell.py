"""tell: pod Events that `kubectl describe pod` shows, and the status ConfigMap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import yaml

from burst.adapters.kube import observe, tell
from burst.adapters.kube.client import Json, Kube
from burst.core.model import Instance, NodeGroup, Pod
from burst.core.names import EventReason
from burst.loop.memory import Memory
from burst.loop.status import Report, status_data
from burst.tools.harness import objects
from burst.tools.harness.objects import BOARDS, U250

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def _pending(kube: Kube, namespace: str, name: str) -> Pod:
    return next(p for p in observe.pending_pods(kube, BOARDS) if p.name == f"{namespace}/{name}")


def _events_as_kubectl_describe_lists_them(admin: Kube, namespace: str, pod: Pod) -> list[Json]:
    selector = (f"involvedObject.name={pod.name.split('/')[1]},"
                f"involvedObject.namespace={namespace},involvedObject.uid={pod.uid}")
    answer = admin.call("list events", admin.core.list_namespaced_event, namespace,
                        field_selector=selector)
    items: list[Json] = answer["items"]
    return items


def test_the_same_reason_and_message_on_a_pod_is_one_event_whose_count_goes_up(
    admin: Kube, kube: Kube, namespace: str
) -> None:
    """
    GIVEN a pending FPGA pod
    WHEN  the controller says the same thing about it on three ticks, then something new
    THEN  kubectl describe lists two Events from fpga-burst: the first counted 3 times
    """
    objects.pod(admin, namespace, "job", limits={U250: "2"})
    pod = _pending(kube, namespace, "job")
    said = "pod needs 2 xilinx/u250 on one node; node group f1 has none"

    counts = [tell.record_pod_event(kube, pod, EventReason.NOT_TRIGGER_SCALE_UP, said,
                                    NOW + timedelta(minutes=i)) for i in range(3)]
    tell.record_pod_event(kube, pod, EventReason.TRIGGERED_SCALE_UP, "group f2: 0->1", NOW)

    assert counts == [1, 2, 3]
    listed = _events_as_kubectl_describe_lists_them(admin, namespace, pod)
    # The real kube-scheduler has its say too (FailedScheduling).
    events = {e["reason"]: e for e in listed if e["source"].get("component") == "fpga-burst"}
    assert set(events) == {EventReason.NOT_TRIGGER_SCALE_UP, EventReason.TRIGGERED_SCALE_UP}
    repeated = events[EventReason.NOT_TRIGGER_SCALE_UP]
    assert (repeated["count"], repeated["message"], repeated["source"]["component"]) == (
        3, said, "fpga-burst")
    assert repeated["firstTimestamp"] == "2026-11-27T03:00:00Z"
    assert repeated["lastTimestamp"] == "2026-11-27T03:02:00Z"
    assert repeated["involvedObject"]["kind"] == "Pod"


def test_the_status_configmap_is_created_then_replaced_and_reads_as_yaml(
    admin: Kube, kube: Kube
) -> None:
    group = NodeGroup(name="f1", instance_type="f1.2xlarge", min_size=0, max_size=4, desired=2,
                      instances=(Instance("i-1", "InService"),))

    memory = Memory()
    tell.write_status(kube, status_data(Report(NOW, "scale up f1 1->2", [group], {"f1": 1}),
                                        memory))
    tell.write_status(kube, status_data(Report(NOW, "nothing to do", [group]), memory))

    cm = admin.call("read cm", admin.core.read_namespaced_config_map, tell.STATUS_NAME,
                    tell.STATUS_NAMESPACE)
    status = yaml.safe_load(cm["data"]["status.yaml"])
    assert cm["data"]["lastDecision"] == "nothing to do"
    assert status["time"] == "2026-11-27T03:00:00Z"
    assert status["nodeGroups"] == [{"name": "f1", "instanceType": "f1.2xlarge", "min": 0,
                                     "max": 4, "desired": 2, "instances": 1, "upcoming": 0}]


def test_a_node_event_is_listed_by_kubectl_describe_node_and_counted_when_repeated(
    admin: Kube, kube: Kube
) -> None:
    """
    GIVEN a burst node
    WHEN  the controller says twice why it keeps it idle, as its restricted identity
    THEN  the Event is one, counted twice, on the Node, where kubectl describe node looks
    """
    objects.node(admin, "burst-node-events", allocatable={U250: "1"})
    said = "kept idle: next FPGA pod for it expected in ~2 min; a new boot takes ~5 min"
    counts = [tell.record_node_event(kube, "burst-node-events", EventReason.IDLE, said,
                                     NOW + timedelta(minutes=i)) for i in range(2)]
    answer = admin.call(
        "list events", admin.core.list_namespaced_event, tell.NODE_EVENT_NAMESPACE,
        field_selector="involvedObject.kind=Node,involvedObject.name=burst-node-events",
    )
    (event,) = answer["items"]
    assert counts == [1, 2]
    assert (event["reason"], event["message"], event["count"]) == ("Idle", said, 2)


def test_the_status_is_read_back_and_an_absent_one_reads_as_empty(
    admin: Kube, kube: Kube
) -> None:
    admin.call("delete cm", admin.core.delete_collection_namespaced_config_map,
               tell.STATUS_NAMESPACE, field_selector=f"metadata.name={tell.STATUS_NAME}")
    assert tell.read_status(kube) == {}
    tell.write_status(kube, {"arrivals.json": '{"seenUntil":null,"boards":{}}'})
    assert tell.read_status(kube) == {"arrivals.json": '{"seenUntil":null,"boards":{}}'}
