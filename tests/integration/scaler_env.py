"""The functions as Lambda runs them, under IAM enforcement, for the end-to-end tests.

The harness (burst.tools.harness.moto) gives the moto_server, the view of it and a
function's environment; here the environment carries the function's own access key, so its
calls are checked against its synthesized policy (iamenforce), and what the handler prints
is read back.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import iamenforce

from burst.tools.harness import moto

EVENTS = Path(__file__).parents[2] / "events"  # AWS's documented samples


def environment(endpoint: str, function: str = "scaler", **config: Any) -> dict[str, str]:
    """moto.environment with `function`'s own access key."""
    return moto.environment(endpoint, function, iamenforce.credentials(function), **config)


def acting_as(function: str) -> AbstractContextManager[None]:
    """moto.acting_as with `function`'s own access key: for a test that invokes another
    function besides the scaler."""
    return moto.acting_as(function, iamenforce.credentials(function))


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
