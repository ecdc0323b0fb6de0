"""A real F2-style node joins the test control plane through bootstrap.sh and `kubeadm join`.

What is real and what stands in is listed in realnode.py. The join data comes from the
tokens function (`burst invoke tokens`) through moto's SSM; the VPN secret and the join-error
tag from moto too, read by the real AWS CLI. kube-controller-manager (same module as the
control plane) signs cluster-info and approves and signs the kubelet's client certificate,
and `kubeadm init phase` uploads what a kubeadm control plane holds for joining nodes.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
import realnode
import yaml
from test_tokens_e2e import burst, kubeconfig_for

from burst.adapters.kube import client
from burst.adapters.kube.adapter import KubeCluster
from burst.adapters.kube.client import Kube
from burst.core.catalog import F1_BOARD, F2_BOARD, INSTANCE_TYPES
from burst.ports.aws import ClusterCredentials
from burst.tools import credentials
from burst.tools.deploy import config
from burst.tools.deploy.groups import NodeGroupConfig
from burst.tools.deploy.tags import node_labels
from burst.tools.harness import controlplane
from burst.tools.harness.moto import moto_server
from burst.tools.harness.net import free_port
from stacks.nodegroup import user_data

REGION = "eu-west-2"
CLUSTER = "lab"
PARAMETER = f"/fpga-burst/{CLUSTER}/join"
VERSION = "v1.37.2"
WAIT_S = 240.0
# kubeadm's preflight checks this shared machine cannot pass, each for a reason of the
# machine's, not the node's: IP forwarding is off and not ours to turn on; port 10250 is
# checked although this kubelet listens on its own port; the kernel is cgroup v1, which
# kubeadm's system verification refuses (the kubelet runs with failCgroupV1: false).
IGNORED = ("FileContent--proc-sys-net-ipv4-ip_forward", "Port-10250",
                     "SystemVerification")
T = TypeVar("T")
BOOT_PROFILE, JOINED_PROFILE = f"fpga-burst-{CLUSTER}-boot", f"fpga-burst-{CLUSTER}-joined"
AWS_SESSION = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
AWS_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass
class Lab:
    """The control plane, moto and the node host, ready for the instance to boot."""

    tmp: Path
    cp: controlplane.ControlPlane
    admin: Kube
    kcm_log: Path
    moto: str
    world: dict[str, Any]
    host: realnode.NodeHost
    group: NodeGroupConfig
    name: str  # the instance's private DNS name: its Node's name
    controller: ClusterCredentials | None = None


def wait_for(what: str, probe: Callable[[], T | None], explain: Callable[[], str]) -> T:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {WAIT_S:.0f} s\n{explain()}")


def f2_group() -> NodeGroupConfig:
    """The minimal example's F2 group, as f2.12xlarge: two boards, so a pod given one can
    be seen to get that one only."""
    raw = yaml.safe_load((realnode.ROOT / "examples" / "deploy-minimal.yaml").read_text())
    raw["node_groups"][0]["instance_type"] = "f2.12xlarge"
    raw["node_groups"][0]["taints"] = [{"key": "fpga-burst/f2", "value": "true",
                                        "effect": "NoSchedule"}]
    return config.parse(raw).node_groups[0]


def kubeadm_config(endpoint: str, kubelet_port: int, healthz_port: int, cgroup: str) -> str:
    """What `kubeadm init` would have uploaded: the cluster's and the kubelets' config."""
    kubelet = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        # This machine: cgroup v1 and no systemd as PID 1 (/work/shared/node-lab.md).
        "failCgroupV1": False, "cgroupDriver": "cgroupfs", "cgroupRoot": cgroup,
        # Its own ports, so kubelets of tests beside this one do not collide.
        "port": kubelet_port, "healthzPort": healthz_port, "healthzBindAddress": "127.0.0.1",
        "readOnlyPort": 0, "staticPodPath": "/etc/kubernetes/manifests",
        # A shared disk's free space is not this node's to judge.
        "evictionHard": {"nodefs.available": "1%", "imagefs.available": "1%",
                         "memory.available": "1Mi"},
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
    }
    documents = [
        {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "InitConfiguration",
         "bootstrapTokens": [], "nodeRegistration": {"name": "control-plane"}},
        {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration",
         "clusterName": CLUSTER, "kubernetesVersion": VERSION,
         "controlPlaneEndpoint": endpoint,
         "networking": {"serviceSubnet": controlplane.SERVICE_CIDR}},
        kubelet,
    ]
    return yaml.safe_dump_all(documents)


def kubeadm_phases(kubeadm: Path, cp: controlplane.ControlPlane, init: Path) -> None:
    for phase in (["upload-config", "kubeadm"], ["upload-config", "kubelet"],
                  ["bootstrap-token"]):
        done = subprocess.run([str(kubeadm), "init", "phase", *phase, f"--config={init}",
                               f"--kubeconfig={cp.admin_kubeconfig}"],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"kubeadm init phase {phase}:\n{done.stdout}{done.stderr}"


@contextlib.contextmanager
def cgroup_root(name: str) -> Iterator[str]:
    """The kubelet's cgroup root, made in every v1 hierarchy (the kubelet needs it to exist)."""
    hierarchies = [h for h in Path("/sys/fs/cgroup").iterdir() if (h / "cgroup.procs").exists()]
    for hierarchy in hierarchies:
        if hierarchy.name != "unified":  # the kubelet makes its own there
            (hierarchy / name).mkdir(exist_ok=True)
    try:
        yield f"/{name}"
    finally:
        # Deepest first; what is still busy stays (and the next run uses another name).
        for top in (h / name for h in hierarchies if (h / name).exists()):
            for path in sorted(top.rglob("*"), key=lambda p: -len(p.parts)):
                if path.is_dir():
                    with contextlib.suppress(OSError):
                        path.rmdir()
            with contextlib.suppress(OSError):
                top.rmdir()


def kill_namespace(host: realnode.NodeHost) -> None:
    """Ends every process left in the node's mount namespace (all started by this test),
    found through any of its units still running."""
    namespaces = set()
    for unit in realnode.UNITS:
        with contextlib.suppress(OSError, ValueError):
            namespaces.add(os.readlink(f"/proc/{host.pid(unit)}/ns/mnt"))
    namespaces.discard(os.readlink("/proc/self/ns/mnt"))
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(proc / "ns" / "mnt") in namespaces:
                    os.kill(int(proc.name), 9)


def moto_world(endpoint: str) -> dict[str, Any]:
    """The instance being launched, the VPN secret and the join parameter's KMS key."""
    s = boto3.Session(**AWS_SESSION, region_name=REGION)
    ec2 = s.client("ec2", endpoint_url=endpoint)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    (instance,) = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1,
                                    InstanceType="f2.12xlarge")["Instances"]
    vpn = s.client("secretsmanager", endpoint_url=endpoint).create_secret(
        Name=f"fpga-burst/{CLUSTER}/openvpn",
        SecretString=json.dumps({"config": "client\nremote vpn.example.com 1194 udp\n"}))
    key = s.client("kms", endpoint_url=endpoint).create_key()["KeyMetadata"]["KeyId"]
    # The node's boot profile, and the joined one it swaps to after the join (NodeAccess).
    iam = s.client("iam", endpoint_url=endpoint)
    for profile in (BOOT_PROFILE, JOINED_PROFILE):
        iam.create_instance_profile(InstanceProfileName=profile)
    ec2.associate_iam_instance_profile(IamInstanceProfile={"Name": BOOT_PROFILE},
                                       InstanceId=instance["InstanceId"])
    return {"ec2": ec2, "instance": instance, "vpn_arn": vpn["ARN"], "key": key}


def profile_of(ec2: Any, instance_id: str) -> str:
    """The name of the instance profile associated with the instance now."""
    found = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [instance_id]}])
    (association,) = found["IamInstanceProfileAssociations"]
    return str(association["IamInstanceProfile"]["Arn"]).rsplit("/", 1)[-1]


def publish_join_data(lab: Lab) -> None:
    """The tokens function as deployed (`burst invoke tokens`), against moto_server."""
    issued = credentials.provision(lab.admin, credentials.DEFAULT_RBAC, timedelta(hours=1),
                                   str(lab.cp.admin_kubeconfig))
    lab.controller = issued["lifecycle"]  # the drain at the end, as a terminate hook runs it
    creds = issued["tokens"]
    env = {**os.environ, **AWS_KEYS, "FPGA_BURST_CLUSTER_NAME": CLUSTER,
           "FPGA_BURST_JOIN_PARAMETER": PARAMETER, "FPGA_BURST_JOIN_KEY_ID": lab.world["key"]}
    kubeconfig = kubeconfig_for(creds, lab.tmp / "controller.kubeconfig")
    event = realnode.ROOT / "events" / "scheduled.json"
    published = burst("invoke", "tokens", "--event", str(event), "--kubeconfig", str(kubeconfig),
                      "--endpoint-url", lab.moto, "--region", REGION, env=env)
    assert published.returncode == 0, published.stderr


def boot(lab: Lab) -> subprocess.CompletedProcess[str]:
    """The node group's user data, run as cloud-init runs it, in the node's namespace."""
    instance = lab.world["instance"]
    script = lab.tmp / "user-data.sh"
    script.write_text(user_data.render(user_data.settings(
        region=REGION, join_parameter=PARAMETER, vpn_secret_arn=lab.world["vpn_arn"],
        joined_profile=JOINED_PROFILE, labels=node_labels(lab.group), taints=lab.group.taints)))
    answers = {"instance-id": instance["InstanceId"], "local-hostname": lab.name,
               "placement/availability-zone": instance["Placement"]["AvailabilityZone"]}
    with realnode.imds(answers) as imds:
        return subprocess.run(lab.host.in_namespace(script), capture_output=True, text=True,
                              timeout=600, check=False, env=lab.host.env({
                                  **AWS_KEYS, "AWS_ENDPOINT_URL": lab.moto,
                                  "FPGA_BURST_IMDS": imds,
                                  "FPGA_BURST_STATE_DIR": str(lab.tmp / "state"),
                                  "FPGA_BURST_OPENVPN_DIR": str(lab.tmp / "openvpn"),
                                  "FPGA_BURST_SYSTEMD_DIR": str(lab.host.units),
                                  "FPGA_BURST_POLL_SECONDS": "0.5",
                                  "FPGA_BURST_KUBEADM_IGNORE_PREFLIGHT": ",".join(IGNORED),
                              }))


def job_pod(group: NodeGroupConfig) -> dict[str, Any]:
    """Asks for one board; prints its slots and /dev, reads its device nodes, then waits."""
    tolerations = [{"key": t.key, "operator": "Equal", "value": t.value, "effect": t.effect}
                   for t in group.taints]
    # No pod network here (a CNI bridge would be the machine's, shared with other tests):
    # host network, and the not-ready taint a node without one keeps is tolerated.
    tolerations.append({"key": "node.kubernetes.io/not-ready", "operator": "Exists"})
    script = "echo slots=$FPGA_BURST_SLOTS; ls /dev; cat /dev/fpga*; echo read-ok; sleep 2147483647"
    return {
        "metadata": {"name": "job"},
        "spec": {
            "hostNetwork": True, "automountServiceAccountToken": False,
            "nodeSelector": node_labels(group), "tolerations": tolerations,
            "terminationGracePeriodSeconds": 5,
            "containers": [{
                "name": "job", "image": realnode.TOOL_IMAGE, "imagePullPolicy": "Never",
                "command": ["sh", "-c", script], "resources": {"limits": {F2_BOARD: "1"}},
            }],
        },
    }


def container_output(host: realnode.NodeHost, namespace: str, pod: str) -> str:
    logs = sorted((host.root / "binds" / "var-log-pods").glob(f"{namespace}_{pod}_*/*/*.log"))
    return "".join(p.read_text() for p in logs)


def node_of(admin: Kube, name: str) -> dict[str, Any] | None:
    with contextlib.suppress(Exception):
        return admin.call("read node", admin.core.read_node, name)
    return None


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    node_bin = realnode.built(realnode.NODE_BUILD)
    boards = realnode.fake_boards(tmp_path / "boards", [
        realnode.Slot(0, ("fpga0_user",)), realnode.Slot(1, ("fpga1_user", "fpga1_dma"))])
    host = realnode.NodeHost(tmp_path / "node", node_bin, realnode.built(realnode.PLUGIN_BUILD),
                             *boards)
    with contextlib.ExitStack() as stack:
        cp = controlplane.start(tmp_path / "cp")
        stack.callback(cp.stop)
        admin = stack.enter_context(client.from_kubeconfig(cp.admin_kubeconfig))
        kcm_log = stack.enter_context(realnode.controller_manager(
            cp, node_bin, "bootstrapsigner,csrapproving,csrsigning"))
        cgroup = stack.enter_context(cgroup_root(f"fpga-burst-{secrets.token_hex(4)}"))
        init = tmp_path / "kubeadm-init.yaml"
        init.write_text(kubeadm_config(cp.endpoint.removeprefix("https://"),
                                       free_port(), free_port(), cgroup))
        kubeadm_phases(node_bin / "kubeadm", cp, init)
        moto = stack.enter_context(moto_server(own_process=True))
        host.prepare()
        stack.callback(kill_namespace, host)
        name = f"ip-10-8-0-{secrets.randbelow(250) + 2}.{REGION}.compute.internal"
        yield Lab(tmp_path, cp, admin, kcm_log, moto, moto_world(moto), host, f2_group(), name)


def test_f2_node_joins_through_bootstrap_advertises_boards_runs_a_pod_and_drains(
    lab: Lab,
) -> None:
    host, admin, group, name = lab.host, lab.admin, lab.group, lab.name
    # GIVEN the tokens function has published join data to SSM, as deployed
    publish_join_data(lab)
    # WHEN the instance boots with its group's user data
    booted = boot(lab)
    print(booted.stdout, booted.stderr, sep="\n")  # the join, in the test's log
    assert booted.returncode == 0, (
        f"{booted.stdout}\n{booted.stderr}\n--- kubelet:\n{host.log('kubelet')[-6000:]}\n"
        f"--- kube-controller-manager:\n{lab.kcm_log.read_text()[-3000:]}")
    # THEN it joined through kubeadm join, which started the kubelet
    assert "This node has joined the cluster" in booted.stdout
    assert "[kubelet-start] Starting the kubelet" in booted.stdout
    assert f"fpga-burst bootstrap: joined as {name}" in booted.stderr
    # ... and then swapped its own instance profile for the joined one, which cannot read
    # the join token (tests/integration/test_node_iam.py)
    assert profile_of(lab.world["ec2"], lab.world["instance"]["InstanceId"]) == JOINED_PROFILE

    # ... as the Node its group promises: name, labels (instance type too), taints, providerID
    def kubelet_log() -> str:
        return host.log("kubelet")[-4000:]

    node = wait_for("the Node", lambda: node_of(admin, name), kubelet_log)
    labels = node["metadata"]["labels"]
    assert {k: labels.get(k) for k in node_labels(group)} == node_labels(group)
    assert labels["node.kubernetes.io/instance-type"] == "f2.12xlarge"
    instance = lab.world["instance"]
    zone = instance["Placement"]["AvailabilityZone"]
    assert node["spec"]["providerID"] == f"aws:///{zone}/{instance['InstanceId']}"
    taints = {(t["key"], t.get("value", ""), t["effect"]) for t in node["spec"]["taints"]}
    assert {(t.key, t.value, t.effect) for t in group.taints} <= taints
    # ... advertising its two boards under the name the catalog and the group's tags use
    assert group.boards == {F2_BOARD: 2}

    def boards() -> str | None:
        allocatable = (node_of(admin, name) or {}).get("status", {}).get("allocatable", {})
        board: str | None = allocatable.get(F2_BOARD)
        return board

    assert wait_for("boards advertised", boards,
                    lambda: host.log("fpga-burst-device-plugin") + kubelet_log()) == "2"
    print(host.log("fpga-burst-device-plugin"))

    # WHEN a pod asks for one board (its image imported into containerd: no registry)
    imported = host.enter("ctr", "-a", realnode.CONTAINERD_SOCKET, "-n", "k8s.io", "images",
                          "import", str(realnode.image_archive(lab.tmp / "images.tar")))
    assert imported.returncode == 0, imported.stderr
    namespace = "fpga-jobs"
    admin.call("ns", admin.core.create_namespace, {"metadata": {"name": namespace}})
    admin.call("sa", admin.core.create_namespaced_service_account, namespace,
               {"metadata": {"name": "default"}})
    admin.call("pod", admin.core.create_namespaced_pod, namespace, job_pod(group))

    # THEN it is scheduled there, started by containerd, and sees exactly its slot's nodes
    def running() -> dict[str, Any] | None:
        pod = admin.call("read pod", admin.core.read_namespaced_pod, "job", namespace)
        return pod if pod["status"].get("phase") == "Running" else None

    assert wait_for("the pod running", running, kubelet_log)["spec"]["nodeName"] == name
    output = wait_for("the container's output",
                      lambda: (lambda o: o if "read-ok" in o else None)(
                          container_output(host, namespace, "job")),
                      lambda: container_output(host, namespace, "job"))
    print(output)
    slot = int(output.split("slots=")[1].split()[0])
    seen = {word for word in output.split() if word.startswith("fpga")}
    assert seen == ({"fpga0_user"} if slot == 0 else {"fpga1_user", "fpga1_dma"}), output

    # WHEN the group scales in: the controller's drain, then the instance shuts down
    assert lab.controller is not None
    with client.from_credentials(lab.controller) as kube:
        drained = KubeCluster(kube, {F2_BOARD}).drain(name, time.monotonic() + WAIT_S)
    assert drained.evicted == (f"{namespace}/job",), drained

    def pods_gone() -> bool:
        return not admin.call("pods", admin.core.list_namespaced_pod, namespace)["items"]

    wait_for("the evicted pod gone", pods_gone, kubelet_log)
    stops = {unit: host.stop(unit) for unit in realnode.UNITS}
    # THEN each stops on SIGTERM within its stop timeout, none killed
    assert stops == {unit: (0, "") for unit in stops}, stops
    assert "panic" not in host.log("kubelet")


def test_the_plugin_advertises_exactly_the_catalogs_aws_board_names() -> None:
    # The catalog (and so the groups' Auto Scaling tags and the planner) names boards by
    # what the node's plugin advertises; the plugin is the one place that reads hardware.
    done = subprocess.run([str(realnode.built(realnode.PLUGIN_BUILD)), "-boards"],
                          capture_output=True, text=True, timeout=30, check=True)
    advertised = {board["resource"] for board in json.loads(done.stdout)}
    assert advertised == {F1_BOARD, F2_BOARD}
    assert {F2_BOARD} == {b for it in INSTANCE_TYPES.values() if it.name.startswith("f2.")
                          for b in it.boards}
