"""kubeadm bootstrap tokens: create them, list ours, delete ours once expired.

A bootstrap token is a Secret `kube-system/bootstrap-token-<id>` of type
`bootstrap.kubernetes.io/token` (the format the API server's bootstrap-token authenticator
and `kubeadm join --token <id>.<secret>` expect). Ours carry the label
`app.kubernetes.io/managed-by: fpga-burst`; tokens without it (an operator's, kubeadm's) are
never listed or deleted here. The token secret is never logged nor put in an error.
"""

from __future__ import annotations

import base64
import logging
import secrets
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from burst.adapters.kube.client import Json, Kube
from burst.adapters.kube.observe import list_all
from burst.core.errors import KubeConflictError, KubeNotFoundError
from burst.ports.cluster import BootstrapToken, TokenInfo

log = logging.getLogger(__name__)

NAMESPACE = "kube-system"
SECRET_TYPE = "bootstrap.kubernetes.io/token"
OURS = ("app.kubernetes.io/managed-by", "fpga-burst")
NODE_GROUP = "system:bootstrappers:kubeadm:default-node-token"
DESCRIPTION = "fpga-burst: kubeadm join token for burst FPGA nodes"
_ALPHABET = string.ascii_lowercase + string.digits
CREATE_ATTEMPTS = 3


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
            "name": f"bootstrap-token-{token_id}",
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


def create_token(
    kube: Kube, now: datetime, ttl: timedelta, choice: Callable[[str], str] = secrets.choice
) -> BootstrapToken:
    """A new token valid until now + ttl. A token-id already taken is drawn again.

    Not idempotent (each call makes a token): callers keep one and reuse it while valid.
    Raises KubeForbiddenError, KubeConflictError (ids kept colliding), the transient errors.
    """
    expiration = (now + ttl).replace(microsecond=0)
    for _ in range(CREATE_ATTEMPTS):
        token_id, token_secret = _random(6, choice), _random(16, choice)
        try:
            kube.call(f"create bootstrap token {token_id}", kube.core.create_namespaced_secret,
                      NAMESPACE, _secret(token_id, token_secret, expiration))
        except KubeConflictError:
            log.warning("bootstrap token id %s is taken; drawing another", token_id)
            continue
        log.info("created bootstrap token %s, expires %s", token_id, _rfc3339(expiration))
        return BootstrapToken(token_id, token_secret, expiration)
    raise KubeConflictError("create bootstrap token", 409, "AlreadyExists",
                            f"token ids collided {CREATE_ATTEMPTS} times")


def _info(item: Json) -> TokenInfo:
    meta = item.get("metadata") or {}
    data = item.get("data") or {}
    token_id = meta.get("name", "").removeprefix("bootstrap-token-")
    try:
        expiration: datetime | None = datetime.fromisoformat(
            base64.b64decode(data["expiration"]).decode()
        )
    except (KeyError, ValueError):
        log.warning("bootstrap token %s has no readable expiration; leaving it", token_id)
        expiration = None
    return TokenInfo(token_id=token_id, expiration=expiration, uid=meta.get("uid") or "")


def our_tokens(kube: Kube) -> tuple[TokenInfo, ...]:
    """Our bootstrap tokens (by label and type), without their secrets."""
    items = list_all(
        kube, "list bootstrap tokens", kube.core.list_namespaced_secret, NAMESPACE,
        label_selector=f"{OURS[0]}={OURS[1]}", field_selector=f"type={SECRET_TYPE}",
    )
    return tuple(sorted((_info(i) for i in items), key=lambda t: t.token_id))


def delete_expired(kube: Kube, now: datetime) -> tuple[str, ...]:
    """Delete our tokens that expired at or before `now`; the ids deleted. Idempotent."""
    deleted = []
    for token in our_tokens(kube):
        if not token.expired(now):
            continue
        try:
            kube.call(
                f"delete bootstrap token {token.token_id}", kube.core.delete_namespaced_secret,
                f"bootstrap-token-{token.token_id}", NAMESPACE,
                body={"preconditions": {"uid": token.uid}},
            )
        except KubeNotFoundError:
            continue
        log.info("deleted expired bootstrap token %s", token.token_id)
        deleted.append(token.token_id)
    return tuple(deleted)
