"""The fenced blocks and sections of a Markdown file, with the marker that says what to do
with each block (tests/integration/test_readme.py).

A block's marker is an HTML comment on the line above its opening fence (blank lines
between are allowed), invisible once rendered:

    <!-- run: NAME -->                 the test runs the block with its runner NAME
    <!-- not run here: REASON -->      why it cannot run on a machine without AWS

A block with neither has `marker` None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)(?P<lang>[^`\s]*)")
_MARKER = re.compile(r"^\s*<!--\s*(?P<kind>run|not run here):\s*(?P<what>.*?)\s*-->\s*$")
_HEADING = re.compile(r"^(?P<level>#{1,6})\s+(?P<title>.+?)\s*$")


@dataclass(frozen=True)
class Marker:
    kind: str  # "run" or "not run here"
    what: str  # the runner's name, or the reason


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    lang: str
    text: str  # the lines between the fences, as written (indentation of the fence removed)
    section: str  # the nearest heading above
    marker: Marker | None

    @property
    def where(self) -> str:
        return f"README.md:{self.line} ({self.section}, {self.lang or 'no language'})"


@dataclass(frozen=True)
class Section:
    level: int
    title: str
    line: int
    text: str  # up to the next heading of the same or a higher level


def _marker_above(lines: list[str], index: int) -> Marker | None:
    i = index - 1
    while i >= 0 and not lines[i].strip():
        i -= 1
    match = _MARKER.match(lines[i]) if i >= 0 else None
    return Marker(match["kind"], match["what"]) if match else None


def blocks(path: Path) -> list[Block]:
    """Every fenced block of `path`, in order. An unclosed fence is an error naming its line."""
    lines = path.read_text().splitlines()
    found, section, i = [], "", 0
    while i < len(lines):
        heading = _HEADING.match(lines[i])
        if heading:
            section = heading["title"]
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        end = next((j for j in range(i + 1, len(lines))
                    if lines[j].strip().startswith(fence[0] * len(fence))
                    and not lines[j].strip().strip(fence[0])), None)
        if end is None:
            raise ValueError(f"{path}:{i + 1}: the fence opened here is never closed")
        body = "\n".join(line[indent:] for line in lines[i + 1:end])
        found.append(Block(i + 1, opening["lang"], body + "\n", section,
                           _marker_above(lines, i)))
        i = end + 1
    return found


def sections(path: Path) -> list[Section]:
    """Every heading of `path` with its text (headings inside fenced blocks aside)."""
    lines = path.read_text().splitlines()
    inside = {n for b in blocks(path) for n in range(b.line, b.line + b.text.count("\n") + 1)}
    heads = [(i, _HEADING.match(line)) for i, line in enumerate(lines)
             if i + 1 not in inside and not line.lstrip().startswith("```")]
    heads_found = [(i, m) for i, m in heads if m]
    result = []
    for k, (i, match) in enumerate(heads_found):
        level = len(match["level"])
        end = next((j for j, m in heads_found[k + 1:] if len(m["level"]) <= level), len(lines))
        result.append(Section(level, match["title"], i + 1, "\n".join(lines[i + 1:end])))
    return result


def section(path: Path, title: str) -> Section:
    """The section titled `title`; KeyError naming the file if there is none or several."""
    found = [s for s in sections(path) if s.title == title]
    if len(found) != 1:
        raise KeyError(f"{path}: {len(found)} sections titled {title!r}")
    return found[0]
