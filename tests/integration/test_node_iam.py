"""The nodes' IAM roles, as synthesized, decided by the evaluator (iampolicy.evaluate).

A node boots with the boot role and, once joined, swaps its instance profile for the joined
one (stacks/nodegroup/bootstrap.sh drop_join_access). The test deployment is the IAM one
(iam-deploy.yaml) with Session Manager on, so the AWS managed policy's parameter reads are
in play: its statement is not in the template, so it is added here as AWS publishes it
(AmazonSSMManagedInstanceCore, "AWS managed policy reference": ssm:GetParameter and
ssm:GetParameters on every resource).
"""

from __future__ import annotations

import json
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from iamenforce import DEPLOY_CONFIG, REPO
from iampolicy import bind, evaluate, role_policies
from iamrequests import ACCOUNT

from burst.core.asgtags import JOIN_ERROR_TAG

REGION = "us-east-1"
ME = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0aaaaaaaaaaaaaaa1"
PEER = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0bbbbbbbbbbbbbbb2"
JOIN = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/fpga-burst/onprem/join"
OTHER_PARAMETER = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/prod/database-password"
VPN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:fpga-burst/onprem/openvpn-AbCdEf"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
JOINED_PROFILE = f"arn:aws:iam::{ACCOUNT}:instance-profile/joined"
JOINED_ROLE = f"arn:aws:iam::{ACCOUNT}:role/joined"
BOOT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/boot"
SSM_CORE = {"Sid": "AmazonSSMManagedInstanceCore", "Effect": "Allow",
            "Action": ["ssm:GetParameter", "ssm:GetParameters"], "Resource": "*"}
FROM_ME = {"ec2:SourceInstanceARN": ME}  # every request a node makes with its role


@cache
def node_roles() -> dict[str, list[dict[str, Any]]]:
    """{"boot": statements, "joined": statements} of the synthesized node roles."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from burst.tools.deploy.config import load
    from stacks.stack import FpgaBurstStack

    raw = yaml.safe_load(DEPLOY_CONFIG.read_text())
    raw["node_access"] = {"ssm_session_manager": True}
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    with tempfile.TemporaryDirectory() as out:
        path = Path(out) / "deploy.yaml"
        path.write_text(yaml.safe_dump(raw))
        app = App(outdir=out, context=context)
        doc = Template.from_stack(FpgaBurstStack(app, config=load(path))).to_json()
    pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
              "AWS::URLSuffix": "amazonaws.com"}
    by_role = role_policies(doc, pseudo)
    found: dict[str, list[dict[str, Any]]] = {}
    for logical, body in doc["Resources"].items():
        description = str(body.get("Properties", {}).get("Description", ""))
        if body["Type"] != "AWS::IAM::Role" or "FPGA nodes" not in description:
            continue
        if logical.startswith("NodeAccess") or "ap-southeast-2" not in logical:
            kind = "joined" if "JoinedRole" in logical else "boot"
            found.setdefault(kind, []).extend(by_role.get(logical, []))
    bound = {}
    for logical, body in doc["Resources"].items():
        if body["Type"] == "AWS::IAM::InstanceProfile":
            bound[f"{logical}.Arn"] = JOINED_PROFILE
        elif body["Type"] == "AWS::IAM::Role" and "JoinedRole" in logical:
            bound[f"{logical}.Arn"] = JOINED_ROLE
        elif body["Type"] == "AWS::KMS::Key":
            bound[f"{logical}.Arn"] = KEY
    return {kind: [*bind(statements, bound), SSM_CORE] for kind, statements in found.items()}


def decide(role: str, action: str, resource: str, **context: Any) -> bool:
    """As IAM sees a node's request: from its own instance; an instance acted on is also
    named by its id (ec2:InstanceID)."""
    acted_on = {"ec2:InstanceID": resource.rsplit("/", 1)[-1]} if ":instance/" in resource else {}
    return evaluate(node_roles()[role], action, resource,
                    {**FROM_ME, **acted_on, **context}).allowed


KMS_VIA_SSM = {"kms:ViaService": f"ssm.{REGION}.amazonaws.com",
               "kms:EncryptionContext:PARAMETER_ARN": JOIN}

# (role, action, resource, context, allowed, why)
CASES: list[tuple[str, str, str, dict[str, Any], bool, str]] = [
    # 3. tags: its own instance only, and only the join-error key
    ("boot", "ec2:CreateTags", ME, {"aws:TagKeys": [JOIN_ERROR_TAG]}, True,
     "a node tags itself with the join error"),
    ("boot", "ec2:CreateTags", PEER, {"aws:TagKeys": [JOIN_ERROR_TAG],
                                      "ec2:ResourceTag/aws:autoscaling:groupName":
                                          "onprem-f1-4xlarge"}, False,
     "nor a peer of its own group"),
    ("boot", "ec2:CreateTags", ME, {"aws:TagKeys": ["Name"]}, False, "nor another key"),
    ("joined", "ec2:CreateTags", ME, {"aws:TagKeys": [JOIN_ERROR_TAG]}, False,
     "once joined there is no join error to write"),
    # 4. Session Manager's parameter reads: none but the join parameter, before the join
    ("boot", "ssm:GetParameter", JOIN, {}, True, "the join data, before the join"),
    ("boot", "ssm:GetParameter", OTHER_PARAMETER, {}, False,
     "no other parameter of the account, though the managed policy allows it"),
    ("boot", "ssm:GetParameters", OTHER_PARAMETER, {}, False, "by either action"),
    ("joined", "ssm:GetParameter", OTHER_PARAMETER, {}, False, "nor once joined"),
    # 5. after the join: neither the join token nor the VPN login
    ("joined", "ssm:GetParameter", JOIN, {}, False, "the join token is unreadable once joined"),
    ("joined", "kms:Decrypt", KEY, KMS_VIA_SSM, False, "nor decryptable"),
    ("boot", "kms:Decrypt", KEY, KMS_VIA_SSM, True, "(which the boot role may)"),
    ("joined", "secretsmanager:GetSecretValue", VPN, {}, False, "nor the VPN login"),
    ("boot", "ec2:ReplaceIamInstanceProfileAssociation", ME,
     {"ec2:NewInstanceProfile": JOINED_PROFILE}, True, "a node swaps itself to joined"),
    ("boot", "ec2:ReplaceIamInstanceProfileAssociation", PEER,
     {"ec2:NewInstanceProfile": JOINED_PROFILE}, False, "not a peer"),
    ("boot", "ec2:ReplaceIamInstanceProfileAssociation", ME,
     {"ec2:NewInstanceProfile": f"arn:aws:iam::{ACCOUNT}:instance-profile/admin"}, False,
     "and to no other profile"),
    ("boot", "iam:PassRole", JOINED_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}, True,
     "passing the joined role to EC2 is part of the swap"),
    ("joined", "ec2:ReplaceIamInstanceProfileAssociation", ME,
     {"ec2:NewInstanceProfile": JOINED_PROFILE}, False, "a joined node cannot swap back"),
    ("joined", "iam:PassRole", BOOT_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}, False,
     "nor pass the boot role"),
]


@pytest.mark.parametrize(("role", "action", "resource", "context", "allowed", "why"), CASES,
                         ids=[f"{c[0]}: {c[5]}" for c in CASES])
def test_a_node_role_allows_exactly_this(role: str, action: str, resource: str,
                                         context: dict[str, Any], allowed: bool,
                                         why: str) -> None:
    assert decide(role, action, resource, **context) is allowed, why


def test_both_node_roles_were_found_in_the_template() -> None:
    assert set(node_roles()) == {"boot", "joined"}
