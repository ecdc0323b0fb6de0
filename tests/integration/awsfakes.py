"""AWS for the integration tests: moto, plus a Stubber for only the calls moto lacks.

moto 5.2.1 answers DescribeScalingActivities with an empty list and does not implement
CompleteLifecycleAction or RecordLifecycleActionHeartbeat; for those operations only, a
botocore Stubber scoped to the operations stands in (OperationStubber), and moto answers
everything else.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

LIFECYCLE_CALLS = ("CompleteLifecycleAction", "RecordLifecycleActionHeartbeat")


class OperationStubber(Stubber):  # type: ignore[misc]  # botocore is untyped here
    """A botocore Stubber that answers only `operations` and lets every other call through.

    A plain Stubber intercepts every call of its client; scoping it keeps moto answering
    the calls moto implements.
    """

    def __init__(self, client: Any, *operations: str) -> None:
        super().__init__(client)
        self.operations = frozenset(operations)

    def _get_response_handler(self, model: Any, params: Any, context: Any, **kwargs: Any) -> Any:
        if model.name not in self.operations:
            return None
        return super()._get_response_handler(model, params, context, **kwargs)

    def _assert_expected_params(self, model: Any, params: Any, context: Any, **kwargs: Any) -> None:
        if model.name in self.operations:
            super()._assert_expected_params(model, params, context, **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A moto_server subprocess on a free loopback port; its endpoint URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not listen within 30 s") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


class ActivityFeed:
    """DescribeScalingActivities answered from `activities` (group -> newest first), which a
    test changes while a scaler runs; moto answers every other call.

    moto always answers []. A Stubber's queue must know in advance how often the operation
    is called; a watching scaler calls it once per group per reconcile, as often as it
    reconciles, so this answers the same way a Stubber does (botocore's `before-call`
    event) but from the current state.
    """

    def __init__(self, client: Any) -> None:
        self.activities: dict[str, list[dict[str, Any]]] = {}
        self.lock = threading.Lock()
        client.meta.events.register(
            "before-call.auto-scaling.DescribeScalingActivities", self._answer
        )

    def fail(self, group: str, activity: dict[str, Any]) -> None:
        with self.lock:
            self.activities.setdefault(group, []).insert(0, activity)

    def _answer(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        # `params` is the request dict; Auto Scaling's query protocol keeps the API
        # parameters in its body, still a dict at this stage.
        body = params.get("body")
        group = body.get("AutoScalingGroupName", "") if isinstance(body, dict) else ""
        with self.lock:
            found = list(self.activities.get(group, []))
        return AWSResponse("", 200, {}, None), {"Activities": found}


def failed_launch(group: str, message: str, end: datetime) -> dict[str, Any]:
    """A failed launch activity as DescribeScalingActivities reports it."""
    return {
        "ActivityId": f"failed-{group}-{end.timestamp()}", "AutoScalingGroupName": group,
        "Description": "Launching a new EC2 instance.  Status Reason: " + message,
        "Cause": "an instance was started in response to a difference between desired and "
                 "actual capacity, increasing the capacity from 0 to 1.",
        "StartTime": end - timedelta(seconds=3), "EndTime": end, "StatusCode": "Failed",
        "StatusMessage": message, "Progress": 100,
    }
