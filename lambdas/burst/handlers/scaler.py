"""The scaler function: on EventBridge's tick, reconcile, then (watch mode) watch pending pods,
reconciling on every settled change, until shortly before the next tick is due: measured
from the tick's own time, so no tick waits behind this one (burst.loop.watch.must_end)."""

from __future__ import annotations

from typing import Any

from burst.core.errors import BurstError, EventError
from burst.core.notices.events import Diagnose, ScheduledTick, parse_request
from burst.handlers import runtime
from burst.handlers.diagnose import diagnose
from burst.loop.clock import SystemClock
from burst.loop.config import RuntimeConfig
from burst.loop.reconcile import Shell
from burst.loop.watch import must_end, watch

logger, metrics = runtime.logger, runtime.metrics



def run(event: object, context: runtime.LambdaContext | None, *, cfg: RuntimeConfig | None = None,
        adapters: runtime.Adapters | None = None, clock: Any = None) -> dict[str, Any]:
    """The handler's work; tests and `burst invoke` pass their own config, adapters, clock."""
    try:
        tick = parse_request(event)
        if isinstance(tick, Diagnose):
            return diagnose(tick, cfg, adapters, clock or SystemClock())
        if not isinstance(tick, ScheduledTick):
            kind = type(tick).__name__  # never the event itself: it may carry a token
            raise EventError("detail-type", f"the scaler runs on its schedule, not on {kind}")
    except EventError as exc:
        return {"outcome": runtime.settle(exc, function="scaler")}
    cfg = cfg or runtime.config()
    clock = clock or SystemClock()
    end = must_end(tick.time, clock.monotonic() + runtime.remaining_seconds(context), clock)
    built = adapters
    try:
        built = built or runtime.adapters(cfg)
        runtime.report_credentials(built, clock.wall())
        shell = Shell(built.cluster, built.aws.groups, cfg, logger, metrics, clock=clock,
                      writers=None if cfg.dry_run else built.writers(),
                      prices=built.aws.market,
                      # A local AWS endpoint (moto: `burst demo`, tests) has no EC2 quota
                      # values; asking it would fail, with retries, on every reconcile.
                      quotas=None if cfg.aws_endpoint_url else built.aws.market)
        # A late tick still reconciles once; only its drains and its watch are cut short.
        first = shell.reconcile(stop_at=end - cfg.watch.margin.total_seconds())
        more = (watch(shell, built.watcher, first.pending_version, end, first)
                if cfg.watch.enabled else [])
    except BurstError as exc:
        # A transient error is raised: its tick goes to the failure queue (FailedEvents).
        return {"outcome": runtime.settle(exc, function="scaler", event=tick.id)}
    finally:
        if built is not None and adapters is None:
            built.close()
    return {"outcome": "ok", "event": tick.id, "reconciles": 1 + len(more),
            "first": first.summary(), "watched": [r.summary() for r in more if r.changes]}


handler = runtime.entry(run)
