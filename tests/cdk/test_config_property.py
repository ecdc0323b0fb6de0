"""What `cdk synth` accepts, the functions accept: a deployment config that
burst.tools.deploy.config takes yields an environment every function's loader takes, with
the same policy.

The configs come from the demo config with its policy, catalog and sizes redrawn from
values that look plausible but are often wrong (a repeated expander, zero, negative, NaN,
a string for a number, an unknown key), so a rule one side has and the other lacks shows.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any
from unittest import mock

import yaml
from hypothesis import event, find, given, settings
from hypothesis import strategies as st

from burst.core.errors import ConfigError
from burst.core.scaleup.expanders import EXPANDERS
from burst.handlers import runtime
from burst.loop import config as runtime_config
from burst.tools.deploy.config import parse
from burst.tools.deploy.functions import environment

REPO = Path(__file__).resolve().parents[2]
DEMO = yaml.safe_load((REPO / "config" / "fpga-burst.yaml").read_text())
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-0000-4000-8000-000000000000"

weird = st.sampled_from(["10m", "", True, False, [], {}])
numbers = st.integers(-3, 5) | st.integers(-(10**6), 10**6) | st.floats() | weird
seconds = st.integers(-5, 4000) | st.floats(-10, 1e6) | st.floats() | st.none() | weird
expander_names = st.sampled_from([*EXPANDERS, "cheapest", "Price"])
# Field -> (plausible value, value that is often wrong).
POLICY = {
    "expanders": (
        st.permutations(sorted(EXPANDERS)).map(lambda names: names[:2]),
        st.lists(expander_names, max_size=4) | expander_names | st.none(),
    ),
    "max_boards": (st.integers(1, 64) | st.none(), numbers),
    "max_price_per_hour": (st.floats(0.01, 100) | st.none(), numbers),
    "scale_down_unneeded_time_seconds": (st.integers(0, 3600), seconds),
    "scale_down_delay_after_add_seconds": (st.floats(0, 3600), seconds),
    "token_ttl_seconds": (st.integers(1800, 86400), st.sampled_from([1799, 86401]) | numbers),
    # near-misses of real field names
    "scale_down_unneeded_time": (st.nothing(), seconds),
    "max_bords": (st.nothing(), numbers),
}


def mostly(plausible: st.SearchStrategy[Any], wrong: st.SearchStrategy[Any]) -> Any:
    """`plausible`, or one time in six `wrong`."""
    return st.integers(0, 5).flatmap(lambda choice: wrong if choice == 0 else plausible)


replicas = mostly(st.integers(1, 4), st.integers(-1, 0) | st.booleans() | st.floats(0, 4) | weird)
accelerators = st.dictionaries(
    st.sampled_from(["com.inaccel.xgboost.exact", "acme.fft", "x"]),
    mostly(
        st.dictionaries(st.sampled_from(["xilinx/u250", "xilinx/aws-vu9p-f1"]), replicas,
                        min_size=1),
        st.just({}) | st.none() | weird,
    ),
    max_size=3,
)


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    """Each field absent, plausible, or (one time in six) drawn from the often-wrong values."""
    fields: dict[str, Any] = {}
    for key, (plausible, wrong) in POLICY.items():
        choice = draw(st.integers(0, 5))
        if choice == 0:
            fields[key] = draw(wrong)
        elif choice > 2 and not plausible.is_empty:
            fields[key] = draw(plausible)
    return fields


@st.composite
def deploy_docs(draw: st.DrawFn) -> dict[str, Any]:
    doc = copy.deepcopy(DEMO)
    doc["policy"] = draw(mostly(policies() | st.none(), st.just(["price"])))
    doc["catalog"] = draw(st.fixed_dictionaries({}, optional={"accelerators": accelerators}))
    group = doc["node_groups"][0]
    group["max_size"] = draw(mostly(st.integers(1, 5), st.integers(-1, 0)))
    group["priority"] = draw(mostly(st.integers(0, 20), st.just(-1)))
    return doc


def functions_refuse(doc: dict[str, Any]) -> bool:
    """Whether the functions' loader refuses the policy and catalog sections as written."""
    try:
        runtime_config.load({}, cluster_name="c", config={
            "policy": doc["policy"], "catalog": doc["catalog"]})
    except ConfigError:
        return True
    return False


@settings(max_examples=400, deadline=None)
@given(deploy_docs())
def test_a_config_synth_accepts_is_one_every_function_loads(doc: dict[str, Any]) -> None:
    try:
        config = parse(doc)
    except ConfigError as exc:
        event("refused at synth")
        assert "\n" not in str(exc)
        return
    event("accepted")
    # Every handler resolves its config with runtime.config() (once per process) from the
    # environment the stack gives it (the same for all functions but their own secret).
    scaler = environment(config, join_key_arn=KEY_ARN, function="scaler")
    with mock.patch.dict(os.environ, scaler, clear=True):
        runtime.config.cache_clear()
        try:
            loaded = runtime.config()
        finally:
            runtime.config.cache_clear()
    assert loaded.policy == config.policy
    assert loaded.cluster_name == config.cluster_name
    for name, boards in config.accelerators.items():
        assert loaded.catalog.accelerators[name] == boards


def test_the_configs_drawn_include_ones_the_functions_would_refuse() -> None:
    # The property above bites only if the strategy reaches such configs...
    refused = find(deploy_docs(), functions_refuse, settings=settings(database=None))
    assert functions_refuse(refused)
    # ...and is not vacuous: it reaches configs synth accepts too.
    accepted = find(deploy_docs(), _synth_accepts, settings=settings(database=None))
    assert parse(accepted).cluster_name == DEMO["cluster"]["name"]


def _synth_accepts(doc: dict[str, Any]) -> bool:
    try:
        parse(doc)
    except ConfigError:
        return False
    return True
