"""The deployment configuration: every mistake is refused with the field it concerns."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from configedits import Edit, editor

from burst.adapters import yamlload
from burst.core.asgtags import RESOURCES_PREFIX
from burst.core.errors import ConfigError
from burst.core.model import Policy, Taint
from burst.loop import config as runtime
from burst.tools.deploy import config as deploy_config
from burst.tools.deploy.config import load, parse
from burst.tools.deploy.tags import autoscaler_tags

REPO = Path(__file__).resolve().parents[2]
DEMO = yaml.safe_load((REPO / "config" / "fpga-burst.yaml").read_text())
edited = editor(DEMO)


def test_demo_config_loads_with_defaults_filled_in() -> None:
    config = load(REPO / "config" / "fpga-burst.yaml")

    assert config.cluster_name == "inaccel"
    assert config.join_parameter_name == "/fpga-burst/inaccel/join"
    assert [g.asg_name("inaccel") for g in config.node_groups] == [
        "inaccel-f2-6xlarge",
        "inaccel-f2-12xlarge",
        "inaccel-f2-48xlarge",
    ]
    f2 = config.node_groups[1]
    assert (f2.min_size, f2.max_size, f2.boards) == (0, 4, {"xilinx/aws-vu47p-f2": 2})
    assert len(f2.subnets) == 3  # all network subnets when the group names none
    large = config.node_groups[2]
    assert [s.availability_zone for s in large.subnets] == ["us-east-1a", "us-east-1b"]
    assert large.taints == (Taint("fpga-burst/large", "true", "NoSchedule"),)
    assert config.policy.max_boards == 16
    assert config.policy.scale_down_delay_after_add == Policy().scale_down_delay_after_add


def wrong(field: str, value: object, problem: str, id: str) -> Any:
    """A case of the table below: `value` at `field` (the path as errors name it) is refused."""
    keys = [int(k) if k.isdigit() else k for k in re.findall(r"[^.\[\]]+", field)]

    def edit(doc: Any) -> None:
        for key in keys[:-1]:
            doc = doc[key]
        doc[keys[-1]] = value

    return pytest.param(edit, field, problem, id=id)


@pytest.mark.parametrize(
    ("edit", "field", "problem"),
    [
        pytest.param(lambda d: d.pop("cluster"), "cluster", "is required", id="no-cluster"),
        pytest.param(lambda d: d.update(node_access={"ssm_session_manager": "yes"}),
                     "node_access.ssm_session_manager", "must be true or false",
                     id="session-manager-not-a-bool"),
        pytest.param(lambda d: d.update(node_access={"ssh": True}), "node_access.ssh",
                     "unknown key", id="node-access-unknown-key"),
        pytest.param(lambda d: d.update(alarms={"dashboard": "yes"}), "alarms.dashboard",
                     "is not true or false", id="dashboard-not-a-bool"),
        wrong("cluster.name", "Prod_1", "not valid", id="name"),
        wrong("cluster.api_endpoint", "https://10.8.0.1", "host:port", id="endpoint"),
        wrong("cluster.controller_endpoint", "https://10.8.0.1:6443",
              "host:port", id="controller-endpoint"),
        pytest.param(
            lambda d: d.update(scaler={"mode": "stream"}),
            "scaler.mode",
            "'stream' is not one of watch, poll",
            id="scaler-mode",
        ),
        wrong("cluster.credentials_secret_arns.tokens", "my-secret", "not valid", id="secret-arn"),
        pytest.param(
            lambda d: d["cluster"]["credentials_secret_arns"].pop("lifecycle"),
            "cluster.credentials_secret_arns.lifecycle",
            "is required",
            id="secret-arn-missing",
        ),
        wrong("cluster.credentials_secret_arns.cleaner", "arn",
              "unknown key", id="secret-arn-unknown"),
        wrong("aws.account", 123456789012, "is not a string", id="unquoted-account"),
        wrong("network.onprem_cidr", "10.0.0.1/16", "not a CIDR block", id="cidr-host-bits"),
        wrong("network.subnets[1].availability_zone", "eu-west-1a",
              "not in region 'us-east-1'", id="az-region"),
        wrong("network.subnets", [], "at least 1", id="no-subnets"),
        wrong("node_groups[0].instance_type", "p4d.24xlarge",
              "not a known FPGA instance type", id="instance-type"),
        pytest.param(
            # A group with no ami_id launches the node image, built for the cluster's version
            lambda d: d.pop("node_image"),
            "node_image.kubernetes_version",
            "is required",
            id="node-image-without-version",
        ),
        wrong("node_image.kubernetes_version", 1.37,
              "is not a string", id="unquoted-kubernetes-version"),
        pytest.param(
            lambda d: d["node_groups"][0].update(min_size=5),
            "node_groups[0].max_size",
            "below min_size 5",
            id="min-above-max",
        ),
        pytest.param(
            lambda d: d["node_groups"][2].update(subnet_ids=["subnet-0123456789abcdef9"]),
            "node_groups[2].subnet_ids[0]",
            "not in network.subnets",
            id="unknown-subnet",
        ),
        pytest.param(
            lambda d: d["node_groups"][1].update(name="f2-6xlarge"),
            "node_groups[].name",
            "appears twice",
            id="duplicate-group",
        ),
        pytest.param(
            lambda d: d["node_groups"][0].update(labels={"inaccel/fpga": "yes please"}),
            "node_groups[0].labels.inaccel/fpga",
            "not a valid label value",
            id="label-value",
        ),
        wrong("node_groups[2].taints[0].effect", "NoEntry", "'NoEntry'", id="taint-effect"),
        wrong("node_groups[0].ami_id", "ubuntu", "not valid", id="ami"),
        pytest.param(
            lambda d: d["catalog"]["accelerators"]["com.inaccel.xgboost.exact"].update(
                {"xilinx/u250": 0}
            ),
            "catalog.accelerators.com.inaccel.xgboost.exact.xilinx/u250",
            "replicas must be >= 1, got 0",
            id="replicas",
        ),
        wrong("policy.expanders", ["priority", "cheapest"],
              "unknown expander 'cheapest'", id="expander"),
        wrong("policy.expanders", ["price", "price"],
              "names an expander twice", id="duplicate-expander"),
        wrong("policy.max_boards", 0, "must be >= 1", id="zero-boards"),
        wrong("policy.scale_down_unneeded_time", 600, "unknown key", id="policy-typo"),
        wrong("catalog.accelerators.empty", {},
              "must map board resources", id="accelerator-without-boards"),
        pytest.param(
            lambda d: d["catalog"]["accelerators"].update(dated={"xilinx/u250": dt.date.today()}),
            "catalog",
            "JSON cannot carry",
            id="yaml-only-value",
        ),
        wrong("policy.max_price_per_hour", "lots", "must be a number", id="price"),
        wrong("policy.token_ttl_seconds", 600, "between 1800 and 86400", id="token-ttl"),
    ],
)
def test_bad_config_names_the_field(edit: Edit, field: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(edited(edit))

    assert caught.value.field == field
    assert problem in caught.value.problem
    # app.py prints the file, then this: one line, `field: problem`.
    assert str(caught.value) == f"{field}: {caught.value.problem}"
    assert "\n" not in str(caught.value)


def test_session_manager_is_off_unless_the_config_turns_it_on() -> None:
    assert parse(edited(lambda d: None)).ssm_session_manager is False
    on = parse(edited(lambda d: d.update(node_access={"ssm_session_manager": True})))
    assert on.ssm_session_manager is True


def test_the_dashboard_is_off_unless_the_config_turns_it_on() -> None:
    assert parse(edited(lambda d: d.pop("alarms", None))).dashboard is False
    assert parse(edited(lambda d: d.update(alarms={"dashboard": True}))).dashboard is True


def test_the_functions_endpoint_defaults_to_the_nodes_and_can_differ() -> None:
    # GIVEN only cluster.api_endpoint: the functions use the address the nodes join
    same = parse(edited(lambda d: d["cluster"].pop("controller_endpoint", None)))
    assert same.controller_endpoint == same.api_endpoint == "10.8.0.1:6443"
    # GIVEN the functions reach the API server at another address (e.g. over a site-to-site
    # VPN while the nodes use the OpenVPN address): each is used for its own purpose
    apart = parse(edited(lambda d: d["cluster"].update(controller_endpoint="192.168.1.10:6443")))
    assert (apart.api_endpoint, apart.controller_endpoint) == ("10.8.0.1:6443",
                                                               "192.168.1.10:6443")


@pytest.mark.parametrize(("mode", "watching"), [("watch", True), ("poll", False)])
def test_the_scaler_mode_reaches_the_functions_as_watch_enabled(mode: str, watching: bool) -> None:
    config = parse(edited(lambda d: d.update(scaler={"mode": mode})))
    assert config.scaler_mode == mode
    assert config.runtime_config()["watch"] == {"enabled": watching}
    # and the functions' own loader reads it so (synth ran it in parse, too)
    loaded = deploy_config.runtime.load(
        {deploy_config.runtime.CONFIG_VAR: config.runtime_json()}, cluster_name="c")
    assert loaded.watch.enabled is watching


def test_without_a_scaler_section_the_scaler_watches() -> None:
    config = parse(edited(lambda d: d.pop("scaler", None)))
    assert config.scaler_mode == "watch"


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("cluster: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML") as caught:
        load(broken)
    assert "\n" not in str(caught.value)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("cluster: {name: caf\xe9}\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load(latin)
    with pytest.raises(ConfigError, match="<top level>: must be a mapping"):
        parse(["a list"])


def test_minimal_example_needs_only_the_required_fields() -> None:
    config = load(REPO / "examples" / "deploy-minimal.yaml")

    assert [g.asg_name(config.cluster_name) for g in config.node_groups] == ["lab-f2"]
    assert config.node_groups[0].min_size == 0
    assert config.join_parameter_name == "/fpga-burst/lab/join"
    assert config.runtime_config()["catalog"] == {"accelerators": {}, "boards": []}
    assert config.onprem_cidr is None  # optional: the OpenVPN client setup opens nothing


def test_config_yaml_is_read_with_the_one_yaml_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    # burst.adapters.yamlload: libyaml's C loader where PyYAML has it (tests/unit/test_yamlload)
    read: list[str] = []
    real = yamlload.load

    def spy(text: str) -> Any:
        read.append(text)
        return real(text)

    monkeypatch.setattr(yamlload, "load", spy)
    load(REPO / "config" / "fpga-burst.yaml")
    assert read == [(REPO / "config" / "fpga-burst.yaml").read_text()]


def test_the_runtime_loaders_refusal_fails_synth_naming_the_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a runtime loader stricter than the deployment config (a future rule)
    real = deploy_config.runtime.load

    def stricter(environ: dict[str, str], **explicit: Any) -> Any:
        if json.loads(environ[deploy_config.runtime.CONFIG_VAR])["policy"]["max_boards"] > 8:
            raise ConfigError("FPGA_BURST_CONFIG", "policy.max_boards", "must be at most 8")
        return real(environ, **explicit)

    monkeypatch.setattr(deploy_config.runtime, "load", stricter)
    # WHEN the deployment config is parsed THEN synth fails on the field to fix
    with pytest.raises(ConfigError) as caught:
        parse(copy.deepcopy(DEMO))
    assert str(caught.value) == "policy.max_boards: must be at most 8"


def test_a_group_names_its_board_resource_and_the_functions_learn_the_name() -> None:
    # GIVEN a group whose device plugin advertises its boards under a name of its own
    board = "amd.com/xilinx_vu47p"

    def rename(d: dict[str, Any]) -> None:
        d["node_groups"][0]["board_resource"] = board

    config = parse(edited(rename))
    # THEN its instances carry that many boards of that name (and the CA resources tag)
    group = config.node_groups[0]
    assert group.boards == {board: 1}
    assert autoscaler_tags(group, config.cluster_name)[RESOURCES_PREFIX + board] == "1"
    # AND the functions count pods asking for it as FPGA pods
    loaded = runtime.load({runtime.CONFIG_VAR: config.runtime_json()}, cluster_name="c")
    assert board in loaded.boards


def test_a_board_resource_that_is_no_extended_resource_name_is_refused() -> None:
    def bad(d: dict[str, Any]) -> None:
        d["node_groups"][0]["board_resource"] = "vu47p"

    with pytest.raises(ConfigError) as caught:
        parse(edited(bad))
    assert caught.value.field == "node_groups[0].board_resource"
