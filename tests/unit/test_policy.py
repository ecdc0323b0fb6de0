"""The one policy parser: every place a policy is written reads it the same way."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from burst.core.errors import ConfigError
from burst.core.model import Policy, ScaleDown
from burst.core.policy import (
    FIELDS,
    LAUNCH_HOOK_TIMEOUT,
    MIN_TOKEN_TTL,
    TOKEN_PERIOD,
    parse_policy,
    policy_document,
)
from burst.core.scaleup.expanders import EXPANDERS
from burst.tools import scenario
from burst.tools.sim.run import policy_from_spec as parse_spec


def test_no_fields_is_the_default_policy() -> None:
    assert parse_policy(None, "src") == Policy()
    assert parse_policy({}, "src") == Policy()


def test_every_field_is_read_into_the_policy() -> None:
    policy = parse_policy(
        {
            "max_boards": 8,
            "max_price_per_hour": 12,
            "expanders": ["least-waste", "price"],
            "scale_down_unneeded_time_seconds": 90,
            "scale_down_delay_after_add_seconds": 0.5,
            "token_ttl_seconds": 7200,
            "scale_down": "fixed",
            "boot_estimate_seconds": 420,
            "max_idle_time_seconds": 600,
            "arrival_window_seconds": 3600,
        },
        "src",
    )
    assert policy == Policy(
        max_boards=8,
        max_price_per_hour=12.0,
        expanders=("least-waste", "price"),
        scale_down_unneeded_time=timedelta(seconds=90),
        scale_down_delay_after_add=timedelta(milliseconds=500),
        token_ttl=timedelta(hours=2),
        scale_down=ScaleDown.FIXED,
        boot_estimate=timedelta(minutes=7),
        max_idle_time=timedelta(minutes=10),
        arrival_window=timedelta(hours=1),
    )


def test_null_limits_mean_no_limit_and_other_nulls_keep_the_base() -> None:
    base = Policy(max_boards=4, max_price_per_hour=3.0, token_ttl=timedelta(hours=2))
    policy = parse_policy(
        {"max_boards": None, "max_price_per_hour": None, "token_ttl_seconds": None}, "s", base=base
    )
    assert (policy.max_boards, policy.max_price_per_hour) == (None, None)
    assert policy.token_ttl == timedelta(hours=2)


def test_the_shortest_token_ttl_outlives_a_rotation_period_and_a_launch_hook() -> None:
    assert MIN_TOKEN_TTL == TOKEN_PERIOD + LAUNCH_HOOK_TIMEOUT
    low = int(MIN_TOKEN_TTL.total_seconds())
    assert parse_policy({"token_ttl_seconds": low}, "s").token_ttl == MIN_TOKEN_TTL
    with pytest.raises(ConfigError, match=f"between {low} and 86400, got {low - 1}"):
        parse_policy({"token_ttl_seconds": low - 1}, "s")


@pytest.mark.parametrize(
    ("fields", "field", "problem"),
    [
        pytest.param({"expanders": ["price", "price"]}, "policy.expanders",
                     "names an expander twice", id="duplicate-expander"),
        pytest.param({"expanders": ["cheapest"]}, "policy.expanders",
                     "unknown expander 'cheapest'", id="unknown-expander"),
        pytest.param({"expanders": []}, "policy.expanders", "at least one", id="empty-chain"),
        pytest.param({"expanders": "price"}, "policy.expanders", "must be a list",
                     id="chain-not-a-list"),
        pytest.param({"expanders": ["price", 3]}, "policy.expanders", "must be a list",
                     id="chain-of-non-names"),
        pytest.param({"max_boards": 0}, "policy.max_boards", "must be >= 1", id="zero-boards"),
        pytest.param({"max_boards": 1.5}, "policy.max_boards", "whole number",
                     id="fractional-boards"),
        pytest.param({"max_boards": "4"}, "policy.max_boards", "must be a number",
                     id="string-boards"),
        pytest.param({"max_boards": True}, "policy.max_boards", "must be a number",
                     id="bool-boards"),
        pytest.param({"max_price_per_hour": 0}, "policy.max_price_per_hour", "positive",
                     id="zero-price"),
        pytest.param({"max_price_per_hour": float("nan")}, "policy.max_price_per_hour",
                     "must be a number", id="nan-price"),
        pytest.param({"scale_down_unneeded_time_seconds": -1},
                     "policy.scale_down_unneeded_time_seconds", "must be >= 0, got -1",
                     id="negative-unneeded"),
        pytest.param({"scale_down_delay_after_add_seconds": float("inf")},
                     "policy.scale_down_delay_after_add_seconds", "must be a number",
                     id="infinite-delay"),
        pytest.param({"scale_down_delay_after_add_seconds": 1e300},
                     "policy.scale_down_delay_after_add_seconds", "at most", id="huge-delay"),
        pytest.param({"token_ttl_seconds": 0}, "policy.token_ttl_seconds", "between",
                     id="zero-ttl"),
        pytest.param({"token_ttl_seconds": 3600.5}, "policy.token_ttl_seconds", "whole number",
                     id="fractional-ttl"),
        pytest.param({"scale_down": "lazy"}, "policy.scale_down", "must be one of adaptive, fixed",
                     id="unknown-scale-down"),
        pytest.param({"arrival_window_seconds": 0}, "policy.arrival_window_seconds",
                     "must be more than 0", id="no-arrival-window"),
        pytest.param({"boot_estimate_seconds": -5}, "policy.boot_estimate_seconds", ">= 0",
                     id="negative-boot"),
        pytest.param({"max_bords": 4}, "policy.max_bords",
                     "unknown key; did you mean `max_boards`?", id="typo"),
        pytest.param({1: 4}, "policy.1", "unknown key (known: ", id="non-string-key"),
    ],
)
def test_a_bad_field_is_one_config_error_naming_source_and_field(
    fields: dict[Any, Any], field: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_policy(fields, "deploy.yaml")
    assert (caught.value.source, caught.value.field) == ("deploy.yaml", field)
    assert problem in caught.value.problem
    assert str(caught.value) == f"deploy.yaml: {field}: {caught.value.problem}"


def test_a_policy_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(ConfigError, match="src: policy: must be a mapping, got list"):
        parse_policy(["price"], "src")


def test_an_error_without_source_is_field_and_problem_only() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_policy({"max_boards": 0}, "")
    assert str(caught.value) == "policy.max_boards: must be >= 1 (or null for no limit), got 0"


seconds = st.one_of(st.integers(0, 86400), st.floats(0, 86400, allow_nan=False))
policies = st.builds(
    Policy,
    max_boards=st.none() | st.integers(1, 10_000),
    max_price_per_hour=st.none() | st.floats(0.01, 1e6),
    expanders=st.permutations(sorted(EXPANDERS)).flatmap(
        lambda names: st.integers(1, len(names)).map(lambda n: tuple(names[:n]))
    ),
    scale_down_unneeded_time=seconds.map(lambda s: timedelta(seconds=s)),
    scale_down_delay_after_add=seconds.map(lambda s: timedelta(seconds=s)),
    token_ttl=st.integers(int(MIN_TOKEN_TTL.total_seconds()), 86400).map(
        lambda s: timedelta(seconds=s)
    ),
)


@settings(max_examples=300, deadline=None)
@given(policies)
def test_the_document_of_a_policy_parses_back_to_it(policy: Policy) -> None:
    document = policy_document(policy)
    assert set(document) == set(FIELDS)
    assert parse_policy(document, "src") == policy


@pytest.mark.parametrize(
    ("spec", "fields"),
    [
        # A timer is Cluster Autoscaler's rule: it comes with fixed scale-down.
        ("unneeded=2m", {"scale_down": "fixed", "scale_down_unneeded_time_seconds": 120}),
        ("scale-down=adaptive", {"scale_down": "adaptive"}),
        ("delay=90s,max_boards=8", {"scale_down_delay_after_add_seconds": 90, "max_boards": 8}),
        ("expanders=price+least-waste", {"expanders": ["price", "least-waste"]}),
        ("max_price=2.5, unneeded=1h", {"max_price_per_hour": 2.5, "scale_down": "fixed",
                                        "scale_down_unneeded_time_seconds": 3600}),
    ],
)
def test_a_simulator_spec_is_the_same_fields_over_the_base(
    spec: str, fields: dict[str, Any]
) -> None:
    base = Policy(max_boards=3)
    assert parse_spec(spec, base) == parse_policy(fields, "src", base=base)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("expanders=price+price", "--policy expanders=price+price: expanders: names an "
                                  "expander twice"),
        ("max_boards=0", "--policy max_boards=0: max_boards: must be >= 1"),
        ("delay=1e300", "--policy delay=1e300: scale_down_delay_after_add_seconds: must be at "
                        "most"),
        ("max_price=nan", "--policy max_price=nan: max_price_per_hour: must be a number"),
        ("unneeded=soon", "--policy: unneeded=soon: 'soon' is not a duration"),
        ("colour=red", "--policy: colour=red: unknown key 'colour'"),
        ("x", "--policy: x: 'x' is not key=value"),
    ],
)
def test_a_bad_simulator_spec_is_one_line_naming_it(spec: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_spec(spec, Policy())
    assert str(caught.value).startswith(problem)


def test_a_scenario_policy_is_read_by_the_same_parser(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("policy:\n  expanders: [price]\n  scale_down: fixed\n"
                    "  scale_down_unneeded_time_seconds: 30\n")
    assert scenario.load(path).policy == parse_policy(
        {"expanders": ["price"], "scale_down": "fixed", "scale_down_unneeded_time_seconds": 30},
        "src",
    )
    path.write_text("policy:\n  expanders: [price, price]\n")
    with pytest.raises(ConfigError) as caught:
        scenario.load(path)
    assert (caught.value.source, caught.value.field) == (str(path), "policy.expanders")
