"""The cluster port's pure parts: the status document and token expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import yaml

from burst.core.model import Instance, NodeGroup
from burst.loop.memory import Memory
from burst.loop.status import Report, status_data
from burst.ports.cluster import BootstrapToken, TokenInfo

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def test_the_status_names_each_group_with_desired_upcoming_and_backoff_sorted_by_name() -> None:
    groups = [
        NodeGroup("f2", "f2.6xlarge", 0, 2, 0, backoff="InsufficientInstanceCapacity"),
        NodeGroup("f1", "f1.2xlarge", 0, 4, 2, instances=(Instance("i-1", "Pending"),)),
    ]

    data = status_data(Report(NOW, "scale up f1 1->2 for 2 pods", groups, {"f1": 1}), Memory())

    doc = yaml.safe_load(data["status.yaml"])
    assert [g["name"] for g in doc["nodeGroups"]] == ["f1", "f2"]
    assert doc["nodeGroups"][0] == {"name": "f1", "instanceType": "f1.2xlarge", "min": 0,
                                    "max": 4, "desired": 2, "instances": 1, "upcoming": 1}
    assert doc["nodeGroups"][1]["backoff"] == "InsufficientInstanceCapacity"
    assert data["lastDecision"] == doc["lastDecision"] == "scale up f1 1->2 for 2 pods"
    assert data["lastDecisionTime"] == doc["time"] == "2026-11-27T03:00:00Z"


def test_each_status_says_its_own_time_and_decision_when_the_rest_repeats() -> None:
    groups = [NodeGroup("f2", "f2.6xlarge", 0, 2, 1)]
    later = NOW + timedelta(seconds=10)
    memory = Memory()  # which keeps the YAML of the last documents
    first = yaml.safe_load(status_data(Report(NOW, "no change", groups), memory)["status.yaml"])
    again = yaml.safe_load(status_data(Report(later, "no change", groups),
                                       memory)["status.yaml"])
    other = yaml.safe_load(status_data(Report(later, "no change", groups, {"f2": 1}),
                                       memory)["status.yaml"])
    assert first["time"] == "2026-11-27T03:00:00Z" and again["time"] == "2026-11-27T03:00:10Z"
    assert {**first, "time": ""} == {**again, "time": ""}
    assert other["nodeGroups"][0]["upcoming"] == 1 and "upcoming" in again["nodeGroups"][0]
    assert again["nodeGroups"][0]["upcoming"] == 0


def test_a_token_expires_at_its_expiration_and_an_unreadable_one_never_does() -> None:
    assert TokenInfo("abcdef", NOW, "u").expired(NOW)
    assert not TokenInfo("abcdef", NOW + timedelta(seconds=1), "u").expired(NOW)
    assert not TokenInfo("abcdef", None, "u").expired(NOW)


def test_a_bootstrap_token_keeps_its_secret_out_of_repr() -> None:
    token = BootstrapToken("abcdef", "0123456789abcdef", NOW)
    assert token.token == "abcdef.0123456789abcdef"
    assert "0123456789abcdef" not in repr(token)
