"""The network checks before deploy: the functions' subnets reach AWS's APIs (Service
Quotas among them, called every tick), and the nodes' subnets reach the OpenVPN server."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from burst.loop.doctor.deployment import Deployment
from burst.loop.doctor.results import (
    FUNCTION_SERVICES,
    QUOTAS_ROUTE,
    SUBNETS_FIX,
    VPN_EGRESS,
    Check,
    fail,
    ok,
)
from burst.ports.doctor import AclRule, NetworkReader, Route

ANYWHERE = "0.0.0.0/0"
# Targets that carry a private subnet's traffic out: a NAT gateway or instance (its ENI),
# a transit or virtual private gateway, a peering. An internet gateway needs a public IP,
# which Lambda's network interfaces never have.
_OUTBOUND = ("nat-", "eni-", "tgw-", "vgw-", "pcx-")
_PROTOCOLS = {"udp": "17", "tcp": "6", "tcp-client": "6", "udp4": "17", "tcp4-client": "6"}


@dataclass(frozen=True)
class Remote:
    """An OpenVPN `remote host [port] [proto]` (OpenVPN's reference manual: port defaults
    to 1194, proto to the config's `proto`, else udp)."""

    host: str
    port: int
    protocol: str  # "6" TCP, "17" UDP, as network ACLs number them


def remotes(config: str) -> tuple[Remote, ...]:
    words = [line.split() for line in config.splitlines()]
    default = next((w[1] for w in words if w[:1] == ["proto"] and len(w) > 1), "udp")
    found = []
    for w in words:
        if w[:1] != ["remote"] or len(w) < 2:
            continue
        port = int(w[2]) if len(w) > 2 and w[2].isdigit() else 1194
        proto = w[3] if len(w) > 3 else default
        found.append(Remote(w[1], port, _PROTOCOLS.get(proto, "17")))
    return tuple(found)


def aws_apis_route(net: NetworkReader, d: Deployment) -> Check:
    """Each function subnet reaches every API the functions call: an available VPC endpoint
    com.amazonaws.<region>.<service>, else a default route through a NAT (or gateway)."""
    endpoints = net.endpoints(d.region, d.vpc(d.region))
    wanted = [f"com.amazonaws.{d.region}.{s}" for s in FUNCTION_SERVICES]
    missing = [name for name in wanted if name not in endpoints]
    bad = []
    for subnet in d.function_subnets:
        if missing and not _out(net.routes(d.region, subnet), ANYWHERE):
            bad.append(f"{subnet}: no NAT route (0.0.0.0/0) and no endpoint for "
                       f"{', '.join(n.rsplit('.', 1)[1] for n in missing)}")
    if bad:
        return fail(QUOTAS_ROUTE, "the functions could not reach AWS's APIs", SUBNETS_FIX, bad)
    how = "VPC endpoints" if not missing else "a NAT route"
    return ok(QUOTAS_ROUTE, f"{len(d.function_subnets)} subnet(s) reach "
              f"{', '.join(FUNCTION_SERVICES)} through {how}")


def vpn_egress(net: NetworkReader, d: Deployment, configs: Mapping[str, str]) -> Check:
    """Each node subnet routes to every OpenVPN remote and its network ACL lets the first
    packet out (the nodes' security group allows all outbound: stacks/nodegroup)."""
    bad, count = [], 0
    for g in d.groups:
        servers = remotes(configs.get(g.region, ""))
        for subnet in sorted(g.subnets):
            count += 1
            routes, rules = net.routes(g.region, subnet), net.egress_rules(g.region, subnet)
            for r in servers:
                where = f"{g.name} {subnet} -> {r.host}:{r.port}"
                if not _out(routes, r.host):
                    bad.append(f"{where}: no route out (NAT, gateway or peering)")
                elif not _allowed(rules, r):
                    bad.append(f"{where}: the network ACL denies it")
    if bad:
        return fail(VPN_EGRESS, "nodes could not reach the OpenVPN server",
                    "route the node subnets to the VPN server (0.0.0.0/0 via a NAT gateway, "
                    "or its address via a gateway) and allow it in their network ACL", bad)
    return ok(VPN_EGRESS, f"{count} node subnet(s) route to the OpenVPN server")


def _contains(cidr: str, host: str) -> bool:
    """Whether traffic to `host` may match a route or rule for `cidr`; a host name matches
    only 0.0.0.0/0, since its address is not known here."""
    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return cidr == ANYWHERE


def _out(routes: Sequence[Route], host: str) -> bool:
    # The most specific route wins (VPC route tables: longest prefix match).
    matching = [r for r in routes if "/" in r.destination and _contains(r.destination, host)]
    if not matching:
        return False
    best = max(matching, key=lambda r: int(r.destination.split("/")[1]))
    return best.active and best.target.startswith(_OUTBOUND)


def _allowed(rules: Iterable[AclRule], remote: Remote) -> bool:
    # Network ACL rules are evaluated in rule-number order; the first match decides.
    for rule in sorted(rules, key=lambda r: r.number):
        if not _contains(rule.cidr, remote.host):
            continue
        if rule.protocol not in ("-1", remote.protocol):
            continue
        if rule.ports is not None and not rule.ports[0] <= remote.port <= rule.ports[1]:
            continue
        return rule.allow
    return False
