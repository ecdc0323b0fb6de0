"""What wakes the functions: EventBridge schedules, the node groups' lifecycle events, and
the notices that an instance is going or at risk (Spot, AWS Health).

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

from burst.core.notices.events import LIFECYCLE_EVENTS
from burst.core.notices.kinds import NOTICES, NoticeType
from burst.core.policy import SCALER_PERIOD, TOKEN_PERIOD
from stacks.controller.functions import SCALER, TOKENS

# function name -> how often its schedule runs it
SCHEDULES = {
    SCALER.name: Duration.seconds(SCALER_PERIOD.total_seconds()),
    TOKENS.name: Duration.seconds(TOKEN_PERIOD.total_seconds()),
}


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
    scope: Construct, *, asg_names: Sequence[str], home_bus: events.IEventBus
) -> events.Rule:
    """Sends another region's groups' lifecycle actions to the home region's default event
    bus, where `lifecycle_actions` (which names every group) hands them to the function."""
    return events.Rule(
        scope,
        "ForwardLifecycleActions",
        description="fpga-burst: this region's FPGA groups' lifecycle actions, to the home region",
        event_pattern=_lifecycle_pattern(asg_names),
        targets=[targets.EventBus(home_bus)],
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


def _notice_target(function: lambda_.IFunction, dead_letters: sqs.IQueue) -> targets.LambdaFunction:
    # A Spot warning is worth nothing after its two minutes; a Health scheduled change is
    # announced days ahead and EventBridge's own retries within ten minutes are plenty.
    return targets.LambdaFunction(
        function, retry_attempts=2, max_event_age=Duration.minutes(10),
        dead_letter_queue=dead_letters,
    )


def instance_notices(
    scope: Construct, function: lambda_.IFunction, *, dead_letters: sqs.IQueue
) -> tuple[events.Rule, ...]:
    """Sends the notices that an instance is going or at risk to `function`: one rule per
    `rule` of burst.core.notices.kinds.NOTICES, with the entries' patterns (as AWS documents
    them: EC2 User Guide, "Spot Instance interruption notices", "EC2 instance rebalance
    recommendations"; AWS Health User Guide, "Monitoring events in AWS Health with Amazon
    EventBridge"). They name only the instance, not its group: the lifecycle function keeps
    those of the managed groups (burst.loop.notices) and logs why it ignores the rest.
    Health events reach a rule in the region they concern, which is this stack's.
    """
    return tuple(
        events.Rule(scope, name, description=f"fpga-burst: {what}", event_pattern=pattern,
                    targets=[_notice_target(function, dead_letters)])
        for name, what, pattern in _notices()
    )


def _notices() -> tuple[tuple[str, str, events.EventPattern], ...]:
    """(rule id, what it carries, pattern) of each instance-notice rule, from the table."""
    rules: dict[str, list[NoticeType]] = {}
    for entry in NOTICES.values():
        rules.setdefault(entry.rule, []).append(entry)
    return tuple((name, ", ".join(e.detail_type for e in kinds), _pattern(kinds))
                 for name, kinds in rules.items())


def _pattern(kinds: list[NoticeType]) -> events.EventPattern:
    first = kinds[0]  # the kinds of one rule share source and detail (a test checks)
    detail = {key: list(values) for key, values in first.detail.items()}
    return events.EventPattern(source=[first.source],
                               detail_type=[e.detail_type for e in kinds],
                               detail=detail or None)


def forward_instance_notices(scope: Construct, *, home_bus: events.IEventBus) -> None:
    """Sends another region's instance notices (interruption warnings, rebalance
    recommendations, Health scheduled changes) to the home region's bus, where
    `instance_notices` hands them to the function; it ignores instances not in a group."""
    for name, _, pattern in _notices():
        events.Rule(
            scope, f"Forward{name}",
            description="fpga-burst: this region's instance notices, to the home region",
            event_pattern=pattern, targets=[targets.EventBus(home_bus)],
        )
