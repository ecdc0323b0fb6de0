"""The lifecycle function: an ASG launch/terminate lifecycle action, a failed launch, or a
notice that an instance is going or at risk (Spot interruption warning, rebalance
recommendation, AWS Health scheduled change: burst.loop.notices).

Launch: complete CONTINUE once the node is useful; terminate: cordon, drain, delete the
Node, complete (burst.loop.lifecycle). A failed launch is only logged and counted: the scaler
derives its backoff from the group's scaling activities.

A transient error (throttling, the API server unreachable, 5xx) is counted, logged and
raised, so Lambda retries the event and, past its retries, sends it to the failure queue;
the work is level-triggered, so a retry takes the next step. A permanent one (a bad event,
configuration) is counted, logged and answered.
"""

from __future__ import annotations

from typing import Any

from burst.core.errors import BurstError, EventError
from burst.core.names import Metric
from burst.core.notices.events import (
    LaunchUnsuccessful,
    RebalanceRecommendation,
    RunNow,
    ScheduledChange,
    ScheduledTick,
    SpotInterruption,
    parse_event,
)
from burst.core.scaleup.backoff import error_code
from burst.core.scaleup.launchfail import classify
from burst.handlers import runtime
from burst.loop import lifecycle, notices
from burst.loop.clock import SystemClock
from burst.loop.config import RuntimeConfig

logger, metrics = runtime.logger, runtime.metrics
# Room before the Lambda deadline to delete the Node, complete the action and answer.
MARGIN_SECONDS = 10.0



def run(event: object, context: runtime.LambdaContext | None, *, cfg: RuntimeConfig | None = None,
        adapters: runtime.Adapters | None = None, clock: Any = None) -> dict[str, Any]:
    """The handler's work; tests and `burst invoke` may pass config, adapters and a clock."""
    try:
        action = parse_event(event)
        if isinstance(action, (ScheduledTick, RunNow)):
            raise EventError("detail-type", "the lifecycle function takes ASG events only")
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
                                    cfg.lifecycle.terminate_timeout, stop_at)
        if isinstance(action, (SpotInterruption, RebalanceRecommendation, ScheduledChange)):
            return _notice(notices.handle(action, built.cluster, built.cluster, drainer,
                                               groups), action.id)
        outcome = lifecycle.handle(action, built.cluster, drainer, groups)
    except BurstError as exc:
        return {"outcome": runtime.settle(exc, function="lifecycle", event=action.id,
                                          instance=",".join(action.instance_ids)
                                          if isinstance(action, ScheduledChange)
                                          else action.instance_id)}
    finally:
        if built is not None and adapters is None:
            built.close()
    for name, unit, value in outcome.metrics():
        metrics.add_metric(name=name, unit=unit, value=value)
    logger.info(f"{outcome.transition} {outcome.instance_id}: {outcome.result.value}",
                extra={"decision": outcome.reason, **outcome.summary()})
    return {"outcome": "ok", "event": action.id, **outcome.summary()}


def _notice(outcomes: tuple[notices.NoticeOutcome, ...], event: str) -> dict[str, Any]:
    for o in outcomes:
        logger.info(f"{o.notice} {o.instance_id}: {o.result.value}",
                    extra={"decision": o.reason, **o.summary()})
    summaries = [o.summary() for o in outcomes]
    # One instance (the EC2 notices): its summary at the top level, as for lifecycle actions.
    first = summaries[0] if len(summaries) == 1 else {"instances": summaries}
    return {"outcome": "ok", "event": event, **first}


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
