"""A real kube-apiserver + etcd for the whole run, and the controller's restricted identity.

The control plane's binaries come from $FPGA_BURST_CONTROLPLANE_BIN or, if unset, from
tools/controlplane/build.sh. If neither works, every test that needs the cluster errors
with the build's output: a missing control plane is a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from burst.adapters.kube import client, credentials
from burst.adapters.kube.client import Kube, Timeouts
from burst.core.errors import KubeNotFoundError
from burst.ports.aws import ClusterCredentials

sys.path.insert(0, str(Path(__file__).parents[2] / "tools" / "controlplane"))
import devcluster
import iamenforce
import policies

# Every function's AWS call from here on is checked against its synthesized policy.
iamenforce.install()


@pytest.fixture(scope="session")
def iam_policies() -> object:
    """The functions' synthesized policies, made before any handler runs: synthesis takes
    a minute on 2 cores, which inside a handler would eat its invocation's deadline."""
    return iamenforce.synthesized()


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


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The checked calls, for benchmarks/iam_inventory.py, if $FPGA_BURST_IAM_RECORD says where."""
    record = os.environ.get(iamenforce.RECORD_ENV)
    if record:
        iamenforce.ENFORCER.write_record(Path(record))


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[devcluster.ControlPlane]:
    cp = devcluster.start(tmp_path_factory.mktemp("controlplane"))
    try:
        yield cp
    finally:
        cp.stop()


@pytest.fixture(scope="session")
def admin(control_plane: devcluster.ControlPlane) -> Iterator[Kube]:
    """system:masters: sets up what the tests need; never the identity under test."""
    with client.from_kubeconfig(control_plane.admin_kubeconfig) as kube:
        yield kube


@pytest.fixture(scope="session")
def identities(
    admin: Kube, control_plane: devcluster.ControlPlane
) -> dict[str, ClusterCredentials]:
    """What `burst credentials` stores: RBAC applied, a TokenRequest token per function's
    ServiceAccount. Returns once the admission policies are enforced (policies.wait)."""
    issued = credentials.provision(
        admin, credentials.DEFAULT_RBAC, timedelta(hours=2), str(control_plane.admin_kubeconfig)
    )
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
def namespace(admin: Kube) -> str:
    """A fresh namespace per test (with its default ServiceAccount, as no controller runs)."""
    name = unique("t")
    admin.call("create namespace", admin.core.create_namespace,
               {"metadata": {"name": name}})
    admin.call("create sa", admin.core.create_namespaced_service_account, name,
               {"metadata": {"name": "default"}})
    return name


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
