"""Each function's Kubernetes identity, and the cluster CA the controller trusts.

The functions that talk to the API server each run as their own ServiceAccount
(kube-system/fpga-burst-<function>, granted by the RBAC manifest that `burst credentials`
applies: burst.tools.credentials).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from burst.core.errors import ConfigError

if TYPE_CHECKING:
    from burst.adapters.kube.client import Kube

# The functions that talk to the API server, each as its own ServiceAccount.
FUNCTIONS = ("scaler", "lifecycle", "tokens")
NAMESPACE = "kube-system"


def service_account(function: str) -> str:
    """The ServiceAccount (in NAMESPACE) that `function` runs as."""
    return f"fpga-burst-{function}"


def account(function: str) -> tuple[str, str]:
    """(namespace, name) of `function`'s ServiceAccount."""
    return NAMESPACE, service_account(function)


def username(function: str) -> str:
    """The API server's name for `function`'s identity."""
    return f"system:serviceaccount:{NAMESPACE}:{service_account(function)}"


def ca_pem(kube: Kube, source: str) -> str:
    """The CA `kube` verifies the API server with: the cluster CA (`source` names where the
    connection came from, for the error)."""
    path = kube.api_client.configuration.ssl_ca_cert
    if not path:
        raise ConfigError(source, "clusters[].cluster.certificate-authority-data",
                          "missing: the controller needs the cluster CA")
    return Path(path).read_text()
