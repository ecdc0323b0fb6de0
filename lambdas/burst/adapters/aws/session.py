"""AWS clients and error translation, shared by every AWS adapter of burst.adapters.aws.

Clients are created on first use from an injected boto3 Session (or the default one), each
with adaptive retries and connect/read timeouts, so a slow or throttling API costs a
bounded part of the Lambda's deadline. Every ClientError or transport error leaves the
adapters as a burst.core.errors type, `from` the original: AwsThrottledError /
AwsUnavailableError (TransientError: retry next tick) or AwsError and its subclasses
(retrying will not help).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from burst.core.errors import AwsError, AwsThrottledError, AwsUnavailableError, BurstError

# botocore's own list of throttling codes, less LimitExceededException, which Auto Scaling
# uses for quotas (too many groups), not for request rates.
_THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "EC2ThrottledException",
        "PriorRequestNotComplete",
        "SlowDown",
    }
)
# Busy or broken on AWS's side: the same call may work on the next tick.
_TRANSIENT = frozenset(
    {
        "ResourceContention",
        "ScalingActivityInProgress",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "RequestTimeout",
    }
)

@dataclass(frozen=True)
class AwsSettings:
    """Client settings; region and endpoint also come from AWS_REGION / AWS_ENDPOINT_URL."""

    region: str | None = None
    endpoint_url: str | None = None  # e.g. a moto_server, for local runs and tests
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    max_attempts: int = 4  # adaptive mode: attempts including the first


class _NoWireBodies(logging.Filter):
    """Drops botocore's DEBUG records of raw request and response bodies."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO


_NO_WIRE_BODIES = _NoWireBodies()


def _quiet_wire_logs() -> None:
    # botocore.endpoint and botocore.parsers log whole request and response bodies at
    # DEBUG: join tokens and the cluster token would reach CloudWatch whenever someone
    # turns on debug logging. A filter, not a level, so whatever level is set later
    # (Powertools, pytest) cannot bring them back. addFilter ignores a repeat.
    for name in ("botocore.endpoint", "botocore.parsers"):
        logging.getLogger(name).addFilter(_NO_WIRE_BODIES)


def _code(exc: ClientError) -> tuple[str, str, int]:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return str(error.get("Code", "")), str(error.get("Message", "")), int(status or 0)


def translate(operation: str, exc: ClientError | BotoCoreError) -> BurstError:
    """The errors.py type for a botocore error raised by `operation`."""
    if isinstance(exc, ClientError):
        code, message, status = _code(exc)
        if code in _THROTTLING or status == 429:
            return AwsThrottledError(f"{operation}: {code}: {message}")
        if code in _TRANSIENT or status >= 500:
            return AwsUnavailableError(f"{operation}: {code}: {message}")
        return AwsError(operation, code, message)
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return AwsUnavailableError(f"{operation}: {exc}")
    return AwsError(operation, type(exc).__name__, str(exc))


@contextmanager
def calling(operation: str) -> Iterator[None]:
    """Inside: a botocore error raised by `operation` leaves as its errors.py type."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise translate(operation, exc) from exc


class Clients:
    """boto3 clients, one per service, created on first use and shared by the adapters.

    One instance per invocation is the intent (tests attach Stubbers to its clients).
    """

    def __init__(
        self, session: boto3.Session | None = None, settings: AwsSettings | None = None
    ) -> None:
        self._session = session
        self.settings = settings or AwsSettings()
        self._clients: dict[str, Any] = {}
        _quiet_wire_logs()

    def client(self, service: str, region: str | None = None) -> Any:
        """The boto3 client for `service` in `region` (None: the home region, the
        settings'), created on first use."""
        key = service if region is None or region == self.settings.region else (
            f"{service}@{region}")
        if key not in self._clients:
            s = self.settings
            if self._session is None:
                # One default session for all clients: each Session loads its own data.
                self._session = boto3.Session()
            self._clients[key] = self._session.client(
                service,
                region_name=region or s.region,
                endpoint_url=s.endpoint_url,
                config=Config(
                    retries={"mode": "adaptive", "total_max_attempts": s.max_attempts},
                    connect_timeout=s.connect_timeout,
                    read_timeout=s.read_timeout,
                    user_agent_extra="fpga-burst",
                ),
            )
        return self._clients[key]

    @property
    def home_region(self) -> str:
        """The region of the clients made without one: the settings', else the session's."""
        if self.settings.region:
            return self.settings.region
        if self._session is None:
            self._session = boto3.Session()
        return str(self._session.region_name or "")
