"""Bootstrap-token rotation: a valid join token is published at every moment.

The decision is pure (`decide`): from our tokens as the cluster lists them, the join data
as published, and `now`, it says whether to make and publish a new token and which of ours
have expired. A new token is made when the published one is missing, not ours, stale
(another endpoint or CA) or has less than `overlap` left. So if the tokens function runs at
least once per (overlap - launch timeout), a node that read the join data just before a
rotation still joins with the token it read, and no moment is without a valid one.

`rotate` acts on it through narrow ports: create via the cluster, publish to the SecureString
parameter, delete our expired tokens. The token itself is never logged nor in a summary.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from burst.ports.aws import JoinData, JoinStore
from burst.ports.cluster import BootstrapToken, BootstrapTokens, TokenInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RotationPolicy:
    ttl: timedelta  # lifetime of each new token
    overlap: timedelta  # rotate once the published token has less than this left


@dataclass(frozen=True)
class Published:
    """What the SSM parameter holds, without the token's secret."""

    token_id: str
    endpoint: str
    ca_cert_hashes: tuple[str, ...]

    @classmethod
    def of(cls, data: JoinData) -> Published:
        return cls(data.token.split(".", 1)[0], data.endpoint, data.ca_cert_hashes)


@dataclass(frozen=True)
class Decision:
    create: bool
    reason: str
    delete: tuple[str, ...] = ()  # token ids of ours expired at `now`


def decide(
    tokens: Sequence[TokenInfo],
    published: Published | None,
    want: tuple[str, tuple[str, ...]],
    now: datetime,
    policy: RotationPolicy,
) -> Decision:
    """Whether to create and publish a new token, and which of ours to delete.

    `want`: (endpoint, CA cert hashes) the join data must carry now.
    """
    expired = tuple(t.token_id for t in tokens if t.expired(now))
    current = {t.token_id: t for t in tokens if not t.expired(now)}
    if published is None:
        return Decision(True, "nothing published yet", expired)
    token = current.get(published.token_id)
    if token is None:
        return Decision(True, "the published token is not a valid token of ours", expired)
    if (published.endpoint, published.ca_cert_hashes) != want:
        return Decision(True, "the published endpoint or CA hash is out of date", expired)
    if token.expiration is None:
        return Decision(True, "the published token has no readable expiration", expired)
    left = token.expiration - now
    if left < policy.overlap:
        return Decision(True, f"the published token expires in {left} (< {policy.overlap})",
                        expired)
    return Decision(False, f"the published token is valid for {left} more", expired)


# -- acting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where the join data goes and what it says besides the token."""

    parameter: str
    kms_key_id: str
    endpoint: str  # host:port, as `kubeadm join` takes it
    ca_cert_hashes: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    created: str | None  # token id, never the secret
    expiration: datetime | None
    deleted: tuple[str, ...]
    reason: str

    def summary(self) -> dict[str, object]:
        return {
            "created": self.created,
            "expiration": self.expiration.isoformat() if self.expiration else None,
            "deleted": list(self.deleted),
            "reason": self.reason,
        }


def join_endpoint(url: str) -> str:
    """host:port from an API server URL (`https://10.0.0.10:6443/` -> `10.0.0.10:6443`)."""
    host = url.split("://", 1)[-1].split("/", 1)[0]
    return host if ":" in host.rsplit("]", 1)[-1] else f"{host}:443"


def rotate(cluster: BootstrapTokens, store: JoinStore, target: Target, now: datetime,
           policy: RotationPolicy) -> Report:
    """Decide, then create + publish if needed, then delete our expired tokens.

    Publish comes after create and before delete: a failure in between leaves the old
    join data in place, still valid, and the next run decides again.
    """
    found = store.read_join_data(target.parameter)
    published = Published.of(found) if found is not None else None
    decision = decide(cluster.bootstrap_tokens(), published,
                      (target.endpoint, target.ca_cert_hashes), now, policy)
    created: BootstrapToken | None = None
    if decision.create:
        created = cluster.create_bootstrap_token(
            now, policy.ttl, keep=published.token_id if published else None)
        store.publish_join_data(target.parameter, JoinData(
            endpoint=target.endpoint, token=created.token,
            ca_cert_hashes=target.ca_cert_hashes, expiration=created.expiration,
        ), target.kms_key_id)
    deleted = cluster.delete_expired_bootstrap_tokens(now) if decision.delete else ()
    log.info(
        "tokens: %s", "rotated" if created else "kept the published token",
        extra={"decision": decision.reason, "new_token_id": created.token_id if created else None,
               "deleted": list(deleted)},
    )
    return Report(created.token_id if created else None,
                  created.expiration if created else None, deleted, decision.reason)
