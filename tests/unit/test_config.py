"""RuntimeConfig: explicit argument, then environment, then default; bad values named."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from burst.core.errors import ConfigError
from burst.core.policy import LAUNCH_HOOK_TIMEOUT, TOKEN_PERIOD
from burst.loop.config import CONFIG_VAR, RuntimeConfig, WatchSettings, load

ENV = {"FPGA_BURST_CLUSTER_NAME": "onprem"}


def env(**config: Any) -> dict[str, str]:
    return {**ENV, CONFIG_VAR: json.dumps(config)}


def test_defaults_apply_when_only_the_cluster_name_is_set() -> None:
    cfg = load(ENV)
    assert cfg.cluster_name == "onprem"
    assert cfg.policy.scale_down_unneeded_time == timedelta(minutes=10)
    assert cfg.policy.expanders == ("priority", "lifetime", "price")
    assert cfg.watch.idle == timedelta(seconds=1)
    assert cfg.watch.max_batch == timedelta(seconds=10)
    assert cfg.dry_run is False
    assert "f1.4xlarge" in cfg.catalog.instance_types


def test_the_document_the_cdk_stack_writes_is_accepted_as_is() -> None:
    # GIVEN exactly what burst/tools/deploy/config.py DeployConfig.runtime_config() produces
    document = {
        "catalog": {"accelerators": {"com.inaccel.xgboost.exact": {
            "xilinx/u250": 4, "xilinx/aws-vu9p-f1": 2}}},
        "policy": {"scale_down_unneeded_time_seconds": 600,
                   "scale_down_delay_after_add_seconds": 300, "max_boards": 16,
                   "max_price_per_hour": 40.0, "expanders": ["priority", "price"],
                   "token_ttl_seconds": 3600},
        "lifecycle": {"launch_timeout_seconds": 900, "terminate_timeout_seconds": 600},
    }
    cfg = load({**ENV, CONFIG_VAR: json.dumps(document),
                "FPGA_BURST_CREDENTIALS_SECRET_ARN": "arn:secret", "AWS_REGION": "us-east-1"})
    assert cfg.policy.max_boards == 16
    assert cfg.policy.max_price_per_hour == 40.0
    assert cfg.policy.scale_down_delay_after_add == timedelta(minutes=5)
    assert cfg.lifecycle.launch_timeout == timedelta(seconds=900)
    assert cfg.token_ttl == timedelta(hours=1)
    assert cfg.credentials_secret == "arn:secret"
    assert cfg.region == "us-east-1"
    assert cfg.catalog.accelerators["com.inaccel.xgboost.exact"]["xilinx/u250"] == 4
    # board resources of accelerators and instance types are all observed
    assert {"xilinx/u250", "xilinx/aws-vu9p-f1"} <= cfg.boards


def test_explicit_arguments_win_over_environment_variables() -> None:
    cfg = load({**ENV, "FPGA_BURST_DRY_RUN": "false"}, cluster_name="other", dry_run=True,
               kubeconfig="/tmp/kc", config={"watch": {"enabled": False}})
    assert cfg.cluster_name == "other"
    assert cfg.dry_run is True
    assert cfg.kubeconfig == Path("/tmp/kc")
    assert cfg.watch.enabled is False


def test_the_configuration_is_frozen() -> None:
    cfg = load(ENV)
    with pytest.raises(AttributeError):
        cfg.cluster_name = "x"  # type: ignore[misc]
    assert isinstance(cfg, RuntimeConfig)


@pytest.mark.parametrize(
    ("config", "field", "problem"),
    [
        pytest.param({"policy": {"max_boards": -1}}, "policy.max_boards", ">= 1", id="negative"),
        pytest.param({"policy": {"max_boards": 1.5}}, "policy.max_boards", "whole",
                     id="fractional-boards"),
        pytest.param({"policy": {"max_boards": "4"}}, "policy.max_boards", "number",
                     id="string-boards"),
        pytest.param({"policy": {"expanders": ["cheapest"]}}, "policy.expanders",
                     "unknown expander", id="unknown-expander"),
        pytest.param({"policy": {"expanders": []}}, "policy.expanders", "at least one",
                     id="empty-chain"),
        pytest.param({"policy": {"max_bords": 4}}, "policy.max_bords",
                     "unknown key; did you mean `max_boards`?",
                     id="typo"),
        pytest.param({"polcy": {}}, "polcy", "unknown key; did you mean `policy`?",
                     id="unknown-section"),
        pytest.param({"catalog": {"accelerators": {"a": {"xilinx/u250": 0}}}},
                     "catalog.accelerators.a.xilinx/u250", "replicas", id="zero-replicas"),
        pytest.param({"lifecycle": {"launch_timeout_seconds": True}},
                     "lifecycle.launch_timeout_seconds", "number", id="bool-seconds"),
        pytest.param({"watch": {"idle_seconds": 20}}, "watch.idle_seconds", "max_batch",
                     id="idle-longer-than-batch"),
        pytest.param({"policy": {"token_ttl_seconds": 0}}, "policy.token_ttl_seconds",
                     "between", id="zero-ttl"),
        pytest.param({"policy": {"expanders": ["price", "price"]}}, "policy.expanders",
                     "twice", id="duplicate-expander"),
        pytest.param({"watch": {"margin_seconds": -1}}, "watch.margin_seconds", ">= 0",
                     id="negative-margin"),
        pytest.param({"lifecycle": {"terminate_timeout_seconds": float("inf")}},
                     "lifecycle.terminate_timeout_seconds", "number", id="infinite-timeout"),
        pytest.param({"lifecycle": {"scheduled_change_lead_seconds": -60}},
                     "lifecycle.scheduled_change_lead_seconds", ">= 0", id="negative-lead"),
    ],
)
def test_a_bad_value_is_a_config_error_naming_the_variable_and_the_field(
    config: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(env(**config))
    assert caught.value.source == CONFIG_VAR
    assert caught.value.field == field
    assert problem in caught.value.problem


def test_null_durations_take_the_defaults() -> None:
    cfg = load(env(watch={"idle_seconds": None}, lifecycle={"launch_timeout_seconds": None}))
    assert cfg.watch.idle == WatchSettings().idle
    assert cfg.lifecycle.launch_timeout == LAUNCH_HOOK_TIMEOUT


def test_a_scheduled_change_is_drained_a_terminate_hooks_timeout_ahead_unless_set() -> None:
    # The default follows the terminate timeout the hooks were created with: one default.
    cfg = load(env(lifecycle={"terminate_timeout_seconds": 900}))
    assert cfg.lifecycle.scheduled_change_lead == timedelta(seconds=900)
    assert load(ENV).lifecycle.scheduled_change_lead == load(ENV).lifecycle.terminate_timeout
    cfg = load(env(lifecycle={"scheduled_change_lead_seconds": 3600}))
    assert cfg.lifecycle.scheduled_change_lead == timedelta(hours=1)


def test_token_overlap_is_a_launch_hook_timeout_plus_a_rotation_period() -> None:
    assert load(ENV).token_overlap == LAUNCH_HOOK_TIMEOUT + TOKEN_PERIOD
    assert load(ENV).token_overlap < load(ENV).token_ttl


def test_config_that_is_not_json_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=f"{CONFIG_VAR}: not JSON"):
        load({**ENV, CONFIG_VAR: "{policy"})


def test_a_missing_cluster_name_is_refused() -> None:
    with pytest.raises(ConfigError, match="FPGA_BURST_CLUSTER_NAME"):
        load({})


def test_a_dry_run_flag_that_is_not_a_boolean_is_refused() -> None:
    with pytest.raises(ConfigError, match="FPGA_BURST_DRY_RUN"):
        load({**ENV, "FPGA_BURST_DRY_RUN": "maybe"})
