"""`burst doctor`: the preflight before deploy, and the deployment's checks after.

    burst doctor --config FILE [--admin-kubeconfig ADMIN.conf]  # before and after deploy
    burst doctor --config FILE --deployed [...]  # after: the stack's checks even if not found

With the user's AWS credentials. Before deploy (burst.tools.preflight) it checks what the
config names: the account, the secrets, the cluster through the scaler's credentials
secret, what a joining node meets, AMIs, offerings, quotas, routes. Once the stack's
functions are deployed (or with `--deployed`) it adds the stack's checks (the deployed
functions' environment against the config, node groups, hooks, the join parameter,
boards, join errors) and explains each alarm in ALARM. Without
`--config`, the stack's checks run from the functions' environment variables as `burst
invoke` reads them. The checks are burst.loop.doctor, which the deployed scaler also runs
from inside the VPC.
Exit status: 0 every check ran and passed; 1 a check failed; 2 bad input; 3 none failed
but some could not run (NOT RUN, with why).
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from burst.adapters.kube import identity
from burst.core.errors import BurstError, ConfigError
from burst.loop import config as config_mod
from burst.loop import doctor
from burst.loop.config import RuntimeConfig
from burst.ports.doctor import Access
from burst.tools import credentials, preflight

if TYPE_CHECKING:
    from burst.tools.deploy.config import DeployConfig

# Set at deploy time from a key the stack creates: not knowable from the config.
UNKNOWN_BEFORE_DEPLOY = ("FPGA_BURST_JOIN_KEY_ID",)
# Settings each function has its own value of (its own credentials secret): not compared
# across functions; the doctor itself runs with the scaler's.
PER_FUNCTION = ("FPGA_BURST_CREDENTIALS_SECRET_ARN",)


def register(commands: Any) -> None:
    """Add `burst doctor` to the CLI's subparsers."""
    p = commands.add_parser("doctor", help="preflight before deploy; the deployment's "
                            "checks after (--deployed)")
    p.add_argument("--config", type=Path, help="deployment config YAML (default: the "
                   "deployed functions' FPGA_BURST_* environment variables)")
    p.add_argument("--deployed", action="store_true", help="check the stack too, and explain "
                   "its alarms, even if no function of it is found (found: checked anyway)")
    p.add_argument("--admin-kubeconfig", type=Path, help="an administrator's kubeconfig, "
                   "to check cluster-info and kubeadm's bootstrap RBAC")
    p.add_argument("--kubeconfig", type=Path, help="instead of the credentials secret")
    p.add_argument("--rbac", type=Path, default=credentials.DEFAULT_RBAC,
                   help="the RBAC manifest whose verbs the controller needs")
    p.add_argument("--endpoint-url", help="AWS endpoint, e.g. http://127.0.0.1:5000 (moto)")
    p.add_argument("--output", choices=("text", "json"), default="text")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    access = doctor.required_access(credentials.load_manifests(args.rbac), str(args.rbac),
                                    identity.account("scaler"))
    cfg, environment = settings(args)
    if args.config is not None:
        report = preflight.check(preflight.deployment(load_deploy(args.config)), cfg, access,
                                 args.admin_kubeconfig)
        if args.deployed or deployed(cfg):
            report = report + check(cfg, environment, access)
    else:
        report = check(cfg, None, access)
    print(json.dumps(report.to_json(), indent=2) if args.output == "json" else report.table())
    return exit_status(report)


def deployed(cfg: RuntimeConfig) -> bool:
    """Whether functions of this cluster are deployed (ListFunctions): then `--config`
    alone checks the stack too. Not known (no AWS access): not deployed, as far as said."""
    from burst.adapters.aws.adapter import Aws, AwsSettings
    from burst.adapters.aws.doctor import AwsDoctor

    aws = Aws(settings=AwsSettings(region=cfg.region, endpoint_url=cfg.aws_endpoint_url))
    try:
        return bool(AwsDoctor(aws.clients).environments(cfg.cluster_name))
    except BurstError:
        return False


def exit_status(report: doctor.Report) -> int:
    """0 every check ran and passed, 1 a check failed, 3 none failed but some did not run."""
    if report.failed:
        return 1
    return 0 if report.passed else 3


def settings(args: argparse.Namespace) -> tuple[RuntimeConfig, dict[str, str] | None]:
    """The functions' configuration, and their environment if a deployment config says it."""
    explicit: dict[str, Any] = {}
    if args.kubeconfig is not None:
        explicit["kubeconfig"] = args.kubeconfig
    if args.endpoint_url:
        explicit["aws_endpoint_url"] = args.endpoint_url
    if args.config is None:
        return config_mod.load(os.environ, **explicit), None
    environment, region = deployed_environment(args.config)
    cfg = config_mod.load({**environment, "AWS_REGION": region}, **explicit)
    return cfg, {k: v for k, v in environment.items()
                 if k not in UNKNOWN_BEFORE_DEPLOY + PER_FUNCTION}


def load_deploy(path: Path) -> DeployConfig:
    """The validated deployment config; ConfigError naming the file and field."""
    from burst.tools.deploy import config as deploy_config

    try:
        return deploy_config.load(path)
    except ConfigError as exc:  # it names the field; the file is the caller's to name
        raise ConfigError(str(path), exc.field, exc.problem) from exc


def deployed_environment(path: Path) -> tuple[dict[str, str], str]:
    """What the stack sets in the scaler's environment for this config, and its region."""
    from burst.tools.deploy.functions import environment

    deploy = load_deploy(path)
    return environment(deploy, join_key_arn="", function="scaler"), deploy.region


def check(cfg: RuntimeConfig, environment: dict[str, str] | None,
          access: tuple[Access, ...], now: datetime | None = None) -> doctor.Report:
    """Every check with the user's credentials; `now` default: the wall clock."""
    # Imported when the command runs: `burst plan` should not pay for boto3 and kubernetes.
    from burst.adapters.aws.adapter import Aws, AwsSettings
    from burst.adapters.aws.doctor import AwsDoctor
    from burst.adapters.kube.doctor import KubeProbe
    from burst.handlers import runtime

    aws = Aws(settings=AwsSettings(region=cfg.region, endpoint_url=cfg.aws_endpoint_url),
              regions=tuple(cfg.regions))
    reads = AwsDoctor(aws.clients, aws.regions)
    built, failure = None, None
    try:
        built = runtime.adapters(cfg, aws)
    except BurstError as exc:
        failure = exc
    try:
        probes = doctor.Probes(
            cluster=KubeProbe(built.cluster.kube) if built else None,
            groups=aws.groups, hooks=reads, parameters=reads, functions=reads,
            joins=aws.lifecycle,
            why={doctor.CONFIG: "no --config given to compare the deployment with"},
            cluster_error=failure,
        )
        expected = doctor.Expected(cfg=cfg, now=now or datetime.now(UTC),
                                   token=built.token if built else None, access=access,
                                   environment=environment)
        explained = doctor.guarded(doctor.ALARMS,
                                   lambda: doctor.alarms(reads, cfg.cluster_name))
        return doctor.diagnose(expected, probes) + doctor.Report((explained,))
    finally:
        if built is not None:
            built.close()
