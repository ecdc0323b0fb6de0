"""Token rotation: the pure decision, a simulation of ticks, and rotate() over in-memory ports."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from burst.loop.rotation import (
    Decision,
    Published,
    RotationPolicy,
    Target,
    decide,
    join_endpoint,
    rotate,
)
from burst.ports.aws import JoinData
from burst.ports.cluster import BootstrapToken, TokenInfo

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
POLICY = RotationPolicy(ttl=timedelta(hours=2), overlap=timedelta(hours=1))
WANT = ("10.0.0.10:6443", ("sha256:" + "ab" * 32,))
H = timedelta(hours=1)


def token(token_id: str, left: timedelta | None) -> TokenInfo:
    return TokenInfo(token_id, None if left is None else NOW + left, uid=f"uid-{token_id}")


def published(token_id: str, want: tuple[str, tuple[str, ...]] = WANT) -> Published:
    return Published(token_id, want[0], want[1])


CASES = {
    "nothing published: create": ([], None, Decision(True, "", ())),
    "published token valid beyond the overlap: keep": (
        [token("aaaaaa", 1.5 * H)], published("aaaaaa"), Decision(False, "", ())),
    "published token inside the overlap: rotate": (
        [token("aaaaaa", 0.5 * H)], published("aaaaaa"), Decision(True, "", ())),
    "published token expired: rotate and delete it": (
        [token("aaaaaa", -H)], published("aaaaaa"), Decision(True, "", ("aaaaaa",))),
    "published token not in the cluster: create": (
        [token("bbbbbb", 1.5 * H)], published("aaaaaa"), Decision(True, "", ())),
    "published endpoint out of date: create": (
        [token("aaaaaa", 1.5 * H)], published("aaaaaa", ("10.0.0.11:6443", WANT[1])),
        Decision(True, "", ())),
    "unreadable expiration: create, never delete it": (
        [token("aaaaaa", None)], published("aaaaaa"), Decision(True, "", ())),
    "old expired token beside a valid one: keep the valid, delete the old": (
        [token("aaaaaa", 1.5 * H), token("zzzzzz", -timedelta(seconds=1))],
        published("aaaaaa"), Decision(False, "", ("zzzzzz",))),
    "expiring exactly now counts as expired": (
        [token("aaaaaa", timedelta(0))], published("aaaaaa"), Decision(True, "", ("aaaaaa",))),
}


@pytest.mark.parametrize(("tokens", "pub", "expected"), CASES.values(), ids=CASES.keys())
def test_decide(tokens: list[TokenInfo], pub: Published | None, expected: Decision) -> None:
    found = decide(tokens, pub, WANT, NOW, POLICY)
    assert (found.create, found.delete) == (expected.create, expected.delete)
    assert found.reason


@dataclass
class FakeCluster:
    """Bootstrap tokens in memory, in fixed slots as the adapter keeps them: a new token
    takes a slot other than `keep`, an empty one first, else the one expiring first."""

    tokens: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # id -> (secret, exp)
    created: int = 0
    slots: tuple[str, ...] = ("t00001", "t00002")

    def bootstrap_tokens(self) -> tuple[TokenInfo, ...]:
        return tuple(TokenInfo(i, exp, i) for i, (_, exp) in sorted(self.tokens.items()))

    def create_bootstrap_token(self, now: datetime, ttl: timedelta,
                               keep: str | None = None) -> BootstrapToken:
        self.created += 1
        free = [s for s in self.slots if s != keep]
        token_id = min(free, key=lambda s: (s in self.tokens, self.tokens.get(s, ("", now))[1]))
        self.tokens[token_id] = (f"secret{self.created:010d}", now + ttl)
        return BootstrapToken(token_id, self.tokens[token_id][0], now + ttl)

    def delete_expired_bootstrap_tokens(self, now: datetime) -> tuple[str, ...]:
        gone = tuple(i for i, (_, exp) in self.tokens.items() if exp <= now)
        for i in gone:
            del self.tokens[i]
        return gone


@dataclass
class FakeStore:
    values: dict[str, JoinData] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    def read_join_data(self, name: str) -> JoinData | None:
        return self.values.get(name)

    def publish_join_data(self, name: str, data: JoinData, kms_key_id: str) -> None:
        self.values[name] = data
        self.keys[name] = kms_key_id


TARGET = Target("/fpga-burst/join", "key-1", WANT[0], WANT[1])


def valid_published(cluster: FakeCluster, store: FakeStore, moment: datetime) -> bool:
    data = store.values.get(TARGET.parameter)
    if data is None:
        return False
    token_id, secret = data.token.split(".")
    held = cluster.tokens.get(token_id)
    return held is not None and held[0] == secret and held[1] > moment


@settings(max_examples=200, deadline=None)
@given(
    ttl_minutes=st.integers(min_value=30, max_value=24 * 60),
    overlap_share=st.floats(min_value=0.1, max_value=0.9),
    gaps=st.lists(st.floats(min_value=0.01, max_value=0.99), min_size=1, max_size=60),
)
def test_a_valid_token_is_published_at_every_moment_between_ticks(
    ttl_minutes: int, overlap_share: float, gaps: list[float]
) -> None:
    """
    GIVEN any ttl and overlap < ttl, and ticks that come less than `overlap` apart
    WHEN  rotate() runs at each tick
    THEN  from the first tick on, the published token is a valid token of ours up to (and
          at) the next tick: valid at every moment in between, since validity only shrinks
    """
    ttl = timedelta(minutes=ttl_minutes)
    policy = RotationPolicy(ttl=ttl, overlap=ttl * overlap_share)
    cluster, store = FakeCluster(), FakeStore()
    moment = NOW
    for gap in gaps:
        rotate(cluster, store, TARGET, moment, policy)
        assert valid_published(cluster, store, moment)
        moment += policy.overlap * gap  # the tick period, always < overlap
        # The end of the interval is the worst moment of it.
        assert valid_published(cluster, store, moment - timedelta(microseconds=1))
        assert valid_published(cluster, store, moment)


def test_a_second_run_before_rotation_time_changes_nothing() -> None:
    cluster, store = FakeCluster(), FakeStore()
    first = rotate(cluster, store, TARGET, NOW, POLICY)
    second = rotate(cluster, store, TARGET, NOW + timedelta(minutes=59), POLICY)
    assert first.created == "t00001" and first.expiration == NOW + POLICY.ttl
    assert second.created is None and second.deleted == ()
    assert cluster.created == 1
    assert store.keys == {TARGET.parameter: "key-1"}


def test_rotation_publishes_the_new_token_and_later_deletes_the_expired_old_one() -> None:
    cluster, store = FakeCluster(), FakeStore()
    rotate(cluster, store, TARGET, NOW, POLICY)
    rotated = rotate(cluster, store, TARGET, NOW + 61 * timedelta(minutes=1), POLICY)
    assert rotated.created == "t00002" and rotated.deleted == ()
    assert store.values[TARGET.parameter].token.startswith("t00002.")
    later = rotate(cluster, store, TARGET, NOW + 2 * H, POLICY)
    assert later.created is None and later.deleted == ("t00001",)


def test_a_new_token_takes_the_slot_not_published_so_the_published_one_stays_valid() -> None:
    """Two slots: each rotation overwrites the one the join data does not name."""
    cluster, store = FakeCluster(), FakeStore()
    made = [rotate(cluster, store, TARGET, NOW + i * 2 * H, POLICY).created for i in range(4)]
    assert made == ["t00001", "t00002", "t00001", "t00002"]
    assert cluster.created == 4 and set(cluster.tokens) <= set(cluster.slots)


def test_the_token_secret_is_never_logged_nor_in_the_summary(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cluster, store = FakeCluster(), FakeStore()
    with caplog.at_level(logging.DEBUG):
        report = rotate(cluster, store, TARGET, NOW, POLICY)
    secret = cluster.tokens["t00001"][0]
    text = caplog.text + repr([r.__dict__ for r in caplog.records]) + repr(report.summary())
    assert "t00001" in text  # the id is fine, and shows the search is meaningful
    assert secret not in text
    assert secret not in repr(store.values[TARGET.parameter])


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("https://10.0.0.10:6443", "10.0.0.10:6443"),
        ("https://api.example.com:6443/", "api.example.com:6443"),
        ("10.0.0.10:6443", "10.0.0.10:6443"),
        ("https://api.example.com", "api.example.com:443"),
        ("https://[fd00::1]:6443", "[fd00::1]:6443"),
    ],
)
def test_join_endpoint_is_host_and_port(url: str, endpoint: str) -> None:
    assert join_endpoint(url) == endpoint
