"""The pure core never imports boto3, botocore or kubernetes, nor reads the clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "lambdas" / "burst"
CORE = [
    *("model", "catalog", "fit", "capacity", "expanders", "bins", "packing", "improve"),
    *("baseline", "planner"),
    *("scaledown", "backoff", "asgtags", "quantity", "events", "cloud", "rotation", "lifecycle"),
]
FORBIDDEN = {"boto3", "botocore", "kubernetes", "urllib3", "requests", "socket", "time"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", [m for m in CORE if (PACKAGE / f"{m}.py").exists()])
def test_core_module_imports_no_io_library(module: str) -> None:
    assert _imports(PACKAGE / f"{module}.py") & FORBIDDEN == set()


def test_core_modules_do_not_call_now() -> None:
    for module in CORE:
        path = PACKAGE / f"{module}.py"
        if path.exists():
            assert ".now(" not in path.read_text() and "utcnow" not in path.read_text(), module
