"""Every error fpga-burst raises, in one place.

Adapters translate library errors (botocore's ClientError, kubernetes' ApiException)
into these, with `raise ... from exc`; the shell decides retry or give up by class.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BurstError(Exception):
    """Base of every fpga-burst error."""


class ConfigError(BurstError):
    """A scenario, configuration or input file is invalid; names the file and field.

    One line, `source: field: problem`; an empty source or field is left out (the CDK app
    prints the file itself before `field: problem`).
    """

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        super().__init__(": ".join(part for part in (source, field, problem) if part))


class UnknownKeyError(ConfigError):
    """A file names a key its reader does not know: a typo would otherwise pass silently.

    The problem names the closest known key (difflib), or lists them when none is close.
    """

    def __init__(self, source: str, field: str, key: str, known: Iterable[str]) -> None:
        names = sorted(known)
        close = difflib.get_close_matches(key, names, n=1)
        hint = f"; did you mean `{close[0]}`?" if close else f" (known: {', '.join(names)})"
        super().__init__(source, field, f"unknown key{hint}")
        self.key = key
        self.known = tuple(names)


class DemandError(BurstError):
    """A pod's FPGA demand cannot be resolved (unknown accelerator, mixed board kinds)."""


class TransientError(BurstError):
    """A call failed in a way that may succeed if retried later (timeouts, 5xx, 429)."""


class ClusterUnreachableError(TransientError):
    """The Kubernetes API server could not be reached or did not answer in time."""


class AwsError(BurstError):
    """An AWS call failed in a way retrying will not fix; names the operation and AWS code."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        self.operation = operation
        self.code = code
        super().__init__(f"{operation}: {code}: {message}" if code else f"{operation}: {message}")


class AwsThrottledError(TransientError):
    """AWS kept throttling a call after the client's adaptive retries; try on the next tick."""


class AwsUnavailableError(TransientError):
    """AWS could not be reached, timed out or answered 5xx after the client's retries."""


class NodeGroupNotFoundError(AwsError):
    """The Auto Scaling group does not exist (deleted, renamed, or another account/region)."""


class LifecycleActionNotFoundError(AwsError):
    """No active lifecycle action matches (already completed, timed out, or never existed)."""


class ClusterCredentialsError(BurstError):
    """The cluster credentials secret is missing a field or is not the expected JSON."""


class EventError(BurstError):
    """An EventBridge event is malformed or not one fpga-burst handles; names the field."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"event {field}: {problem}" if field else f"event: {problem}")


class KubeApiError(BurstError):
    """The API server refused a call in a way retrying will not fix; names the call and status."""

    def __init__(self, operation: str, status: int, reason: str, message: str) -> None:
        self.operation = operation
        self.status = status
        self.reason = reason
        super().__init__(f"{operation}: {status} {reason}: {message}")


class KubeNotFoundError(KubeApiError):
    """The object (or its namespace) does not exist."""


class KubeConflictError(KubeApiError):
    """A write lost an optimistic-concurrency race (or the object exists) after retries."""


class KubeForbiddenError(KubeApiError):
    """RBAC refused the controller's identity; the manifests/rbac.yaml grant is missing."""


class KubeUnauthorizedError(KubeApiError):
    """The API server did not accept the credentials (expired or revoked token, wrong CA)."""


class KubeThrottledError(TransientError):
    """The API server answered 429 Too Many Requests (priority and fairness); try later."""

