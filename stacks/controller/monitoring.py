"""Alarms and a dashboard: the controller says so loudly when it cannot do its job.

The functions publish their metrics (burst.core.names.Metric) through Powertools Metrics
(EMF in the logs), in METRICS_NAMESPACE with Powertools' `service` dimension; the alarms
here select exactly that, by the same names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from burst.core.alarms import (
    FAILED_EVENTS,
    HANDLER_ALARMS,
    Alarm,
    alarm_name,
    every_alarm,
    function_errors,
)
from burst.core.names import METRICS_NAMESPACE, SERVICE, Metric
from stacks import checkov
from stacks.nag import acknowledge

# The alarms on the functions' metrics: burst.core.alarms holds each one's meaning, cause
# and what to read, which `burst doctor --deployed` explains an alarm in ALARM with.
HANDLER_METRICS = HANDLER_ALARMS


def alarm_names(functions: Iterable[str]) -> tuple[str, ...]:
    """Every alarm the stack makes, by its id (README, "Troubleshooting", has one entry each)."""
    return tuple(a.id for a in every_alarm(functions))


# Failures that retry on their own, graphed beside the alarmed ones.
FAILURE_GRAPHS = (
    Metric.CLUSTER_THROTTLED, Metric.CLUSTER_API_ERRORS, Metric.AWS_THROTTLED,
    Metric.AWS_ERRORS, Metric.BAD_EVENTS,
)


def handler_metric(
    name: str, period: Duration | None = None, statistic: str = cloudwatch.Stats.SUM
) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE},
        statistic=statistic,
        period=period or Duration.minutes(1),
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster_name: str,
        functions: Mapping[str, lambda_.Function],
        failures: sqs.Queue,
        alarm_email: str | None,
        dashboard: bool,
    ) -> None:
        super().__init__(scope, id)
        # No key of its own: CloudWatch cannot publish to a topic under the AWS-managed SNS
        # key, so encrypting it took a customer key ($1 a month, more after each yearly
        # rotation; README, "What it costs at rest") with CloudWatch in its policy, to
        # protect alarm notices that hold no secret: an alarm's name, description, state
        # and the metric's value. SNS keeps a message only until it is delivered, over TLS
        # (enforce_ssl).
        self.topic = sns.Topic(
            self,
            "Alarms",
            display_name=f"fpga-burst {cluster_name} alarms",
            enforce_ssl=True,
        )
        why = ("The alarm topic carries alarm notices only (names, descriptions, states, metric "
               "values; no secret), which SNS holds until delivery over TLS; a customer key "
               "with CloudWatch in its policy cost more than it protects (README, 'What it "
               "costs at rest').")
        acknowledge(self.topic, "AwsSolutions-SNS2", why)
        checkov.skip(self.topic, "CKV_AWS_26", why)
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        action = cw_actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []
        self.cluster_name = cluster_name
        for name, fn in functions.items():
            # A transient failure (throttling, a VPN blip) is raised to Lambda, which
            # retries it, so one error is no news; a function failing for 15 minutes is.
            # An event that failed every retry is FailedEvents' to report.
            spec = function_errors(name)
            self._alarm(spec, fn.metric_errors(period=_period(spec), statistic=spec.statistic),
                        action)
        for metric, spec in HANDLER_ALARMS.items():
            self._alarm(spec, handler_metric(metric, _period(spec), spec.statistic), action)
        self._alarm(
            FAILED_EVENTS,
            failures.metric_approximate_number_of_messages_visible(period=_period(FAILED_EVENTS)),
            action,
        )
        self.dashboard = self._dashboard(cluster_name, functions, failures) if dashboard else None

    def _alarm(self, spec: Alarm, metric: cloudwatch.IMetric,
               action: cloudwatch.IAlarmAction) -> None:
        operator = cloudwatch.ComparisonOperator
        alarm = cloudwatch.Alarm(
            self,
            spec.id,
            # Named, so `burst doctor --deployed` finds it and explains it from `spec`.
            alarm_name=alarm_name(self.cluster_name, spec.id),
            alarm_description=f"fpga-burst: {spec.what}",
            metric=metric,
            threshold=spec.threshold,
            comparison_operator=(
                operator.LESS_THAN_THRESHOLD if spec.below
                else operator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
            ),
            evaluation_periods=spec.periods,
            # No data means nothing happened: failure metrics are only emitted on a failure,
            # and a scaler that stops ticking is the function-error alarms' to report.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(action)
        self.alarms.append(alarm)

    def _dashboard(
        self, cluster_name: str, functions: Mapping[str, lambda_.Function], failures: sqs.Queue
    ) -> cloudwatch.Dashboard:
        five = Duration.minutes(5)
        dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"fpga-burst-{cluster_name}"
        )
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24)
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Controller health",
                left=[
                    handler_metric(m, five) for m, a in HANDLER_ALARMS.items() if not a.below
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Failed events",
                left=[failures.metric_approximate_number_of_messages_visible(period=five)],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Retried failures (throttles, API errors, bad events)",
                left=[handler_metric(m, five) for m in FAILURE_GRAPHS],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Controller credentials: days left",
                left=[
                    handler_metric(Metric.CREDENTIALS_DAYS_LEFT, Duration.hours(1),
                                   cloudwatch.Stats.MINIMUM)
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Errors and throttles",
                left=[
                    fn.metric_errors(period=five, label=f"{n} errors")
                    for n, fn in functions.items()
                ],
                right=[
                    fn.metric_throttles(period=five, label=f"{n} throttles")
                    for n, fn in functions.items()
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Duration (p90)",
                left=[
                    fn.metric_duration(period=five, statistic="p90", label=n)
                    for n, fn in functions.items()
                ],
                width=12,
            ),
        )
        return dashboard


def _period(spec: Alarm) -> Duration:
    return Duration.minutes(spec.period_minutes)
