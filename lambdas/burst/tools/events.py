"""`burst events`: write the notice samples in events/ from the notice table.

Each entry of burst.core.notices.kinds.NOTICES names its sample file and carries its sample
as AWS documents it (burst.core.notices.samples); tests/unit/test_events.py checks that the
committed files are what this writes, so neither drifts from the other.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from burst.core.errors import ConfigError
from burst.core.notices.kinds import NOTICES


def samples() -> dict[str, str]:
    """File name -> its text, for every kind of notice."""
    return {t.sample: json.dumps(t.documented, indent=2) + "\n" for t in NOTICES.values()}


def register(commands: Any) -> None:
    """Add `burst events` to the CLI's subparsers."""
    p = commands.add_parser("events", help="write the notice samples of events/ from the "
                                           "notice table")
    p.add_argument("--dir", type=Path, default=Path("events"),
                   help="where the samples go (default: ./events)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if a sample differs from the table's")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    directory: Path = args.dir
    if not directory.is_dir():
        raise ConfigError(str(directory), "", "not a directory")
    drifted = [name for name, text in samples().items()
               if not (directory / name).is_file() or (directory / name).read_text() != text]
    for name in drifted:
        if not args.check:
            (directory / name).write_text(samples()[name])
        print(f"{'differs' if args.check else 'wrote'}: {directory / name}")
    return 1 if args.check and drifted else 0
