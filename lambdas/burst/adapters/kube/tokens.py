"""kubeadm bootstrap tokens: write one into a slot, read ours, delete ours once expired.

A bootstrap token is a Secret `kube-system/bootstrap-token-<id>` of type
`bootstrap.kubernetes.io/token` (the format the API server's bootstrap-token authenticator
and `kubeadm join --token <id>.<secret>` expect). Ours live in a fixed set of token ids,
SLOTS, so the tokens function's Role names each Secret it may get, update or delete
(manifests/rbac.yaml) and needs no `list`, which would hand it every Secret of kube-system.
A new token takes a slot other than the published one's: created if absent, else the slot's
Secret is overwritten with a new token-secret and expiration (the old token in it stops
working at once; only the slot not published is ever overwritten). Ours also carry the label
`app.kubernetes.io/managed-by: fpga-burst`; a slot holding a token without it (an
operator's) is left alone. The token secret is never logged nor put in an error.
"""

from __future__ import annotations

import base64
import logging
import secrets
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from burst.adapters.kube.client import Json, Kube
from burst.core.errors import KubeConflictError, KubeNotFoundError
from burst.core.names import BOOTSTRAP_GROUP
from burst.ports.cluster import BootstrapToken, TokenInfo

log = logging.getLogger(__name__)

NAMESPACE = "kube-system"
SECRET_TYPE = "bootstrap.kubernetes.io/token"
OURS = ("app.kubernetes.io/managed-by", "fpga-burst")
NODE_GROUP = BOOTSTRAP_GROUP
DESCRIPTION = "fpga-burst: kubeadm join token for burst FPGA nodes"
_ALPHABET = string.ascii_lowercase + string.digits
# The token ids fpga-burst writes (kubeadm's format, [a-z0-9]{6}); manifests/rbac.yaml grants
# the tokens function its Secrets by these names (tests/integration/test_kube_identity.py
# checks that they agree). Two are enough: the published token and the next one.
SLOTS = ("fbrst0", "fbrst1")


def secret_name(token_id: str) -> str:
    return f"bootstrap-token-{token_id}"


def _random(length: int, choice: Callable[[str], str]) -> str:
    return "".join(choice(_ALPHABET) for _ in range(length))


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _secret(token_id: str, token_secret: str, expiration: datetime) -> Json:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": SECRET_TYPE,
        "metadata": {
            "name": secret_name(token_id),
            "namespace": NAMESPACE,
            "labels": {OURS[0]: OURS[1]},
        },
        "stringData": {
            "description": DESCRIPTION,
            "token-id": token_id,
            "token-secret": token_secret,
            "expiration": _rfc3339(expiration),
            "usage-bootstrap-authentication": "true",
            "usage-bootstrap-signing": "true",
            "auth-extra-groups": NODE_GROUP,
        },
    }


def write_token(
    kube: Kube, now: datetime, ttl: timedelta, keep: str | None = None,
    choice: Callable[[str], str] = secrets.choice,
) -> BootstrapToken:
    """A new token valid until now + ttl, in a slot other than `keep` (the published token's).

    An empty slot is taken first, else the one of ours that expires first. Not idempotent
    (each call makes a token): callers keep one and reuse it while valid.
    Raises KubeConflictError (no slot free, or it changed meanwhile), KubeForbiddenError,
    the transient errors; the next run tries again.
    """
    expiration = (now + ttl).replace(microsecond=0)
    token_id, current = _free_slot(kube, keep)
    body = _secret(token_id, _random(16, choice), expiration)
    if current is None:
        kube.call(f"create bootstrap token {token_id}", kube.core.create_namespaced_secret,
                  NAMESPACE, body)
    else:
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        kube.call(f"update bootstrap token {token_id}", kube.core.replace_namespaced_secret,
                  secret_name(token_id), NAMESPACE, body)
    log.info("wrote bootstrap token %s, expires %s", token_id, _rfc3339(expiration))
    return BootstrapToken(token_id, body["stringData"]["token-secret"], expiration)


def _free_slot(kube: Kube, keep: str | None) -> tuple[str, Json | None]:
    """(token id, its Secret or None if absent) of the slot to write."""
    ours: list[tuple[str, Json]] = []
    for token_id in SLOTS:
        if token_id == keep:
            continue
        current = _read(kube, token_id)
        if current is None:
            return token_id, None
        if _ours(current):
            ours.append((token_id, current))
        else:
            log.warning("bootstrap token slot %s holds a token that is not ours; left alone",
                        token_id)
    if not ours:
        raise KubeConflictError("write bootstrap token", 409, "AlreadyExists",
                                f"no slot of {', '.join(SLOTS)} is free")
    return min(ours, key=lambda slot: _expiration(slot[1]) or datetime.min.replace(tzinfo=UTC))


def _read(kube: Kube, token_id: str) -> Json | None:
    try:
        return kube.call(f"read bootstrap token {token_id}", kube.core.read_namespaced_secret,
                         secret_name(token_id), NAMESPACE)
    except KubeNotFoundError:
        return None


def _ours(item: Json) -> bool:
    labels = (item.get("metadata") or {}).get("labels") or {}
    return item.get("type") == SECRET_TYPE and labels.get(OURS[0]) == OURS[1]


def _expiration(item: Json) -> datetime | None:
    try:
        return datetime.fromisoformat(base64.b64decode((item.get("data") or {})["expiration"])
                                      .decode())
    except (KeyError, ValueError):
        return None


def _info(item: Json) -> TokenInfo:
    meta = item.get("metadata") or {}
    token_id = meta.get("name", "").removeprefix("bootstrap-token-")
    expiration = _expiration(item)
    if expiration is None:
        log.warning("bootstrap token %s has no readable expiration; leaving it", token_id)
    return TokenInfo(token_id=token_id, expiration=expiration, uid=meta.get("uid") or "")


def our_tokens(kube: Kube) -> tuple[TokenInfo, ...]:
    """Our bootstrap tokens (each slot's, if ours), without their secrets."""
    found = (_read(kube, token_id) for token_id in SLOTS)
    return tuple(_info(item) for item in found if item is not None and _ours(item))


def delete_expired(kube: Kube, now: datetime) -> tuple[str, ...]:
    """Delete our tokens that expired at or before `now`; the ids deleted. Idempotent."""
    deleted = []
    for token in our_tokens(kube):
        if not token.expired(now):
            continue
        try:
            kube.call(
                f"delete bootstrap token {token.token_id}", kube.core.delete_namespaced_secret,
                secret_name(token.token_id), NAMESPACE,
                body={"preconditions": {"uid": token.uid}},
            )
        except KubeNotFoundError:
            continue
        log.info("deleted expired bootstrap token %s", token.token_id)
        deleted.append(token.token_id)
    return tuple(deleted)
