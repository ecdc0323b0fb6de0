"""Node groups in several regions: the config's `regions:` map, a group's `region`, and
what is refused at synth (unknown region, an AZ of another region, a type not offered)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from configedits import Edit, editor

from burst.core.errors import ConfigError
from burst.core.regions import DEFAULT_REGION_PENALTY
from burst.loop import config as runtime
from burst.tools.deploy.config import load, parse

REPO = Path(__file__).resolve().parents[2]
MULTI = REPO / "examples" / "deploy-multi-region.yaml"
DOC = yaml.safe_load(MULTI.read_text())
edited = editor(DOC)


def test_groups_live_in_their_region_with_that_regions_network() -> None:
    config = load(MULTI)

    assert config.region == "us-east-1"
    assert [(g.name, g.region) for g in config.node_groups] == [
        ("f2", "us-east-1"), ("f2-london", "eu-west-2")]
    london = config.regions["eu-west-2"]
    assert [s.id for s in config.groups_in("eu-west-2")[0].subnets] == [
        "subnet-0b1b2c3d4e5f60719"]
    assert london.onprem_cidr == config.onprem_cidr  # not given: the home network's
    assert london.vpn_secret_arn.split(":")[3] == "eu-west-2"
    assert config.policy.region_penalties == {"eu-west-2": 0.25}


def test_the_functions_learn_the_other_regions_and_their_join_key_alias() -> None:
    config = load(MULTI)
    document = json.loads(config.runtime_json())

    assert document["regions"] == {"eu-west-2": {
        "join_key_id": "arn:aws:kms:eu-west-2:111122223333:alias/fpga-burst/lab/join"}}
    loaded = runtime.load({runtime.CONFIG_VAR: config.runtime_json()}, cluster_name="lab")
    assert loaded.regions == {"eu-west-2": document["regions"]["eu-west-2"]["join_key_id"]}
    assert loaded.policy.region_penalties == {"eu-west-2": 0.25}


def test_a_single_region_config_is_unchanged_and_names_no_regions() -> None:
    config = load(REPO / "config" / "fpga-burst.yaml")

    assert config.regions == {}
    assert {g.region for g in config.node_groups} == {"us-east-1"}
    assert "regions" not in config.runtime_config()
    assert config.policy.region_penalties == {}
    assert DEFAULT_REGION_PENALTY == 0.0


def _group(**extra: Any) -> Edit:
    return lambda d: d["node_groups"][1].update(extra)


@pytest.mark.parametrize(
    ("edit", "field", "problem"),
    [
        pytest.param(lambda d: d["aws"].update(region="us-east-9"), "aws.region",
                     "not an AWS region code", id="home-region-unknown"),
        pytest.param(lambda d: d.update(regions={"eu-west-9": d["regions"]["eu-west-2"]}),
                     "regions.eu-west-9", "not an AWS region code", id="region-unknown"),
        pytest.param(lambda d: d.update(regions={"us-east-1": d["regions"]["eu-west-2"]}),
                     "regions.us-east-1", "is the home region", id="home-region-twice"),
        pytest.param(_group(region="eu-west-1"), "node_groups[1].region",
                     "neither aws.region nor a key of `regions`", id="group-region-undeclared"),
        pytest.param(
            lambda d: d["regions"]["eu-west-2"]["subnets"][0].update(
                availability_zone="eu-west-1a"),
            "regions.eu-west-2.subnets[0].availability_zone", "is not in region 'eu-west-2'",
            id="subnet-az-of-another-region"),
        pytest.param(_group(subnet_ids=["subnet-0a1b2c3d4e5f60718"]),
                     "node_groups[1].subnet_ids[0]", "is not in regions.eu-west-2.subnets",
                     id="group-subnet-of-the-home-region"),
        pytest.param(_group(instance_type="f1.4xlarge"), "node_groups[1].instance_type",
                     "f1.4xlarge is not known to be offered in eu-west-2",
                     id="type-not-offered-in-region"),
        pytest.param(_group(capacity_type="spot", spot_price_live=True),
                     "node_groups[1].spot_price_live", "is read in the home region",
                     id="live-spot-price-outside-the-home-region"),
        pytest.param(lambda d: d["regions"]["eu-west-2"].update(
                         vpn_secret_arn=d["vpn"]["secret_arn"]),
                     "regions.eu-west-2.vpn_secret_arn", "must be a secret in eu-west-2",
                     id="vpn-secret-of-another-region"),
        pytest.param(lambda d: d["regions"]["eu-west-2"].pop("vpn_secret_arn"),
                     "regions.eu-west-2.vpn_secret_arn", "is required", id="no-vpn-secret"),
        pytest.param(lambda d: d["node_groups"].pop(1), "regions.eu-west-2",
                     "no node group lives in this region", id="region-without-groups"),
        pytest.param(lambda d: d["policy"].update(
                         region_penalty_per_board_hour={"ap-southeast-2": 0.1}),
                     "policy.region_penalty_per_board_hour.ap-southeast-2",
                     "no node group lives in this region", id="penalty-for-unused-region"),
        pytest.param(lambda d: d["policy"].update(
                         region_penalty_per_board_hour={"eu-west-2": -0.5}),
                     "policy.region_penalty_per_board_hour.eu-west-2", "must be >= 0",
                     id="negative-penalty"),
    ],
)
def test_bad_region_settings_name_the_field(edit: Edit, field: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(edited(edit))

    assert caught.value.field == field
    assert problem in caught.value.problem


def test_the_home_region_may_carry_a_penalty_too() -> None:
    config = parse(edited(lambda d: d["policy"].update(
        region_penalty_per_board_hour={"us-east-1": 0.1, "eu-west-2": 0.0})))

    assert config.policy.region_penalties == {"us-east-1": 0.1, "eu-west-2": 0.0}
