"""The admission policies of manifests/rbac.yaml, once the API server enforces them.

A ValidatingAdmissionPolicy is enforced only after the API server has loaded and
type-checked it, a moment after it is created; until then requests pass. So the suite waits
for the Node policy to refuse a dry-run delete of an on-prem Node by the scaler's identity
(admission runs on dry-run requests; nothing is deleted) before any test runs.
"""

from __future__ import annotations

import contextlib
import time

from burst.adapters.kube.client import Kube
from burst.core.errors import KubeForbiddenError, KubeNotFoundError

SENTINEL = "onprem-sentinel"
ATTEMPTS = 300  # 0.1 s apart: a bound on the wait, not an assertion on time


def wait_until_enforced(admin: Kube, scaler: Kube) -> None:
    """Return once the Node policy refuses the scaler; RuntimeError if it never does."""
    with contextlib.suppress(Exception):
        admin.call("create node", admin.core.create_node,
                   {"metadata": {"name": SENTINEL}, "spec": {}})
    try:
        for _ in range(ATTEMPTS):
            try:
                scaler.call("dry-run delete", scaler.core.delete_node, SENTINEL, dry_run="All")
            except KubeForbiddenError:
                return
            time.sleep(0.1)
    finally:
        with contextlib.suppress(KubeNotFoundError):
            admin.call("delete node", admin.core.delete_node, SENTINEL)
    raise RuntimeError("the fpga-burst admission policies were never enforced: is the "
                       "ValidatingAdmissionPolicy admission plugin on?")
