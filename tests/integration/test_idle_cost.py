"""The cost table's per-invocation figures (burst.tools.idlecost.model.MEASURED) are what
the handlers do when idle: measured here as benchmarks/cpu/idle_cost.py measures them, on
its own control plane and moto_server (a fresh stage: nothing pending, one node group)."""

from __future__ import annotations

import pytest

from burst.core.names import METRICS_NAMESPACE, SERVICE
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
    assert not idle["tokens"].metrics


def test_a_warm_scaler_reads_its_credentials_secret_once(idle: dict[str, Invocations]) -> None:
    assert idle["scaler, poll"].calls["secretsmanager:GetSecretValue"] == 1


def test_the_tokens_function_reads_the_join_parameter_as_the_table_counts(
    idle: dict[str, Invocations],
) -> None:
    runs = idle["tokens"]
    assert runs.calls["ssm:GetParameter"] == MEASURED["tokens"].kms_requests * runs.count


def test_an_idle_tick_logs_about_what_the_table_counts(idle: dict[str, Invocations]) -> None:
    # Bytes vary with timestamps and request ids by a few; a new log line per tick would not.
    poll = idle["scaler, poll"]
    assert poll.log_bytes / poll.count == pytest.approx(MEASURED["scaler"].log_bytes, rel=0.1)
    assert idle["tokens"].log_bytes == MEASURED["tokens"].log_bytes
