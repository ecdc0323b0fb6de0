"""`burst join-hash --ca-cert FILE`: the kubeadm discovery hash of the cluster CA."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from burst.core.joinhash import discovery_hashes


def register(commands: Any) -> None:
    """Add `burst join-hash --ca-cert FILE` to the CLI's subparsers."""
    p = commands.add_parser("join-hash", help="kubeadm discovery hash of the cluster CA")
    p.add_argument("--ca-cert", required=True, type=Path, help="the cluster CA (PEM), ca.crt")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    path: Path = args.ca_cert
    try:
        hashes = discovery_hashes(path.read_bytes())
    except OSError as exc:
        print(f"burst: error: {path}: {exc.strerror}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"burst: error: {path}: {exc}", file=sys.stderr)
        return 2
    print("\n".join(hashes))
    return 0
