"""What every handler shares: Powertools logger/metrics/tracer, config, adapters, failures.

One Logger, Metrics and Tracer per process (service and namespace from
POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE). `config()` is resolved once per
process; `adapters(config)` builds the AWS adapters (one per concern, over shared clients)
and the Kubernetes ones for one invocation;
`failed(exc)` turns an error into the metric the alarms watch and one log line, and
`settle(exc)` also re-raises a transient one, so that Lambda retries the event.

Secrets never reach a log line: ClusterCredentials and JoinData hide their tokens in repr,
and nothing here formats a token.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from burst.adapters.aws.adapter import Aws
from burst.adapters.aws.session import AwsSettings
from burst.adapters.kube import client as kube_client
from burst.adapters.kube.adapter import KubeCluster
from burst.adapters.kube.watch import PendingWatch
from burst.core import jwt, names
from burst.core.errors import (
    AwsError,
    AwsThrottledError,
    AwsUnavailableError,
    BurstError,
    ClusterCredentialsError,
    ClusterUnreachableError,
    ConfigError,
    EventError,
    KubeApiError,
    KubeForbiddenError,
    KubeThrottledError,
    KubeUnauthorizedError,
    TransientError,
)
from burst.core.names import Metric
from burst.loop import config as config_mod
from burst.loop.act import Writers
from burst.loop.config import RuntimeConfig
from burst.ports.aws import ClusterCredentials
from burst.ports.cluster import PendingWatcher

# The stack sets both variables from burst.core.names; the defaults serve local runs.
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", names.SERVICE)
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", names.METRICS_NAMESPACE)

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
# Lambda tracing is off in the stack (X-Ray costs per trace); the Tracer still records
# subsegments when an operator turns it on, and is a no-op otherwise.
tracer = Tracer(service=SERVICE, disabled=os.environ.get("POWERTOOLS_TRACE_DISABLED") != "false")


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


@dataclass
class Adapters:
    """One invocation's connections. Close when done (the Kubernetes client holds a pool)."""

    aws: Aws
    cluster: KubeCluster
    watcher: PendingWatcher
    token: str | None = field(default=None, repr=False)  # the secret's, for its expiry

    def writers(self) -> Writers:
        """What the scaler changes when it is not a dry run."""
        cluster = self.cluster
        return Writers(capacity=self.aws.capacity, actions=self.aws.lifecycle,
                       nodes=cluster, drains=cluster, teller=cluster)

    def close(self) -> None:
        self.cluster.kube.close()


@functools.cache
def config() -> RuntimeConfig:
    """This process's configuration, from the environment, resolved once."""
    return config_mod.load()


# How long a warm execution environment reuses the credentials secret it read. Lambda keeps
# one between ticks, so the scaler read the secret every minute: 43,800 GetSecretValue calls
# a month for a value `burst credentials` changes every few weeks. A token the API server
# rejects (401) drops the copy at once, so the next invocation reads the secret again.
CREDENTIALS_TTL_SECONDS = 15 * 60
_credentials: dict[str, tuple[float, ClusterCredentials]] = {}  # secret -> (read at, value)


def cluster_credentials(aws_adapter: Aws, secret: str,
                        now: float | None = None) -> ClusterCredentials:
    """The secret's credentials: this environment's copy if read within the TTL, else read
    now (the adapter's errors, uncached). `now`: monotonic seconds (default: the clock's)."""
    now = time.monotonic() if now is None else now
    kept = _credentials.get(secret)
    if kept is not None and now - kept[0] < CREDENTIALS_TTL_SECONDS:
        return kept[1]
    credentials = aws_adapter.secrets.read_cluster_credentials(secret)
    _credentials[secret] = (now, credentials)
    return credentials


def forget_credentials() -> None:
    """Drops the copies: the next invocation reads each secret again."""
    _credentials.clear()


def aws(cfg: RuntimeConfig) -> Aws:
    return Aws(settings=AwsSettings(region=cfg.region, endpoint_url=cfg.aws_endpoint_url),
               regions=tuple(cfg.regions))


def adapters(cfg: RuntimeConfig, aws_adapter: Aws | None = None) -> Adapters:
    """The adapters for `cfg`: Kubernetes from a kubeconfig (local runs) or the secret.

    Raises ConfigError if neither is configured, ClusterCredentialsError for a bad secret,
    and the AWS adapter's errors from reading it.
    """
    aws_adapter = aws_adapter or aws(cfg)
    token = None
    if cfg.kubeconfig is not None:
        kube = kube_client.from_kubeconfig(cfg.kubeconfig)
    elif cfg.credentials_secret:
        credentials = cluster_credentials(aws_adapter, cfg.credentials_secret)
        kube = kube_client.from_credentials(credentials, endpoint=cfg.controller_endpoint)
        token = credentials.token
    else:
        raise ConfigError(
            "FPGA_BURST_CREDENTIALS_SECRET_ARN", "", "set it, or FPGA_BURST_KUBECONFIG locally"
        )
    return Adapters(aws_adapter, KubeCluster(kube, cfg.boards), PendingWatch(kube, cfg.boards),
                    token)


def report_credentials(built: Adapters, now: datetime) -> None:
    """Days the controller's token has left, from its `exp` claim: the alarm's metric."""
    left = jwt.days_left(built.token, now) if built.token else None
    if left is not None:
        metrics.add_metric(name=Metric.CREDENTIALS_DAYS_LEFT, unit=MetricUnit.Count,
                           value=round(left, 2))


# error class -> (metric to add, or None; outcome in the summary; log level)
_FAILURES: tuple[tuple[type[BaseException], str | None, str, str], ...] = (
    (ClusterUnreachableError, Metric.CLUSTER_UNREACHABLE, "cluster-unreachable", "error"),
    (KubeThrottledError, Metric.CLUSTER_THROTTLED, "cluster-throttled", "warning"),
    (AwsThrottledError, Metric.AWS_THROTTLED, "aws-throttled", "warning"),
    (AwsUnavailableError, Metric.AWS_UNAVAILABLE, "aws-unavailable", "warning"),
    (EventError, Metric.BAD_EVENTS, "bad-event", "error"),
    (ConfigError, Metric.CONFIGURATION_ERRORS, "bad-config", "error"),
    (ClusterCredentialsError, Metric.CONFIGURATION_ERRORS, "bad-credentials", "error"),
    (KubeUnauthorizedError, Metric.CLUSTER_UNAUTHORIZED, "cluster-unauthorized", "error"),
    (KubeForbiddenError, Metric.CLUSTER_FORBIDDEN, "cluster-forbidden", "error"),
    (KubeApiError, Metric.CLUSTER_API_ERRORS, "cluster-api-error", "error"),
    (AwsError, Metric.AWS_ERRORS, "aws-error", "error"),
)


def failed(exc: BaseException, **context: Any) -> str:
    """Count and log `exc` as the alarms expect; the outcome name for the summary.

    Only BurstErrors are expected here; anything else is a bug and is re-raised by the
    caller after this has logged it.
    """
    if isinstance(exc, KubeUnauthorizedError):
        forget_credentials()  # perhaps replaced since: read the secret again next time
    for kind, metric, outcome, level in _FAILURES:
        if isinstance(exc, kind):
            if metric:
                metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
            extra = {"outcome": outcome, "error": str(exc), **_plain(context)}
            if kind is ClusterUnreachableError:
                extra["action"] = "none: nothing destructive without seeing the cluster"
            getattr(logger, level)(f"{outcome}: {exc}", extra=extra)
            return outcome
    kind_name = "burst-error" if isinstance(exc, BurstError) else "bug"
    logger.exception(f"{kind_name}: {type(exc).__name__}", extra={"outcome": kind_name})
    return kind_name


def settle(exc: BurstError, **context: Any) -> str:
    """A handler's end on `exc`: counted and logged (failed), then re-raised if transient
    (throttling, the API server unreachable, 5xx), so that Lambda's async retries run and,
    past them, the event goes to the failure queue; the work is level-triggered, so a retry
    takes the next step. Otherwise (a bad event, configuration, a refusal) the outcome
    name for the handler's answer: retrying would fail the same way."""
    outcome = failed(exc, **context)
    if isinstance(exc, TransientError):
        raise exc
    return outcome


def _plain(context: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in context.items() if v is not None}


def remaining_seconds(context: LambdaContext | None, default: float = 60.0) -> float:
    """Seconds left before the Lambda deadline (`default` when run without a context)."""
    if context is None:
        return default
    return context.get_remaining_time_in_millis() / 1000.0


def entry(
    run: Callable[[object, LambdaContext | None], dict[str, Any]],
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda entry point around a handler's `run`: the context in every log line,
    the EMF metrics flushed, a trace segment. The same for all three functions."""

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return run(event, context)

    return handler
