"""The `burst` command: ask the planner, import catalogs, and the operator's tools.

Every failure a user can cause (a bad file, a bad flag) ends with one line on stderr that
names the file and field, and a non-zero exit status; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from burst.core.errors import BurstError
from burst.core.scaleup.planner import plan
from burst.ports.aws import CredentialsWriter
from burst.tools import (
    bitstreams,
    credentials,
    doctor,
    events,
    invoke,
    joinhash_cmd,
    report,
    scenario,
    teardown,
)
from burst.tools.demo import cli as demo
from burst.tools.sim import run as simulate
from burst.tools.sim import tracecmd


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except BurstError as exc:
        print(f"burst: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="burst", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("plan", help="what would the controller do for this scenario?")
    p.add_argument("--scenario", required=True, type=Path, help="scenario YAML (docs/scenarios.md)")
    p.add_argument("--output", choices=("json", "table"), default="table")
    p.set_defaults(run=_plan)

    p = commands.add_parser("catalog", help="accelerator catalog tools")
    sub = p.add_subparsers(dest="catalog_command", required=True, metavar="SUBCOMMAND")
    imp = sub.add_parser("import", help="build a catalog from a tree of bitstream.json files")
    imp.add_argument("directory", type=Path)
    imp.set_defaults(run=_catalog_import)

    joinhash_cmd.register(commands)
    credentials.register(commands, store=_aws)
    invoke.register(commands)
    events.register(commands)
    doctor.register(commands)
    teardown.register(commands)
    simulate.register(commands)
    tracecmd.register(commands)
    demo.register(commands)
    return parser


def _aws() -> CredentialsWriter:
    from burst.adapters.aws.adapter import Aws  # boto3 only for the command that needs it

    return Aws().secrets


def _plan(args: argparse.Namespace) -> int:
    loaded = scenario.load(args.scenario)
    result = plan(loaded.snapshot, loaded.policy)
    if args.output == "json":
        print(json.dumps(report.to_json(result), indent=2))
    else:
        print(report.to_table(result))
    return 0


def _catalog_import(args: argparse.Namespace) -> int:
    root: Path = args.directory
    if not root.is_dir():
        print(f"burst: error: {root}: not a directory", file=sys.stderr)
        return 2
    result = bitstreams.import_bitstreams(root)
    for problem in result.problems:
        print(f"burst: skipped {problem}", file=sys.stderr)
    accelerators = {
        name: dict(sorted(b.items())) for name, b in sorted(result.accelerators.items())
    }
    print(yaml.safe_dump({"catalog": {"accelerators": accelerators}}, sort_keys=False), end="")
    return 1 if result.problems and not accelerators else 0


if __name__ == "__main__":
    sys.exit(main())
