"""The one YAML loader for files `burst` reads: libyaml's C loader where PyYAML was built
with it (it is, in the wheels), else the pure-Python one. Both build the same safe types
and raise yaml.YAMLError with a problem mark; the C one is about ten times faster, which
was most of `burst plan` on a big scenario file.
"""

from __future__ import annotations

from typing import Any

import yaml

# Safe either way: only plain YAML types are built, never arbitrary Python objects.
Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> Any:
    """The one document in `text` (None if empty)."""
    return yaml.load(text, Loader=Loader)


def load_all(text: str) -> list[Any]:
    """Every document in `text`, in order."""
    return list(yaml.load_all(text, Loader=Loader))
