"""What wakes the functions: EventBridge schedules, and the node groups' lifecycle events.

Events only make a reconcile happen sooner (the loop is level-triggered), so a trigger that
cannot deliver drops its event to the failure queue rather than queueing stale work.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from burst.core.policy import SCALER_PERIOD, TOKEN_PERIOD
from stacks.controller.functions import SCALER, TOKENS

# function name -> how often its schedule runs it
SCHEDULES = {
    SCALER.name: Duration.seconds(SCALER_PERIOD.total_seconds()),
    TOKENS.name: Duration.seconds(TOKEN_PERIOD.total_seconds()),
}
LIFECYCLE_EVENTS = (
    "EC2 Instance-launch Lifecycle Action",
    "EC2 Instance-terminate Lifecycle Action",
    "EC2 Instance Launch Unsuccessful",
)


def schedule(
    scope: Construct, name: str, function: lambda_.IFunction, *, dead_letters: sqs.IQueue
) -> events.Rule:
    """Runs the function `name` every SCHEDULES[name]."""
    every = SCHEDULES[name]
    return events.Rule(
        scope,
        f"{name.capitalize()}Schedule",
        description=f"fpga-burst: run the {name} function every {every.to_human_string()}",
        schedule=events.Schedule.rate(every),
        targets=[
            targets.LambdaFunction(
                function,
                # A missed tick is dropped, not queued: the next one reconciles.
                retry_attempts=0,
                max_event_age=Duration.seconds(max(60, every.to_seconds() // 2)),
                dead_letter_queue=dead_letters,
            )
        ],
    )


def _lifecycle_pattern(asg_names: Sequence[str]) -> events.EventPattern:
    return events.EventPattern(
        source=["aws.autoscaling"],
        detail_type=list(LIFECYCLE_EVENTS),
        detail={"AutoScalingGroupName": list(asg_names)},
    )


def forward_lifecycle_actions(
    scope: Construct, *, asg_names: Sequence[str], home_bus_arn: str
) -> events.Rule:
    """Sends another region's groups' lifecycle actions to the home region's default event
    bus, where `lifecycle_actions` (which names every group) hands them to the function."""
    return events.Rule(
        scope,
        "ForwardLifecycleActions",
        description="fpga-burst: this region's FPGA groups' lifecycle actions, to the home region",
        event_pattern=_lifecycle_pattern(asg_names),
        targets=[
            targets.EventBus(events.EventBus.from_event_bus_arn(scope, "HomeBus", home_bus_arn))
        ],
    )


def lifecycle_actions(
    scope: Construct,
    function: lambda_.IFunction,
    *,
    asg_names: Sequence[str],
    dead_letters: sqs.IQueue,
) -> events.Rule:
    """Sends the managed groups' lifecycle actions and failed launches to `function`."""
    return events.Rule(
        scope,
        "LifecycleActions",
        description="fpga-burst: lifecycle actions and failed launches of the FPGA groups",
        event_pattern=_lifecycle_pattern(asg_names),
        targets=[
            targets.LambdaFunction(
                function,
                # Delivery retries, EventBridge's own: a lifecycle action waits for its hook's
                # timeout, so a late delivery is still worth making.
                retry_attempts=2,
                max_event_age=Duration.minutes(10),
                dead_letter_queue=dead_letters,
            )
        ],
    )
