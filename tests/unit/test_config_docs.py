"""docs/configuration.md has one row for every key the deployment config accepts, and no
row for a key it does not: the schema the parser reads by is walked, not a copied list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from burst.core.model import Policy
from burst.core.policy import policy_document
from burst.tools.deploy import schema

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
ROW = re.compile(r"^\| `([^`]+)` \|(.*)\|$")


def rows() -> dict[str, list[str]]:
    """key path -> its other cells (type, default, meaning, read by)."""
    found: dict[str, list[str]] = {}
    for line in DOC.read_text().splitlines():
        match = ROW.match(line)
        if match:
            assert match[1] not in found, f"{match[1]} documented twice"
            found[match[1]] = [cell.strip() for cell in match[2].split(" | ")]
    return found


def test_every_accepted_key_is_documented_and_every_documented_key_accepted() -> None:
    documented, accepted = set(rows()), set(schema.paths())
    assert not accepted - documented, "accepted but undocumented"
    assert not documented - accepted, "documented but not accepted"


def test_each_row_gives_type_default_meaning_and_reader() -> None:
    readers = {"stack", "nodes", "scaler", "lifecycle", "tokens"}
    for key, cells in rows().items():
        assert len(cells) == 4 and all(cells), key
        assert set(cells[3].split(", ")) <= readers, key


@pytest.mark.parametrize("field", [k for k, v in policy_document(Policy()).items()
                                   if isinstance(v, int | float | str) and v is not None])
def test_the_documented_policy_defaults_are_the_code_s(field: str) -> None:
    default = policy_document(Policy())[field]
    assert f"`{default}`" in rows()[f"policy.{field}"][1]


def test_a_key_added_to_the_schema_without_a_row_fails_the_check() -> None:
    # The check above bites: a schema with one more key is not what the page documents.
    grown = schema.Keys({**schema.SCHEMA.known, "alarm": None})
    assert set(schema.paths(grown)) - set(rows()) == {"alarm"}
