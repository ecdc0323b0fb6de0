"""A throwaway Kubernetes control plane on loopback: etcd + kube-apiserver (+ kube-scheduler).

The binaries are the ones tools/controlplane/build.sh builds from the Go module proxy. Every
certificate is made here with `cryptography`: a cluster CA, the API server's serving cert,
an admin client cert (O=system:masters) and the service-account signing key. The API server
runs with RBAC and Node authorization, bootstrap-token authentication and TokenRequest, so
what passes here passes on a kubeadm cluster; there is no controller-manager, so nothing
garbage-collects, computes PodDisruptionBudget status or deletes namespaces.

    cp = start(Path("/tmp/cp"))       # blocks until /readyz answers ok
    cp.admin_kubeconfig               # Path of a kubeconfig for system:masters
    cp.stop()                         # idempotent; also registered with atexit

`python tools/controlplane/devcluster.py [WORKDIR]` starts one and waits for Ctrl-C.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime as dt
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BUILD_SCRIPT = Path(__file__).with_name("build.sh")
BIN_ENV = "FPGA_BURST_CONTROLPLANE_BIN"
SERVICE_CIDR = "10.96.0.0/12"
SERVICE_IP = "10.96.0.1"
READY_TIMEOUT_S = 90.0


class ControlPlaneError(RuntimeError):
    """The control plane could not be built or started; the message holds the log tail."""


def bin_dir() -> Path:
    """The binaries: $FPGA_BURST_CONTROLPLANE_BIN, else whatever build.sh builds or reuses."""
    env = os.environ.get(BIN_ENV)
    if env:
        path = Path(env)
    else:
        done = subprocess.run([str(BUILD_SCRIPT)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ControlPlaneError(f"{BUILD_SCRIPT} failed:\n{done.stderr[-4000:]}")
        path = Path(done.stdout.strip().splitlines()[-1])
    for name in ("etcd", "kube-apiserver"):
        if not os.access(path / name, os.X_OK):
            raise ControlPlaneError(f"{path / name}: missing or not executable")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# -- certificates -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pair:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _ca() -> _Pair:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("fpga-burst-test-ca"))
        .issuer_name(_name("fpga-burst-test-ca"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return _Pair(key, cert)


def _leaf(ca: _Pair, name: x509.Name, *, server: bool) -> _Pair:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server
                 else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.DNSName("kubernetes"),
                x509.DNSName("kubernetes.default"),
                x509.DNSName("kubernetes.default.svc"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address(SERVICE_IP)),
            ]),
            critical=False,
        )
    return _Pair(key, builder.sign(ca.key, hashes.SHA256()))


def issue_client_cert(workdir: Path, user: str, groups: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """A client cert/key for `user` in `groups`, signed by the cluster CA in `workdir`."""
    ca_key = serialization.load_pem_private_key((workdir / "ca.key").read_bytes(), None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    ca = _Pair(ca_key, x509.load_pem_x509_certificate((workdir / "ca.crt").read_bytes()))
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, user)]
    attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    pair = _leaf(ca, x509.Name(attrs), server=False)
    crt, key = workdir / f"{user.replace(':', '_')}.crt", workdir / f"{user.replace(':', '_')}.key"
    crt.write_bytes(pair.cert_pem())
    key.write_bytes(pair.key_pem())
    key.chmod(0o600)
    return crt, key


def _write_pki(workdir: Path) -> None:
    ca = _ca()
    serving = _leaf(ca, _name("kube-apiserver"), server=True)
    admin = _leaf(ca, _name("fpga-burst-admin", "system:masters"), server=False)
    sa = _key()
    files = {
        "ca.crt": ca.cert_pem(), "ca.key": ca.key_pem(),
        "apiserver.crt": serving.cert_pem(), "apiserver.key": serving.key_pem(),
        "admin.crt": admin.cert_pem(), "admin.key": admin.key_pem(),
        "sa.key": sa.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        "sa.pub": sa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    }
    for name, data in files.items():
        (workdir / name).write_bytes(data)
        if name.endswith(".key"):
            (workdir / name).chmod(0o600)


def write_kubeconfig(
    path: Path, endpoint: str, ca_pem: bytes, *, user: str, token: str | None = None,
    cert: Path | None = None, key: Path | None = None,
) -> Path:
    """A kubeconfig with everything embedded, for a bearer token or a client cert."""
    creds: dict[str, str] = {}
    if token is not None:
        creds["token"] = token
    if cert is not None and key is not None:
        creds["client-certificate-data"] = base64.b64encode(cert.read_bytes()).decode()
        creds["client-key-data"] = base64.b64encode(key.read_bytes()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {
            "server": endpoint,
            "certificate-authority-data": base64.b64encode(ca_pem).decode(),
        }}],
        "users": [{"name": user, "user": creds}],
        "contexts": [{"name": user, "context": {"cluster": "test", "user": user}}],
        "current-context": user,
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
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
    configuration, which the README recommends for the board resources."""
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
    _write_pki(workdir)
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
