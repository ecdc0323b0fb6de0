"""Every file a user writes refuses a key it does not know, at any depth, naming its path and
the closest known key; the samples shipped carry no such key and no key without effect."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from burst.core.errors import ConfigError, UnknownKeyError
from burst.core.policy import parse_policy
from burst.loop import config as runtime
from burst.tools import scenario
from burst.tools.cli import main
from burst.tools.deploy import config as deploy_config
from burst.tools.deploy import schema
from burst.tools.deploy.reader import Obj

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "config" / "fpga-burst.yaml"
MULTI = REPO / "examples" / "deploy-multi-region.yaml"
DEPLOY_SAMPLES = [SEED, *sorted((REPO / "examples").glob("deploy-*.yaml")),
                  REPO / "lambdas" / "burst" / "tools" / "demo" / "demo.yaml"]
SCENARIO_SAMPLES = [*sorted((REPO / "examples").glob("seed-*.yaml")),
                    *sorted((REPO / "lambdas" / "burst" / "tools" / "demo").glob("seed-*.yaml"))]


def doc(path: Path = SEED) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def renamed(mapping: dict[str, Any], old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


def refused(raw: dict[str, Any]) -> UnknownKeyError:
    with pytest.raises(UnknownKeyError) as caught:
        deploy_config.parse(raw)
    return caught.value


TYPOS = {
    "label in a list item": (
        lambda d: renamed(d["node_groups"][1], "labels", "lables"),
        "node_groups[1].lables", "unknown key; did you mean `labels`?"),
    "capacity type": (
        lambda d: d["node_groups"][0].update(capcity_type="spot"),
        "node_groups[0].capcity_type", "unknown key; did you mean `capacity_type`?"),
    "top-level alarm": (
        lambda d: d.update(alarm={"email": "ops@example.com"}),
        "alarm", "unknown key; did you mean `alarms`?"),
    "policy section": (
        lambda d: d["policy"].update(max_bord=4),
        "policy.max_bord", "unknown key; did you mean `max_boards`?"),
    "list in a list item": (
        lambda d: renamed(d["node_groups"][2]["taints"][0], "effect", "efect"),
        "node_groups[2].taints[0].efect", "unknown key; did you mean `effect`?"),
    "subnet": (
        lambda d: renamed(d["network"]["subnets"][0], "availability_zone", "az"),
        "network.subnets[0].az", "unknown key (known: availability_zone, id)"),
    "credentials secret of no function": (
        lambda d: renamed(d["cluster"]["credentials_secret_arns"], "scaler", "scalar"),
        "cluster.credentials_secret_arns.scalar", "unknown key; did you mean `scaler`?"),
    "node access": (
        lambda d: d.update(node_access={"ssm_session_manger": True}),
        "node_access.ssm_session_manger", "unknown key; did you mean `ssm_session_manager`?"),
}


@pytest.mark.parametrize(("edit", "field", "problem"), TYPOS.values(), ids=TYPOS.keys())
def test_an_unknown_deploy_key_is_refused_with_its_path_and_the_closest_known_key(
    edit: Any, field: str, problem: str
) -> None:
    raw = doc()
    edit(raw)
    error = refused(raw)
    assert (error.field, error.problem) == (field, problem)


def test_an_unknown_key_under_a_region_the_user_names_is_refused() -> None:
    raw = doc(MULTI)
    renamed(raw["regions"]["eu-west-2"], "vpc_id", "vpcid")
    assert str(refused(raw)) == "regions.eu-west-2.vpcid: unknown key; did you mean `vpc_id`?"


def test_the_typo_is_reported_before_the_error_it_would_cause() -> None:
    # GIVEN a Spot group whose capacity_type is misspelt: read as on-demand, its price would
    # be refused as "for a Spot group only", which hides the typo
    raw = doc()
    raw["node_groups"][0].update(capcity_type="spot", spot_price_per_hour=0.67)
    assert refused(raw).field == "node_groups[0].capcity_type"


def test_keys_the_user_names_are_not_checked_against_the_schema() -> None:
    raw = doc(MULTI)
    raw["node_groups"][0]["labels"]["team"] = "fpga"  # a label of their choice
    raw["catalog"] = {"accelerators": {"acme.fft": {"xilinx/u250": 1}}}
    assert deploy_config.parse(raw).node_groups[0].labels["team"] == "fpga"


def test_the_parser_cannot_read_a_key_the_schema_does_not_list() -> None:
    with pytest.raises(KeyError):
        Obj({}, "").get("alarm")
    with pytest.raises(KeyError):
        Obj({}, "").obj("network", required=False).text("cidr")


@pytest.mark.parametrize("argv", [["doctor", "--config"], ["events", "--check", "--config"]],
                         ids=["doctor", "events"])
def test_a_command_that_reads_the_deploy_config_refuses_a_typo_in_one_line(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = doc()
    renamed(raw["node_groups"][1], "labels", "lables")
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw))
    before = sorted(tmp_path.iterdir())
    assert main([*argv, str(path)]) != 0
    err = capsys.readouterr().err
    assert err == (f"burst: error: {path}: node_groups[1].lables: unknown key; "
                   "did you mean `labels`?\n")
    assert sorted(tmp_path.iterdir()) == before  # nothing written


# --- the functions' runtime configuration and scenario files ------------------------------


@pytest.mark.parametrize(
    ("document", "field", "problem"),
    [
        ({"watch": {"idel_seconds": 2}}, "watch.idel_seconds",
         "unknown key; did you mean `idle_seconds`?"),
        ({"lifecycle": {"launch_timeout": 60}}, "lifecycle.launch_timeout",
         "unknown key; did you mean `launch_timeout_seconds`?"),
        ({"catalogue": {}}, "catalogue", "unknown key; did you mean `catalog`?"),
        ({"catalog": {"board": []}}, "catalog.board", "unknown key; did you mean `boards`?"),
        ({"policy": {"expander": ["price"]}}, "policy.expander",
         "unknown key; did you mean `expanders`?"),
    ],
    ids=["watch", "lifecycle", "section", "catalog", "policy"],
)
def test_the_functions_config_names_the_closest_known_key(
    document: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(UnknownKeyError) as caught:
        runtime.load({}, cluster_name="c", config=document)
    assert (caught.value.source, caught.value.field, caught.value.problem) == (
        runtime.CONFIG_VAR, field, problem)


def test_a_scenario_names_the_closest_known_key_in_a_list_item_and_its_policy() -> None:
    raw = doc(SCENARIO_SAMPLES[0])
    renamed(raw["node_groups"][0], "labels", "lables")
    with pytest.raises(UnknownKeyError) as caught:
        scenario.parse(raw, "s.yaml")
    assert str(caught.value) == "s.yaml: node_groups[0].lables: unknown key; did you mean `labels`?"
    raw = doc(SCENARIO_SAMPLES[0])
    raw["policy"] = {"scale_dwn": "fixed"}
    with pytest.raises(UnknownKeyError) as caught:
        scenario.parse(raw, "s.yaml")
    assert str(caught.value) == "s.yaml: policy.scale_dwn: unknown key; did you mean `scale_down`?"


# --- keys without effect -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "key"),
    [
        ({"scale_down_unneeded_time_seconds": 600}, "scale_down_unneeded_time_seconds"),
        ({"scale_down": "adaptive", "scale_down_delay_after_add_seconds": 0},
         "scale_down_delay_after_add_seconds"),
        ({"scale_down": "fixed", "max_idle_time_seconds": 60}, "max_idle_time_seconds"),
    ],
    ids=["unneeded-time-adaptive-by-default", "delay-adaptive", "idle-cap-fixed"],
)
def test_a_policy_key_the_scale_down_mode_does_not_read_fails_synth_naming_it(
    policy: dict[str, Any], key: str
) -> None:
    raw = doc()
    raw["policy"] = policy
    with pytest.raises(ConfigError) as caught:
        deploy_config.parse(raw)
    assert caught.value.field == f"policy.{key}"
    assert caught.value.problem.startswith("has no effect with scale_down: ")
    # ... and a scenario refuses it too, while the functions' own document (which carries
    # every field, written by the CDK) is not a file a person writes
    with pytest.raises(ConfigError, match=re.escape(f"policy.{key}: has no effect")):
        scenario.parse({"policy": policy}, "s.yaml")
    assert parse_policy(policy, "FPGA_BURST_CONFIG") is not None


def test_the_same_key_with_the_mode_that_reads_it_is_accepted() -> None:
    raw = doc()
    raw["policy"] = {"scale_down": "fixed", "scale_down_unneeded_time_seconds": 120}
    assert deploy_config.parse(raw).policy.scale_down_unneeded_time.total_seconds() == 120


@pytest.mark.parametrize("path", DEPLOY_SAMPLES, ids=lambda p: p.name)
def test_every_sample_deploy_config_loads_with_no_unknown_or_dead_key(path: Path) -> None:
    deploy_config.load(path)
    schema.check(doc(path))


@pytest.mark.parametrize("path", SCENARIO_SAMPLES, ids=lambda p: p.name)
def test_every_sample_scenario_loads_with_no_unknown_or_dead_key(path: Path) -> None:
    scenario.load(path)


def test_onprem_cidr_may_be_left_out_and_then_no_network_is_opened() -> None:
    raw = copy.deepcopy(doc(MULTI))
    del raw["network"]["onprem_cidr"]
    config = deploy_config.parse(raw)
    assert config.onprem_cidr is None
    assert config.regions["eu-west-2"].onprem_cidr is None
