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
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from burst.core.errors import ConfigError, EventError
from burst.core.notices.events import parse_event

# Timeouts as deployed (stacks/controller/functions.py FUNCTIONS), in seconds.
FUNCTIONS = {"scaler": 60.0, "lifecycle": 300.0, "tokens": 60.0}


@dataclass
class LocalContext:
    """The parts of Lambda's context object that handlers and Powertools read."""

    function_name: str
    timeout: float  # seconds from creation to the deadline
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:local:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout - time.monotonic()) * 1000))


def register(commands: Any) -> None:
    """Add `burst invoke` to the CLI's subparsers."""
    p = commands.add_parser("invoke", help="run a Lambda handler locally on an event file")
    p.add_argument("function", metavar="FUNCTION", help=f"one of {', '.join(FUNCTIONS)}")
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
    if args.function not in FUNCTIONS:
        raise ConfigError("FUNCTION", "", f"unknown {args.function!r}; one of {sorted(FUNCTIONS)}")
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
    context = LocalContext(f"fpga-burst-local-{args.function}",
                           args.timeout if args.timeout is not None else FUNCTIONS[args.function])
    summary = module.handler(event, context)
    print(json.dumps(summary, default=str))
    return 0 if summary.get("outcome") == "ok" else 1
