"""Faults against the real server: stopped, paused, 429/5xx, bad credentials.

Each surfaces as a typed error the shell can act on (TransientError: try next tick), and
nothing is left half-done without a line in the log.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from faultproxy import FaultProxy

from burst.adapters.kube import client, drain, observe
from burst.adapters.kube.client import Kube, Timeouts
from burst.core.errors import (
    ClusterUnreachableError,
    KubeThrottledError,
    KubeUnauthorizedError,
    TransientError,
)
from burst.ports.aws import ClusterCredentials
from burst.tools.harness import objects, pki
from burst.tools.harness.objects import BOARDS, U250


@pytest.fixture
def proxy(control_plane: Any) -> Iterator[FaultProxy]:
    w = control_plane.workdir
    with FaultProxy(control_plane.endpoint, w / "ca.crt", w / "apiserver.crt",
                    w / "apiserver.key") as p:
        yield p


@pytest.fixture
def proxied(proxy: FaultProxy, controller_credentials: ClusterCredentials) -> Iterator[Kube]:
    """The controller's identity, talking to the API server through the fault proxy."""
    creds = ClusterCredentials(proxy.endpoint, controller_credentials.ca,
                               controller_credentials.token)
    with client.from_credentials(creds, Timeouts(connect=2, read=10)) as k:
        yield k


@pytest.mark.parametrize(("status", "error"), [
    (503, ClusterUnreachableError), (500, ClusterUnreachableError), (429, KubeThrottledError),
], ids=["503 is unreachable", "500 is unreachable", "429 is throttled"])
def test_a_5xx_or_429_answer_is_a_transient_error_and_the_next_call_goes_through(
    proxy: FaultProxy, proxied: Kube, status: int, error: type[Exception]
) -> None:
    proxy.fail_next(status)

    with pytest.raises(error) as raised:
        observe.pending_pods(proxied, BOARDS)

    assert isinstance(raised.value, TransientError)
    assert str(status) in str(raised.value)
    observe.pending_pods(proxied, BOARDS)  # the real server answers
    assert proxy.intercepted == 1 and proxy.forwarded >= 1


def test_a_failure_on_a_later_page_fails_the_whole_list_rather_than_return_part_of_it(
    admin: Kube, proxy: FaultProxy, proxied: Kube, namespace: str
) -> None:
    for i in range(5):
        objects.pod(admin, namespace, f"p{i}", limits={U250: "1"})
    proxy.fail_next(503, after=1)

    with pytest.raises(ClusterUnreachableError):
        observe.pending_pods(proxied, BOARDS, page_size=2)


def test_a_drain_cut_short_by_a_5xx_logs_what_it_evicted_and_finishes_when_called_again(
    admin: Kube, proxy: FaultProxy, proxied: Kube, namespace: str, node_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """
    GIVEN a node with two pods
    WHEN  the API server fails (503) right after the first eviction
    THEN  drain raises ClusterUnreachableError, the log names the pod already evicted,
          and the next drain call evicts the other one and reports the node done
    """
    objects.node(admin, node_name, provider_id=objects.BURST_PROVIDER_ID)
    objects.pod(admin, namespace, "a", node=node_name)
    objects.pod(admin, namespace, "b", node=node_name)
    caplog.set_level(logging.INFO, logger="burst.adapters.kube")
    # read node, update node (cordon), list, evict a: then fail.
    proxy.fail_next(503, after=4)

    with pytest.raises(ClusterUnreachableError):
        drain.drain(proxied, node_name, deadline=time.monotonic() + 60)

    evicted_first = [r.getMessage() for r in caplog.records if "evicted pod" in r.getMessage()]
    assert evicted_first == [f"evicted pod {namespace}/a"]
    result = drain.drain(proxied, node_name, deadline=time.monotonic() + 60)
    assert result.done and result.evicted == (f"{namespace}/b",)


def test_a_stopped_api_server_is_unreachable_not_a_crash(
    control_plane: Any, kube: Kube
) -> None:
    control_plane.stop_apiserver()
    try:
        with pytest.raises(ClusterUnreachableError):
            observe.pending_pods(kube, BOARDS)
    finally:
        control_plane.start_apiserver()
    observe.pending_pods(kube, BOARDS)


def test_a_paused_api_server_times_out_as_unreachable(
    control_plane: Any, controller_credentials: ClusterCredentials
) -> None:
    """
    GIVEN an API server that accepts connections but does not answer (SIGSTOP)
    WHEN  the controller lists pods with a 1 s connect and 2 s read timeout
    THEN  the call gives up as ClusterUnreachableError instead of hanging the Lambda
    """
    with client.from_credentials(controller_credentials, Timeouts(connect=1, read=2)) as k:
        observe.pending_pods(k, BOARDS)  # a pooled connection, to be stuck on the read
        os.kill(control_plane.pid("kube-apiserver"), signal.SIGSTOP)
        try:
            with pytest.raises(ClusterUnreachableError, match=r"Timeout|timed out"):
                observe.pending_pods(k, BOARDS)
        finally:
            os.kill(control_plane.pid("kube-apiserver"), signal.SIGCONT)
        observe.pending_pods(k, BOARDS)


def test_a_token_the_api_server_does_not_accept_is_unauthorized(
    controller_credentials: ClusterCredentials,
) -> None:
    forged = ClusterCredentials(controller_credentials.endpoint, controller_credentials.ca,
                                "not-a-token")
    with client.from_credentials(forged) as k, pytest.raises(KubeUnauthorizedError):
        observe.pending_pods(k, BOARDS)


def test_a_server_certificate_not_signed_by_the_given_ca_is_refused_as_unreachable(
    control_plane: Any, controller_credentials: ClusterCredentials
) -> None:
    other_ca = pki.ca().cert_pem().decode()
    wrong = ClusterCredentials(controller_credentials.endpoint, other_ca,
                               controller_credentials.token)
    with client.from_credentials(wrong) as k, pytest.raises(ClusterUnreachableError):
        observe.pending_pods(k, BOARDS)
