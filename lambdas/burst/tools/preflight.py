"""`burst doctor --config FILE`'s half before deploy: the Deployment a deployment config
describes, and the ports to check it through (the operator's AWS credentials, the
scaler's credentials secret, an administrator's kubeconfig if given)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from burst.core.catalog import INSTANCE_TYPES
from burst.core.errors import BurstError
from burst.loop import doctor
from burst.loop.config import RuntimeConfig
from burst.ports.doctor import Access

if TYPE_CHECKING:
    from burst.tools.deploy.config import DeployConfig

ADMIN_HINT = "needs an administrator's kubeconfig: --admin-kubeconfig ADMIN.conf"


def deployment(cfg: DeployConfig) -> doctor.Deployment:
    """What the config says the account and the cluster must hold."""
    regions = (doctor.RegionPlan(cfg.region, cfg.vpc_id, cfg.vpn_secret_arn),
               *(doctor.RegionPlan(name, r.vpc_id, r.vpn_secret_arn)
                 for name, r in sorted(cfg.regions.items())))
    groups = tuple(
        doctor.GroupPlan(
            name=g.name, region=g.region, instance_type=g.instance_type, ami_id=g.ami_id,
            root_device_name=g.root_device_name, max_size=g.max_size,
            vcpus=INSTANCE_TYPES[g.instance_type].vcpus, capacity_type=g.capacity_type,
            subnets={s.id: s.availability_zone for s in g.subnets}, boards=dict(g.boards))
        for g in cfg.node_groups)
    return doctor.Deployment(
        cluster=cfg.cluster_name, account=cfg.account, region=cfg.region,
        node_endpoint=cfg.api_endpoint, credentials_secrets=dict(cfg.credentials_secret_arns),
        function_subnets=tuple(s.id for s in cfg.subnets), regions=regions, groups=groups)


def check(d: doctor.Deployment, cfg: RuntimeConfig, access: tuple[Access, ...],
          admin: Path | None = None, now: datetime | None = None) -> doctor.Report:
    """Every PREFLIGHT check with the user's credentials; `now` default: the wall clock."""
    with probes(cfg, admin) as (before, token):
        expected = doctor.Expected(cfg=cfg, now=now or datetime.now(UTC), token=token,
                                   access=access)
        return doctor.before_deploy(d, expected, before)


@contextmanager
def probes(cfg: RuntimeConfig, admin: Path | None) -> Iterator[tuple[doctor.Before, str | None]]:
    """The ports, closed on exit; the scaler's token for its expiry."""
    # Imported when the command runs: `burst plan` should not pay for boto3 and kubernetes.
    from burst.adapters.aws.adapter import Aws, AwsSettings
    from burst.adapters.aws.doctor import AwsDoctor
    from burst.adapters.kube import client
    from burst.adapters.kube.doctor import AdminProbe, KubeProbe
    from burst.handlers import runtime

    aws = Aws(settings=AwsSettings(region=cfg.region, endpoint_url=cfg.aws_endpoint_url),
              regions=tuple(cfg.regions))
    reads = AwsDoctor(aws.clients, aws.regions)
    with ExitStack() as stack:
        built, failure, ca = None, None, ""
        try:
            built = runtime.adapters(cfg, aws)
            stack.callback(built.close)
            ca = _ca(built.cluster.kube.api_client.configuration.ssl_ca_cert)
        except BurstError as exc:
            failure = exc
        bootstrap = None
        if admin is not None:
            kube = stack.enter_context(client.from_kubeconfig(admin))
            bootstrap = AdminProbe(kube)
        yield doctor.Before(
            aws=reads, network=reads, cluster=KubeProbe(built.cluster.kube) if built else None,
            cluster_error=failure, bootstrap=bootstrap, ca=ca,
            why={doctor.CLUSTER_INFO: ADMIN_HINT, doctor.BOOTSTRAP_RBAC: ADMIN_HINT},
        ), (built.token if built else None)


def _ca(path: str | None) -> str:
    return Path(path).read_text() if path else ""
