"""Synth refuses a key the configuration does not know: app.py, as `cdk synth` runs it, exits
non-zero with one line naming the file, the key's path and the closest known key, with no
traceback and nothing written. And without `network.onprem_cidr` the nodes take no inbound
traffic at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from stacks.joindata import JoinParameter, NodeSecrets
from stacks.nodegroup.construct import NodeAccess

REPO = Path(__file__).resolve().parents[2]
SEED: dict[str, Any] = yaml.safe_load((REPO / "config" / "fpga-burst.yaml").read_text())


def typo_in_group(doc: dict[str, Any]) -> None:
    group = doc["node_groups"][1]
    group["lables"] = group.pop("labels")


def typo_in_capacity(doc: dict[str, Any]) -> None:
    doc["node_groups"][0]["capcity_type"] = "spot"


def top_level_alarm(doc: dict[str, Any]) -> None:
    doc["alarm"] = {"email": "ops@example.com"}


@pytest.mark.parametrize(
    ("edit", "line"),
    [
        (typo_in_group, "node_groups[1].lables: unknown key; did you mean `labels`?"),
        (typo_in_capacity,
         "node_groups[0].capcity_type: unknown key; did you mean `capacity_type`?"),
        (top_level_alarm, "alarm: unknown key; did you mean `alarms`?"),
    ],
    ids=["lables", "capcity_type", "alarm"],
)
def test_synth_fails_on_an_unknown_key_in_one_line_and_writes_nothing(
    edit: Any, line: str, tmp_path: Path
) -> None:
    doc = json.loads(json.dumps(SEED))
    edit(doc)
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(doc))
    out = tmp_path / "cdk.out"
    # What `cdk synth -c fpga-burst:config=mine.yaml` hands the app (cdk.json's command).
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"fpga-burst:config": str(path)}),
           "CDK_OUTDIR": str(out)}
    result = subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"fpga-burst: invalid configuration {path}: {line}")
    assert not out.exists() or not any(out.iterdir())


def node_security_group(onprem_cidr: str | None) -> dict[str, Any]:
    stack = Stack(App(), "Nodes", env=Environment(account="123456789012", region="us-east-1"))
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Vpc", vpc_id="vpc-0123456789abcdef0",
                                      availability_zones=["us-east-1a"])
    join = JoinParameter(name="/j", arn="arn:aws:ssm:us-east-1:123456789012:parameter/j",
                         key=kms.Key(stack, "Key"), key_alias="alias/j")
    NodeAccess(stack, "Access", vpc=vpc, onprem_cidr=onprem_cidr,
               secrets=NodeSecrets(join=join, vpn_secret_arn="arn:aws:sm:x"),
               cluster_name="inaccel")
    (group,) = Template.from_stack(stack).find_resources("AWS::EC2::SecurityGroup").values()
    props: dict[str, Any] = group["Properties"]
    return props


def test_without_onprem_cidr_the_nodes_take_no_inbound_traffic() -> None:
    assert "SecurityGroupIngress" not in node_security_group(None)
    # ... and with one, the kubelet port only, from it
    (rule,) = node_security_group("192.168.0.0/16")["SecurityGroupIngress"]
    assert (rule["CidrIp"], rule["FromPort"], rule["ToPort"]) == ("192.168.0.0/16", 10250, 10250)
