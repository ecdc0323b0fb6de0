"""The folders are the architecture: what each layer of `burst` may import.

The layer of a module is its first folder under lambdas/burst/ (core, ports, adapters,
loop, handlers, tools); nothing here lists modules, so a new file is checked by where it
is put. Within `adapters`, the second folder (aws, kube) is the outside system it wraps.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "lambdas" / "burst"
LAYERS = ("core", "ports", "adapters", "loop", "handlers", "tools")
# The burst layers each layer may import (its own included).
MAY_IMPORT = {
    "core": {"core"},
    "ports": {"core", "ports"},
    "adapters": {"core", "ports", "adapters"},
    "loop": {"core", "ports", "loop"},
    "handlers": {"core", "ports", "adapters", "loop", "handlers"},
    "tools": set(LAYERS),
}
# Libraries that touch the outside world or the clock, and the one place each may be used.
OWNER = {
    "boto3": "adapters/aws",
    "botocore": "adapters/aws",
    "kubernetes": "adapters/kube",
    "urllib3": "adapters/kube",
    "aws_lambda_powertools": "handlers",
    "matplotlib": "tools",
    "moto": "tools",
}
# Besides the owner: the harness plays AWS and the cluster's other actors (admins, kubelets)
# for tests, benchmarks and the demo, and reaches them directly; the controller's own calls
# stay in the adapters.
ALSO = {"tools/harness": {"boto3", "botocore", "kubernetes"}}
# Never in the pure core or the ports: I/O, the clock, randomness, the process.
IMPURE = {"socket", "time", "os", "subprocess", "random", "pathlib", "yaml", "threading", "sys"}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


def _where(path: Path) -> tuple[str, str]:
    parts = path.relative_to(PACKAGE).parts
    return parts[0], "/".join(parts[:2])


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _id(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


def test_every_module_is_in_a_layer() -> None:
    assert {p.relative_to(PACKAGE).parts[0] for p in _modules()} <= set(LAYERS)
    assert {p.name for p in PACKAGE.glob("*.py")} == {"__init__.py"}


@pytest.mark.parametrize("path", _modules(), ids=_id)
def test_module_imports_only_what_its_layer_may(path: Path) -> None:
    layer, room = _where(path)
    for name in _imports(path):
        top = name.split(".")[0]
        if top == "burst":
            target = name.split(".")[1] if "." in name else ""
            assert target in MAY_IMPORT[layer], f"{_id(path)} ({layer}) imports {name}"
        elif top in OWNER:
            owner = OWNER[top]
            assert room == owner or layer == owner or top in ALSO.get(room, ()), \
                f"{_id(path)} imports {top}, which only {owner} may"
        elif layer in {"core", "ports"}:
            assert top not in IMPURE, f"{_id(path)} ({layer}) imports {top}"


@pytest.mark.parametrize(
    "path", [p for p in _modules() if _where(p)[0] in {"core", "ports"}], ids=_id
)
def test_core_and_ports_never_read_the_clock(path: Path) -> None:
    text = path.read_text()
    assert ".now(" not in text and "utcnow" not in text and "today(" not in text


REPO = PACKAGE.parents[1]


@pytest.mark.parametrize("path", _modules(), ids=_id)
def test_the_package_reads_nothing_of_the_checkout(path: Path) -> None:
    """Installed, `burst` has no repository around it: no module imports what lives beside
    the package (stacks, tests, tools), edits the module search path, or climbs from its own
    file out of the package (`Path(__file__).parents[N]`)."""
    beside = {p.stem for p in REPO.iterdir() if p.name != "lambdas"}
    depth = len(path.relative_to(PACKAGE).parts) - 1  # parents[depth] is lambdas/burst
    for name in _imports(path):
        assert name.split(".")[0] not in beside, f"{_id(path)} imports {name} from the checkout"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) != ("sys", "path"), \
                f"{_id(path)} edits the module search path"
        if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
                and node.value.attr == "parents"):
            up = node.slice.value if isinstance(node.slice, ast.Constant) else None
            assert isinstance(up, int) and up <= depth, f"{_id(path)} climbs out of the package"
