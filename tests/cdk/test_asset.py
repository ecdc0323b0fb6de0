"""The functions' code asset holds what the handlers import, and nothing from burst/tools."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from aws_cdk import App

from stacks.stack import FpgaBurstStack


def _asset_dir(app_and_stack: tuple[App, FpgaBurstStack], template: object) -> Path:
    """The staged directory of the asset the functions' Code points at."""
    app, stack = app_and_stack
    assembly = app.synth()
    artifact = assembly.get_stack_artifact(stack.artifact_id)
    resources = json.loads(Path(artifact.template_full_path).read_text())["Resources"]
    handlers = [
        r for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function" and "burst.handlers" in r["Properties"]["Handler"]
    ]
    keys = {r["Properties"]["Code"]["S3Key"] for r in handlers}
    # One shared asset for every function; its staged folder is named by the same hash.
    (key,) = {k if isinstance(k, str) else json.dumps(k) for k in keys}
    digest = key.split(".")[0]
    return Path(assembly.directory) / f"asset.{digest}"


def _modules(root: Path) -> set[str]:
    return {
        ".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        for p in root.rglob("*.py")
    }


def _path(root: Path, module: str) -> Path:
    base = root / Path(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _burst_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("burst"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("burst"))
    return found


def test_asset_has_no_tools_and_everything_the_handlers_import(
    app_and_stack: tuple[App, FpgaBurstStack], template: object
) -> None:
    # GIVEN the synthesized app's code asset
    root = _asset_dir(app_and_stack, template)
    modules = _modules(root)
    # THEN nothing of burst.tools is in it
    assert modules, f"no Python modules in {root}"
    assert not {m for m in modules if m.startswith("burst.tools")}
    # AND every burst module reachable from the handlers is in it
    todo = [f"burst.handlers.{name}" for name in ("scaler", "lifecycle", "tokens")]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in modules:
            continue
        seen.add(name)
        todo.extend(_burst_imports(_path(root, name)))
    assert {"burst.handlers.scaler", "burst.loop.reconcile", "burst.core.scaleup.planner"} <= seen
    # (`from burst.x import name`: either burst.x.name is a module, or burst.x has `name`)
    missing = {
        m for name in seen for m in _burst_imports(_path(root, name))
        if m not in modules and m.rsplit(".", 1)[0] not in modules
    }
    assert not missing
    # AND nothing beyond the package (tests, docs, build output) is shipped
    assert {p.parts[0] for p in (q.relative_to(root) for q in root.rglob("*.py"))} == {"burst"}
