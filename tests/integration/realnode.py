"""A real node on this machine, for test_real_node.py: what an F2 instance has, or a stand-in
for what this machine cannot have, each said here.

Real: kubeadm, kubelet and kube-controller-manager (tools/node/build.sh, the control
plane's Kubernetes version), Debian's containerd, runc and CNI plugins, the AWS CLI, curl,
the device plugin (image/device-plugin), bootstrap.sh and the node image's kubelet units.
Stand-ins: systemd (nodeinit.py as `systemctl`), the VPN (an `openvpn-client@` unit that
only waits, and `ip` answering for tun0 with this machine's own address, which the kubelet
needs as its node IP), IMDS (a loopback HTTP server, `FPGA_BURST_IMDS`), the FPGA boards (a
fake sysfs tree whose device nodes are copies of /dev/null) and the F2 management tools
(the real ones need the hardware).

The node's fixed paths (/etc/kubernetes, /var/lib/kubelet, /run/containerd, /var/log/pods)
are this test's own directories, bind-mounted in a private mount namespace that the
bootstrap script and everything it starts live in, so the machine and tests running beside
this one are not touched. The kubelet's ports and cgroup root are this run's own too.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from burst.tools.harness import controlplane
from burst.tools.harness.net import free_port

ROOT = Path(__file__).parents[2]
IMAGE_UNITS = ROOT / "image" / "node" / "units"
NODE_BUILD = ROOT / "tools" / "node" / "build.sh"
PLUGIN_BUILD = ROOT / "image" / "device-plugin" / "build.sh"
NODEINIT = Path(__file__).with_name("nodeinit.py")
BINDS = ("/etc/kubernetes", "/var/lib/kubelet", "/run/containerd", "/var/log/pods",
         "/var/log/containers")
CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
# What the node runs, in the order shutdown stops them.
UNITS = ("fpga-burst-device-plugin", "kubelet", "containerd", "openvpn-client@fpga-burst")
BUSYBOX = Path("/bin/busybox")  # Debian's busybox-static: one static binary, no libc needed
PAUSE_IMAGE = "fpga-burst.test/pause:1"
TOOL_IMAGE = "fpga-burst.test/busybox:1"
# The F2 tools the image check looks for; on this machine they only say so.
F2_TOOLS = ("fpga-describe-local-image-slots", "fpga-load-local-image")

IP_STANDIN = r"""
import os, subprocess, sys
from pathlib import Path
args = sys.argv[1:]
vpn_up = Path(os.environ["NODEINIT_STATE"], "openvpn-client@fpga-burst.pid").exists()
if args[-2:] == ["dev", "tun0"]:
    if not vpn_up:
        sys.exit('Device "tun0" does not exist.')
    print(f"9: tun0    inet {os.environ['NODE_TEST_IP']}/32 scope global tun0")
    sys.exit(0)
os.execv("/usr/sbin/ip" if Path("/usr/sbin/ip").exists() else "/sbin/ip", ["ip", *args])
"""


def host_ip() -> str:
    """The address this machine reaches others from: the kubelet's node IP must be local."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.254", 9))
        address: str = s.getsockname()[0]
        return address


@contextmanager
def controller_manager(cp: controlplane.ControlPlane, bin_dir: Path,
                       controllers: str) -> Iterator[Path]:
    """kube-controller-manager running only `controllers` (its --controllers list), e.g.
    what a join needs: the bootstrap signer (signs cluster-info with the token), CSR
    approval and signing (with the cluster CA's key). Yields its log's path."""
    log = cp.workdir / "kube-controller-manager.log"
    with log.open("wb") as out:
        process = subprocess.Popen([
            str(bin_dir / "kube-controller-manager"),
            f"--kubeconfig={cp.admin_kubeconfig}",
            f"--controllers={controllers}",
            f"--cluster-signing-cert-file={cp.workdir / 'ca.crt'}",
            f"--cluster-signing-key-file={cp.workdir / 'ca.key'}",
            "--leader-elect=false", "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}", "--v=1",
        ], stdout=out, stderr=subprocess.STDOUT)
    try:
        yield log
    finally:
        process.terminate()
        process.wait(timeout=30)


def built(script: Path) -> Path:
    done = subprocess.run([str(script)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed:\n{done.stderr[-4000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


@dataclass
class Slot:
    index: int
    nodes: tuple[str, ...]  # under /dev


def fake_boards(root: Path, slots: list[Slot]) -> tuple[Path, Path]:
    """A sysfs tree with F2 slots (app PF at function 0, mailbox PF 0x1d0f:0x9248 at
    function 2, as image/device-plugin/boards.go reads them) and their device nodes: char
    devices with /dev/null's numbers, so a container can open them. (sys root, dev root)."""
    sys_root, dev_root = root / "sys", root / "dev"
    null = os.stat("/dev/null").st_rdev
    for slot in slots:
        base = sys_root / "bus" / "pci" / "devices"
        device = f"0000:{0x20 + slot.index:02x}:00"
        app, mbox = base / f"{device}.0", base / f"{device}.2"
        for function, device in ((app, "0xf010"), (mbox, "0x9248")):
            function.mkdir(parents=True)
            (function / "vendor").write_text("0x1d0f\n")
            (function / "device").write_text(device + "\n")
        for name in slot.nodes:
            cls = app / "fpga" / name.replace("/", "-")
            cls.mkdir(parents=True)
            (cls / "dev").write_text(f"{os.major(null)}:{os.minor(null)}\n")
            (cls / "uevent").write_text(f"DEVNAME={name}\n")
            (dev_root / name).parent.mkdir(parents=True, exist_ok=True)
            os.mknod(dev_root / name, 0o666 | 0o020000, null)
    return sys_root, dev_root


def image_archive(path: Path) -> Path:
    """A docker-archive tarball holding two images on one busybox layer: the pod sandbox
    (pause: sleeps until signalled) and the test's tool image. No registry is reachable."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        tar.add(BUSYBOX, "bin/busybox")
        for applet in ("sh", "ls", "cat", "sleep", "env"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    layer_bytes = layer.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    manifest, configs = [], {}
    for tag, cmd in ((PAUSE_IMAGE, ["sleep", "2147483647"]), (TOOL_IMAGE, ["sh"])):
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "config": {"Cmd": cmd, "Env": ["PATH=/bin"]},
                             "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
        name = hashlib.sha256(config).hexdigest() + ".json"
        configs[name] = config
        manifest.append({"Config": name, "RepoTags": [tag], "Layers": ["layer.tar"]})
    with tarfile.open(path, "w") as tar:
        for name, data in {**configs, "layer.tar": layer_bytes,
                           "manifest.json": json.dumps(manifest).encode()}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def containerd_config(root: Path) -> str:
    # restrict_oom_score_adj: this machine's processes lack CAP_SYS_RESOURCE, and the pod
    # sandbox's oom_score_adj of -998 fails in runc without it (/work/shared/node-lab.md).
    return f"""version = 2
root = "{root / 'containerd-root'}"
state = "{root / 'containerd-state'}"
[grpc]
  address = "{CONTAINERD_SOCKET}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{root / 'cni'}"
"""


@dataclass
class NodeHost:
    """The directories, stand-ins and units of one test node."""

    root: Path
    node_bin: Path
    plugin: Path
    sys_root: Path
    dev_root: Path

    @property
    def units(self) -> Path:
        return self.root / "units"

    @property
    def init_state(self) -> Path:
        return self.root / "init"

    @property
    def standins(self) -> Path:
        return self.root / "bin"

    def prepare(self) -> None:
        shutil.copytree(IMAGE_UNITS, self.units)
        (self.units / "containerd.service").write_text(
            f"[Service]\nExecStart=/usr/bin/containerd --config {self.root / 'containerd.toml'}\n")
        (self.root / "containerd.toml").write_text(containerd_config(self.root))
        (self.root / "cni").mkdir()
        # The VPN stand-in: the unit only runs; `ip` shows tun0 while it does.
        (self.units / "openvpn-client@.service").write_text(
            "[Service]\nExecStart=/bin/sleep 2147483647\n")
        # The image's device-plugin unit, pointed at the fake boards.
        plugin_unit = (self.units / "fpga-burst-device-plugin.service").read_text()
        (self.units / "fpga-burst-device-plugin.service").write_text(plugin_unit.replace(
            "EnvironmentFile=-/etc/default/fpga-burst-device-plugin",
            f'Environment="FPGA_BURST_DEVICE_PLUGIN_ARGS=--sys-root={self.sys_root} '
            f'--dev-root={self.dev_root} --interval=1s"'))
        self.standins.mkdir()
        scripts = {"systemctl": NODEINIT.read_text(), "ip": IP_STANDIN,
                   **{tool: "import sys\nsys.exit('needs an F2 instance')\n" for tool in F2_TOOLS},
                   "openvpn": "import sys\nsys.exit('the VPN is a stand-in here')\n"}
        for name, text in scripts.items():
            path = self.standins / name
            path.write_text(f"#!{sys.executable}\n{text}")
            path.chmod(0o755)
        (self.standins / "fpga-burst-device-plugin").symlink_to(self.plugin)
        for name in ("kubeadm", "kubelet"):
            (self.standins / name).symlink_to(self.node_bin / name)
        for bind in BINDS:
            (self.root / "binds" / bind.strip("/").replace("/", "-")).mkdir(parents=True)
            Path(bind).mkdir(parents=True, exist_ok=True)  # an empty mount point on the host

    def env(self, extra: Mapping[str, str]) -> dict[str, str]:
        return {**os.environ, **extra, "PATH": f"{self.standins}:{os.environ['PATH']}",
                "NODEINIT_UNITS": str(self.units), "NODEINIT_STATE": str(self.init_state),
                "NODE_TEST_IP": host_ip()}

    def in_namespace(self, script: Path) -> list[str]:
        """The command that runs `script` in the node's own mount namespace."""
        binds = " && ".join(
            f"mount --bind {self.root / 'binds' / b.strip('/').replace('/', '-')} {b}"
            for b in BINDS)
        return ["unshare", "--mount", "--propagation", "private", "--", "bash", "-c",
                f"{binds} && exec bash {script}"]

    def pid(self, unit: str) -> int:
        return int((self.init_state / f"{unit}.pid").read_text())

    def enter(self, *argv: str, env: Mapping[str, str] | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Runs a command in the node's mount namespace (containerd's)."""
        return subprocess.run(["nsenter", f"--target={self.pid('containerd')}", "--mount", "--",
                               *argv], capture_output=True, text=True, env=env, timeout=timeout,
                              check=False)

    def stop(self, unit: str) -> tuple[int, str]:
        """`systemctl stop` as shutdown does it: (exit code, what it said)."""
        done = subprocess.run([str(self.standins / "systemctl"), "stop", unit],
                              capture_output=True, text=True, env=self.env({}), timeout=120,
                              check=False)
        return done.returncode, done.stderr

    def log(self, unit: str) -> str:
        path = self.init_state / f"{unit}.log"
        return path.read_text(errors="replace") if path.exists() else ""


class _Imds(BaseHTTPRequestHandler):
    token = "imds-session"
    answers: Mapping[str, str] = {}

    def do_PUT(self) -> None:
        self._reply(200, self.token)

    def do_GET(self) -> None:
        if self.headers.get("X-aws-ec2-metadata-token") != self.token:
            self._reply(401, "")
            return
        answer = self.answers.get(self.path.removeprefix("/latest/meta-data/"))
        self._reply(200 if answer is not None else 404, answer or "")

    def _reply(self, code: int, body: str) -> None:
        self.send_response(code)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def imds(answers: Mapping[str, str]) -> Iterator[str]:
    """The instance metadata service (IMDSv2: a PUT for a token, reads carrying it)."""
    handler = type("Imds", (_Imds,), {"answers": dict(answers)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
