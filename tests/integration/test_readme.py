"""The README runs: every fenced block is run here as written, or says why it cannot be.

Each block of README.md carries a marker on the line above it (mdblocks): `<!-- run: NAME
-->` names a runner below, `<!-- not run here: REASON -->` says why a machine without an
AWS account cannot run it. A block with neither fails the first test, so a new example
cannot go in untried.

The runners run the text of the block, with one substitution: the admin kubeconfig's path,
`/etc/kubernetes/admin.conf` on a kubeadm control plane, is the test control plane's. The
shell blocks run in bash with `aws` and `kubectl` pointed at moto_server
(AWS_ENDPOINT_URL) and at a control plane of this module's own (kube-apiserver, etcd,
kube-scheduler, and kube-controller-manager's Job controller), from a folder holding what
a clone holds (`.venv`, `config`, `docs`, `manifests`).
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mdblocks
import pytest
import realnode
import requests
import yaml

from burst.adapters.aws.adapter import Aws, AwsSettings
from burst.adapters.kube import client
from burst.adapters.kube.adapter import KubeCluster
from burst.adapters.kube.client import Json, Kube
from burst.adapters.kube.identity import FUNCTIONS, username
from burst.core.catalog import F2_BOARD
from burst.core.model import PodOutcome
from burst.core.scaleup.planner import plan
from burst.loop import config as runtime_config
from burst.loop.observe import observe
from burst.ports.aws import ClusterCredentials
from burst.tools.demo import cluster as demo_cluster
from burst.tools.demo.setup import node_groups
from burst.tools.demo.timeline import Timeline
from burst.tools.deploy import config as deploy_config
from burst.tools.harness import controlplane, moto, stage
from burst.tools.harness.moto import MotoView

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
BASE_CONFIG = REPO / "config" / "fpga-burst.yaml"
ADMIN_CONF = "/etc/kubernetes/admin.conf"
CLONE = (".venv", "config", "docs", "manifests")  # what the blocks use of a clone
BLOCKS = mdblocks.blocks(README)
RUNNERS = ("sh", "config", "credentials", "vpn-secret", "operator-policy", "job")
SHELL_TIMEOUT_S = 300


def marked(runner: str) -> list[Any]:
    return [pytest.param(b, id=f"line-{b.line}") for b in BLOCKS
            if b.marker and b.marker.kind == "run" and b.marker.what == runner]


def test_every_block_runs_here_or_says_why_not() -> None:
    problems = []
    for block in BLOCKS:
        if block.marker is None:
            problems.append(f"{block.where}: neither `<!-- run: NAME -->` nor "
                            "`<!-- not run here: REASON -->` above it")
        elif block.marker.kind == "run" and block.marker.what not in RUNNERS:
            problems.append(f"{block.where}: no runner {block.marker.what!r} "
                            f"(the runners: {', '.join(RUNNERS)})")
        elif not block.marker.what:
            problems.append(f"{block.where}: `not run here` without a reason")
    assert not problems, "\n".join(problems)
    assert all(marked(r) for r in RUNNERS), "a runner that runs no block"


# -- the world the blocks run in -------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[controlplane.ControlPlane]:
    """A control plane of this module's own (the README's job lands in `default` and sees
    every node), with the Job controller and the ServiceAccount one (the `default` account
    a pod needs), so a Job makes its pod as on a real cluster."""
    cp = controlplane.start(tmp_path_factory.mktemp("readme-cp"))
    try:
        with realnode.controller_manager(cp, realnode.built(realnode.NODE_BUILD),
                                        "job,serviceaccount"):
            yield cp
    finally:
        cp.stop()


@pytest.fixture(scope="module")
def admin(cluster: controlplane.ControlPlane) -> Iterator[Kube]:
    with client.from_kubeconfig(cluster.admin_kubeconfig) as kube:
        yield kube


@pytest.fixture
def aws(moto_endpoint: str) -> MotoView:
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    return MotoView(moto_endpoint, region=deploy_config.load(BASE_CONFIG).region)


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    for name in CLONE:
        (tmp_path / name).symlink_to(REPO / name)
    return tmp_path


def shell_env(cp: controlplane.ControlPlane, aws: MotoView) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, **moto.TESTING_KEYS, "AWS_ENDPOINT_URL": aws.endpoint,
            "AWS_DEFAULT_REGION": aws.region, "KUBECONFIG": str(cp.admin_kubeconfig)}


def run_shell(block: mdblocks.Block, cwd: Path, env: dict[str, str],
              admin_conf: Path) -> subprocess.CompletedProcess[str]:
    """The block in bash -euo pipefail; fails the test with its output if it fails."""
    script = block.text.replace(ADMIN_CONF, str(admin_conf))
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=SHELL_TIMEOUT_S, check=False)
    assert done.returncode == 0, (f"{block.where} exited {done.returncode}:\n{done.stdout}"
                                  f"\n{done.stderr}")
    return done


# -- the runners -------------------------------------------------------------------------------


@pytest.mark.parametrize("block", marked("sh"))
def test_a_shell_block_runs_as_written(block: mdblocks.Block, cluster: controlplane.ControlPlane,
                                       aws: MotoView, clone: Path) -> None:
    run_shell(block, clone, shell_env(cluster, aws), cluster.admin_kubeconfig)


@pytest.mark.parametrize("block", marked("credentials"))
def test_the_credentials_block_gives_each_function_its_identity(
    block: mdblocks.Block, cluster: controlplane.ControlPlane, aws: MotoView, clone: Path,
) -> None:
    run_shell(block, clone, shell_env(cluster, aws), cluster.admin_kubeconfig)
    # Each secret the block made holds a token the API server takes as that function.
    stored = {s["Name"]: s["ARN"] for s in aws.secrets.list_secrets()["SecretList"]}
    for function in FUNCTIONS:
        name = next(n for n in stored if n.endswith(f"/credentials/{function}"))
        value = json.loads(aws.secrets.get_secret_value(SecretId=name)["SecretString"])
        creds = ClusterCredentials(endpoint=cluster.endpoint, ca=value["ca"],
                                         token=value["token"])
        with client.from_credentials(creds) as kube:
            review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
            answer = kube.call("whoami", kube.authn.create_self_subject_review, review)
        assert answer["status"]["userInfo"]["username"] == username(function)


@pytest.mark.parametrize("block", marked("vpn-secret"))
def test_the_vpn_secret_block_stores_the_profile_and_login(
    block: mdblocks.Block, cluster: controlplane.ControlPlane, aws: MotoView, clone: Path,
) -> None:
    profile = "client\ndev tun\nremote vpn.example.com 1194 udp\n<ca>\n...\n</ca>\n"
    (clone / "client.ovpn").write_text(profile)
    run_shell(block, clone, shell_env(cluster, aws), cluster.admin_kubeconfig)
    (secret,) = aws.secrets.list_secrets()["SecretList"]
    value = json.loads(aws.secrets.get_secret_value(SecretId=secret["ARN"])["SecretString"])
    # What the node bootstrap reads from it (stacks/nodegroup/bootstrap.sh, start_vpn).
    assert value["config"] == profile
    assert set(value) == {"config", "username", "password"}


@pytest.mark.parametrize("block", marked("operator-policy"))
def test_the_operator_policy_block_creates_the_policy_file(
    block: mdblocks.Block, cluster: controlplane.ControlPlane, aws: MotoView, clone: Path,
) -> None:
    run_shell(block, clone, shell_env(cluster, aws), cluster.admin_kubeconfig)
    iam = aws.client("iam")
    (policy,) = iam.list_policies(Scope="Local")["Policies"]
    version = iam.get_policy_version(PolicyArn=policy["Arn"],
                                     VersionId=policy["DefaultVersionId"])["PolicyVersion"]
    document = version["Document"]
    document = json.loads(document) if isinstance(document, str) else document
    assert document == json.loads((REPO / "docs" / "operator-policy.json").read_text())


def merged(fragment: dict[str, Any]) -> dict[str, Any]:
    """The sample config with the fragment's top-level sections in place of its own: a
    README snippet shows the sections it is about."""
    base = yaml.safe_load(BASE_CONFIG.read_text())
    return {**copy.deepcopy(base), **fragment}


@pytest.mark.parametrize("block", marked("config"))
def test_a_config_snippet_loads_with_the_real_loader(block: mdblocks.Block) -> None:
    fragment = yaml.safe_load(block.text)
    loaded = deploy_config.parse(merged(fragment))
    # What the snippet says is what was loaded, not dropped on the way.
    groups = {g.name: g for g in loaded.node_groups}
    for item in fragment.get("node_groups", []):
        assert groups[item["name"]].instance_type == item["instance_type"]
        assert groups[item["name"]].region == item.get("region", loaded.region)
    assert set(loaded.regions) == set(fragment.get("regions", {}))


# -- the job ------------------------------------------------------------------------------------


def wait_for(what: str, probe: Any, attempts: int = 300) -> Any:
    """probe() until it returns something; fails naming `what` after `attempts` tries
    (a minute: the Job controller and kube-scheduler take a second or two)."""
    for _ in range(attempts):
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"never happened: {what}")


def unschedulable(admin: Kube, job: str) -> Json | None:
    """The job's pod once kube-scheduler has said it cannot place it."""
    pods: list[Json] = admin.call("list pods", admin.core.list_namespaced_pod, "default",
                                  label_selector=f"job-name={job}")["items"]
    return next((pod for pod in pods
                 for condition in (pod.get("status") or {}).get("conditions") or ()
                 if condition.get("type") == "PodScheduled"
                 and condition.get("reason") == "Unschedulable"), None)


@pytest.mark.parametrize("block", marked("job"))
def test_the_job_example_waits_for_a_board_and_the_scaler_plans_one(
    block: mdblocks.Block, cluster: controlplane.ControlPlane, admin: Kube, aws: MotoView,
    clone: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN an on-prem FPGA node of the job's selector with no F2 board (kube-scheduler
    # would place a pod that asks for no board there at once), and in AWS the node groups
    # of config/fpga-burst.yaml as cdk deploy creates and tags them
    demo_cluster.register_node(admin, "onprem-u250", {"inaccel/fpga": "enabled"},
                               {"xilinx/u250": 1})
    deploy = deploy_config.load(BASE_CONFIG)
    node_groups(aws, deploy, Timeline(out=io.StringIO()))
    # WHEN the README's manifest is applied as written
    job = yaml.safe_load(block.text)["metadata"]["name"]
    (clone / "fpga-job.yaml").write_text(block.text)
    run_shell(mdblocks.Block(block.line, "sh", "kubectl apply -f fpga-job.yaml\n", block.section,
                             block.marker), clone, shell_env(cluster, aws),
              cluster.admin_kubeconfig)
    # THEN its pod is Pending for want of an F2 board
    pod = wait_for(f"job {job}'s pod unschedulable", lambda: unschedulable(admin, job))
    why = next(c["message"] for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert f"Insufficient {F2_BOARD}" in why, why
    # AND the scaler, observing as it does (its own identity, the groups by their tags),
    # plans a scale-up of an F2 group for it
    cfg = runtime_config.load(
        environ={}, config=deploy.runtime_config(), cluster_name=deploy.cluster_name,
        credentials_secret="unused", join_parameter=deploy.join_parameter_name,
        join_key_id="unused", aws_endpoint_url=aws.endpoint, region=deploy.region)
    identities = stage.identities(admin, cluster.admin_kubeconfig)
    for key, value in moto.TESTING_KEYS.items():
        monkeypatch.setenv(key, value)
    groups = Aws(settings=AwsSettings(region=cfg.region, endpoint_url=aws.endpoint)).groups
    with client.from_credentials(identities["scaler"]) as scaler:
        snapshot, _ = observe(KubeCluster(scaler, cfg.boards), groups, cfg, datetime.now(UTC))
    decided = plan(snapshot, cfg.policy)
    (decision,) = [d for d in decided.pods if d.pod == f"default/{pod['metadata']['name']}"]
    assert decision.outcome == PodOutcome.SCALE_UP, decision
    assert decision.board == F2_BOARD
    assert decision.node_group in {s.node_group for s in decided.scale_ups}

