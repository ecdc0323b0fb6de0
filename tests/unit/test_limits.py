"""Modules short enough to find one's way in, functions short-listed enough to call right.

ARCHITECTURE.md's limits, checked from the files themselves: no module over 400 lines and no
function with more than 7 parameters (self and cls aside), in everything but the tests.
A test's table or fixture may be long; the code it tests may not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
CHECKED = ("lambdas", "stacks", "benchmarks", "tools", "app.py")
MAX_LINES = 400
MAX_PARAMETERS = 7


def _modules() -> list[Path]:
    found: list[Path] = []
    for name in CHECKED:
        top = ROOT / name
        found.extend([top] if top.is_file() else sorted(top.rglob("*.py")))
    return found


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    return [n for n in names if n not in {"self", "cls"}]


@pytest.mark.parametrize("path", _modules(), ids=_id)
def test_no_module_is_over_the_line_limit(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{_id(path)} has {lines} lines: split it by concern"


@pytest.mark.parametrize("path", _modules(), ids=_id)
def test_no_function_takes_more_than_seven_parameters(path: Path) -> None:
    tree = ast.parse(path.read_text())
    over = [f"{node.name} (line {node.lineno}): {len(_parameters(node))}"
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and len(_parameters(node)) > MAX_PARAMETERS]
    assert not over, f"{_id(path)}: group related parameters into a value: {over}"
