"""Every failure class the functions detect raises an alarm or has a dashboard graph (with
`alarms.dashboard: true`).

The failure classes are read from where they are detected: burst.handlers.runtime's failure
table (every error class -> metric) and the metrics the lifecycle function and the scaler
emit for a join failure and for the credentials' days left. Issue 12 names the classes a
user must hear about (configuration, 401/403, AWS unreachable, credentials expiring, join
failure): each of those pages, the rest are at least graphed.
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template
from test_names import _dashboard_metrics, _resources

from burst.core.alarms import TOKEN_WARNING, explain
from burst.core.names import METRICS_NAMESPACE, Metric
from burst.handlers import runtime
from burst.tools.deploy.config import DeployConfig

PAGED = (
    Metric.CONFIGURATION_ERRORS,
    Metric.CLUSTER_UNAUTHORIZED,
    Metric.CLUSTER_FORBIDDEN,
    Metric.CLUSTER_UNREACHABLE,
    Metric.AWS_UNAVAILABLE,
    Metric.CREDENTIALS_DAYS_LEFT,
    Metric.JOIN_FAILURES,
)


def _alarms(template: Template) -> dict[str, dict[str, Any]]:
    """metric name -> alarm properties, for the alarms on the functions' own metrics."""
    return {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in _resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == METRICS_NAMESPACE
    }


def test_the_failure_table_sends_401_and_403_to_their_own_metrics() -> None:
    by_class = {kind.__name__: metric for kind, metric, _, _ in runtime._FAILURES}
    assert by_class["KubeUnauthorizedError"] == Metric.CLUSTER_UNAUTHORIZED
    assert by_class["KubeForbiddenError"] == Metric.CLUSTER_FORBIDDEN
    # The table is matched first to last: the subclasses must come before KubeApiError.
    order = [kind.__name__ for kind, _, _, _ in runtime._FAILURES]
    assert order.index("KubeForbiddenError") < order.index("KubeApiError")


@pytest.mark.parametrize(
    "metric", sorted({m for _, m, _, _ in runtime._FAILURES if m}), ids=str
)
def test_every_failure_of_the_table_is_alarmed_or_graphed(
    template: Template, dashboard_template: Template, metric: str
) -> None:
    # graphed when the dashboard is on (alarms.dashboard); a failure that only retries
    # by itself is then seen there, and in the logs either way
    graphed = {m[1] for m in _dashboard_metrics(dashboard_template)}
    assert metric in _alarms(template) or metric in graphed


@pytest.mark.parametrize("metric", PAGED, ids=str)
def test_each_failure_a_user_must_hear_of_raises_an_alarm(
    template: Template, metric: str
) -> None:
    alarm = _alarms(template)[metric]
    assert alarm["AlarmActions"], f"{metric}: the alarm notifies nobody"
    assert alarm["TreatMissingData"] == "notBreaching"


def test_the_credentials_alarm_warns_a_week_ahead(template: Template) -> None:
    alarm = _alarms(template)[Metric.CREDENTIALS_DAYS_LEFT]
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["Threshold"] == TOKEN_WARNING.days == 7
    assert alarm["Statistic"] == "Minimum"


def test_the_failure_alarms_fire_on_the_first_failure(template: Template) -> None:
    for metric in (Metric.CLUSTER_UNAUTHORIZED, Metric.CLUSTER_FORBIDDEN,
                   Metric.CONFIGURATION_ERRORS, Metric.JOIN_FAILURES):
        alarm = _alarms(template)[metric]
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == (
            "GreaterThanOrEqualToThreshold", 1), metric


def test_every_alarm_is_named_so_burst_doctor_explains_it_from_its_entry(
    template: Template, config: DeployConfig,
) -> None:
    """`burst doctor --deployed` finds the alarms by name and explains each from the
    burst.core.alarms entry it was built from: every alarm the stack makes has one."""
    cluster = config.cluster_name
    alarms = _resources(template, "AWS::CloudWatch::Alarm").values()
    assert alarms
    for alarm in alarms:
        props = alarm["Properties"]
        spec = explain(cluster, props["AlarmName"])
        assert spec is not None, props["AlarmName"]
        assert props["AlarmDescription"] == f"fpga-burst: {spec.what}"
        assert props["EvaluationPeriods"] == spec.periods
