"""A throwaway Kubernetes control plane on loopback: etcd + kube-apiserver (+ kube-scheduler).

The binaries are found through $FPGA_BURST_CONTROLPLANE_BIN, the directory that
tools/controlplane/build.sh prints (the Makefile sets it for `make integration` and `make
demo`). The certificates are made by pki.py. The API server runs with RBAC and Node
authorization, bootstrap-token authentication and TokenRequest, so what passes here passes
on a kubeadm cluster; there is no controller-manager, so nothing garbage-collects, computes
PodDisruptionBudget status or deletes namespaces.

    cp = start(Path("/tmp/cp"))       # blocks until /readyz answers ok
    cp.admin_kubeconfig               # Path of a kubeconfig for system:masters
    cp.stop()                         # idempotent; also registered with atexit

`python -m burst.tools.harness.controlplane [WORKDIR]` starts one and waits for Ctrl-C.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from burst.tools.harness.net import free_port
from burst.tools.harness.pki import write_kubeconfig, write_pki

BIN_ENV = "FPGA_BURST_CONTROLPLANE_BIN"
SERVICE_CIDR = "10.96.0.0/12"
READY_TIMEOUT_S = 90.0


class ControlPlaneError(RuntimeError):
    """The control plane could not be found or started; the message says why (log tail)."""


def bin_dir() -> Path:
    """$FPGA_BURST_CONTROLPLANE_BIN, checked to hold etcd and kube-apiserver."""
    env = os.environ.get(BIN_ENV)
    if not env:
        raise ControlPlaneError(
            f"{BIN_ENV} is not set: it names the directory of etcd, kube-apiserver and "
            "kube-scheduler that tools/controlplane/build.sh prints (make sets it)")
    path = Path(env)
    for name in ("etcd", "kube-apiserver"):
        if not os.access(path / name, os.X_OK):
            raise ControlPlaneError(f"{BIN_ENV}: {path / name}: missing or not executable")
    return path


# -- processes ----------------------------------------------------------------------------


@dataclass
class ControlPlane:
    workdir: Path
    bin: Path
    endpoint: str  # https://127.0.0.1:<port>
    ca_path: Path
    admin_kubeconfig: Path
    etcd_url: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    apiserver_args: list[str] = field(default_factory=list)

    @property
    def ca_pem(self) -> bytes:
        return self.ca_path.read_bytes()

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    def stop(self) -> None:
        """Stop every process, the API server first; idempotent."""
        for name in ("kube-scheduler", "kube-apiserver", "etcd"):
            proc = self.processes.pop(name, None)
            if proc is not None:
                _terminate(proc)

    def stop_apiserver(self) -> None:
        """Kill the API server, as a crash or a lost VPN would make it vanish: no goodbye."""
        proc = self.processes.pop("kube-apiserver", None)
        if proc is not None:
            proc.kill()
            proc.wait(timeout=10)

    def start_apiserver(self) -> None:
        """(Re)start the API server on the same port and etcd; blocks until ready."""
        if "kube-apiserver" in self.processes:
            return
        self.processes["kube-apiserver"] = _spawn(
            self.workdir, "kube-apiserver", [str(self.bin / "kube-apiserver"), *self.apiserver_args]
        )
        _wait_ready(self, "kube-apiserver")


def _die_with_parent() -> None:
    # If the test runner is killed outright (no atexit, no finally), the kernel ends the
    # control plane too instead of leaving it listening. Linux only; elsewhere, best effort.
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _spawn(workdir: Path, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
    log = (workdir / f"{name}.log").open("ab")
    # A new session, so SIGINT to the test runner does not kill the control plane first.
    return subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    # A paused process (a fault test) would ignore SIGTERM until continued.
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGCONT)
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_ready(cp: ControlPlane, name: str) -> None:
    context = ssl.create_default_context(cafile=str(cp.ca_path))
    context.load_cert_chain(str(cp.workdir / "admin.crt"), str(cp.workdir / "admin.key"))
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
        proc = cp.processes[name]
        if proc.poll() is not None:
            raise ControlPlaneError(
                f"{name} exited with {proc.returncode}:\n{_tail(cp.workdir / f'{name}.log')}"
            )
        try:
            with urllib.request.urlopen(f"{cp.endpoint}/readyz", context=context, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise ControlPlaneError(
        f"{name} not ready after {READY_TIMEOUT_S:.0f} s ({last}):\n"
        f"{_tail(cp.workdir / f'{name}.log')}"
    )


def _wait_etcd(cp: ControlPlane) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if cp.processes["etcd"].poll() is not None:
            raise ControlPlaneError(f"etcd exited:\n{_tail(cp.workdir / 'etcd.log')}")
        try:
            with urllib.request.urlopen(f"{cp.etcd_url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise ControlPlaneError(f"etcd not healthy:\n{_tail(cp.workdir / 'etcd.log')}")


def _etcd_args(cp: ControlPlane, peer_port: int) -> list[str]:
    peer = f"http://127.0.0.1:{peer_port}"
    return [
        str(cp.bin / "etcd"),
        "--name=default",
        f"--data-dir={cp.workdir / 'etcd'}",
        f"--listen-client-urls={cp.etcd_url}",
        f"--advertise-client-urls={cp.etcd_url}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=default={peer}",
        # The data is thrown away after the run: durability only costs time.
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


def _apiserver_args(cp: ControlPlane) -> list[str]:
    w = cp.workdir
    return [
        f"--etcd-servers={cp.etcd_url}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={cp.port}",
        f"--tls-cert-file={w / 'apiserver.crt'}",
        f"--tls-private-key-file={w / 'apiserver.key'}",
        f"--client-ca-file={w / 'ca.crt'}",
        "--authorization-mode=Node,RBAC",
        "--enable-bootstrap-token-auth",
        f"--service-account-key-file={w / 'sa.pub'}",
        f"--service-account-signing-key-file={w / 'sa.key'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        # The endpoint reconciler refuses a loopback advertise address.
        "--endpoint-reconciler-type=none",
        "--profiling=false",
        "--v=1",
    ]


def _scheduler_args(cp: ControlPlane, bin_packing: Sequence[str]) -> list[str]:
    kubeconfig = cp.workdir / "admin.kubeconfig"
    if bin_packing:
        # A config file replaces --kubeconfig and --leader-elect, so they move into it.
        config = cp.workdir / "kube-scheduler.json"
        config.write_text(json.dumps(scheduler_config(kubeconfig, bin_packing), indent=1))
        connection = [f"--config={config}"]
    else:
        connection = [f"--kubeconfig={kubeconfig}", "--leader-elect=false"]
    return [
        str(cp.bin / "kube-scheduler"),
        *connection,
        "--bind-address=127.0.0.1",
        f"--secure-port={free_port()}",
        f"--cert-dir={cp.workdir / 'scheduler-certs'}",
        "--v=1",
    ]


def scheduler_config(kubeconfig: Path, bin_packing: Sequence[str]) -> dict[str, Any]:
    """kube-scheduler scoring nodes MostAllocated, the `bin_packing` extended resources
    weighted 3 to cpu and memory's 1: the Kubernetes docs' "Resource Bin Packing"
    configuration, which docs/planner.md recommends for the board resources."""
    resources = [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1},
                 *({"name": name, "weight": 3} for name in bin_packing)]
    return {
        "apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "leaderElection": {"leaderElect": False},
        "profiles": [{"schedulerName": "default-scheduler", "pluginConfig": [{
            "name": "NodeResourcesFit",
            "args": {"scoringStrategy": {"type": "MostAllocated", "resources": resources}},
        }]}],
    }


def start(workdir: Path, *, scheduler: bool = True,
          bin_packing: Sequence[str] = ()) -> ControlPlane:
    """Start etcd, kube-apiserver and (optionally) kube-scheduler; stop them on any failure.
    `bin_packing`: extended resources kube-scheduler packs (MostAllocated); none: its
    default scoring (LeastAllocated over cpu and memory)."""
    workdir.mkdir(parents=True, exist_ok=True)
    binaries = bin_dir()
    write_pki(workdir)
    endpoint = f"https://127.0.0.1:{free_port()}"
    cp = ControlPlane(
        workdir=workdir, bin=binaries, endpoint=endpoint, ca_path=workdir / "ca.crt",
        admin_kubeconfig=workdir / "admin.kubeconfig",
        etcd_url=f"http://127.0.0.1:{free_port()}",
    )
    write_kubeconfig(
        cp.admin_kubeconfig, endpoint, cp.ca_pem, user="admin",
        cert=workdir / "admin.crt", key=workdir / "admin.key",
    )
    atexit.register(cp.stop)
    try:
        cp.processes["etcd"] = _spawn(workdir, "etcd", _etcd_args(cp, free_port()))
        _wait_etcd(cp)
        cp.apiserver_args = _apiserver_args(cp)
        cp.start_apiserver()
        if scheduler and os.access(binaries / "kube-scheduler", os.X_OK):
            cp.processes["kube-scheduler"] = _spawn(workdir, "kube-scheduler",
                                                    _scheduler_args(cp, bin_packing))
    except BaseException:
        cp.stop()
        raise
    return cp


def main(argv: list[str]) -> int:
    import tempfile

    workdir = Path(argv[0]) if argv else Path(tempfile.mkdtemp(prefix="fpga-burst-cp-"))
    cp = start(workdir)
    print(f"endpoint: {cp.endpoint}\nadmin kubeconfig: {cp.admin_kubeconfig}", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
