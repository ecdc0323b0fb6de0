"""Pod and Node JSON into the model: the pure part of the Kubernetes adapter."""

from __future__ import annotations

import json
from typing import Any

import pytest

from burst.adapters.kube import convert

BOARDS = {"xilinx/u250", "xilinx/aws-vu9p-f1"}


@pytest.mark.parametrize(("provider_id", "instance"), [
    ("aws:///us-east-1a/i-0123456789abcdef0", "i-0123456789abcdef0"),
    ("aws:///eu-west-2b/i-0abc", "i-0abc"),
    ("aws://us-east-1a/i-0abc", None),
    ("gce://project/zone/vm", None),
    ("", None),
    (None, None),
], ids=["aws", "short id", "two slashes", "gce", "empty", "absent"])
def test_instance_id_comes_only_from_an_aws_provider_id(
    provider_id: str | None, instance: str | None
) -> None:
    assert convert.instance_id(provider_id) == instance


def _pod(containers: list[dict[str, Any]], init: list[dict[str, Any]] | None = None,
         annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "ns", "annotations": annotations or {}},
        "spec": {
            "containers": [{"name": f"c{i}", "resources": r} for i, r in enumerate(containers)],
            "initContainers": [{"name": f"i{i}", "resources": r} for i, r in enumerate(init or [])],
        },
    }


@pytest.mark.parametrize(("containers", "init", "expected"), [
    ([{"limits": {"xilinx/u250": "2"}}], [], {"xilinx/u250": 2}),
    ([{"requests": {"xilinx/u250": "1"}, "limits": {"xilinx/u250": "1"}}], [],
     {"xilinx/u250": 1}),
    ([{"limits": {"xilinx/u250": "1"}}, {"limits": {"xilinx/u250": "2"}}], [],
     {"xilinx/u250": 3}),
    ([{"limits": {"xilinx/u250": "1"}}], [{"limits": {"xilinx/u250": "2"}}],
     {"xilinx/u250": 2}),
    ([{"limits": {"cpu": "2", "example.com/gpu": "1"}}], [], {}),
    ([{}], [], {}),
], ids=["limit only", "request and limit", "containers add up", "init container max",
        "not a board", "no resources"])
def test_board_requests_follow_the_schedulers_effective_request(
    containers: list[dict[str, Any]], init: list[dict[str, Any]], expected: dict[str, int]
) -> None:
    assert convert.board_requests(_pod(containers, init), BOARDS) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (json.dumps({"com.inaccel.xgboost.exact": 4}), {"com.inaccel.xgboost.exact": 4}),
    (json.dumps({"a": 1, "b": 2}), {"a": 1, "b": 2}),
    ("4", {}),
    ("{not json", {}),
    (json.dumps({"a": 0}), {}),
    (json.dumps({"a": "2"}), {}),
    (json.dumps({"a": True}), {}),
], ids=["one", "two", "not an object", "not JSON", "zero", "string count", "bool count"])
def test_the_accelerators_annotation_is_a_json_object_of_positive_counts(
    value: str, expected: dict[str, int]
) -> None:
    pod = _pod([{}], annotations={convert.ACCELERATORS_ANNOTATION: value})
    assert convert.accelerators(pod) == expected
    assert convert.is_fpga_pod(pod, BOARDS) == bool(expected)


def test_daemonset_and_mirror_pods_are_marked() -> None:
    ds = _pod([{}])
    ds["metadata"]["ownerReferences"] = [{"kind": "DaemonSet", "controller": True, "name": "x"}]
    mirror = _pod([{}], annotations={convert.MIRROR_ANNOTATION: "abc"})

    assert convert.pod(ds, BOARDS).daemonset and not convert.pod(ds, BOARDS).mirror
    assert convert.pod(mirror, BOARDS).mirror and not convert.pod(mirror, BOARDS).daemonset


def test_a_pod_has_its_creation_and_kubelet_start_times() -> None:
    obj = _pod([{"limits": {"xilinx/aws-vu9p-f1": "1"}}])
    assert convert.pod(obj, BOARDS).started is None  # not taken by a kubelet yet
    obj["metadata"]["creationTimestamp"] = "2026-11-27T03:00:00Z"
    obj["status"] = {"startTime": "2026-11-27T03:05:00Z"}
    pod = convert.pod(obj, BOARDS)
    assert pod.started is not None and pod.created is not None
    assert (pod.started - pod.created).total_seconds() == 300


def test_a_node_of_ours_gets_its_group_and_board_allocatable_as_integers() -> None:
    obj = {
        "metadata": {"name": "n", "creationTimestamp": "2026-11-27T03:00:00Z"},
        "spec": {"providerID": "aws:///us-east-1a/i-0abc", "unschedulable": True},
        "status": {
            "allocatable": {"xilinx/aws-vu9p-f1": "8", "cpu": "7500m"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }

    node = convert.node(obj, BOARDS, {"i-0abc": "f1"})

    assert (node.node_group, node.instance_id, node.ready, node.unschedulable) == (
        "f1", "i-0abc", True, True)
    assert node.allocatable == {"xilinx/aws-vu9p-f1": 8}
    assert node.created is not None and node.created.year == 2026
    assert convert.is_fpga_node(obj, BOARDS, {"i-0abc": "f1"})
    assert convert.is_fpga_node(obj, BOARDS, {})  # advertises boards


@pytest.mark.parametrize(("meta", "spec", "controller", "local"), [
    pytest.param({"ownerReferences": [{"kind": "ReplicaSet", "name": "web-1", "controller": True}]},
                 {}, "ReplicaSet", (), id="replicaset-controller"),
    pytest.param({"ownerReferences": [{"kind": "ConfigMap", "name": "c"}]}, {}, "", (),
                 id="an-owner-that-is-not-the-controller-does-not-count"),
    pytest.param({}, {"volumes": [{"name": "scratch", "emptyDir": {}},
                                  {"name": "shm", "emptyDir": {"medium": "Memory"}},
                                  {"name": "host", "hostPath": {"path": "/var/log"}},
                                  {"name": "conf", "configMap": {"name": "c"}}]},
                 "", ("scratch", "host"), id="on-disk-emptydir-and-hostpath-are-local"),
])
def test_a_pod_carries_its_controller_and_local_volumes(
    meta: dict[str, Any], spec: dict[str, Any], controller: str, local: tuple[str, ...]
) -> None:
    obj = {"metadata": {"name": "p", "namespace": "ns", **meta},
           "spec": {"containers": [], **spec}}
    pod = convert.pod(obj, BOARDS, budgeted=True)
    assert (pod.controller, pod.local_volumes, pod.disruption_budget) == (
        controller, local, True)
