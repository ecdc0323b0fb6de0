"""The simulator's kube-scheduler model (burst.tools.sim.scheduler) against the real
kube-scheduler of the test control plane: the same Nodes, the same pods one after the
other, under the default scoring and the bin-packing one docs/planner.md advises.

Each pod is created once the one before it is bound, so the model is asked with the same
Nodes, free boards and pods per Node as the real one saw. Where the model finds several
Nodes equally best, kube-scheduler draws among them at random (framework/sorted_nodes.go):
the real choice must be one of them; where it finds one, it must be that one."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pytest
from test_bin_packing import bound_node

from burst.adapters.kube import client
from burst.adapters.kube.client import Kube
from burst.core.catalog import F2_BOARD, INSTANCE_TYPES, default_catalog
from burst.core.model import Node, Pod, Taint
from burst.tools.demo import cluster
from burst.tools.harness import controlplane
from burst.tools.sim.scheduler import GIB, KubeScheduler, Room

LABELS = {"inaccel/fpga": "enabled"}
SOFT = Taint("fpga-burst.io/burst", "true", "PreferNoSchedule")


@dataclass(frozen=True)
class Shape:
    name: str
    boards: int
    room: Room
    soft: bool = False  # carries the PreferNoSchedule taint


def f2(name: str, instance_type: str, soft: bool = False) -> Shape:
    it = INSTANCE_TYPES[instance_type]
    return Shape(name, it.boards[F2_BOARD], Room(it.vcpus * 1000, int(it.memory_gib * GIB)),
                 soft)


def small(name: str, boards: int, cpus: int) -> Shape:
    """A Node small in cpu and memory: each pod's 100m and 200 MiB moves its score."""
    return Shape(name, boards, Room(cpus * 1000, cpus * 2 * GIB))


# Nodes of 1, 2 and 8 boards; pods of 1, 2 and 8 boards, mixed, that fit whatever the
# choices among equals (the 8-board pod first).
SNAPSHOTS = {
    "f2-sizes": (
        (f2("six", "f2.6xlarge"), f2("twelve", "f2.12xlarge"), f2("big-a", "f2.48xlarge"),
         f2("big-b", "f2.48xlarge", soft=True)),
        (8, 1, 2, 1, 1, 2, 1),
    ),
    "small-nodes": (
        (small("one", 1, 2), small("two", 2, 4), small("eight-a", 8, 4),
         small("eight-b", 8, 8)),
        (8, 1, 1, 2, 1, 2, 1, 1),
    ),
}


@pytest.fixture(scope="module", params=["default", "bin-packing"])
def scoring(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Kube]]:
    packed = (F2_BOARD,) if request.param == "bin-packing" else ()
    cp = controlplane.start(tmp_path_factory.mktemp(request.param), bin_packing=packed)
    try:
        with client.from_kubeconfig(cp.admin_kubeconfig) as admin:
            cluster.prepare(admin)
            yield request.param, admin
    finally:
        cp.stop()


def _register(admin: Kube, prefix: str, shapes: tuple[Shape, ...]) -> dict[str, Node]:
    nodes = {}
    for shape in shapes:
        name = f"{prefix}-{shape.name}"
        labels = {**LABELS, "snapshot": prefix}
        base = {"cpu": f"{shape.room.milli_cpu}m", "memory": str(shape.room.memory),
                "pods": "110"}
        taints = [{"key": SOFT.key, "value": SOFT.value, "effect": SOFT.effect}] \
            if shape.soft else []
        cluster.register_node(admin, name, labels, {F2_BOARD: shape.boards}, taints=taints,
                              base=base)
        nodes[name] = Node(name, labels=labels, taints=(SOFT,) if shape.soft else (),
                           allocatable={F2_BOARD: shape.boards})
    return nodes


@pytest.mark.parametrize("snapshot", sorted(SNAPSHOTS))
def test_the_model_binds_as_the_real_kube_scheduler_does(
    scoring: tuple[str, Kube], snapshot: str
) -> None:
    kind, admin = scoring
    shapes, sizes = SNAPSHOTS[snapshot]
    # GIVEN Nodes of 1, 2 and 8 boards, idle (the snapshot's own label keeps the other
    # snapshot's Nodes out of reach)
    nodes = _register(admin, snapshot, shapes)
    rooms: Mapping[str, Room] = {f"{snapshot}-{s.name}": s.room for s in shapes}
    model = KubeScheduler(kind == "bin-packing", default_catalog(), lambda n: rooms[n.name])
    free = {name: {F2_BOARD: n.allocatable[F2_BOARD]} for name, n in nodes.items()}
    pods_on: dict[str, int] = {}
    unique = 0
    for i, boards in enumerate(sizes):
        name = f"{snapshot}-{kind}-{i}"
        pod = Pod(name, requests={F2_BOARD: boards},
                  node_selector={**LABELS, "snapshot": snapshot})
        best = {spot[0] for spot in model.best(pod, free, nodes, pods_on)}
        # WHEN the pod is created and the real kube-scheduler binds it
        cluster.submit(admin, cluster.Job(name, {}, F2_BOARD, boards, pod.node_selector, 0))
        real = bound_node(admin, name)
        # THEN it is bound to a Node the model finds best (the only one, if one is)
        assert real in best, (i, boards, real, best)
        unique += len(best) == 1
        free[real][F2_BOARD] -= boards
        pods_on[real] = pods_on.get(real, 0) + 1
    # and the snapshots are not all ties: the model decides most bindings on its own
    assert unique >= len(sizes) // 2, unique
