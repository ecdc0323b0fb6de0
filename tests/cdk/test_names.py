"""An alarm or dashboard graph on a metric nobody emits is silent: every one must be emitted.

What the functions emit is read from their own source, the Lambda asset's modules
(lambdas/burst without tools/): a metric counts as emitted where that code names
`Metric.<NAME>` (the add_metric calls, the lifecycle outcome's (name, unit, value) tuples,
the handlers' failure table). burst.core.names defines the names; a name defined there and
never used by the code fails too, and neither the functions nor the stack may spell a name
as a string of their own.
"""

from __future__ import annotations

import ast
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from burst.core.names import METRICS_NAMESPACE, SERVICE, EventReason, Hook, Metric

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "lambdas" / "burst"
NAMES = PACKAGE / "core" / "names.py"
# CloudWatch's own namespaces: metrics AWS publishes, not the functions.
AWS_NAMESPACES = {"AWS/Lambda", "AWS/SQS"}


def _shipped() -> list[Path]:
    """The modules of the functions' code asset (stacks/controller ASSET_EXCLUDE drops tools)."""
    return sorted(
        p for p in PACKAGE.rglob("*.py")
        if p != NAMES and p.relative_to(PACKAGE).parts[0] != "tools"
    )


def _stacks() -> list[Path]:
    return sorted((REPO / "stacks").rglob("*.py"))


def _id(path: Path) -> str:
    return str(path.relative_to(REPO))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _metric_refs(tree: ast.AST) -> set[str]:
    """The members named as `Metric.X` (or `names.Metric.X`) in a module."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            owner = node.value
            if (isinstance(owner, ast.Name) and owner.id == "Metric") or (
                isinstance(owner, ast.Attribute) and owner.attr == "Metric"
            ):
                found.add(node.attr)
    return found


@cache
def emitted() -> frozenset[str]:
    """Metric names the shipped code emits, by the members it names."""
    members = set().union(*(_metric_refs(_tree(p)) for p in _shipped()))
    unknown = members - set(Metric.__members__)
    assert not unknown, f"Metric has no member(s) {sorted(unknown)}"
    return frozenset(Metric[m].value for m in members)


def _add_metric_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and node.func.attr == "add_metric"
    ]


def _name_argument(call: ast.Call) -> ast.expr:
    named = [k.value for k in call.keywords if k.arg == "name"]
    return named[0] if named else call.args[0]


def _resources(template: Template, kind: str) -> dict[str, Any]:
    found: dict[str, Any] = template.find_resources(kind)
    return found


def _dashboard_metrics(template: Template) -> list[list[Any]]:
    """Every metric array of every dashboard widget: [namespace, name, dim, value, ..., opts].

    The body is an Fn::Join of JSON text and tokens (function names, the queue name); the
    tokens only stand in string values, so a placeholder keeps the JSON whole.
    """
    found = []
    for dashboard in _resources(template, "AWS::CloudWatch::Dashboard").values():
        body = dashboard["Properties"]["DashboardBody"]
        parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
        text = "".join(p if isinstance(p, str) else "TOKEN" for p in parts)
        for widget in json.loads(text)["widgets"]:
            found.extend(widget["properties"].get("metrics", []))
    return found


def test_the_scan_finds_the_metrics_the_alarms_are_known_to_watch() -> None:
    # GIVEN the code that emits on a failure (runtime's table, the scaler, the lifecycle step)
    # THEN the source scan sees those emissions: it is not vacuously empty.
    assert {"ClusterUnreachable", "ScaleUpFailures", "DrainsOverDeadline"} <= emitted()


def test_every_defined_metric_is_emitted() -> None:
    assert set(Metric) - emitted() == set(), "defined in burst.core.names, emitted nowhere"


@pytest.mark.parametrize("path", _shipped(), ids=_id)
def test_add_metric_takes_a_defined_name_never_a_string(path: Path) -> None:
    for call in _add_metric_calls(_tree(path)):
        name = _name_argument(call)
        assert not isinstance(name, ast.Constant | ast.JoinedStr), (
            f"{_id(path)}:{call.lineno}: add_metric with a literal name; use burst.core.names"
        )


@pytest.mark.parametrize("path", _shipped() + _stacks(), ids=_id)
def test_no_module_spells_a_shared_name_itself(path: Path) -> None:
    shared = {*Metric, *Hook, *EventReason}
    spelled = {
        (node.value, node.lineno) for node in ast.walk(_tree(path))
        if isinstance(node, ast.Constant) and node.value in shared
    }
    assert spelled == set(), f"{_id(path)} spells names of burst.core.names as strings"


def test_every_alarm_watches_an_emitted_metric(template: Template) -> None:
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    own = []
    for logical_id, alarm in alarms.items():
        props = alarm["Properties"]
        namespace, name = props["Namespace"], props["MetricName"]
        if namespace in AWS_NAMESPACES:
            continue
        assert namespace == METRICS_NAMESPACE, f"{logical_id} watches namespace {namespace}"
        assert name in emitted(), f"{logical_id} watches {name}, which no function emits"
        assert props["Dimensions"] == [{"Name": "service", "Value": SERVICE}], logical_id
        own.append(name)
    assert own, "no alarm on the functions' own metrics"


def test_every_dashboard_metric_is_emitted(dashboard_template: Template) -> None:
    own = [m for m in _dashboard_metrics(dashboard_template) if m[0] not in AWS_NAMESPACES]
    assert own, "the dashboard graphs none of the functions' own metrics"
    for metric in own:
        namespace, name = metric[0], metric[1]
        assert namespace == METRICS_NAMESPACE, f"dashboard graphs namespace {namespace}"
        assert name in emitted(), f"the dashboard graphs {name}, which no function emits"
        assert metric[2:4] == ["service", SERVICE], f"{name}: dimensions {metric[2:-1]}"


def test_every_node_group_has_exactly_the_hooks_the_lifecycle_function_completes(
    template: Template,
) -> None:
    hooks = _resources(template, "AWS::AutoScaling::LifecycleHook").values()
    groups = _resources(template, "AWS::AutoScaling::AutoScalingGroup")
    by_group: dict[str, set[str]] = {g: set() for g in groups}
    for hook in hooks:
        by_group[hook["Properties"]["AutoScalingGroupName"]["Ref"]].add(
            hook["Properties"]["LifecycleHookName"]
        )
    assert by_group == {g: set(Hook) for g in groups}


def test_the_functions_environment_names_the_same_service_and_namespace(
    template: Template,
) -> None:
    for fn in _resources(template, "AWS::Lambda::Function").values():
        env = fn["Properties"]["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == SERVICE
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == METRICS_NAMESPACE
