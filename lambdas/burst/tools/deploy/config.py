"""The deployment configuration: read once, validated, frozen.

`load(path)` turns the YAML file that `cdk.json` names (context key `fpga-burst:config`)
into a `DeployConfig`, for the CDK app (stacks/) and for the `burst` tools that must agree
with what it deploys (`burst doctor --config`, `burst demo`). Every problem raises
`ConfigError` naming the field, so `app.py` can print one line and exit instead of showing
a jsii stack trace. The constructs receive typed values and never read context themselves.

The policy is parsed by the core's one policy parser (burst.core.policy), and the runtime
configuration the functions will receive (`runtime_json()`) is put through their own
loader (burst.loop.config) before `parse` returns: what synth accepts, the functions accept.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from burst.adapters import yamlload
from burst.adapters.kube.identity import FUNCTIONS
from burst.core.catalog import INSTANCE_TYPES
from burst.core.errors import ConfigError
from burst.core.model import Policy
from burst.core.policy import (
    LAUNCH_HOOK_TIMEOUT,
    TERMINATE_HOOK_TIMEOUT,
    parse_policy,
    policy_document,
)
from burst.core.regions import AWS_REGIONS, partition
from burst.loop import config as runtime
from burst.tools.deploy import schema
from burst.tools.deploy.groups import NodeGroupConfig, Subnet, parse_node_group, parse_subnet
from burst.tools.deploy.reader import NAME, NAME_HINT, SOURCE, Obj, bad, unique

CONTEXT_KEY = "fpga-burst:config"
# The file cdk.json's context names, relative to the repository: app.py's default and the
# tools' (`burst events`).
DEFAULT_PATH = Path("config/fpga-burst.yaml")

# The hooks are created with these; the lifecycle handler receives them in
# FPGA_BURST_CONFIG (`lifecycle`) so its deadlines and the hooks' always agree.
LAUNCH_HOOK_TIMEOUT_SECONDS = int(LAUNCH_HOOK_TIMEOUT.total_seconds())
TERMINATE_HOOK_TIMEOUT_SECONDS = int(TERMINATE_HOOK_TIMEOUT.total_seconds())

# scaler.mode -> whether the scaler watches pending pods between ticks (FPGA_BURST_CONFIG's
# watch.enabled). watch: a new pod is acted on within seconds; poll: once per tick, for a
# fraction of the idle cost (README, "Watch or poll").
SCALER_MODES = {"watch": True, "poll": False}
# Whether the stack adds the CloudWatch dashboard (`alarms.dashboard`): $3 a month, the
# largest fixed charge at rest (README, "What it costs at rest"). The alarms page on
# everything a user must act on without it; it graphs what retries by itself.
DASHBOARD = False
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$")


def secret_resources(arn: str) -> list[str]:
    """The IAM resources that let a role read the secret a configured ARN names, full or
    partial: Secrets Manager appends `-` and 6 random characters to the name ("The ARN
    includes the name of the secret followed by six random characters", CreateSecret), so a
    partial ARN matches only with a `-??????` wildcard. GetSecretValue accepts either form
    as SecretId. Every role that reads a configured secret is granted through this."""
    return [arn, f"{arn}-??????"]
_ENDPOINT = runtime.ENDPOINT
_PARAMETER = re.compile(r"^/[A-Za-z0-9_.\-/]{1,1000}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class NodeImageConfig:
    """The node image fpga-burst builds (stacks/nodegroup/image.py) for groups without an
    ami_id: Ubuntu 24.04 with what image/node/install.sh installs."""

    kubernetes_version: str  # the cluster's minor, "1.37": kubelet and kubeadm are pinned to it
    aws_fpga_ref: str = "f2"  # git ref of aws/aws-fpga whose SDK gives the F2 tools
    build_instance_type: str = "c7i.2xlarge"  # builds only: the image needs no FPGA to build


@dataclass(frozen=True)
class RegionConfig:
    """A region besides the home one where node groups live: its network and VPN."""

    vpc_id: str
    subnets: tuple[Subnet, ...]
    onprem_cidr: str | None  # see DeployConfig.onprem_cidr
    vpn_secret_arn: str  # a secret in this region: the nodes read it from here


@dataclass(frozen=True)
class DeployConfig:
    cluster_name: str
    # host:port of the API server as the nodes reach it: the join data's endpoint.
    api_endpoint: str
    # host:port the functions connect to; it overrides the credentials secret's `endpoint`.
    controller_endpoint: str
    # function -> the secret `burst credentials` wrote for it; each function reads its own
    credentials_secret_arns: Mapping[str, str]
    account: str
    region: str
    vpc_id: str
    subnets: tuple[Subnet, ...]
    lambda_security_group_id: str
    # A network routed to the VPC without the nodes' tunnel (site-to-site VPN, Direct
    # Connect): the nodes' kubelet port is opened to it. None: no inbound rule at all, as
    # the OpenVPN client setup needs (the API server reaches kubelets through tun0, which
    # security groups never see).
    onprem_cidr: str | None
    vpn_secret_arn: str
    join_parameter_name: str
    node_groups: tuple[NodeGroupConfig, ...]
    # As written; the functions' loader checks them (see _check_runtime).
    accelerators: Mapping[str, Mapping[str, int]]
    scaler_mode: str  # a key of SCALER_MODES
    policy: Policy = field(default_factory=Policy)
    alarm_email: str | None = None
    dashboard: bool = DASHBOARD
    stack_name: str = "FpgaBurst"
    # The nodes may be reached with SSM Session Manager (AmazonSSMManagedInstanceCore).
    ssm_session_manager: bool = False
    # Other regions where node groups live (`regions:`); the home region is `region`.
    regions: Mapping[str, RegionConfig] = field(default_factory=dict)
    node_image: NodeImageConfig | None = None  # needed when a group has no ami_id

    def groups_in(self, region: str) -> tuple[NodeGroupConfig, ...]:
        return tuple(g for g in self.node_groups if g.region == region)

    @property
    def join_key_alias(self) -> str:
        """The alias of each other region's join-data key: the tokens function names the
        key by it, since a key's ARN is not known before that region's stack exists."""
        return f"alias/fpga-burst/{self.cluster_name}/join"

    def join_key_alias_arn(self, region: str) -> str:
        return f"arn:{partition(region)}:kms:{region}:{self.account}:{self.join_key_alias}"

    def runtime_config(self) -> dict[str, Any]:
        """What the functions receive as FPGA_BURST_CONFIG (JSON): catalog, policy, hooks,
        and whether the scaler watches."""
        return {
            "catalog": {
                "accelerators": copy.deepcopy(dict(self.accelerators)),
                # Group boards named in this file, not in the built-in instance table.
                "boards": sorted({b for g in self.node_groups for b in g.boards}
                                 - {b for it in INSTANCE_TYPES.values() for b in it.boards}),
            },
            "policy": policy_document(self.policy),
            "lifecycle": {
                "launch_timeout_seconds": LAUNCH_HOOK_TIMEOUT_SECONDS,
                "terminate_timeout_seconds": TERMINATE_HOOK_TIMEOUT_SECONDS,
            },
            "watch": {"enabled": SCALER_MODES[self.scaler_mode]},
            **({"regions": {r: {"join_key_id": self.join_key_alias_arn(r)}
                            for r in sorted(self.regions)}} if self.regions else {}),
        }

    def runtime_json(self) -> str:
        """FPGA_BURST_CONFIG's value, exactly as the functions' environment carries it."""
        return json.dumps(self.runtime_config(), sort_keys=True)


def load(path: Path) -> DeployConfig:
    """Reads and validates the YAML file; raises ConfigError naming the bad field."""
    try:
        raw = yamlload.load(path.read_text(encoding="utf-8"))  # libyaml's C loader if present
    except OSError as exc:
        raise bad("", f"cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise bad("", "is not UTF-8 text") from exc
    except yaml.YAMLError as exc:
        raise bad("", f"not valid YAML: {' '.join(str(exc).split())}") from exc
    return parse(raw)


def parse(raw: object) -> DeployConfig:
    """The validated configuration; raises ConfigError naming the first bad field, or
    UnknownKeyError for the first key the schema does not know (before any value is read:
    a typo is reported as itself, not as the missing key it leaves)."""
    schema.check(raw)
    doc = Obj(raw, "")
    cluster = doc.obj("cluster")
    aws = doc.obj("aws")
    network = doc.obj("network")
    vpn = doc.obj("vpn")
    name = cluster.text("name", pattern=NAME, hint=NAME_HINT)
    subnets = tuple(parse_subnet(s) for s in network.items("subnets", min_len=1))
    unique([s.id for s in subnets], network.path("subnets"))
    region = aws.text("region", pattern=_REGION, hint="e.g. us-east-1")
    if region not in AWS_REGIONS:
        raise bad(aws.path("region"), f"{region!r} is not an AWS region code")
    _check_zones(subnets, region, network.path("subnets"))
    onprem_cidr = network.cidr("onprem_cidr", required=False)
    regions = _regions(doc.obj("regions", required=False), region, onprem_cidr)
    networks = {region: subnets, **{r: c.subnets for r, c in regions.items()}}
    groups = tuple(
        parse_node_group(g, networks, region) for g in doc.items("node_groups", min_len=1)
    )
    unique([g.name for g in groups], "node_groups[].name")
    for other in regions:
        if not any(g.region == other for g in groups):
            raise bad(f"regions.{other}", "no node group lives in this region")
    alarms = doc.obj("alarms", required=False)
    api_endpoint = cluster.text("api_endpoint", pattern=_ENDPOINT, hint="host:port")
    config = DeployConfig(
        cluster_name=name,
        api_endpoint=api_endpoint,
        controller_endpoint=cluster.text(
            "controller_endpoint", default=api_endpoint, pattern=_ENDPOINT, hint="host:port"
        ),
        credentials_secret_arns=_credentials_secrets(cluster.obj("credentials_secret_arns")),
        account=aws.text("account", pattern=_ACCOUNT, hint="12 digits, quoted"),
        region=region,
        vpc_id=network.text("vpc_id", pattern=re.compile(r"^vpc-[0-9a-f]{8,17}$")),
        subnets=subnets,
        lambda_security_group_id=network.text(
            "lambda_security_group_id", pattern=re.compile(r"^sg-[0-9a-f]{8,17}$")
        ),
        onprem_cidr=onprem_cidr,
        vpn_secret_arn=vpn.text("secret_arn", pattern=_SECRET_ARN, hint="a Secrets Manager ARN"),
        join_parameter_name=doc.obj("join", required=False).text(
            "parameter_name", default=f"/fpga-burst/{name}/join", pattern=_PARAMETER
        ),
        node_groups=groups,
        accelerators=doc.obj("catalog", required=False).mapping("accelerators"),
        policy=parse_policy(doc.get("policy"), SOURCE, written=True),
        scaler_mode=_scaler_mode(doc.obj("scaler", required=False)),
        alarm_email=alarms.text("email", default=None, pattern=_EMAIL),
        dashboard=alarms.flag("dashboard", default=DASHBOARD),
        stack_name=doc.text(
            "stack_name", default="FpgaBurst", pattern=re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
        ),
        ssm_session_manager=_node_access(doc.obj("node_access", required=False)),
        regions=regions,
        node_image=_node_image(doc, groups),
    )
    _check_penalties(config)
    _check_runtime(config)
    return config


def _check_runtime(config: DeployConfig) -> None:
    """The functions' own loader on what they will receive: synth fails where they would.

    FPGA_BURST_CONFIG's sections mirror this file's (`policy`, `catalog`), so the field
    the loader names is the field to fix here.
    """
    try:
        document = config.runtime_json()
    except (TypeError, ValueError) as exc:  # YAML can hold what JSON cannot (dates, sets)
        raise bad("catalog", f"holds a value JSON cannot carry ({exc})") from exc
    try:
        runtime.load(
            {runtime.CONFIG_VAR: document},
            cluster_name=config.cluster_name,
            api_endpoint=config.api_endpoint,
            controller_endpoint=config.controller_endpoint,
            credentials_secret=config.credentials_secret_arns[FUNCTIONS[0]],
            join_parameter=config.join_parameter_name,
            region=config.region,
        )
    except ConfigError as exc:
        raise bad(exc.field or exc.source, exc.problem) from exc


def _credentials_secrets(secrets: Obj) -> dict[str, str]:
    """function -> its credentials secret ARN, one for each function (the schema's keys)."""
    return {f: secrets.text(f, pattern=_SECRET_ARN, hint="a Secrets Manager secret ARN")
            for f in FUNCTIONS}


def _check_zones(subnets: tuple[Subnet, ...], region: str, where: str) -> None:
    for i, subnet in enumerate(subnets):
        # An AZ name is its region's code plus a letter (us-east-1a); Local Zones add more.
        if not subnet.availability_zone.startswith(region):
            raise bad(
                f"{where}[{i}].availability_zone",
                f"{subnet.availability_zone!r} is not in region {region!r}",
            )


def _regions(regions: Obj, home: str, onprem_cidr: str | None) -> dict[str, RegionConfig]:
    """The `regions:` map: per other region, its VPC, subnets, on-prem CIDR and VPN secret."""
    found: dict[str, RegionConfig] = {}
    for name in regions.fields():
        where = regions.path(name)
        if name not in AWS_REGIONS:
            raise bad(where, f"{name!r} is not an AWS region code")
        if name == home:
            raise bad(where, "is the home region (aws.region): its network is `network`")
        item = regions.obj(name)
        subnets = tuple(parse_subnet(s) for s in item.items("subnets", min_len=1))
        unique([s.id for s in subnets], item.path("subnets"))
        _check_zones(subnets, name, item.path("subnets"))
        secret = item.text("vpn_secret_arn", pattern=_SECRET_ARN, hint="a Secrets Manager ARN")
        if secret.split(":")[3] != name:
            raise bad(item.path("vpn_secret_arn"),
                       f"must be a secret in {name}: the nodes there read it from there")
        found[name] = RegionConfig(
            vpc_id=item.text("vpc_id", pattern=re.compile(r"^vpc-[0-9a-f]{8,17}$")),
            subnets=subnets,
            onprem_cidr=item.cidr("onprem_cidr", required=False) or onprem_cidr,
            vpn_secret_arn=secret,
        )
    return found


def _node_image(doc: Obj, groups: Sequence[NodeGroupConfig]) -> NodeImageConfig | None:
    section = doc.obj("node_image", required=False)
    if all(g.ami_id for g in groups) and not section.fields():
        return None
    return NodeImageConfig(
        kubernetes_version=section.text(
            "kubernetes_version", pattern=re.compile(r"^1\.\d{2,3}$"),
            hint='the cluster\'s minor version, quoted, e.g. "1.37": a group has no ami_id, '
            "so fpga-burst builds the node image"),
        aws_fpga_ref=section.text("aws_fpga_ref", default="f2",
                                  pattern=re.compile(r"^[\w./-]{1,100}$")),
        build_instance_type=section.text("build_instance_type", default="c7i.2xlarge",
                                         pattern=re.compile(r"^[a-z0-9]+\.[a-z0-9]+$")),
    )


def _check_penalties(config: DeployConfig) -> None:
    where = "policy.region_penalty_per_board_hour"
    for name in config.policy.region_penalties:
        if name != config.region and name not in config.regions:
            raise bad(f"{where}.{name}", "no node group lives in this region")


def _node_access(access: Obj) -> bool:
    enabled = access.get("ssm_session_manager")
    if enabled is None:
        return False
    if not isinstance(enabled, bool):
        raise bad(access.path("ssm_session_manager"), f"must be true or false, got {enabled!r}")
    return enabled


def _scaler_mode(scaler: Obj) -> str:
    mode: str = scaler.text("mode", default="watch")
    if mode not in SCALER_MODES:
        raise bad(scaler.path("mode"), f"{mode!r} is not one of {', '.join(SCALER_MODES)}")
    return mode
