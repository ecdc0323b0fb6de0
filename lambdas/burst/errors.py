"""Every error fpga-burst raises, in one place.

Adapters translate library errors (botocore's ClientError, kubernetes' ApiException)
into these, with `raise ... from exc`; the shell decides retry or give up by class.
"""

from __future__ import annotations


class BurstError(Exception):
    """Base of every fpga-burst error."""


class ConfigError(BurstError):
    """A scenario, configuration or input file is invalid; names the file and field."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {problem}")


class TransientError(BurstError):
    """A call failed in a way that may succeed if retried later (timeouts, 5xx, 429)."""


class ClusterUnreachableError(TransientError):
    """The Kubernetes API server could not be reached or did not answer in time."""
