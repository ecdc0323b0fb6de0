"""Bootstrap tokens: the API server's own authenticator is the judge of their format."""

from __future__ import annotations

import base64
import contextlib
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest

from burst.adapters.kube import client, tokens
from burst.adapters.kube.client import Json, Kube
from burst.core.errors import KubeConflictError, KubeNotFoundError, KubeUnauthorizedError
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


@pytest.fixture(autouse=True)
def empty_slots(admin: Kube) -> None:
    """Each test starts with no token in fpga-burst's slots."""
    for token_id in tokens.SLOTS:
        with contextlib.suppress(KubeNotFoundError):
            admin.call("delete slot", admin.core.delete_namespaced_secret,
                       tokens.secret_name(token_id), "kube-system")


def test_a_new_token_never_takes_the_published_ones_slot_and_a_reused_slot_drops_its_old_token(
    tokens_kube: Kube, controller_credentials: ClusterCredentials
) -> None:
    """
    GIVEN a token in each slot, the second one published
    WHEN  a new token is written, keeping the published one
    THEN  it takes the first slot (updated in place: its old token no longer authenticates)
          and the published token still joins
    """
    now = _now()
    first = tokens.write_token(tokens_kube, now, timedelta(minutes=10))
    published = tokens.write_token(tokens_kube, now, timedelta(minutes=30), keep=first.token_id)
    assert {first.token_id, published.token_id} == set(tokens.SLOTS)

    new = tokens.write_token(tokens_kube, now, timedelta(minutes=30), keep=published.token_id)

    assert new.token_id == first.token_id and new.secret != first.secret
    assert _whoami(controller_credentials, new.token)["username"].endswith(new.token_id)
    assert _whoami(controller_credentials, published.token)["username"].endswith(
        published.token_id)
    with pytest.raises(KubeUnauthorizedError):
        _whoami(controller_credentials, first.token)


def test_a_slot_holding_someone_elses_token_is_left_alone(admin: Kube, tokens_kube: Kube) -> None:
    foreign, published = tokens.SLOTS
    admin.call("create operator token", admin.core.create_namespaced_secret, "kube-system", {
        "metadata": {"name": tokens.secret_name(foreign)}, "type": tokens.SECRET_TYPE,
        "stringData": {"token-id": foreign, "token-secret": "0123456789abcdef"}})

    with pytest.raises(KubeConflictError):
        tokens.write_token(tokens_kube, _now(), timedelta(minutes=30), keep=published)

    kept = admin.call("read", admin.core.read_namespaced_secret, tokens.secret_name(foreign),
                      "kube-system")
    assert base64.b64decode(kept["data"]["token-secret"]) == b"0123456789abcdef"
    assert tokens.our_tokens(tokens_kube) == ()


def test_a_created_token_joins_as_a_kubeadm_bootstrapper_until_it_expires(
    tokens_kube: Kube, controller_credentials: ClusterCredentials
) -> None:
    token = tokens.write_token(tokens_kube, _now(), timedelta(minutes=30))

    assert re.fullmatch(r"[a-z0-9]{6}", token.token_id)
    assert re.fullmatch(r"[a-z0-9]{16}", token.secret)
    assert token.secret not in repr(token)
    user = _whoami(controller_credentials, token.token)
    assert user["username"] == f"system:bootstrap:{token.token_id}"
    assert "system:bootstrappers:kubeadm:default-node-token" in user["groups"]
    assert token.token_id in {t.token_id for t in tokens.our_tokens(tokens_kube)}


def test_an_expired_token_no_longer_authenticates(
    tokens_kube: Kube, controller_credentials: ClusterCredentials
) -> None:
    expired = tokens.write_token(tokens_kube, _now() - timedelta(hours=2), timedelta(hours=1))

    with pytest.raises(KubeUnauthorizedError):
        _whoami(controller_credentials, expired.token)


def test_only_our_expired_tokens_are_deleted_not_valid_ones_nor_anybody_elses(
    admin: Kube, tokens_kube: Kube
) -> None:
    """
    GIVEN an expired token of ours, a valid one of ours, and an expired kubeadm token
          (same type and format, without our label)
    WHEN  the controller cleans up
    THEN  only the expired token of ours is deleted, and a second clean-up does nothing
    """
    now = _now()
    expired = tokens.write_token(tokens_kube, now - timedelta(hours=2), timedelta(hours=1))
    valid = tokens.write_token(tokens_kube, now, timedelta(hours=1), keep=expired.token_id)
    kubeadm_secret = {
        "apiVersion": "v1", "kind": "Secret", "type": tokens.SECRET_TYPE,
        "metadata": {"name": "bootstrap-token-abcdef", "namespace": "kube-system"},
        "stringData": {"token-id": "abcdef", "token-secret": "0123456789abcdef",
                       "expiration": "2020-01-01T00:00:00Z",
                       "usage-bootstrap-authentication": "true"},
    }
    admin.call("create kubeadm token", admin.core.create_namespaced_secret, "kube-system",
               kubeadm_secret)

    assert expired.token_id in tokens.delete_expired(tokens_kube, now)
    assert tokens.delete_expired(tokens_kube, now) == ()

    ours = {t.token_id for t in tokens.our_tokens(tokens_kube)}
    assert valid.token_id in ours and expired.token_id not in ours and "abcdef" not in ours
    admin.call("kubeadm token still there", admin.core.read_namespaced_secret,
               "bootstrap-token-abcdef", "kube-system")


def test_the_token_secret_is_never_logged_even_at_debug_level(
    tokens_kube: Kube, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    token = tokens.write_token(tokens_kube, _now(), timedelta(minutes=5))
    tokens.our_tokens(tokens_kube)
    tokens.delete_expired(tokens_kube, _now() + timedelta(minutes=10))

    assert token.token_id in caplog.text  # the id is fine: it is the Secret's name
    assert token.secret not in caplog.text
