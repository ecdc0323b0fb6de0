"""Alarms and a dashboard: the controller says so loudly when it cannot do its job.

The functions publish their metrics (burst.core.names.Metric) through Powertools Metrics
(EMF in the logs), in METRICS_NAMESPACE with Powertools' `service` dimension; the alarms
here select exactly that, by the same names.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from burst.core.names import METRICS_NAMESPACE, SERVICE, Metric

# metric name -> (minutes it must persist before alarming, what it means)
HANDLER_METRICS = {
    # A VPN blip should not page anyone; three minutes without the API server should.
    Metric.CLUSTER_UNREACHABLE: (3, "the API server cannot be reached over the VPN"),
    Metric.SCALE_UP_FAILURES: (1, "a node group failed to grow (capacity, quota, launch error)"),
    Metric.DRAINS_OVER_DEADLINE: (
        1, "a node drain passed its deadline; the terminate hook went on"
    ),
}


def handler_metric(name: str, period: Duration | None = None) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE},
        statistic=cloudwatch.Stats.SUM,
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
    ) -> None:
        super().__init__(scope, id)
        # CloudWatch can only publish to an encrypted topic whose key lets it: a key of our
        # own, since the AWS-managed SNS key's policy cannot be changed.
        key = kms.Key(
            self,
            "AlarmKey",
            description=f"fpga-burst {cluster_name}: alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],  # in a key policy, "*" is this key
            )
        )
        self.topic = sns.Topic(
            self,
            "Alarms",
            display_name=f"fpga-burst {cluster_name} alarms",
            master_key=key,
            enforce_ssl=True,
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        action = cw_actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []
        for name, fn in functions.items():
            self._alarm(
                f"{name.capitalize()}Errors",
                fn.metric_errors(period=Duration.minutes(5), statistic=cloudwatch.Stats.SUM),
                periods=1,
                what=f"the {name} function failed",
                action=action,
            )
        for metric, (minutes, what) in HANDLER_METRICS.items():
            self._alarm(metric, handler_metric(metric), periods=minutes, what=what, action=action)
        self._alarm(
            "FailedEvents",
            failures.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
            periods=1,
            what="events were dropped to the failure queue",
            action=action,
        )
        self.dashboard = self._dashboard(cluster_name, functions, failures)

    def _alarm(
        self,
        id: str,
        metric: cloudwatch.IMetric,
        *,
        periods: int,
        what: str,
        action: cloudwatch.IAlarmAction,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            id,
            alarm_description=f"fpga-burst: {what}",
            metric=metric,
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=periods,
            # No data means nothing happened: metrics are only emitted when something fails.
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
                left=[handler_metric(m, five) for m in HANDLER_METRICS],
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
