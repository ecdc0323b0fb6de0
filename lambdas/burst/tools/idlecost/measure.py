"""What one idle invocation of each scheduled function leaves behind, measured.

The handlers run through their Lambda entry points (settings from the environment, the
credentials secret read through the AWS adapter, adapters built per invocation) on the
harness's stage: the test control plane and a moto_server, one node group, nothing pending.
Per invocation, counted from what the handler writes and calls:

- the metrics: every Embedded Metric Format line Powertools prints, read as CloudWatch
  reads it (namespace, metric name, dimension names and values): each distinct combination
  is one custom metric;
- the log bytes: everything the handler writes to stdout (its log lines and the EMF lines),
  each line one log event; Lambda's own platform lines are not produced here;
- the AWS calls: moto_server's request recorder (`/moto-api/recorder/`), by service and
  action.

`benchmarks/cpu/idle_cost.py --measure` prints these; the recorded figures the cost
table uses are in burst.tools.idlecost.model (MEASURED).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import os
import tempfile
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Metric = tuple[str, str, tuple[tuple[str, str], ...]]  # namespace, name, dimensions
TOKEN_RUNS = 8  # two hours of the tokens function's schedule


@dataclass
class Invocations:
    """What `count` invocations of one function emitted, in total."""

    count: int = 0
    metrics: Counter[Metric] = field(default_factory=Counter)  # metric -> data points
    log_bytes: int = 0
    log_events: int = 0
    calls: Counter[str] = field(default_factory=Counter)  # "service:Action" -> calls

    def per_invocation(self) -> dict[str, Any]:
        return {
            "invocations": self.count,
            # metric -> data points over all the invocations
            "custom_metrics": {f"{n} {dict(d)}": k
                               for (_, n, d), k in sorted(self.metrics.items())},
            "log_bytes": round(self.log_bytes / self.count),
            "log_events": round(self.log_events / self.count, 2),
            "calls": {c: round(k / self.count, 2) for c, k in sorted(self.calls.items())},
        }


def emf_metrics(line: str) -> list[Metric]:
    """The custom metrics one log line publishes, if it is an EMF document (the CloudWatch
    embedded metric format: `_aws.CloudWatchMetrics[].{Namespace, Dimensions, Metrics}`,
    dimension values in the document's root)."""
    try:
        doc = json.loads(line)
    except ValueError:
        return []
    if not isinstance(doc, dict) or "_aws" not in doc:
        return []
    found: list[Metric] = []
    for directive in doc["_aws"]["CloudWatchMetrics"]:
        for names in directive["Dimensions"]:
            dims = tuple((n, str(doc[n])) for n in names)
            found.extend((directive["Namespace"], m["Name"], dims)
                         for m in directive["Metrics"])
    return found


def _recorder(endpoint: str, verb: str) -> str:
    method = "GET" if verb == "download-recording" else "POST"
    request = urllib.request.Request(f"{endpoint}/moto-api/recorder/{verb}", method=method)
    with urllib.request.urlopen(request) as reply:
        return str(reply.read().decode())


def _call_name(entry: dict[str, Any]) -> str:
    """service:Action of one recorded request (JSON protocols name it in X-Amz-Target,
    query protocols in the body's Action; the service is the signature's scope)."""
    headers = {k.lower(): v for k, v in entry["headers"].items()}
    scope = headers.get("authorization", "").split("Credential=")[-1].split("/")
    service = scope[3] if len(scope) > 3 else "?"
    target = headers.get("x-amz-target")
    if target:
        return f"{service}:{target.split('.')[-1]}"
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode(errors="replace")
    action = urllib.parse.parse_qs(body).get("Action", ["?"])[0]
    return f"{service}:{action}"


@contextlib.contextmanager
def _recording(endpoint: str, into: Invocations) -> Iterator[None]:
    # The in-process moto_server's recorder appends to a file it names once, at import
    # (MOTO_RECORDER_FILEPATH, default ./moto_recording): somewhere temporary instead.
    from moto.moto_api import recorder

    recorder._location = str(Path(tempfile.gettempdir()) / f"fpga-burst-moto-{os.getpid()}")
    _recorder(endpoint, "reset-recording")
    _recorder(endpoint, "start-recording")
    try:
        yield
    finally:
        recorded = _recorder(endpoint, "download-recording")
        _recorder(endpoint, "stop-recording")
        Path(recorder._location).unlink(missing_ok=True)
        into.calls.update(_call_name(json.loads(line)) for line in recorded.splitlines())


def invoke(handler: Callable[[], dict[str, Any]], into: Invocations) -> None:
    """One invocation, its output and its metrics counted into `into`."""
    from burst.handlers import runtime

    out = io.StringIO()
    stream = runtime.logger.registered_handler
    assert isinstance(stream, logging.StreamHandler)
    before = stream.setStream(out)  # Powertools' logger holds sys.stdout from import time
    try:
        with contextlib.redirect_stdout(out):
            answer = handler()
    finally:
        stream.setStream(before)
    if answer.get("outcome") != "ok":
        raise SystemExit(f"idlecost: the handler answered {json.dumps(answer)}")
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    into.count += 1
    into.log_events += len(lines)
    into.log_bytes += sum(len(line.encode()) for line in lines)
    for line in lines:
        into.metrics.update(emf_metrics(line))


def measure(ticks: int = 10, watch: bool = False) -> dict[str, Invocations]:
    """`ticks` poll-mode scaler ticks, TOKEN_RUNS tokens runs 15 minutes apart after the
    first (which makes and publishes a token), and with `watch` one watch-mode tick (about
    a minute)."""
    from burst.core.policy import TOKEN_PERIOD
    from burst.handlers import runtime, scaler, tokens
    from burst.tools.deploy.functions import SCALER_TIMEOUTS, TIMEOUTS
    from burst.tools.harness import moto
    from burst.tools.harness.clock import FakeClock
    from burst.tools.harness.context import LambdaContext
    from burst.tools.harness.events import scheduled_event
    from burst.tools.harness.stage import stage

    found: dict[str, Invocations] = {}
    # A new execution environment: it reads the secret once, and publishes only what its
    # own invocations count (not what a caller in this process left unflushed).
    runtime.forget_credentials()
    runtime.metrics.clear_metrics()
    with tempfile.TemporaryDirectory() as tmp, stage(Path(tmp)) as on:
        aws = moto.MotoView(on.endpoint)
        aws.store_credentials(on.identities)
        aws.group("f2-12xlarge", "f2.12xlarge", {}, max_size=4)
        key = aws.client("kms").create_key()["KeyMetadata"]["KeyId"]
        settings = {**moto.environment(on.endpoint),  # poll mode
                    "FPGA_BURST_JOIN_PARAMETER": "/fpga-burst/onprem/join",
                    "FPGA_BURST_JOIN_KEY_ID": key}

        def scaler_tick(mode: str) -> dict[str, Any]:
            timeout = SCALER_TIMEOUTS[mode].total_seconds()
            return dict(scaler.handler(scheduled_event(), LambdaContext(timeout, "scaler")))

        # The tokens function every 15 minutes of a clock it is given, through the same
        # entry point: its token is rotated when the published one runs short, which an
        # idle hour holds about once.
        clock = FakeClock.starting_now()
        tokens_entry = runtime.entry(lambda event, context: tokens.run(event, context,
                                                                       clock=clock))

        def tokens_run() -> dict[str, Any]:
            timeout = TIMEOUTS["tokens"].total_seconds()
            answer = tokens_entry(scheduled_event(clock.wall()), LambdaContext(timeout, "tokens"))
            clock.advance(TOKEN_PERIOD.total_seconds())
            return dict(answer)

        try:
            with moto.environ(settings):
                runtime.config.cache_clear()
                # The process is one warm execution environment, as Lambda keeps between
                # ticks: the first tick is its cold start.
                found["scaler, poll"] = poll = Invocations()
                with _recording(on.endpoint, poll):
                    for _ in range(ticks):
                        invoke(lambda: scaler_tick("poll"), poll)
                with moto.acting_as("tokens"):
                    invoke(tokens_run, Invocations())  # makes and publishes the first token
                    found["tokens"] = runs = Invocations()
                    with _recording(on.endpoint, runs):
                        for _ in range(TOKEN_RUNS):
                            invoke(tokens_run, runs)
            if watch:
                with moto.environ(moto.environment(on.endpoint, watch={"enabled": True})):
                    runtime.config.cache_clear()
                    found["scaler, watch"] = watched = Invocations()
                    with _recording(on.endpoint, watched):
                        invoke(lambda: scaler_tick("watch"), watched)
        finally:
            runtime.config.cache_clear()
            runtime.forget_credentials()
    return found
