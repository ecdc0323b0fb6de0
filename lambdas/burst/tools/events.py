"""`burst events`: write the sample events of events/ for a deployment config.

The samples (burst.tools.eventsamples) carry the config's account, region, ASG and hook
names as the stack names them; the notice kinds come from the notice table
(burst.core.notices.kinds.NOTICES, each with its sample as AWS documents it).
tests/unit/test_events.py checks that the committed files are what this writes for
config/fpga-burst.yaml, so neither drifts from the other.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from burst.core.errors import ConfigError
from burst.tools import eventsamples
from burst.tools.deploy import config as deploy_config


def samples(path: Path = deploy_config.DEFAULT_PATH) -> dict[str, str]:
    """File name -> its text, for every sample, named as the config at `path` names things."""
    try:
        config = deploy_config.load(path)
    except ConfigError as exc:  # it names the field; the file is ours to name
        raise ConfigError(str(path), exc.field, exc.problem) from exc
    return {name: json.dumps(event, indent=2) + "\n"
            for name, event in eventsamples.samples(config).items()}


def register(commands: Any) -> None:
    """Add `burst events` to the CLI's subparsers."""
    p = commands.add_parser("events", help="write the sample events of events/, named as a "
                                           "deployment config names things")
    p.add_argument("--config", type=Path, default=deploy_config.DEFAULT_PATH,
                   help=f"deployment config YAML (default: {deploy_config.DEFAULT_PATH})")
    p.add_argument("--dir", type=Path, default=Path("events"),
                   help="where the samples go (default: ./events)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if a sample differs from what it would write")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    directory: Path = args.dir
    if not directory.is_dir():
        raise ConfigError(str(directory), "", "not a directory")
    wanted = samples(args.config)  # before anything is written: a bad config writes nothing
    drifted = [name for name, text in wanted.items()
               if not (directory / name).is_file() or (directory / name).read_text() != text]
    for name in drifted:
        if not args.check:
            (directory / name).write_text(wanted[name])
        print(f"{'differs' if args.check else 'wrote'}: {directory / name}")
    return 1 if args.check and drifted else 0
