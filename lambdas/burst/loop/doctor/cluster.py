"""The checks of the cluster, through its API server (ClusterProbe)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from burst.core import jwt
from burst.core.alarms import TOKEN_WARNING
from burst.core.model import NodeGroup
from burst.loop.config import RuntimeConfig
from burst.loop.doctor.results import (
    API_SERVER,
    BOARDS,
    CREDENTIALS_FIX,
    RBAC,
    TOKEN,
    Check,
    Status,
    fail,
    not_run,
    ok,
)
from burst.ports.doctor import Access, ClusterProbe


def api_server(probe: ClusterProbe) -> Check:
    shake = probe.handshake()
    if not shake.reachable:
        return fail(API_SERVER, f"{shake.endpoint} cannot be reached: {shake.problem}",
                    "route the functions' subnets (or this machine) to the API server over "
                    "the VPN, and allow its port in the security groups")
    if not shake.verified:
        return fail(API_SERVER, f"{shake.endpoint}: the cluster CA does not verify the "
                    f"server's certificate: {shake.problem}",
                    "store the cluster's CA with burst credentials, and make the server's "
                    "certificate name the address the functions use (its SANs)")
    return ok(API_SERVER, f"{shake.endpoint}: TLS verified by the cluster CA")


def token(probe: ClusterProbe, value: str | None, now: datetime) -> Check:
    """Accepted by the API server, and not about to expire (its `exp` claim)."""
    expires = jwt.expiry(value) if value else None
    if expires is not None and expires <= now:
        return fail(TOKEN, f"expired {expires.isoformat()}", CREDENTIALS_FIX)
    user = probe.whoami()
    if expires is None:
        return ok(TOKEN, f"accepted as {user}; its expiry is not known here")
    left = expires - now
    detail = f"accepted as {user}; expires {expires.isoformat()} ({left.days} days)"
    if left < TOKEN_WARNING:
        return Check(TOKEN, Status.WARN, detail, CREDENTIALS_FIX)
    return ok(TOKEN, detail)


def rbac(probe: ClusterProbe, access: Sequence[Access] | None) -> Check:
    if access is None:
        return not_run(RBAC, "no RBAC manifest to check against (burst doctor sends "
                       "manifests/rbac.yaml)")
    denied = [str(a) for a in access if not probe.allowed(a)]
    if denied:
        return fail(RBAC, f"{len(denied)} of {len(access)} verbs denied",
                    "apply manifests/rbac.yaml: burst credentials --kubeconfig ADMIN.conf "
                    "does it", denied)
    return ok(RBAC, f"all {len(access)} verbs allowed")

def boards(probe: ClusterProbe, cfg: RuntimeConfig, groups: Sequence[NodeGroup]) -> Check:
    """Board resources the FPGA nodes advertise that the catalog does not know.

    An FPGA node: one of our groups' instances, or one advertising a resource of a vendor
    domain the catalog uses (xilinx/...); other extended resources (GPUs) are not boards.
    """
    known = cfg.boards
    domains = {b.split("/", 1)[0] for b in known if "/" in b}
    ours = {i.instance_id for g in groups for i in g.instances}
    unknown = [
        f"node {n.node} advertises {r}" for n in probe.advertised() for r in n.resources
        if r not in known and (n.instance_id in ours or r.split("/", 1)[0] in domains)
    ]
    if unknown:
        return fail(BOARDS, "nodes advertise boards the catalog does not know",
                    "name the device plugin's resource in catalog.accelerators (and the "
                    "group's boards), or configure the plugin to the catalog's name", unknown)
    return ok(BOARDS, f"every advertised board is in the catalog ({len(known)} known)")

