"""`before_deploy`: every PREFLIGHT check of a deployment config, through the ports given.

No check stops the others; a check whose port is missing, or whose precondition failed
(no working AWS credentials, the API server unreachable), is NOT RUN with why."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from burst.core.errors import AwsError, BurstError
from burst.loop.doctor.before import (
    NO_CREDENTIALS_FIX,
    aws_credentials,
    credentials_secrets,
    device_plugin,
    node_image,
    offerings,
    quota,
    vpn_secret,
)
from burst.loop.doctor.bootstrap import bootstrap_rbac, cert_sans, cluster_info
from burst.loop.doctor.deployment import Deployment
from burst.loop.doctor.network import aws_apis_route, vpn_egress
from burst.loop.doctor.preflight import Expected, Probes, cluster_checks
from burst.loop.doctor.results import (
    API_SERVER,
    AWS_CREDENTIALS,
    BOOTSTRAP_RBAC,
    CERT_SANS,
    CLUSTER_INFO,
    CREDENTIALS_SECRETS,
    NO_AWS_ACCESS,
    NODE_IMAGE,
    OFFERINGS,
    PLUGIN,
    QUOTA,
    QUOTAS_ROUTE,
    VPN_EGRESS,
    VPN_SECRET,
    Check,
    Report,
    Status,
    fail,
    failed,
    guarded,
    not_run,
)
from burst.ports.doctor import AwsPreflight, BootstrapProbe, ClusterProbe, NetworkReader

_NO_AWS = "no working AWS credentials (see aws-credentials)"


@dataclass(frozen=True)
class Before:
    """The ports to check a config through before deploy; None: not available, `why`."""

    aws: AwsPreflight | None = None
    network: NetworkReader | None = None
    cluster: ClusterProbe | None = None  # as the scaler, from its credentials secret
    cluster_error: BurstError | None = None  # why there is no `cluster`, a failure
    bootstrap: BootstrapProbe | None = None  # as an administrator (--admin-kubeconfig)
    ca: str = ""  # the cluster CA the credentials secret carries (PEM)
    why: Mapping[str, str] = field(default_factory=dict)  # check name -> why not run


def before_deploy(d: Deployment, expected: Expected, probes: Before) -> Report:
    """Every PREFLIGHT check, in order. Never raises for what it finds."""
    creds = _account(d, probes)
    reads = probes.aws if creds.status is Status.OK else None

    def on_aws(name: str, check: Callable[[AwsPreflight], Check]) -> Check:
        if reads is None:
            return not_run(name, probes.why.get(name, _NO_AWS))
        return guarded(name, lambda: check(reads))

    configs: dict[str, str] = {}

    def vpn(reader: AwsPreflight) -> Check:
        check, found = vpn_secret(reader, d)
        configs.update(found)
        return check

    checks = [creds, on_aws(CREDENTIALS_SECRETS, lambda r: credentials_secrets(r, d)),
              on_aws(VPN_SECRET, vpn)]
    checks += cluster_checks(expected, Probes(cluster=probes.cluster,
                                              cluster_error=probes.cluster_error,
                                              why=probes.why))
    checks += _joining(d, probes, checks[3])
    checks += [on_aws(NODE_IMAGE, lambda r: node_image(r, d)),
               on_aws(OFFERINGS, lambda r: offerings(r, d)),
               on_aws(QUOTA, lambda r: quota(r, d))]
    checks += _network(d, probes, reads is not None, configs)
    checks.append(guarded(PLUGIN, lambda: device_plugin(d)))
    return Report(tuple(checks))


def _account(d: Deployment, probes: Before) -> Check:
    reader = probes.aws
    if reader is None:
        return not_run(AWS_CREDENTIALS, probes.why.get(AWS_CREDENTIALS, "no AWS access here"))
    try:
        return aws_credentials(reader, d)
    except AwsError as exc:
        if exc.code in NO_AWS_ACCESS:  # no credentials at all: that is this check's failure
            return fail(AWS_CREDENTIALS, f"no AWS credentials: {exc}", NO_CREDENTIALS_FIX)
        return failed(AWS_CREDENTIALS, exc)
    except BurstError as exc:
        return failed(AWS_CREDENTIALS, exc)


def _joining(d: Deployment, probes: Before, reach: Check) -> list[Check]:
    """What a joining node meets: the certificate names its address (through the scaler's
    connection), cluster-info and the bootstrap RBAC (as an administrator)."""
    probe = probes.cluster
    if reach.status is not Status.OK or probe is None:
        sans = not_run(CERT_SANS, f"the API server could not be checked ({API_SERVER})")
    else:
        sans = guarded(CERT_SANS, lambda: cert_sans(probe.handshake(), d.node_endpoint))
    admin = probes.bootstrap
    if admin is None:
        why = probes.why.get(CLUSTER_INFO, "needs an administrator's kubeconfig "
                             "(--admin-kubeconfig ADMIN.conf)")
        return [sans, not_run(CLUSTER_INFO, why), not_run(BOOTSTRAP_RBAC, why)]
    return [sans, guarded(CLUSTER_INFO, lambda: cluster_info(admin, probes.ca)),
            guarded(BOOTSTRAP_RBAC, lambda: bootstrap_rbac(admin))]


def _network(d: Deployment, probes: Before, aws_ok: bool,
             configs: Mapping[str, str]) -> list[Check]:
    net = probes.network
    if net is None or not aws_ok:
        why = probes.why.get(QUOTAS_ROUTE, "no AWS access here") if net is None else _NO_AWS
        return [not_run(QUOTAS_ROUTE, why), not_run(VPN_EGRESS, why)]
    route = guarded(QUOTAS_ROUTE, lambda: aws_apis_route(net, d))
    if set(configs) != {r.region for r in d.regions}:
        return [route, not_run(VPN_EGRESS, f"no usable VPN config to find the server in "
                               f"({VPN_SECRET})")]
    return [route, guarded(VPN_EGRESS, lambda: vpn_egress(net, d, configs))]
