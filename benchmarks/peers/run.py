"""fpga-burst beside its peers, measured on the same stage in one run.
Goals (issue 14): decision latency <= 1/5 of Cluster Autoscaler's at its default scan
interval; 0 extra instances where a peer at its defaults asks for more.

Each (controller, workload) pair gets a fresh test control plane (the harness's:
kube-apiserver, etcd, kube-scheduler from $FPGA_BURST_CONTROLPLANE_BIN) and a fresh
moto_server with three F2 node groups tagged as `cdk deploy` tags them; instances boot
into Nodes through the stand-ins of world.py, and Karpenter's NodeClaims into kwok Nodes
(karpenter.py). The controller starts, settles for `--warmup` s, then the workload's pods
are created at once. A run ends `--settle` s after every pod runs (extra scale-ups show up
in that window), or, for the scale-down workload, once the burst capacity is back at 0;
or at `--limit` s (`--scale-down-limit` for scale-down).

    FPGA_BURST_CONTROLPLANE_BIN=$(tools/controlplane/build.sh) \
        .venv/bin/python benchmarks/peers/run.py [--workloads seed,late-device-plugin]
        [--controllers fpga-burst,CA default,Karpenter default] [--scheduler bin-packing]
        [--json out.json] [--keep-logs DIR]

Cluster Autoscaler, Karpenter's kwok provider and kwok come from benchmarks/peers/build.sh
(built on first use, ~10 min each on 2 cores). Prints figures and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

# Its siblings (world, controllers, ...): Python searches the script's own folder first.
import karpenter
import requests
import world
from controllers import CA_FLAGS, BurstRunner, CaRunner, Controller, controllers
from measure import Figures, figures, table
from workloads import WORKLOADS, Workload

from burst.adapters.kube import client
from burst.adapters.kube.client import Kube
from burst.core.catalog import F2_BOARD
from burst.tools.demo import cluster
from burst.tools.harness import controlplane
from burst.tools.harness.moto import moto_server

HERE = Path(__file__).resolve().parent


def binary(peer: str) -> Path | None:
    done = subprocess.run([str(HERE / "build.sh"), peer], stdout=subprocess.PIPE, text=True,
                          check=False)
    if done.returncode != 0 or not done.stdout.strip():
        print(f"{peer}: benchmarks/peers/build.sh failed (exit {done.returncode}); left out")
        return None
    return Path(done.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class Binaries:
    ca: Path | None
    karpenter: Path | None
    kwok: Path | None


@dataclass(frozen=True)
class Stage:
    """What one run plays on: the control plane, moto, a work directory and the groups."""

    admin: Kube
    kubeconfig: Path
    endpoint: str  # moto_server's
    work: Path
    groups: tuple[world.Group, ...]
    short: set[str]  # groups EC2 cannot fill (world.shortage)


def run_one(controller: Controller, workload: Workload, args: argparse.Namespace,
            binaries: Binaries) -> Figures:
    groups = world.f2_groups(workload.max_size)
    if workload.short and controller.kind == "karpenter":
        # Karpenter's kwok provider sets every offering Available when it reads the
        # instance-types file (kwok/cloudprovider/helpers.go, setDefaultOptions), and its
        # Create fails only for a missing node class: no launch of it can fail here.
        return Figures(controller.name, workload.name, False, (), 0, 0, 0.0, None, None,
                       "the kwok provider's launches never fail", staged=False)
    with tempfile.TemporaryDirectory(prefix="fpga-burst-peers-") as tmp, \
            moto_server() as endpoint, \
            world.shortage({g.name: g.instance_type for g in groups}, workload.short) as short:
        work = Path(tmp)
        # moto's backends live in the process, not the server: each run starts empty.
        requests.post(f"{endpoint}/moto-api/reset", timeout=10)
        packed = (F2_BOARD, *{b for _, b, _ in workload.onprem}) \
            if args.scheduler == "bin-packing" else ()
        cp = controlplane.start(work / "controlplane", scheduler=True, bin_packing=packed)
        try:
            with client.from_kubeconfig(cp.admin_kubeconfig) as admin:
                on = Stage(admin, cp.admin_kubeconfig, endpoint, work, groups, short)
                return _stage(controller, workload, args, binaries, on)
        finally:
            cp.stop()


def _stage(controller: Controller, workload: Workload, args: argparse.Namespace,
           binaries: Binaries, on: Stage) -> Figures:
    admin, kubeconfig, endpoint, groups = on.admin, on.kubeconfig, on.endpoint, on.groups
    world.create_groups(endpoint, groups)
    world.prepare(admin)
    record = world.Record()
    for node, board, boards in workload.onprem:
        cluster.register_node(admin, node, world.FPGA_LABELS, {board: boards})
    fleet: world.Fleet | karpenter.Nodes
    if controller.kind == "karpenter":
        fleet = karpenter.Nodes(admin, groups, record, workload.device_plugin)
    else:
        fleet = world.Fleet(admin, endpoint, groups, record, workload.boot,
                            workload.device_plugin, controller.startup_taint)
    kubelets = world.Kubelets(admin, record, workload.job)
    threads = [threading.Thread(target=t.run, daemon=True) for t in (fleet, kubelets)]
    for thread in threads:
        thread.start()
    for pod in workload.prefill:
        world.create_pod(admin, record, pod.name, pod.board, pod.boards)
    _wait(lambda: all(p.name in record.running for p in workload.prefill), 60)
    logs = Path(args.keep_logs) / f"{workload.name}-{controller.name.replace(' ', '-')}" \
        if args.keep_logs else on.work
    logs.mkdir(parents=True, exist_ok=True)
    runner: BurstRunner | CaRunner | karpenter.KarpenterRunner
    if controller.kind == "fpga-burst":
        runner = BurstRunner(controller, admin, kubeconfig, endpoint)
    elif controller.kind == "karpenter":
        assert binaries.karpenter is not None and binaries.kwok is not None
        runner = karpenter.KarpenterRunner(
            binaries.karpenter, binaries.kwok, admin, kubeconfig, groups, workload.boot,
            logs, dict(controller.disruption))
    else:
        assert binaries.ca is not None
        runner = CaRunner(controller, binaries.ca, kubeconfig, endpoint, logs)
    runner.start()
    try:
        time.sleep(args.warmup)
        for pod in workload.pods:
            world.create_pod(admin, record, pod.name, pod.board, pod.boards)
        done = _finish(workload, record, args)
    finally:
        runner.close()
        fleet.stop.set()
        kubelets.stop.set()
    names = {p.name for p in workload.pods}
    note = "" if done else f"not within the {args.limit:.0f} s limit"
    # Capacity asked of a group EC2 cannot fill is not capacity: a request counts, in the
    # latency and the price, once it goes to a group that can launch.
    usable = tuple(g for g in groups if g.name not in on.short)
    return figures(controller.name, workload.name, record, usable, names, done, note)


def _finish(workload: Workload, record: world.Record, args: argparse.Namespace) -> bool:
    names = [p.name for p in workload.pods]
    if not _wait(lambda: all(n in record.running for n in names), args.limit):
        return False
    if not workload.scale_down:
        time.sleep(args.settle)
        return True
    return _wait(lambda: len(record.finished) >= len(names) and record.total_desired() == 0,
                 args.scale_down_limit)


def _wait(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.25)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--controllers", default="fpga-burst,CA default,CA tuned,"
                        "Karpenter default,Karpenter tuned")
    parser.add_argument("--scheduler", choices=("default", "bin-packing"), default="default",
                        help="kube-scheduler's scoring: its default (LeastAllocated over cpu "
                        "and memory), or MostAllocated over the boards as the README advises")
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--settle", type=float, default=30.0)
    parser.add_argument("--limit", type=float, default=300.0)
    parser.add_argument("--scale-down-limit", type=float, default=1500.0)
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    parser.add_argument("--keep-logs", help="folder for the peers' logs, one per run")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # the handlers' decision lines would drown the figures
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    wanted = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in WORKLOADS]
    if unknown:
        sys.exit(f"run.py: --workloads: unknown {', '.join(unknown)} "
                 f"(known: {', '.join(WORKLOADS)})")
    names = [c.strip() for c in args.controllers.split(",") if c.strip()]
    ca = binary("cluster-autoscaler") if any(n.startswith("CA") for n in names) else None
    wants_karpenter = any(n.startswith("Karpenter") for n in names)
    binaries = Binaries(ca, binary("karpenter") if wants_karpenter else None,
                        binary("kwok") if wants_karpenter else None)
    chosen = [c for c in controllers(ca, binaries.karpenter is not None
                                     and binaries.kwok is not None) if c.name in names]
    missing = set(names) - {c.name for c in chosen}
    if missing:
        print(f"left out (unknown, or its binary did not build): {', '.join(sorted(missing))}")
    results: list[Figures] = []
    for name in wanted:
        workload = WORKLOADS[name]
        print(f"== {name}: {workload.what}", flush=True)
        for controller in chosen:
            started = time.monotonic()
            with contextlib.redirect_stderr(sys.stdout):
                found = run_one(controller, workload, args, binaries)
            results.append(found)
            print(f"   {controller.name}: done={found.done} p50={found.p(0.5)} "
                  f"launched={found.launched} extra={found.extra} "
                  f"$/h={found.peak_price:.2f} removal={found.removal} "
                  f"all_running={found.all_running} "
                  f"({time.monotonic() - started:.0f} s)", flush=True)
    print()
    for controller in chosen:
        flags = CA_FLAGS if controller.kind == "cluster-autoscaler" else ()
        print(f"{controller.name}: {' '.join((*flags, *controller.settings)) or 'defaults'}"
              f"{' + startup taint on new nodes' if controller.startup_taint else ''}")
    print(f"kube-scheduler scoring: {args.scheduler}")
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps([{**asdict(f), "p50": f.p(0.5), "p99": f.p(0.99)}
                                         for f in results], indent=1))


if __name__ == "__main__":
    main()
