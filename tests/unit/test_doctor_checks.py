"""The preflight's pure parts: token claims, the diagnose request, the RBAC verbs derived
from manifests/rbac.yaml, how a check prints, and the join failure a launch event reports.
The checks against a real API server and moto are tests/integration/test_doctor.py."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from burst.adapters.kube import identity
from burst.core import jwt
from burst.core.errors import ConfigError, EventError, KubeForbiddenError
from burst.core.notices.events import Diagnose, LaunchUnsuccessful, ScheduledTick, parse_request
from burst.handlers import lifecycle
from burst.loop import doctor
from burst.loop.config import RuntimeConfig
from burst.ports.doctor import Access
from burst.tools import credentials
from burst.tools.harness.context import LambdaContext

EVENTS = Path(__file__).parents[2] / "events"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def token(claims: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJSUzI1NiJ9.{body}.c2ln"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (token({"exp": int((NOW + timedelta(days=3)).timestamp())}), 3.0),
        (token({"exp": int((NOW - timedelta(days=1)).timestamp())}), -1.0),
        (token({"sub": "legacy secret token, no exp"}), None),
        (token({"exp": "soon"}), None),
        ("not.a-jwt", None),
        ("a.!!!.c", None),
    ],
    ids=["3 days", "expired", "no exp", "exp not a number", "two parts", "bad base64"],
)
def test_days_left_comes_from_the_tokens_own_exp_claim(value: str, expected: float | None) -> None:
    assert jwt.days_left(value, NOW) == expected


def test_a_diagnose_request_is_parsed_beside_the_events() -> None:
    assert parse_request({"action": "diagnose"}) == Diagnose()
    docs = [{"kind": "Role"}]
    assert parse_request({"action": "diagnose", "rbac": docs}) == Diagnose(rbac=tuple(docs))
    tick = json.loads((EVENTS / "scheduled.json").read_text())
    assert isinstance(parse_request(tick), ScheduledTick)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"action": "rotate"}, "action"),
        ({"action": ""}, "action"),
        ({"action": "diagnose", "rbac": "manifests/rbac.yaml"}, "rbac"),
        ({"action": "diagnose", "checks": []}, "checks"),
    ],
    ids=["unknown action", "empty action", "rbac not a list", "unknown field"],
)
def test_a_bad_request_names_its_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(EventError) as caught:
        parse_request(raw)
    assert caught.value.field == field


SCALER = (identity.NAMESPACE, identity.service_account("scaler"))
TOKENS = (identity.NAMESPACE, identity.service_account("tokens"))


def test_the_rbac_verbs_are_derived_from_the_manifest_per_identity() -> None:
    docs = credentials.load_manifests(credentials.DEFAULT_RBAC)
    access = doctor.required_access(docs, "rbac.yaml", SCALER)
    said = {str(a) for a in access}
    assert {"create pods/eviction", "update nodes", "list pods", "watch pods",
            "get configmaps fpga-burst-status in kube-system"} <= said
    assert "delete pods" not in said  # evictions only, so PodDisruptionBudgets hold
    assert not any("secrets" in a for a in said)  # the scaler has no Secrets access
    assert len(access) == len(said)
    tokens = {str(a) for a in doctor.required_access(docs, "rbac.yaml", TOKENS)}
    assert "get secrets bootstrap-token-fbrst0 in kube-system" in tokens
    assert not any("nodes" in a or "list" in a for a in tokens)


@pytest.mark.parametrize(
    "doc",
    [
        {"kind": "Role", "metadata": {"name": "r"}, "rules": []},
        {"kind": "ClusterRole", "metadata": {"name": "r"}, "rules": [{"verbs": ["get"]}]},
    ],
    ids=["role without namespace", "rule without resources"],
)
def test_a_malformed_rbac_manifest_is_a_config_error(doc: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"rbac\.yaml: document 1"):
        doctor.required_access([doc], "rbac.yaml", SCALER)


def test_a_check_prints_its_mark_problem_fix_and_lines() -> None:
    access = Access("create", "configmaps", namespace="kube-system")
    check = doctor.fail(doctor.RBAC, "1 of 9 verbs denied", "apply it", [str(access)])
    assert check.render() == (
        "✗ rbac: 1 of 9 verbs denied — fix: apply it\n    create configmaps in kube-system")
    assert doctor.ok(doctor.HOOKS).render() == "✓ lifecycle-hooks"
    absent = doctor.not_run(doctor.JOIN, "no access")
    assert absent.render() == "- join-parameter: not run: no access"


def test_an_error_becomes_the_failure_of_its_class_with_the_fix() -> None:
    check = doctor.from_error(doctor.RBAC, KubeForbiddenError("list pods", 403, "Forbidden", "no"))
    assert check.status is doctor.Status.FAIL
    assert check.detail.startswith("RBAC denies the controller: list pods: 403")
    assert "manifests/rbac.yaml" in check.fix


def test_nothing_given_is_everything_not_run_and_no_pass() -> None:
    report = doctor.diagnose(doctor.Expected(RuntimeConfig("c"), NOW), doctor.Probes())
    assert [c.name for c in report.checks] == list(doctor.CHECKS)
    assert {c.status for c in report.checks} == {doctor.Status.NOT_RUN}
    assert not report.failed  # nothing found wrong, yet nothing checked: no pass
    assert report.to_json()["ok"] is False and not report.passed


def test_the_join_parameter_may_be_as_old_as_one_rotation_plus_one_run() -> None:
    cfg = RuntimeConfig("c")  # a 1-hour token rotated with 30 minutes left, a run each 15
    assert doctor.join_max_age(cfg) == timedelta(minutes=30 + 15) + doctor.JOIN_SLACK


def abandoned(message: str) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((EVENTS / "launch-unsuccessful.json").read_text())
    raw["detail"]["StatusMessage"] = message
    return raw


HOOK_TIMEOUT = ("Instance failed to complete user's Lifecycle Action: Lifecycle Action with "
                "token 5f0e-... was abandoned: Heartbeat Timeout")


def test_a_launch_abandoned_by_its_hook_is_a_join_failure() -> None:
    event = parse_request(abandoned(HOOK_TIMEOUT))
    assert isinstance(event, LaunchUnsuccessful) and event.join_failed
    capacity = parse_request(abandoned("We currently do not have sufficient capacity"))
    assert isinstance(capacity, LaunchUnsuccessful) and not capacity.join_failed


def test_the_lifecycle_function_counts_a_join_failure_for_its_alarm(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lifecycle.handler(abandoned(HOOK_TIMEOUT), LambdaContext(60, "t"))
    (blob,) = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    names = [m["Name"] for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert sorted(names) == ["JoinFailures", "ScaleUpFailures"]
