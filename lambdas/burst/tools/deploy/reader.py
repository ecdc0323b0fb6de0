"""Reading the deployment YAML: a mapping that knows its dotted path, so that every
error names the field, and the patterns more than one part of the file is checked with."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from burst.core.errors import ConfigError
from burst.tools.deploy import schema
from burst.tools.deploy.schema import Shape

# Errors name the field only: app.py and the tools print the file before them.
SOURCE = ""
NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
NAME_HINT = "lower-case letters, digits, '-'; ≤ 32"
# Kubernetes qualified names: optional DNS-subdomain prefix, then a name of at most 63.
LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def bad(field: str, problem: str) -> ConfigError:
    return ConfigError(SOURCE, field, problem)


def unique(values: list[str], where: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise bad(where, f"{value!r} appears twice")
        seen.add(value)


class Obj:
    """A YAML mapping with its dotted path, for error messages that name the field, and its
    shape in burst.tools.deploy.schema: reading a key the schema lacks is a KeyError (the
    schema is the one list of keys; a test parses every sample config)."""

    def __init__(self, raw: object, path: str, shape: Shape = schema.SCHEMA) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise bad(path or "<top level>", "must be a mapping")
        self._raw: dict[str, Any] = raw
        self._path = path
        self._shape = shape

    def path(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def get(self, key: str) -> Any:
        schema.child(self._shape, key)
        return self._raw.get(key)

    def fields(self) -> list[str]:
        return [str(k) for k in self._raw]

    def obj(self, key: str, *, required: bool = True) -> Obj:
        shape = schema.child(self._shape, key)
        if required and key not in self._raw:
            raise bad(self.path(key), "is required")
        return Obj(self._raw.get(key), self.path(key), shape)

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.get(key) or {}
        if not isinstance(value, dict):
            raise bad(self.path(key), "must be a mapping")
        return value

    def items(self, key: str, *, min_len: int, required: bool = True) -> list[Obj]:
        value = self.get(key)
        shape = schema.item(schema.child(self._shape, key))
        if value is None and not required:
            return []
        if not isinstance(value, list) or len(value) < min_len:
            raise bad(self.path(key), f"must be a list of at least {min_len}")
        return [Obj(v, f"{self.path(key)}[{i}]", shape) for i, v in enumerate(value)]

    def str_list(self, key: str, *, default: list[str]) -> list[str]:
        schema.child(self._shape, key)  # KeyError if the schema lacks it
        value = self._raw.get(key, default)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise bad(self.path(key), "must be a non-empty list of strings")
        return value

    def text(
        self,
        key: str,
        *,
        default: Any = ...,
        pattern: re.Pattern[str] | None = None,
        hint: str = "",
    ) -> Any:
        return self._scalar(key, default, lambda v: isinstance(v, str), "a string", pattern, hint)

    def integer(self, key: str, *, default: Any = ..., minimum: int) -> Any:
        value = self._scalar(
            key, default, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"
        )
        if value is not None and value < minimum:
            raise bad(self.path(key), f"{value} must be ≥ {minimum}")
        return value

    def flag(self, key: str, *, default: bool) -> bool:
        return bool(self._scalar(key, default, lambda v: isinstance(v, bool), "true or false"))

    def cidr(self, key: str, *, required: bool = True) -> str | None:
        value = self.text(key, default=... if required else None)
        if value is None:
            return None
        try:
            return str(ipaddress.ip_network(value, strict=True))
        except ValueError as exc:
            raise bad(self.path(key), f"{value!r} is not a CIDR block ({exc})") from exc

    def _scalar(
        self,
        key: str,
        default: Any,
        ok: Callable[[Any], bool],
        kind: str,
        pattern: re.Pattern[str] | None = None,
        hint: str = "",
    ) -> Any:
        if self.get(key) is None:
            if default is ...:
                raise bad(self.path(key), "is required")
            return default
        value = self._raw[key]
        if not ok(value):
            raise bad(self.path(key), f"{value!r} is not {kind}")
        if pattern is not None and not pattern.match(value):
            suffix = f" ({hint})" if hint else ""
            raise bad(self.path(key), f"{value!r} is not valid{suffix}")
        return value
