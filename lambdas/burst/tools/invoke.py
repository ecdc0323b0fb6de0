"""`burst invoke FUNCTION --event FILE`: run a Lambda handler here, as Lambda would.

Against a kubeconfig (instead of the credentials secret) and an AWS endpoint such as a
`moto_server`; the rest of the configuration comes from the same environment variables the
functions get (FPGA_BURST_CLUSTER_NAME, FPGA_BURST_CONFIG, ...). The handler gets a context
with the function's real timeout, so deadlines behave as deployed. Its summary is printed as
the last line of stdout (Powertools writes its logs and metrics before it).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
from pathlib import Path
from typing import Any

from burst.core.errors import ConfigError, EventError
from burst.core.notices.events import parse_event
from burst.tools.deploy.functions import TIMEOUTS
from burst.tools.harness.context import LambdaContext


def register(commands: Any) -> None:
    """Add `burst invoke` to the CLI's subparsers."""
    p = commands.add_parser("invoke", help="run a Lambda handler locally on an event file")
    p.add_argument("function", metavar="FUNCTION", help=f"one of {', '.join(TIMEOUTS)}")
    p.add_argument("--event", required=True, type=Path, help="event JSON (see events/)")
    p.add_argument("--kubeconfig", type=Path, help="instead of the credentials secret")
    p.add_argument("--endpoint-url", help="AWS endpoint, e.g. http://127.0.0.1:5000 (moto)")
    p.add_argument("--region", help="AWS region (default: AWS_REGION)")
    p.add_argument("--timeout", type=float, help="seconds the handler has (default: deployed)")
    p.set_defaults(run=run)


def load_event(path: Path) -> Any:
    """The event as Lambda passes it; ConfigError naming the file (and field) if unusable."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(str(path), "", "no such event file") from exc
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror}") from exc
    except ValueError as exc:
        raise ConfigError(str(path), "", f"not JSON: {exc}") from exc
    try:
        parse_event(raw)
    except EventError as exc:
        raise ConfigError(str(path), exc.field or "", exc.problem) from exc
    return raw


def run(args: argparse.Namespace) -> int:
    if args.function not in TIMEOUTS:
        raise ConfigError("FUNCTION", "", f"unknown {args.function!r}; one of {sorted(TIMEOUTS)}")
    event = load_event(args.event)
    if args.kubeconfig is not None:
        if not args.kubeconfig.is_file():
            raise ConfigError(str(args.kubeconfig), "", "no such kubeconfig file")
        os.environ["FPGA_BURST_KUBECONFIG"] = str(args.kubeconfig)
    if args.endpoint_url:
        os.environ["FPGA_BURST_AWS_ENDPOINT_URL"] = args.endpoint_url
    if args.region:
        os.environ["AWS_REGION"] = args.region
    # Imported now: the handler's module reads the environment set above.
    module = importlib.import_module(f"burst.handlers.{args.function}")
    seconds = TIMEOUTS[args.function].total_seconds() if args.timeout is None else args.timeout
    context = LambdaContext(seconds, f"fpga-burst-local-{args.function}")
    summary = module.handler(event, context)
    print(json.dumps(summary, default=str))
    return 0 if summary.get("outcome") == "ok" else 1
