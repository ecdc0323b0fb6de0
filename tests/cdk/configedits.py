"""Deployment config documents with one mistake or change each, for the config tests."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Edit = Callable[[dict[str, Any]], None]


def editor(doc: dict[str, Any]) -> Callable[[Edit], dict[str, Any]]:
    """`edited(edit)`: a fresh deep copy of `doc` with `edit` applied; `doc` stays as it is."""

    def edited(edit: Edit) -> dict[str, Any]:
        changed = copy.deepcopy(doc)
        edit(changed)
        return changed

    return edited
