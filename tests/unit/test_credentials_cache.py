"""A warm execution environment reads its credentials secret once per TTL, and again at
once after the API server rejected the token (README, "What it costs at rest")."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from burst.core.errors import KubeForbiddenError, KubeUnauthorizedError
from burst.handlers import runtime
from burst.ports.aws import ClusterCredentials

TTL = runtime.CREDENTIALS_TTL_SECONDS


@dataclass
class Secrets:
    """The CredentialsStore port in memory: counts its reads."""

    reads: list[str] = field(default_factory=list)

    def read_cluster_credentials(self, secret_id: str) -> ClusterCredentials:
        self.reads.append(secret_id)
        return ClusterCredentials("https://10.0.0.1:6443", "ca", f"token-{len(self.reads)}")


@dataclass
class Aws:
    secrets: Secrets = field(default_factory=Secrets)


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    runtime.forget_credentials()
    yield
    runtime.forget_credentials()
    # runtime.failed counts into the process's Metrics: not for the next handler to flush
    runtime.metrics.clear_metrics()


def read(aws: Aws, now: float, secret: str = "scaler") -> ClusterCredentials:
    return runtime.cluster_credentials(cast(Any, aws), secret, now=now)


def test_ticks_within_the_ttl_read_the_secret_once() -> None:
    aws = Aws()
    tokens = [read(aws, now=t).token for t in range(0, TTL, 60)]
    assert aws.secrets.reads == ["scaler"]
    assert set(tokens) == {"token-1"}


def test_after_the_ttl_the_secret_is_read_again() -> None:
    aws = Aws()
    read(aws, now=0)
    assert read(aws, now=TTL).token == "token-2"


def test_each_secret_is_kept_apart() -> None:
    aws = Aws()
    read(aws, now=0, secret="scaler")
    read(aws, now=1, secret="tokens")
    assert aws.secrets.reads == ["scaler", "tokens"]


def test_a_rejected_token_is_forgotten_and_read_again_next_time() -> None:
    # GIVEN a copy read a minute ago WHEN the API server answers 401
    aws = Aws()
    read(aws, now=0)
    runtime.failed(KubeUnauthorizedError("list pods", 401, "Unauthorized", "token expired"))
    # THEN the next invocation reads the secret (perhaps rewritten by burst credentials)
    assert read(aws, now=60).token == "token-2"


def test_other_failures_keep_the_copy() -> None:
    aws = Aws()
    read(aws, now=0)
    runtime.failed(KubeForbiddenError("list pods", 403, "Forbidden", "RBAC"))
    assert read(aws, now=60).token == "token-1"
