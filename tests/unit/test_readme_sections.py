"""What the README must cover, read from where each fact lives in the code.

Troubleshooting has an entry for every alarm the stack makes (stacks/controller/monitoring.py)
and every step the node bootstrap can fail at (stacks/nodegroup/bootstrap.sh, the step
names its join-error tag carries). The operator's IAM policy (docs/operator-policy.json)
allows every AWS action `burst doctor`, `burst credentials` and `burst teardown` call
(found in the adapters they use, by the `calling("Operation")` that wraps each call).
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import mdblocks

from stacks.controller.functions import FUNCTIONS
from stacks.controller.monitoring import alarm_names

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
BOOTSTRAP = REPO / "stacks" / "nodegroup" / "bootstrap.sh"
POLICY = REPO / "docs" / "operator-policy.json"
ADAPTERS = REPO / "lambdas" / "burst" / "adapters" / "aws"
_ROW = re.compile(r"^\|\s*`(?P<name>[^`]+)`\s*\|(?P<rest>.*)\|\s*$", re.MULTILINE)


def entries(title: str) -> dict[str, list[str]]:
    """The first-column names of the table rows in README section `title`, with their other
    cells."""
    text = mdblocks.section(README, title).text
    return {m["name"]: [c.strip() for c in m["rest"].split("|")] for m in _ROW.finditer(text)}


def join_steps() -> list[str]:
    """Every step bootstrap.sh reports a failure under: the one it starts in and each
    `step NAME` of its main."""
    text = BOOTSTRAP.read_text()
    first = re.search(r'^STEP="(?P<name>[a-z-]+)"$', text, re.MULTILINE)
    assert first, "bootstrap.sh no longer starts with STEP=..."
    return [first["name"], *re.findall(r"^\s+step (?P<name>[a-z-]+)$", text, re.MULTILINE)]


def test_every_alarm_has_a_troubleshooting_entry_with_symptom_place_and_fix() -> None:
    alarms = alarm_names(f.name for f in FUNCTIONS)
    found = entries("Alarms")
    assert [a for a in alarms if a not in found] == []
    assert [a for a in found if a not in alarms] == [], "an entry for an alarm that is gone"
    assert all(len(found[a]) == 3 and all(found[a]) for a in alarms), \
        "each entry: symptom, where to look, fix"


def test_every_join_step_has_a_troubleshooting_entry_with_symptom_place_and_fix() -> None:
    steps = join_steps()
    assert len(steps) >= 8  # settings, metadata, image, host, vpn, join-data, kubeadm-join...
    found = entries("A node that did not join")
    assert [s for s in steps if s not in found] == []
    assert [s for s in found if s not in steps] == [], "an entry for a step that is gone"
    assert all(len(found[s]) == 3 and all(found[s]) for s in steps)


# What `burst doctor` (burst.tools.doctor.check), `burst credentials` and `burst teardown`
# reach in the AWS adapters: module -> the functions used, or None for the whole module.
OPERATOR_CODE: dict[str, set[str] | None] = {
    "doctor.py": None,  # AwsDoctor: hooks, the join parameter, the deployed functions
    "groups.py": None,  # discovery, instances, scaling activities
    "regions.py": None,  # which region holds a group
    "secrets.py": None,  # the scaler's credentials (doctor), writing them (credentials)
    "lifecycle.py": {"join_error"},  # the join-error tags
}


def _literal_calls(tree: ast.AST, name: str) -> set[str]:
    """The first string argument of every call of `name` (a function or method) in `tree`."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called == name and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


def _strings(tree: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str)}


def operator_actions() -> set[str]:
    """IAM actions (`prefix:Operation`) the operator's commands call, from the code: in each
    function, every string that is an operation of a service whose client it makes (the
    module's, if the function makes none)."""
    session = botocore.session.get_session()
    models: dict[str, Any] = {}
    actions: set[str] = set()
    for module, wanted in OPERATOR_CODE.items():
        tree = ast.parse((ADAPTERS / module).read_text())
        module_services = _literal_calls(tree, "client")
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
                     and (wanted is None or n.name in wanted)]
        assert wanted is None or {f.name for f in functions} == wanted, module
        for function in functions:
            services = _literal_calls(function, "client") or module_services
            for service in services:
                models.setdefault(service, session.get_service_model(service))
            for text in _strings(function):
                owners = [s for s in services if text in models[s].operation_names]
                assert len(owners) <= 1, f"{module} {function.name}: {text} in {owners}"
                if owners:
                    signing = models[owners[0]].signing_name
                    prefix = _IAM_PREFIX.get(signing, signing)
                    actions.add(f"{prefix}:{text}")
    return actions


# Services whose IAM action prefix is not their signing name: CloudWatch signs as
# "monitoring", its actions are cloudwatch:* (Service Authorization Reference).
_IAM_PREFIX = {"monitoring": "cloudwatch"}


def _allowed(statements: list[dict[str, Any]], action: str) -> bool:
    for s in statements:
        listed = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        if s["Effect"] == "Allow" and any(fnmatch.fnmatchcase(action, a) for a in listed):
            return True
    return False


def test_the_operator_policy_allows_every_action_doctor_and_credentials_call() -> None:
    policy = json.loads(POLICY.read_text())
    assert policy["Version"] == "2012-10-17"
    actions = operator_actions()
    # The scan finds what it should: a read of each kind the two commands make.
    assert {"autoscaling:DescribeLifecycleHooks", "ssm:GetParameter", "lambda:ListFunctions",
            "secretsmanager:PutSecretValue", "secretsmanager:GetSecretValue",
            "ec2:DescribeTags"} <= actions
    assert sorted(a for a in actions if not _allowed(policy["Statement"], a)) == []


def test_the_operator_policy_names_no_wildcard_action() -> None:
    # Least privilege: each action by name; a resource is `*` only where the action takes
    # none (the Describe and List calls), and the secrets, parameter, functions and logs
    # are limited to fpga-burst's names.
    for statement in json.loads(POLICY.read_text())["Statement"]:
        listed = statement["Action"] if isinstance(statement["Action"], list) \
            else [statement["Action"]]
        assert all("*" not in a for a in listed), statement["Sid"]
