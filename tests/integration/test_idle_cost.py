"""The cost table's per-invocation figures (burst.tools.idlecost.model.MEASURED) are what
the handlers do when idle: measured here as benchmarks/cpu/idle_cost.py measures them, on
its own control plane and moto_server (a fresh stage: nothing pending, one node group)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from burst.core.names import METRICS_NAMESPACE, SERVICE
from burst.core.policy import TOKEN_PERIOD
from burst.tools.idlecost.measure import Invocations, measure
from burst.tools.idlecost.model import MEASURED

TICKS = 5


@pytest.fixture(scope="module")
def idle() -> dict[str, Invocations]:
    return measure(TICKS)


def test_an_idle_tick_publishes_only_the_metrics_the_table_bills(
    idle: dict[str, Invocations],
) -> None:
    poll = idle["scaler, poll"]
    assert {name for _, name, _ in poll.metrics} == set(MEASURED["scaler"].metrics)
    # one data point a tick, in one dimension set: one custom metric each
    assert set(poll.metrics.values()) == {TICKS}
    assert {(ns, dims) for ns, _, dims in poll.metrics} == {
        (METRICS_NAMESPACE, (("service", SERVICE),))}


def test_the_tokens_function_publishes_once_an_hour_what_the_table_bills(
    idle: dict[str, Invocations],
) -> None:
    # GIVEN two hours of its 15-minute schedule THEN it rotates once an hour: each hour
    # has a data point, so the metric is billed all month
    runs = idle["tokens"]
    assert {name for _, name, _ in runs.metrics} == set(MEASURED["tokens"].metrics)
    assert set(runs.metrics.values()) == {runs.count * TOKEN_PERIOD / timedelta(hours=1)}


def test_a_warm_scaler_reads_its_credentials_secret_once(idle: dict[str, Invocations]) -> None:
    assert idle["scaler, poll"].calls["secretsmanager:GetSecretValue"] == 1


def test_the_join_parameter_calls_are_the_kms_requests_the_table_counts(
    idle: dict[str, Invocations],
) -> None:
    runs = idle["tokens"]
    secure = runs.calls["ssm:GetParameter"] + runs.calls["ssm:PutParameter"]
    assert secure == MEASURED["tokens"].kms_requests * runs.count


def test_an_idle_tick_logs_about_what_the_table_counts(idle: dict[str, Invocations]) -> None:
    # Bytes vary with timestamps and request ids by a few; a new log line per tick would not.
    for function, invocations in (("scaler", idle["scaler, poll"]), ("tokens", idle["tokens"])):
        per_run = invocations.log_bytes / invocations.count
        assert per_run == pytest.approx(MEASURED[function].log_bytes, rel=0.1), function
