"""`burst teardown --dry-run` on moto and the test control plane: everything the README's
"Tear down" deletes, in every region of the config, and nothing deleted."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
import requests

from burst.adapters.kube.client import Kube
from burst.tools import cli
from burst.tools.demo import cluster as demo_cluster
from burst.tools.demo.setup import node_groups
from burst.tools.demo.timeline import Timeline
from burst.tools.deploy.config import DeployConfig, load
from burst.tools.harness import controlplane, moto
from burst.tools.harness.moto import MotoView

CONFIG = Path(__file__).resolve().parents[2] / "examples" / "deploy-multi-region.yaml"


def deployed(endpoint: str, deploy: DeployConfig) -> dict[str, MotoView]:
    """Each region's node groups as cdk deploy makes them, in that region."""
    views = {}
    for region in (deploy.region, *deploy.regions):
        views[region] = MotoView(endpoint, region=region)
        here = dataclasses.replace(deploy, node_groups=deploy.groups_in(region))
        node_groups(views[region], here, Timeline(out=io.StringIO()))
    return views


def test_the_dry_run_lists_every_region_and_what_is_left_in_the_cluster(
    moto_endpoint: str, control_plane: controlplane.ControlPlane, admin: Kube,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the multi-region example deployed: a group at home running one instance whose
    # Node is registered, and a group in eu-west-2
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    deploy = load(CONFIG)
    views = deployed(moto_endpoint, deploy)
    home = deploy.node_groups[0].asg_name(deploy.cluster_name)
    views[deploy.region].asg.set_desired_capacity(AutoScalingGroupName=home, DesiredCapacity=1)
    (instance,) = views[deploy.region].asg.describe_auto_scaling_groups(
        AutoScalingGroupNames=[home])["AutoScalingGroups"][0]["Instances"]
    node = f"teardown-{instance['InstanceId']}"
    demo_cluster.register_node(admin, node, {}, {}, provider_id=(
        f"aws:///{instance['AvailabilityZone']}/{instance['InstanceId']}"))
    for key, value in moto.TESTING_KEYS.items():
        monkeypatch.setenv(key, value)
    # WHEN the dry run lists
    code = cli.main(["teardown", "--config", str(CONFIG), "--dry-run", "--endpoint-url",
                     moto_endpoint, "--kubeconfig", str(control_plane.admin_kubeconfig)])
    out = capsys.readouterr().out
    # THEN each region has its stack, groups, join parameter and VPN secret, the home one
    # the credentials secrets, and the cluster its burst Node and the RBAC objects
    assert code == 0
    regions = out.split("cluster:")[0].split("region ")[1:]
    assert [r.splitlines()[0] for r in regions] == ["us-east-1:", "eu-west-2:"]
    local, london = regions
    assert "stack FpgaBurst\n" in local and "stack FpgaBurst-eu-west-2\n" in london
    assert f"node group {home}: desired 1 -> 0, instances to drain: {instance['InstanceId']}" \
        in local
    assert "node group lab-f2-london: desired 0 -> 0, instances to drain: none" in london
    for text in (local, london):
        assert f"SSM parameter {deploy.join_parameter_name}" in text
    assert deploy.vpn_secret_arn in local
    assert deploy.regions["eu-west-2"].vpn_secret_arn in london
    assert all(arn in local for arn in deploy.credentials_secret_arns.values())
    cluster = out.split("cluster:")[1]
    assert f"  node {node}\n" in cluster
    assert "ServiceAccount kube-system/fpga-burst-scaler" in cluster
    # AND nothing was deleted
    assert views[deploy.region].asg.describe_auto_scaling_groups(
        AutoScalingGroupNames=[home])["AutoScalingGroups"][0]["DesiredCapacity"] == 1


def test_without_dry_run_it_deletes_nothing_and_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["teardown", "--config", str(CONFIG)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--dry-run" in err
