"""The tokens function: keep a valid kubeadm bootstrap token published (burst.loop.rotation).

On its schedule, or at once when invoked with an empty event (`{}`: RunNow, e.g. to publish
the first join data right after a deploy): rotate the token before it expires, publish the
join data (endpoint, token, CA cert hashes, expiration) to the SecureString parameter, copy it
to the same parameter in every other region where node groups live (burst.loop.replicate),
delete our expired tokens. The token is never logged and never in the returned summary.
"""

from __future__ import annotations

from typing import Any

from burst.adapters.kube import identity
from burst.core import joinhash
from burst.core.errors import BurstError, ConfigError, EventError
from burst.core.names import Metric
from burst.core.notices.events import RunNow, ScheduledTick, parse_event
from burst.handlers import runtime
from burst.loop import replicate, rotation
from burst.loop.clock import SystemClock
from burst.loop.config import RuntimeConfig

metrics = runtime.metrics



def run(event: object, context: runtime.LambdaContext | None, *, cfg: RuntimeConfig | None = None,
        adapters: runtime.Adapters | None = None, clock: Any = None) -> dict[str, Any]:
    """The handler's work; tests and `burst invoke` may pass config, adapters and a clock."""
    try:
        tick = parse_event(event)
        if not isinstance(tick, (ScheduledTick, RunNow)):
            raise EventError("detail-type",
                             "the tokens function runs on its schedule, or now on {}")
    except EventError as exc:
        return {"outcome": runtime.settle(exc, function="tokens")}
    cfg, clock = cfg or runtime.config(), clock or SystemClock()
    built = adapters
    try:
        target = _target_check(cfg)
        built = built or runtime.adapters(cfg)
        kube = built.cluster.kube
        ca = identity.ca_pem(kube, "the cluster connection")
        report = rotation.rotate(
            built.cluster, built.aws.joins,
            rotation.Target(target[0], target[1],
                            rotation.join_endpoint(cfg.api_endpoint or kube.endpoint),
                            joinhash.discovery_hashes(ca.encode())),
            clock.wall(), rotation.RotationPolicy(cfg.token_ttl, cfg.token_overlap),
        )
        regions = replicate.replicate(built.aws.joins, target[0], {
            region: replicate.Region(built.aws.joins_in(region), key)
            for region, key in cfg.regions.items()
        })
    except (BurstError, ValueError) as exc:
        failure = exc if isinstance(exc, BurstError) else ConfigError("cluster CA", "", str(exc))
        return {"outcome": runtime.settle(failure, function="tokens", event=tick.id)}
    finally:
        if built is not None and adapters is None:
            built.close()
    if report.created:
        metrics.add_metric(name=Metric.TOKENS_ROTATED, unit="Count", value=1)
    summary = {"outcome": "ok", "event": tick.id, **report.summary()}
    return {**summary, "regions": regions} if regions else summary


def _target_check(cfg: RuntimeConfig) -> tuple[str, str]:
    if not cfg.join_parameter:
        raise ConfigError("FPGA_BURST_JOIN_PARAMETER", "", "must name the SSM parameter")
    if not cfg.join_key_id:
        raise ConfigError("FPGA_BURST_JOIN_KEY_ID", "", "must name the KMS key")
    return cfg.join_parameter, cfg.join_key_id


handler = runtime.entry(run)
