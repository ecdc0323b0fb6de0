"""Node groups in several regions, synthesized: one stack per other region with its own
env, network, join key and node role; the home stack's IAM names each region's groups,
parameter and key; cdk-nag finds nothing unacknowledged in any stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks
from conftest import cdk_app
from test_checks import synth

from app import build
from burst.tools.deploy.config import DeployConfig, load, secret_resources
from stacks.region import RegionStack
from stacks.stack import FpgaBurstStack

REPO = Path(__file__).resolve().parents[2]
MULTI = REPO / "examples" / "deploy-multi-region.yaml"


@pytest.fixture(scope="module")
def multi() -> DeployConfig:
    return load(MULTI)


@pytest.fixture(scope="module")
def app_and_stacks(
    multi: DeployConfig, tmp_path_factory: pytest.TempPathFactory
) -> tuple[App, FpgaBurstStack, RegionStack]:
    app = cdk_app(tmp_path_factory)
    home = build(app, multi)
    (london,) = [s for s in app.node.children if isinstance(s, RegionStack)]
    return app, home, london


@pytest.fixture(scope="module")
def home(app_and_stacks: tuple[App, FpgaBurstStack, RegionStack]) -> Template:
    return Template.from_stack(app_and_stacks[1])


@pytest.fixture(scope="module")
def london(app_and_stacks: tuple[App, FpgaBurstStack, RegionStack]) -> Template:
    return Template.from_stack(app_and_stacks[2])


def _statements(template: Template) -> list[dict[str, Any]]:
    return [s for p in template.find_resources("AWS::IAM::Policy").values()
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _by_sid(template: Template, sid: str) -> list[dict[str, Any]]:
    return [s for s in _statements(template) if s.get("Sid") == sid]


def _text(value: Any) -> str:
    return json.dumps(value)


def test_one_stack_per_region_with_explicit_env_and_its_own_groups(
    app_and_stacks: tuple[App, FpgaBurstStack, RegionStack], home: Template, london: Template
) -> None:
    _, home_stack, london_stack = app_and_stacks
    assert (Stack.of(home_stack).region, Stack.of(london_stack).region) == (
        "us-east-1", "eu-west-2")
    assert london_stack.stack_name == "FpgaBurst-eu-west-2"
    assert london_stack.account == "111122223333"
    # The home stack deploys after the region's: the key must exist before tokens runs.
    assert london_stack in home_stack.dependencies
    home.has_resource_properties("AWS::AutoScaling::AutoScalingGroup",
                                 {"AutoScalingGroupName": "lab-f2"})
    home.resource_count_is("AWS::AutoScaling::AutoScalingGroup", 1)
    london.resource_count_is("AWS::AutoScaling::AutoScalingGroup", 1)
    london.has_resource_properties("AWS::AutoScaling::AutoScalingGroup", {
        "AutoScalingGroupName": "lab-f2-london",
        "VPCZoneIdentifier": ["subnet-0b1b2c3d4e5f60719"],
    })
    london.resource_count_is("AWS::Lambda::Function", 0)  # the functions stay home


def test_the_region_has_its_own_join_key_named_by_the_alias_the_functions_use(
    london: Template, multi: DeployConfig
) -> None:
    london.resource_count_is("AWS::KMS::Key", 1)
    london.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/fpga-burst/lab/join"})
    assert multi.join_key_alias_arn("eu-west-2").endswith(":alias/fpga-burst/lab/join")


def test_nodes_of_a_region_read_their_regions_parameter_and_vpn_secret(
    london: Template, multi: DeployConfig
) -> None:
    (read,) = _by_sid(london, "ReadJoinParameter")
    assert ":ssm:eu-west-2:111122223333:parameter/fpga-burst/lab/join" in _text(read["Resource"])
    (secret,) = _by_sid(london, "ReadVpnSecret")
    assert secret["Resource"] == secret_resources(multi.regions["eu-west-2"].vpn_secret_arn)
    (decrypt,) = _by_sid(london, "DecryptJoinParameter")
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == "ssm.eu-west-2.amazonaws.com"
    (template,) = london.find_resources("AWS::EC2::LaunchTemplate").values()
    user_data = template["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]
    assert "export FPGA_BURST_REGION=eu-west-2\n" in user_data
    assert f"export FPGA_BURST_VPN_SECRET={multi.regions['eu-west-2'].vpn_secret_arn}" in (
        user_data)


def test_home_iam_scopes_each_region_to_its_groups_parameter_and_key(home: Template) -> None:
    (scale,) = _by_sid(home, "ScaleOwnedGroups")
    arns = _text(scale["Resource"])
    home_group = ":autoScalingGroup:*:autoScalingGroupName/lab-f2"
    assert f":autoscaling:us-east-1:111122223333{home_group}\"" in arns
    assert (":autoscaling:eu-west-2:111122223333:autoScalingGroup:*:"
            "autoScalingGroupName/lab-f2-london") in arns
    assert f"us-east-1:111122223333{home_group}-london" not in arns
    (write,) = _by_sid(home, "WriteJoinParameter")
    for region in ("us-east-1", "eu-west-2"):
        assert f":ssm:{region}:111122223333:parameter/fpga-burst/lab/join" in _text(
            write["Resource"])
    (keys,) = _by_sid(home, "EncryptJoinParameterInRegions")
    assert ":kms:eu-west-2:111122223333:key/*" in _text(keys["Resource"])
    assert keys["Condition"]["StringEquals"]["kms:ViaService"] == ["ssm.eu-west-2.amazonaws.com"]
    assert keys["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"] == [
        "alias/fpga-burst/lab/join"]


def test_only_the_tokens_function_may_use_the_other_regions_keys(home: Template) -> None:
    policies = [p for p in home.find_resources("AWS::IAM::Policy").values()
                if any(s.get("Sid") == "EncryptJoinParameterInRegions"
                       for s in p["Properties"]["PolicyDocument"]["Statement"])]
    assert len(policies) == 1
    (role,) = policies[0]["Properties"]["Roles"]
    roles = home.find_resources("AWS::IAM::Role")
    assert "Tokens" in role["Ref"] and role["Ref"] in roles


def test_lifecycle_actions_of_the_region_are_forwarded_home_and_matched_there(
    home: Template, london: Template
) -> None:
    london.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": Match.object_like({
            "source": ["aws.autoscaling"],
            "detail": {"AutoScalingGroupName": ["lab-f2-london"]},
        }),
        "Targets": [Match.object_like({
            "Arn": Match.string_like_regexp(
                "arn:aws:events:us-east-1:111122223333:event-bus/default"),
        })],
    })
    home.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": Match.object_like({
            "detail": {"AutoScalingGroupName": ["lab-f2", "lab-f2-london"]},
        }),
    })


def test_instance_notices_of_the_region_are_forwarded_home(london: Template) -> None:
    bus = Match.string_like_regexp("arn:aws:events:us-east-1:111122223333:event-bus/default")
    for source in ("aws.ec2", "aws.health"):
        london.has_resource_properties("AWS::Events::Rule", {
            "EventPattern": Match.object_like({"source": [source]}),
            "Targets": [Match.object_like({"Arn": bus})],
        })


def test_the_functions_are_told_the_other_regions(home: Template, multi: DeployConfig) -> None:
    (function,) = [f for f in home.find_resources("AWS::Lambda::Function").values()
                   if f["Properties"]["Handler"] == "burst.handlers.tokens.handler"]
    document = json.loads(function["Properties"]["Environment"]["Variables"]["FPGA_BURST_CONFIG"])
    assert document["regions"] == {"eu-west-2": {"join_key_id": multi.join_key_alias_arn(
        "eu-west-2")}}
    assert document["policy"]["region_penalty_per_board_hour"] == {"eu-west-2": 0.25}


def test_cdk_nag_is_clean_on_every_stack(
    app_and_stacks: tuple[App, FpgaBurstStack, RegionStack],
) -> None:
    app, _, _ = app_and_stacks
    report = AwsSolutionsChecks(app).validate_scope(app)

    findings = [
        f"{v.rule_name}: {[r.construct_path for r in v.violating_resources]}"
        for v in report.violations
    ]
    assert report.success, "\n".join(findings)
    assert {r.construct_path.split("/")[0] for v in report.violations
            for r in v.violating_resources} == set()


def test_app_py_synthesizes_every_regions_stack_offline(tmp_path: Path) -> None:
    # As `make synth CONFIG=examples/deploy-multi-region.yaml` runs it: no credentials
    result = synth(tmp_path, f"fpga-burst:config={MULTI}")

    assert result.returncode == 0, result.stderr
    out = tmp_path / "cdk.out"
    manifest = json.loads((out / "manifest.json").read_text())["artifacts"]
    assert manifest["FpgaBurst"]["environment"] == "aws://111122223333/us-east-1"
    assert manifest["FpgaBurst-eu-west-2"]["environment"] == "aws://111122223333/eu-west-2"
    assert "FpgaBurst-eu-west-2" in manifest["FpgaBurst"]["dependencies"]
    london = json.loads((out / "FpgaBurst-eu-west-2.template.json").read_text())
    assert "AWS::AutoScaling::AutoScalingGroup" in {
        r["Type"] for r in london["Resources"].values()}
