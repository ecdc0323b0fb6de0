"""The functions as Lambda runs them, under IAM enforcement, for the end-to-end tests.

The harness (burst.tools.harness.moto) gives the moto_server, the view of it and a
function's environment; here the environment carries the function's own access key, so its
calls are checked against its synthesized policy (iamenforce), and what the handler prints
is read back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import iamenforce

from burst.tools.harness import moto

EVENTS = Path(__file__).parents[2] / "events"  # AWS's documented samples


def environment(endpoint: str, function: str = "scaler", **config: Any) -> dict[str, str]:
    """moto.environment with `function`'s own access key."""
    return moto.environment(endpoint, function, iamenforce.credentials(function), **config)


@contextmanager
def acting_as(function: str) -> Iterator[None]:
    """For as long as the block runs, the environment's AWS key and credentials secret are
    `function`'s (its policy, its Kubernetes identity), the rest as the test set it: for a
    test that invokes another function besides the scaler."""
    from burst.handlers import runtime

    own = {"FPGA_BURST_CREDENTIALS_SECRET_ARN": moto.SECRETS[function],
           **iamenforce.credentials(function)}
    runtime.config.cache_clear()
    try:
        with moto.environ(own):
            yield
    finally:
        runtime.config.cache_clear()


def emitted_metrics(stdout: str) -> dict[str, float]:
    """Sum of every EMF metric the handler printed."""
    found: dict[str, float] = {}
    for line in stdout.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        doc = json.loads(line)
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                values = doc[metric["Name"]]
                values = values if isinstance(values, list) else [values]
                found[metric["Name"]] = found.get(metric["Name"], 0) + sum(values)
    return found
