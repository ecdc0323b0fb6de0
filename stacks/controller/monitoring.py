"""Alarms and a dashboard: the controller says so loudly when it cannot do its job.

The functions publish their metrics (burst.core.names.Metric) through Powertools Metrics
(EMF in the logs), in METRICS_NAMESPACE with Powertools' `service` dimension; the alarms
here select exactly that, by the same names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from burst.core.names import METRICS_NAMESPACE, SERVICE, Metric
from burst.loop.doctor import TOKEN_WARNING
from stacks.keys import own_key


@dataclass(frozen=True)
class Watch:
    """An alarm on one of the functions' metrics: it fires at `threshold` for `periods`."""

    what: str
    periods: int = 1  # consecutive minutes (or `period`s) before it alarms
    threshold: float = 1
    below: bool = False  # alarm when the metric falls under the threshold, not reaches it
    statistic: str = cloudwatch.Stats.SUM
    period: Duration = field(default_factory=lambda: Duration.minutes(1))


# Every failure class the functions detect (burst.handlers.runtime's failure table, the
# lifecycle function), with what it means. Throttling and other API errors are graphed on
# the dashboard (FAILURE_GRAPHS) rather than paged: the next tick retries them.
HANDLER_METRICS = {
    # A VPN blip should not page anyone; three minutes without the API server should.
    Metric.CLUSTER_UNREACHABLE: Watch("the API server cannot be reached over the VPN", 3),
    Metric.CLUSTER_UNAUTHORIZED: Watch(
        "the API server rejects the controller's token (401): run burst credentials"),
    Metric.CLUSTER_FORBIDDEN: Watch(
        "RBAC denies the controller (403): apply manifests/rbac.yaml"),
    Metric.CONFIGURATION_ERRORS: Watch(
        "a function's settings or the credentials secret are invalid: run burst doctor"),
    # A single 5xx is noise; subnets without a route to AWS fail every tick.
    Metric.AWS_UNAVAILABLE: Watch(
        "AWS's APIs cannot be reached from the functions' subnets (NAT or endpoints)", 3),
    Metric.CREDENTIALS_DAYS_LEFT: Watch(
        f"the controller's token expires within {TOKEN_WARNING.days} days: run burst "
        "credentials", threshold=TOKEN_WARNING.days, below=True, statistic=cloudwatch.Stats.MINIMUM,
        period=Duration.hours(1)),
    Metric.JOIN_FAILURES: Watch(
        "a launched node never joined: its launch hook was abandoned (README, why a node "
        "did not join)"),
    Metric.SCALE_UP_FAILURES: Watch("a node group failed to grow (capacity, quota, launch error)"),
    Metric.DRAINS_OVER_DEADLINE: Watch(
        "a node drain passed its deadline; the terminate hook went on"),
}
# Failures that retry on their own, graphed beside the alarmed ones.
FAILURE_GRAPHS = (
    Metric.CLUSTER_THROTTLED, Metric.CLUSTER_API_ERRORS, Metric.AWS_THROTTLED,
    Metric.AWS_ERRORS, Metric.BAD_EVENTS,
)


FAILED_EVENTS = "FailedEvents"  # the alarm on the failure queue


def errors_alarm(function: str) -> str:
    """The name of the alarm on `function`'s Lambda errors, e.g. ScalerErrors."""
    return f"{function.capitalize()}Errors"


def alarm_names(functions: Iterable[str]) -> tuple[str, ...]:
    """Every alarm the stack makes, by name (README, "Troubleshooting", has one entry each)."""
    return (*(errors_alarm(f) for f in functions), *HANDLER_METRICS, FAILED_EVENTS)


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
    ) -> None:
        super().__init__(scope, id)
        # CloudWatch can only publish to an encrypted topic whose key lets it: a key of our
        # own, since the AWS-managed SNS key's policy cannot be changed.
        key = own_key(self, "AlarmKey", description=f"fpga-burst {cluster_name}: alarm topic")
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
            # A transient failure (throttling, a VPN blip) is raised to Lambda, which
            # retries it, so one error is no news; a function failing for 15 minutes is.
            # An event that failed every retry is FailedEvents' to report.
            self._alarm(
                errors_alarm(name),
                fn.metric_errors(period=Duration.minutes(5), statistic=cloudwatch.Stats.SUM),
                periods=3,
                what=f"the {name} function kept failing for 15 minutes",
                action=action,
            )
        for metric, watch in HANDLER_METRICS.items():
            self._alarm(
                metric,
                handler_metric(metric, watch.period, watch.statistic),
                periods=watch.periods,
                what=watch.what,
                action=action,
                threshold=watch.threshold,
                below=watch.below,
            )
        self._alarm(
            FAILED_EVENTS,
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
        threshold: float = 1,
        below: bool = False,
    ) -> None:
        operator = cloudwatch.ComparisonOperator
        alarm = cloudwatch.Alarm(
            self,
            id,
            alarm_description=f"fpga-burst: {what}",
            metric=metric,
            threshold=threshold,
            comparison_operator=(
                operator.LESS_THAN_THRESHOLD if below
                else operator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
            ),
            evaluation_periods=periods,
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
                    handler_metric(m, five) for m, w in HANDLER_METRICS.items() if not w.below
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
