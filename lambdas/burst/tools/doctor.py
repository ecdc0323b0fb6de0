"""`burst doctor`: is this deployment wired right? Each check printed ✓ or ✗ with its fix.

With the user's AWS credentials and either the deployment config (`--config`; the deployed
functions' environment is compared with what it makes) or, without one, the functions'
environment variables as `burst invoke` reads them. The cluster is reached as the functions
reach it: the credentials secret (or `--kubeconfig` instead). The checks themselves are
burst.loop.doctor, which the deployed scaler also runs from inside the VPC.
Exit status: 0 all pass, 1 a check failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from burst.adapters.kube import identity
from burst.core.errors import BurstError, ConfigError
from burst.loop import config as config_mod
from burst.loop import doctor
from burst.loop.config import RuntimeConfig
from burst.ports.doctor import Access
from burst.tools import credentials

# Set at deploy time from a key the stack creates: not knowable from the config.
UNKNOWN_BEFORE_DEPLOY = ("FPGA_BURST_JOIN_KEY_ID",)
# Settings each function has its own value of (its own credentials secret): not compared
# across functions; the doctor itself runs with the scaler's.
PER_FUNCTION = ("FPGA_BURST_CREDENTIALS_SECRET_ARN",)


def register(commands: Any) -> None:
    """Add `burst doctor` to the CLI's subparsers."""
    p = commands.add_parser("doctor", help="preflight: is the deployment wired right?")
    p.add_argument("--config", type=Path, help="deployment config YAML (default: the "
                   "functions' FPGA_BURST_* environment variables)")
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
    report = check(cfg, environment, access)
    print(json.dumps(report.to_json(), indent=2) if args.output == "json" else report.render())
    return 1 if report.failed else 0


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


def deployed_environment(path: Path) -> tuple[dict[str, str], str]:
    """What the stack sets in the scaler's environment for this config, and its region."""
    from burst.tools.deploy import config as deploy_config
    from burst.tools.deploy.functions import environment

    try:
        deploy = deploy_config.load(path)
    except ConfigError as exc:  # it names the field; the file is the caller's to name
        raise ConfigError(str(path), exc.field, exc.problem) from exc
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
        return doctor.diagnose(expected, probes)
    finally:
        if built is not None:
            built.close()
