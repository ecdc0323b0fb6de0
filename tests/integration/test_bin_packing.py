"""The bin-packing kube-scheduler docs/planner.md advises (and benchmarks/peers/run.py
`--scheduler bin-packing` runs): MostAllocated over the board resource, on a control plane
of its own."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from burst.adapters.kube import client
from burst.adapters.kube.client import Kube
from burst.core.catalog import F2_BOARD
from burst.tools.demo import cluster
from burst.tools.harness import controlplane

LABELS = {"inaccel/fpga": "enabled"}


@pytest.fixture(scope="module")
def packing_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    cp = controlplane.start(tmp_path_factory.mktemp("bin-packing"), bin_packing=(F2_BOARD,))
    try:
        with client.from_kubeconfig(cp.admin_kubeconfig) as admin:
            cluster.prepare(admin)
            yield admin
    finally:
        cp.stop()


def bound_node(admin: Kube, name: str, timeout: float = 30.0) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pod = admin.call("read pod", admin.core.read_namespaced_pod, name, cluster.NAMESPACE)
        if pod["spec"].get("nodeName"):
            return str(pod["spec"]["nodeName"])
        time.sleep(0.2)
    return None


def test_a_one_board_pod_goes_to_the_one_board_node_not_an_eight_board_one(
    packing_admin: Kube,
) -> None:
    # GIVEN three idle 8-board nodes and an idle 1-board node, alike in cpu and memory (the
    # default LeastAllocated scoring cannot tell them apart: it picks one of the four)
    for name in ("big-a", "big-b", "big-c"):
        cluster.register_node(packing_admin, name, LABELS, {F2_BOARD: 8})
    cluster.register_node(packing_admin, "small", LABELS, {F2_BOARD: 1})
    # WHEN a pod asking for one board is created
    cluster.submit(packing_admin, cluster.Job("one-board", {}, F2_BOARD, 1, LABELS, 0))
    # THEN it lands where it fills the node
    assert bound_node(packing_admin, "one-board") == "small"
