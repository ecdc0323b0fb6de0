"""The AWS actions the code calls, against the actions the synthesized policies allow.

`called_in_code` scans lambdas/burst/adapters/aws/ (the only place that calls boto3): in
each module, for every service it asks a client for (`client("autoscaling")`), every
operation of that service's botocore model named there, as an API name
("SetDesiredCapacity") or as the client method or paginator ("set_desired_capacity").
The IAM action is `<signing name>:<operation>`. The end-to-end suites' record
(iamenforce, $FPGA_BURST_IAM_RECORD) says which function made which call.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
from botocore import xform_name
from iampolicy import allowed_actions

ADAPTERS = Path(__file__).resolve().parents[2] / "lambdas" / "burst" / "adapters" / "aws"


def called_in_code(folder: Path = ADAPTERS) -> dict[str, set[str]]:
    """IAM action -> the adapter modules that call it."""
    session = botocore.session.get_session()
    found: dict[str, set[str]] = {}
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text())
        services, names = set(), set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "client" and node.args
                    and isinstance(node.args[0], ast.Constant)):
                services.add(str(node.args[0].value))
        for service in services:
            model = session.get_service_model(service)
            for operation in model.operation_names:
                if operation in names or xform_name(operation) in names:
                    action = f"{model.signing_name}:{operation}"
                    found.setdefault(action, set()).add(path.name)
    return found


@dataclass(frozen=True)
class Row:
    action: str
    allowed_to: tuple[str, ...]  # functions whose policy names the action
    in_code: tuple[str, ...]  # adapter modules that call it
    seen: tuple[str, ...]  # functions the end-to-end suites saw call it
    why: str  # the justification in grants.py when no code of ours calls it


def inventory(policies: Mapping[str, Iterable[Mapping[str, Any]]],
              record: Iterable[Mapping[str, Any]], justified: Mapping[str, str]) -> list[Row]:
    """One row per action allowed to a function or called by the code."""
    allowed: dict[str, set[str]] = {}
    for function, statements in policies.items():
        for action in allowed_actions(statements):
            allowed.setdefault(action, set()).add(function)
    code = called_in_code()
    seen: dict[str, set[str]] = {}
    for call in record:
        seen.setdefault(call["action"], set()).add(call["function"])
    actions = sorted(set(allowed) | set(code) | set(seen), key=str.lower)
    return [Row(a, tuple(sorted(allowed.get(a, ()))), tuple(sorted(code.get(a, ()))),
                tuple(sorted(seen.get(a, ()))), justified.get(a, "")) for a in actions]


def table(rows: Iterable[Row]) -> str:
    lines = [f"{'action':48} {'allowed to':26} {'called in':22} {'seen in e2e':26} why not"]
    for r in rows:
        lines.append(f"{r.action:48} {','.join(r.allowed_to) or '-':26} "
                     f"{','.join(r.in_code) or '-':22} {','.join(r.seen) or '-':26} {r.why}")
    return "\n".join(lines)


def read_record(path: Path | None) -> list[dict[str, Any]]:
    if path is None or not path.exists():
        return []
    return list(json.loads(path.read_text()))


def report(policies: Mapping[str, Iterable[Mapping[str, Any]]],
           record: Iterable[Mapping[str, Any]], justified: Mapping[str, str]) -> str:
    """The table, and what it adds up to: the actions allowed and why, what the suites saw,
    what they denied, and what the code calls that the suites never reached."""
    record = list(record)
    rows = inventory(policies, record, justified)
    allowed = [r for r in rows if r.allowed_to]
    called = [r for r in allowed if r.in_code]
    unseen = [r for r in called if not set(r.allowed_to) & set(r.seen)]
    denied = sorted({(c["function"], c["action"]) for c in record if not c["allowed"]})
    return "\n".join([
        table(rows), "",
        f"{len(allowed)} actions allowed to a function: {len(called)} called by our code, "
        f"{len(allowed) - len(called)} called by AWS with the role (justified in grants.py)",
        f"{len(record)} distinct (function, call, action) seen in the suites; "
        f"denied: {denied or 'none'}",
        "allowed and called in code, but not reached by the suites: "
        + (", ".join(r.action for r in unseen) or "none"),
    ])
