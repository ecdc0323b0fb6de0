"""The lifecycle function: an ASG launch/terminate lifecycle action, a failed launch, or a
notice that an instance is going or at risk (burst.core.notices.kinds: Spot interruption
warning, rebalance recommendation, AWS Health scheduled change; burst.loop.notices).

Launch: complete CONTINUE once the node is useful; terminate: cordon, drain, delete the
Node, complete (burst.loop.lifecycle). A failed launch is only logged and counted: the scaler
derives its backoff from the group's scaling activities.

A transient error (throttling, the API server unreachable, 5xx) is counted, logged and
raised, so Lambda retries the event and, past its retries, sends it to the failure queue;
the work is level-triggered, so a retry takes the next step. A permanent one (a bad event,
configuration) is counted, logged and answered.
"""

from __future__ import annotations

from typing import Any, assert_never

from burst.core.errors import BurstError, EventError
from burst.core.names import Metric
from burst.core.notices.events import (
    Event,
    LaunchLifecycleAction,
    LaunchUnsuccessful,
    RunNow,
    ScheduledTick,
    TerminateLifecycleAction,
    parse_event,
)
from burst.core.notices.kinds import Notice
from burst.core.scaleup.backoff import error_code
from burst.core.scaleup.launchfail import classify
from burst.handlers import runtime
from burst.loop import lifecycle, notices
from burst.loop.clock import SystemClock
from burst.loop.config import RuntimeConfig

logger, metrics = runtime.logger, runtime.metrics
# Room before the Lambda deadline to delete the Node, complete the action and answer.
MARGIN_SECONDS = 10.0

Action = LaunchLifecycleAction | TerminateLifecycleAction | Notice


def run(event: object, context: runtime.LambdaContext | None, *, cfg: RuntimeConfig | None = None,
        adapters: runtime.Adapters | None = None, clock: Any = None) -> dict[str, Any]:
    """The handler's work; tests and `burst invoke` may pass config, adapters and a clock."""
    try:
        action = _action(parse_event(event))
    except EventError as exc:
        return {"outcome": runtime.settle(exc, function="lifecycle")}
    if isinstance(action, LaunchUnsuccessful):
        return _launch_unsuccessful(action)
    cfg, clock = cfg or runtime.config(), clock or SystemClock()
    stop_at = clock.monotonic() + runtime.remaining_seconds(context) - MARGIN_SECONDS
    built = adapters
    try:
        built = built or runtime.adapters(cfg)
        # Which groups are ours is all it needs of them: no backoff, no scaling activities.
        groups = built.aws.groups.discover_node_groups(
            cfg.cluster_name, cfg.catalog.instance_types)
        drainer = lifecycle.Drainer(built.cluster, built.cluster, built.aws.lifecycle, clock,
                                    cfg.lifecycle.terminate_timeout, stop_at,
                                    join_errors=built.aws.lifecycle)
        if isinstance(action, Notice):
            responder = notices.Responder(built.cluster, drainer,
                                          cfg.lifecycle.scheduled_change_lead)
            return _notice(action, notices.handle(action, built.cluster, groups, responder))
        outcome = lifecycle.handle(action, built.cluster, drainer, groups)
    except BurstError as exc:
        instances = action.instance_ids if isinstance(action, Notice) else (action.instance_id,)
        return {"outcome": runtime.settle(exc, function="lifecycle", event=action.id,
                                          instance=",".join(instances))}
    finally:
        if built is not None and adapters is None:
            built.close()
    for name, unit, value in outcome.metrics():
        metrics.add_metric(name=name, unit=unit, value=value)
    logger.info(f"{outcome.transition} {outcome.instance_id}: {outcome.result.value}",
                extra={"decision": outcome.reason, **outcome.summary()})
    return {"outcome": "ok", "event": action.id, **outcome.summary()}


def _action(event: Event) -> Action | LaunchUnsuccessful:
    """The events this function takes; EventError for the scheduled ones."""
    match event:
        case LaunchLifecycleAction() | TerminateLifecycleAction() | Notice():
            return event
        case LaunchUnsuccessful():
            return event
        case ScheduledTick() | RunNow():
            raise EventError("detail-type", "the lifecycle function takes ASG events and "
                                            "instance notices only")
        case _:
            assert_never(event)


def _notice(event: Notice, outcomes: tuple[notices.NoticeOutcome, ...]) -> dict[str, Any]:
    """Log every instance's outcome, then raise the error one of them met, if any."""
    for o in outcomes:
        logger.info(f"{o.notice} {o.instance_id}: {o.result.value}",
                    extra={"decision": o.reason, **o.summary()})
    error = notices.first_error(outcomes)
    if error is not None:
        raise error
    summaries = [o.summary() for o in outcomes]
    # One instance (the EC2 notices): its summary at the top level, as for lifecycle actions.
    first = summaries[0] if len(summaries) == 1 else {"instances": summaries}
    return {"outcome": "ok", "event": event.id, **first}


def _launch_unsuccessful(event: LaunchUnsuccessful) -> dict[str, Any]:
    # The same failure the scaler's backoff reads from the activities; the alarm counts it.
    metrics.add_metric(name=Metric.SCALE_UP_FAILURES, unit="Count", value=1)
    if event.join_failed:
        metrics.add_metric(name=Metric.JOIN_FAILURES, unit="Count", value=1)
    kind = classify(error_code(event.status_message), event.status_message)
    logger.warning(
        f"launch in {event.node_group} failed ({kind}): {event.status_code}",
        extra={"decision": "no action: the scaler backs the group off from its activities",
               "node_group": event.node_group, "status_message": event.status_message,
               "activity": event.activity_id, "kind": kind.value},
    )
    return {"outcome": "ok", "event": event.id, "launchFailed": event.node_group,
            "kind": kind.value}


handler = runtime.entry(run)
