"""The one YAML loader for files `burst` reads: libyaml's C loader where PyYAML was built
with it (it is, in the wheels), else the pure-Python one. The C one is about three times
faster, and reading YAML was most of `burst plan` on a big scenario file.

Both build the same plain types. They word and place some errors differently, so a
document the C loader refuses is read again by the pure-Python one: its result, or its
error, is the answer. That costs time only on bad input.
"""

from __future__ import annotations

from typing import Any

import yaml

# Safe either way: only plain YAML types are built, never arbitrary Python objects.
Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> Any:
    """The one document in `text` (None if empty); yaml.YAMLError if it is not YAML."""
    try:
        return yaml.load(text, Loader=Loader)
    except yaml.YAMLError:
        return yaml.load(text, Loader=yaml.SafeLoader)


def load_all(text: str) -> list[Any]:
    """Every document in `text`, in order; yaml.YAMLError if it is not YAML."""
    try:
        return list(yaml.load_all(text, Loader=Loader))
    except yaml.YAMLError:
        return list(yaml.load_all(text, Loader=yaml.SafeLoader))
