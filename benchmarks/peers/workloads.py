"""The FPGA workloads every controller meets, on F2 node groups (1, 2 and 8 boards per
instance). Pods request the board resource directly, as the InAccel operator writes it:
kube-scheduler and every controller see the same request."""

from __future__ import annotations

from dataclasses import dataclass

from burst.core.catalog import F2_BOARD

U250 = "xilinx/u250"


@dataclass(frozen=True)
class Pod:
    name: str
    board: str
    boards: int


@dataclass(frozen=True)
class Workload:
    name: str
    what: str
    pods: tuple[Pod, ...]
    boot: float = 5.0  # launch -> Node registered (Ready)
    device_plugin: float = 0.0  # registered -> boards advertised
    onprem: tuple[tuple[str, str, int], ...] = ()  # (node, board, boards)
    prefill: tuple[Pod, ...] = ()  # run on-prem before the workload starts
    job: float | None = None  # seconds a pod runs; None: to the end of the run
    scale_down: bool = False  # measured until the burst capacity is gone again
    short: int = 0  # the first N groups a controller raises have no capacity (world.shortage)
    max_size: int = 8


def _pods(prefix: str, sizes: list[int], board: str = F2_BOARD) -> tuple[Pod, ...]:
    return tuple(Pod(f"{prefix}-{i:03d}", board, n) for i, n in enumerate(sizes))


def _mixed(count: int) -> list[int]:
    # 60 % one board, 30 % two, 10 % eight: every F2 size is the best fit for some pods.
    return [(1, 1, 1, 1, 1, 1, 2, 2, 2, 8)[i % 10] for i in range(count)]


WORKLOADS = {w.name: w for w in (
    Workload("seed", "seed evaluation: job 1 fits the idle on-prem U250, job 2 needs 2 F2 "
             "boards on one node; device plugin 10 s after Ready",
             (Pod("job-1", U250, 1), Pod("job-2", F2_BOARD, 2)),
             device_plugin=10.0, onprem=(("onprem-1", U250, 1),)),
    Workload("late-device-plugin", "4 pods x 2 boards; each Node is Ready 30 s before its "
             "boards appear", _pods("late", [2, 2, 2, 2]), device_plugin=30.0),
    Workload("500-pods", "500 pods of 1, 2 and 8 boards (6:3:1) at once",
             _pods("mixed", _mixed(500)), max_size=400),
    Workload("onprem-full", "4 on-prem boards busy, 3 more 1-board pods",
             _pods("more", [1, 1, 1]), device_plugin=10.0,
             onprem=(("onprem-1", F2_BOARD, 4),), prefill=_pods("busy", [1, 1, 1, 1])),
    Workload("insufficient-capacity", "3 pods x 1 board; EC2 has no capacity for the "
             "group the controller raises first: its launches fail",
             _pods("short", [1, 1, 1]), device_plugin=5.0, short=1),
    Workload("scale-down", "3 pods x 1 board run 20 s; time until the idle capacity is gone",
             _pods("idle", [1, 1, 1]), device_plugin=5.0, job=20.0, scale_down=True),
)}
