"""Bootstrap tokens: the API server's own authenticator is the judge of their format."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest

from burst.adapters.kube import client, tokens
from burst.adapters.kube.client import Json, Kube
from burst.core.errors import KubeUnauthorizedError
from burst.ports.aws import ClusterCredentials


def _whoami(credentials: ClusterCredentials, token: str) -> Json:
    """Authenticate with `token` alone and ask the API server who that is."""
    as_token = ClusterCredentials(credentials.endpoint, credentials.ca, token)
    with client.from_credentials(as_token) as k:
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        answer = k.call("whoami", k.authn.create_self_subject_review, review)
    user: Json = answer["status"]["userInfo"]
    return user


def _now() -> datetime:
    return datetime.now(UTC)


def test_a_created_token_joins_as_a_kubeadm_bootstrapper_until_it_expires(
    kube: Kube, controller_credentials: ClusterCredentials
) -> None:
    token = tokens.create_token(kube, _now(), timedelta(minutes=30))

    assert re.fullmatch(r"[a-z0-9]{6}", token.token_id)
    assert re.fullmatch(r"[a-z0-9]{16}", token.secret)
    assert token.secret not in repr(token)
    user = _whoami(controller_credentials, token.token)
    assert user["username"] == f"system:bootstrap:{token.token_id}"
    assert "system:bootstrappers:kubeadm:default-node-token" in user["groups"]
    assert token.token_id in {t.token_id for t in tokens.our_tokens(kube)}


def test_an_expired_token_no_longer_authenticates(
    kube: Kube, controller_credentials: ClusterCredentials
) -> None:
    expired = tokens.create_token(kube, _now() - timedelta(hours=2), timedelta(hours=1))

    with pytest.raises(KubeUnauthorizedError):
        _whoami(controller_credentials, expired.token)


def test_only_our_expired_tokens_are_deleted_not_valid_ones_nor_anybody_elses(
    admin: Kube, kube: Kube
) -> None:
    """
    GIVEN an expired token of ours, a valid one of ours, and an expired kubeadm token
          (same type and format, without our label)
    WHEN  the controller cleans up
    THEN  only the expired token of ours is deleted, and a second clean-up does nothing
    """
    now = _now()
    expired = tokens.create_token(kube, now - timedelta(hours=2), timedelta(hours=1))
    valid = tokens.create_token(kube, now, timedelta(hours=1))
    kubeadm_secret = {
        "apiVersion": "v1", "kind": "Secret", "type": tokens.SECRET_TYPE,
        "metadata": {"name": "bootstrap-token-abcdef", "namespace": "kube-system"},
        "stringData": {"token-id": "abcdef", "token-secret": "0123456789abcdef",
                       "expiration": "2020-01-01T00:00:00Z",
                       "usage-bootstrap-authentication": "true"},
    }
    admin.call("create kubeadm token", admin.core.create_namespaced_secret, "kube-system",
               kubeadm_secret)

    assert expired.token_id in tokens.delete_expired(kube, now)
    assert tokens.delete_expired(kube, now) == ()

    ours = {t.token_id for t in tokens.our_tokens(kube)}
    assert valid.token_id in ours and expired.token_id not in ours and "abcdef" not in ours
    admin.call("kubeadm token still there", admin.core.read_namespaced_secret,
               "bootstrap-token-abcdef", "kube-system")


def test_the_token_secret_is_never_logged_even_at_debug_level(
    kube: Kube, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    token = tokens.create_token(kube, _now(), timedelta(minutes=5))
    tokens.our_tokens(kube)
    tokens.delete_expired(kube, _now() + timedelta(minutes=10))

    assert token.token_id in caplog.text  # the id is fine: it is the Secret's name
    assert token.secret not in caplog.text
