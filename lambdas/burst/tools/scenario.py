"""Scenario files (see docs/scenarios.md): YAML in, a validated Snapshot and Policy out.

Validation is strict and complete before anything is planned: an unknown field, a wrong
type or a dangling reference is a ConfigError naming the file, the field path and what is
wrong. Unknown fields are refused so a typo cannot silently change a plan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml

from burst.adapters import yamlload
from burst.core.catalog import default_catalog
from burst.core.errors import ConfigError, UnknownKeyError
from burst.core.model import (
    Catalog,
    InstanceType,
    Node,
    NodeGroup,
    Pod,
    Policy,
    Snapshot,
    Taint,
    Toleration,
)
from burst.core.policy import parse_policy
from burst.core.regions import AWS_REGIONS

T = TypeVar("T")
_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


@dataclass(frozen=True)
class Scenario:
    snapshot: Snapshot
    policy: Policy


class _Reader:
    """Typed access to one YAML document with field paths for every error."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, problem: str) -> ConfigError:
        return ConfigError(self.source, path, problem)

    def mapping(self, value: Any, path: str, allowed: tuple[str, ...]) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(path, f"must be a mapping, not {_kind(value)}")
        for key in value:
            if not isinstance(key, str):
                raise self.fail(path, f"key {key!r} must be a string")
            if allowed and key not in allowed:
                raise UnknownKeyError(self.source, _join(path, key), key, allowed)
        return value

    def seq(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(path, f"must be a list, not {_kind(value)}")
        return value

    def text(self, value: Any, path: str, *, optional: bool = False) -> str:
        if value is None and optional:
            return ""
        if not isinstance(value, str) or not value:
            raise self.fail(path, f"must be a non-empty string, not {_kind(value)}")
        return value

    def count(self, value: Any, path: str, *, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be a whole number, not {_kind(value)}")
        if value < minimum:
            raise self.fail(path, f"must be at least {minimum}, not {value}")
        return value

    def number(self, value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"must be a number, not {_kind(value)}")
        if value < 0:
            raise self.fail(path, f"must not be negative, not {value}")
        return float(value)

    def flag(self, value: Any, path: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, not {_kind(value)}")
        return value

    def labels(self, value: Any, path: str) -> dict[str, str]:
        raw = self.mapping(value, path, ())
        out = {}
        for key, item in raw.items():
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise self.fail(_join(path, key), f"must be a string, not {_kind(item)}")
            out[key] = str(item)
        return out

    def counts(self, value: Any, path: str, minimum: int = 0) -> dict[str, int]:
        raw = self.mapping(value, path, ())
        return {
            key: self.count(item, _join(path, key), minimum=minimum) for key, item in raw.items()
        }

    def items(self, value: Any, path: str, build: Callable[[Any, str], T]) -> list[T]:
        return [build(item, f"{path}[{i}]") for i, item in enumerate(self.seq(value, path))]


def load(path: Path) -> Scenario:
    """Reads and validates a scenario file; raises ConfigError naming file and field."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(source, "", "is not UTF-8 text") from exc
    try:
        doc = yamlload.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(source, where, f"not valid YAML: {problem}") from exc
    return parse(doc, source)


def parse(doc: Any, source: str) -> Scenario:
    r = _Reader(source)
    top = r.mapping(
        doc, "(top level)", ("catalog", "instance_types", "node_groups", "nodes", "policy", "pods")
    )
    catalog = _catalog(r, top)
    groups = r.items(top.get("node_groups"), "node_groups", lambda v, p: _group(r, v, p))
    _unique(r, [g.name for g in groups], "node_groups")
    for i, group in enumerate(groups):
        if group.instance_type not in catalog.instance_types:
            known = ", ".join(sorted(catalog.instance_types))
            raise r.fail(
                f"node_groups[{i}].instance_type",
                f"unknown {group.instance_type!r} (known: {known}; add it to instance_types)",
            )
    names = {g.name for g in groups}
    nodes = r.items(top.get("nodes"), "nodes", lambda v, p: _node(r, v, p, names))
    _unique(r, [n.name for n in nodes], "nodes")
    node_names = {n.name for n in nodes}
    pods = r.items(top.get("pods"), "pods", lambda v, p: _pod(r, v, p, node_names, catalog))
    _unique(r, [p.name for p in pods], "pods")
    policy = _policy(r, top.get("policy"))
    snapshot = Snapshot(tuple(groups), tuple(nodes), tuple(pods), catalog)
    return Scenario(snapshot, policy)


def _catalog(r: _Reader, top: Mapping[str, Any]) -> Catalog:
    base = default_catalog()
    section = r.mapping(top.get("catalog"), "catalog", ("accelerators",))
    accelerators = {
        name: r.counts(boards, f"catalog.accelerators.{name}", minimum=1)
        for name, boards in r.mapping(
            section.get("accelerators"), "catalog.accelerators", ()
        ).items()
    }
    types = dict(base.instance_types)
    for name, spec in r.mapping(top.get("instance_types"), "instance_types", ()).items():
        path = f"instance_types.{name}"
        fields = r.mapping(spec, path, ("boards", "price_per_hour", "vcpus", "memory_gib"))
        old = types.get(name)
        boards = r.counts(fields["boards"], f"{path}.boards", 1) if "boards" in fields else None
        price = (
            r.number(fields["price_per_hour"], f"{path}.price_per_hour")
            if "price_per_hour" in fields
            else None
        )
        if old is None and (boards is None or price is None):
            raise r.fail(path, "a new instance type needs boards and price_per_hour")
        new = old or InstanceType(name, {}, 0.0)
        types[name] = replace(
            new,
            boards=boards if boards is not None else new.boards,
            price_per_hour=price if price is not None else new.price_per_hour,
            vcpus=r.count(fields.get("vcpus", new.vcpus), f"{path}.vcpus"),
            memory_gib=r.number(fields.get("memory_gib", new.memory_gib), f"{path}.memory_gib"),
        )
    return Catalog(accelerators=accelerators, instance_types=types)


def _group(r: _Reader, value: Any, path: str) -> NodeGroup:
    f = r.mapping(
        value,
        path,
        (
            "name",
            "instance_type",
            "min_size",
            "max_size",
            "desired",
            "labels",
            "taints",
            "priority",
            "boards",
            "region",
        ),
    )
    for required in ("name", "instance_type", "max_size"):
        if required not in f:
            raise r.fail(f"{path}.{required}", "is required")
    min_size = r.count(f.get("min_size", 0), f"{path}.min_size")
    max_size = r.count(f["max_size"], f"{path}.max_size")
    desired = r.count(f.get("desired", min_size), f"{path}.desired")
    if min_size > max_size:
        raise r.fail(f"{path}.min_size", f"{min_size} is above max_size {max_size}")
    if not min_size <= desired <= max_size:
        raise r.fail(
            f"{path}.desired", f"{desired} is outside min_size..max_size ({min_size}..{max_size})"
        )
    priority = f.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise r.fail(f"{path}.priority", f"must be a whole number, not {_kind(priority)}")
    return NodeGroup(
        name=r.text(f["name"], f"{path}.name"),
        instance_type=r.text(f["instance_type"], f"{path}.instance_type"),
        min_size=min_size,
        max_size=max_size,
        desired=desired,
        labels=r.labels(f.get("labels"), f"{path}.labels"),
        taints=tuple(r.items(f.get("taints"), f"{path}.taints", lambda v, p: _taint(r, v, p))),
        priority=priority,
        boards=r.counts(f.get("boards"), f"{path}.boards", minimum=1),
        region=_region(r, f.get("region"), f"{path}.region"),
    )


def _region(r: _Reader, value: Any, path: str) -> str:
    """An AWS region code, or "" (absent: the home region, no penalty unless named)."""
    if value is None:
        return ""
    region = r.text(value, path)
    if region not in AWS_REGIONS:
        raise r.fail(path, f"{region!r} is not an AWS region code (e.g. us-east-1)")
    return region


def _node(r: _Reader, value: Any, path: str, groups: set[str]) -> Node:
    f = r.mapping(
        value,
        path,
        ("name", "node_group", "ready", "unschedulable", "labels", "taints", "allocatable"),
    )
    if "name" not in f:
        raise r.fail(f"{path}.name", "is required")
    group = f.get("node_group")
    if group is not None and group not in groups:
        raise r.fail(f"{path}.node_group", f"names no node group: {group!r}")
    return Node(
        name=r.text(f["name"], f"{path}.name"),
        node_group=group,
        ready=r.flag(f.get("ready"), f"{path}.ready", True),
        unschedulable=r.flag(f.get("unschedulable"), f"{path}.unschedulable", False),
        labels=r.labels(f.get("labels"), f"{path}.labels"),
        taints=tuple(r.items(f.get("taints"), f"{path}.taints", lambda v, p: _taint(r, v, p))),
        allocatable=r.counts(f.get("allocatable"), f"{path}.allocatable"),
    )


def _pod(r: _Reader, value: Any, path: str, nodes: set[str], catalog: Catalog) -> Pod:
    f = r.mapping(
        value, path, ("name", "node", "requests", "accelerators", "node_selector", "tolerations")
    )
    if "name" not in f:
        raise r.fail(f"{path}.name", "is required")
    name = r.text(f["name"], f"{path}.name")
    if name.count("/") != 1 or not all(name.split("/")):
        raise r.fail(f"{path}.name", f"must be namespace/name, not {name!r}")
    node = f.get("node")
    if node is not None and node not in nodes:
        raise r.fail(f"{path}.node", f"names no node: {node!r}")
    accelerators = r.counts(f.get("accelerators"), f"{path}.accelerators", minimum=1)
    for accelerator in accelerators:
        if accelerator not in catalog.accelerators:
            raise r.fail(f"{path}.accelerators.{accelerator}", "is not in catalog.accelerators")
    requests = r.counts(f.get("requests"), f"{path}.requests", minimum=1)
    if requests and accelerators:
        raise r.fail(path, "give requests or accelerators, not both")
    return Pod(
        name=name,
        node=node,
        requests=requests,
        accelerators=accelerators,
        node_selector=r.labels(f.get("node_selector"), f"{path}.node_selector"),
        tolerations=tuple(
            r.items(f.get("tolerations"), f"{path}.tolerations", lambda v, p: _toleration(r, v, p))
        ),
    )


def _taint(r: _Reader, value: Any, path: str) -> Taint:
    f = r.mapping(value, path, ("key", "value", "effect"))
    effect = r.text(f.get("effect"), f"{path}.effect")
    if effect not in _EFFECTS:
        raise r.fail(f"{path}.effect", f"must be one of {', '.join(_EFFECTS)}, not {effect!r}")
    value_ = f.get("value")
    return Taint(r.text(f.get("key"), f"{path}.key"), "" if value_ is None else str(value_), effect)


def _toleration(r: _Reader, value: Any, path: str) -> Toleration:
    f = r.mapping(value, path, ("key", "operator", "value", "effect"))
    operator = r.text(f.get("operator", "Equal"), f"{path}.operator")
    if operator not in ("Equal", "Exists"):
        raise r.fail(f"{path}.operator", f"must be Equal or Exists, not {operator!r}")
    effect = r.text(f.get("effect"), f"{path}.effect", optional=True)
    if effect and effect not in _EFFECTS:
        raise r.fail(f"{path}.effect", f"must be one of {', '.join(_EFFECTS)}, not {effect!r}")
    value_ = f.get("value")
    return Toleration(
        key=r.text(f.get("key"), f"{path}.key", optional=True),
        operator=operator,
        value="" if value_ is None else str(value_),
        effect=effect,
    )


def _policy(r: _Reader, value: Any) -> Policy:
    return parse_policy(value, r.source, written=True)


def _unique(r: _Reader, names: list[str], path: str) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise r.fail(f"{path}[{i}].name", f"duplicate name {name!r}")
        seen.add(name)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path and not path.startswith("(") else key


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
