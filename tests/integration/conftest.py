"""A real kube-apiserver + etcd for the whole run, and the controller's restricted identity.

The control plane is the harness's (burst.tools.harness.controlplane), from the binaries in
$FPGA_BURST_CONTROLPLANE_BIN (`make integration` sets it from tools/controlplane/build.sh).
Without them every test that needs the cluster errors with why: a missing control plane is
a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import iamenforce
import iaminventory
import policies
import pytest

from burst.adapters.kube import client
from burst.adapters.kube.client import Kube, Timeouts
from burst.core.errors import KubeNotFoundError
from burst.handlers import runtime
from burst.ports.aws import ClusterCredentials
from burst.tools.harness import controlplane, moto, objects, stage
from stacks.controller.grants import CALLED_BY_AWS

# Every function's AWS call from here on is checked against its synthesized policy.
iamenforce.install()


@pytest.fixture(scope="session")
def iam_policies() -> object:
    """The functions' synthesized policies, made before any handler runs: synthesis takes
    a minute on 2 cores, which inside a handler would eat its invocation's deadline."""
    return iamenforce.synthesized()


@pytest.fixture(autouse=True)
def fresh_credentials() -> None:
    """Each test is a new execution environment: the handlers read the credentials secret
    afresh (they keep a copy for runtime.CREDENTIALS_TTL_SECONDS), since tests rewrite it
    on the session's one moto_server."""
    runtime.forget_credentials()


@pytest.fixture(autouse=True)
def iam_enforced() -> Iterator[iamenforce.Enforcer]:
    """Fails the test if any function call was denied by its synthesized IAM policy, even
    if the handler took the AccessDenied in its stride."""
    enforcer = iamenforce.ENFORCER
    enforcer.denied.clear()
    yield enforcer
    denied = [f"{c.function}: {c.operation} -> {c.request.action} on {c.request.resource}"
              f" ({c.decision.why})" for c in enforcer.denied]
    enforcer.denied.clear()
    assert not denied, "AccessDenied under the synthesized IAM policies:\n" + "\n".join(denied)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """If $FPGA_BURST_IAM_RECORD names a file: the checked calls are written there, and the
    action inventory (iaminventory.report) printed: what each function may do, what our
    code calls, what the suites saw each function call."""
    record = os.environ.get(iamenforce.RECORD_ENV)
    if not record:
        return
    iamenforce.ENFORCER.write_record(Path(record))
    policies, _ = iamenforce.synthesized()
    terminalreporter.write_sep("=", "IAM action inventory")
    terminalreporter.write_line(iaminventory.report(
        policies, iaminventory.read_record(Path(record)), CALLED_BY_AWS))


@pytest.fixture(scope="session")
def control_plane(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[controlplane.ControlPlane]:
    cp = controlplane.start(tmp_path_factory.mktemp("controlplane"))
    try:
        yield cp
    finally:
        cp.stop()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto_server (in this process) for the run; a test resets it before use
    (POST /moto-api/reset)."""
    with moto.moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def admin(control_plane: controlplane.ControlPlane) -> Iterator[Kube]:
    """system:masters: sets up what the tests need; never the identity under test."""
    with client.from_kubeconfig(control_plane.admin_kubeconfig) as kube:
        yield kube


@pytest.fixture(scope="session")
def identities(
    admin: Kube, control_plane: controlplane.ControlPlane
) -> dict[str, ClusterCredentials]:
    """What `burst credentials` stores: RBAC applied, a TokenRequest token per function's
    ServiceAccount. Returns once the admission policies are enforced (policies.wait)."""
    issued = stage.identities(admin, control_plane.admin_kubeconfig)
    with client.from_credentials(issued["scaler"]) as scaler:
        policies.wait_until_enforced(admin, scaler)
    return issued


@pytest.fixture(scope="session")
def controller_credentials(identities: dict[str, ClusterCredentials]) -> ClusterCredentials:
    """The scaler function's credentials (ServiceAccount kube-system/fpga-burst-scaler)."""
    return identities["scaler"]


@pytest.fixture(scope="session")
def kube(controller_credentials: ClusterCredentials) -> Iterator[Kube]:
    """The adapter as the scaler runs it: ServiceAccount kube-system/fpga-burst-scaler."""
    with client.from_credentials(controller_credentials, Timeouts(connect=2, read=10)) as k:
        yield k


@pytest.fixture(scope="session")
def lifecycle_kube(identities: dict[str, ClusterCredentials]) -> Iterator[Kube]:
    """The adapter as the lifecycle function runs it: kube-system/fpga-burst-lifecycle."""
    with client.from_credentials(identities["lifecycle"], Timeouts(connect=2, read=10)) as k:
        yield k


@pytest.fixture(scope="session")
def tokens_kube(identities: dict[str, ClusterCredentials]) -> Iterator[Kube]:
    """The adapter as the tokens function runs it: kube-system/fpga-burst-tokens."""
    with client.from_credentials(identities["tokens"], Timeouts(connect=2, read=10)) as k:
        yield k


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@pytest.fixture
def namespace(admin: Kube) -> Iterator[str]:
    """A fresh namespace per test (with its default ServiceAccount, as no controller runs).

    Its pods go with the test: no namespace controller runs here to remove them, and a pod
    left pending is rewritten by kube-scheduler whenever Nodes change, which wakes the
    pending-pod watches of the tests after it.
    """
    name = objects.namespace(admin, unique("t"))
    yield name
    admin.call("delete pods", admin.core.delete_collection_namespaced_pod, name,
               grace_period_seconds=0)


@pytest.fixture
def node_name(admin: Kube) -> Iterator[str]:
    """A unique node name; the Node, if a test made one, is deleted afterwards."""
    name = unique("node")
    yield name
    with contextlib.suppress(KubeNotFoundError):
        admin.call("delete node", admin.core.delete_node, name)


@pytest.fixture
def admin_nodes(admin: Kube) -> Iterator[list[str]]:
    """Names of Nodes a test makes; they are deleted afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        with contextlib.suppress(KubeNotFoundError):
            admin.call("delete node", admin.core.delete_node, name)
