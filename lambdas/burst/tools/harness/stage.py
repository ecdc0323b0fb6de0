"""What an end-to-end run stands on: a control plane, a moto_server, and the functions'
identities in the cluster (the RBAC manifest applied, a token for each ServiceAccount)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from burst.adapters.kube import client
from burst.adapters.kube.client import Kube
from burst.ports.aws import ClusterCredentials
from burst.tools import credentials
from burst.tools.harness import controlplane
from burst.tools.harness.moto import moto_server


@dataclass(frozen=True)
class Stage:
    cp: controlplane.ControlPlane
    endpoint: str  # the moto_server's
    admin: Kube  # system:masters: sets up what the run needs; never the identity under test
    # function -> its credentials, as `burst credentials` makes them
    identities: dict[str, ClusterCredentials]


def identities(admin: Kube, kubeconfig: Path,
               validity: timedelta = timedelta(hours=2)) -> dict[str, ClusterCredentials]:
    """`burst credentials --kubeconfig KUBECONFIG` (`admin` is its client): each function's
    credentials, its "created ..." lines kept off the output."""
    with contextlib.redirect_stderr(io.StringIO()):
        return credentials.provision(admin, credentials.DEFAULT_RBAC, validity, str(kubeconfig))


@contextlib.contextmanager
def stage(workdir: Path, *, scheduler: bool = True,
          bin_packing: Sequence[str] = ()) -> Iterator[Stage]:
    """A control plane in `workdir` (see controlplane.start) and a moto_server, for as long
    as the block runs."""
    cp = controlplane.start(workdir, scheduler=scheduler, bin_packing=bin_packing)
    try:
        with moto_server() as endpoint, client.from_kubeconfig(cp.admin_kubeconfig) as admin:
            yield Stage(cp, endpoint, admin, identities(admin, cp.admin_kubeconfig))
    finally:
        cp.stop()
