"""The deployment configuration: read once, validated, frozen.

`load(path)` turns the YAML file that `cdk.json` names (context key `fpga-burst:config`)
into a `DeployConfig`. Every problem raises `ConfigError` naming the field, so `app.py` can
print one line and exit instead of showing a jsii stack trace. The constructs receive typed
values and never read context themselves.

The policy is parsed by the core's one policy parser (burst.core.policy), and the runtime
configuration the functions will receive (`runtime_json()`) is put through their own
loader (burst.loop.config) before `parse` returns: what synth accepts, the functions accept.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from burst.adapters import yamlload
from burst.adapters.kube.credentials import FUNCTIONS
from burst.core.catalog import INSTANCE_TYPES
from burst.core.errors import ConfigError
from burst.core.model import Policy, Taint
from burst.core.policy import (
    LAUNCH_HOOK_TIMEOUT,
    TERMINATE_HOOK_TIMEOUT,
    parse_policy,
    policy_document,
)
from burst.core.regions import AWS_REGIONS, OFFERED_IN, partition
from burst.core.spot import CAPACITY_TYPE_LABEL, CAPACITY_TYPES, ON_DEMAND, SPOT
from burst.loop import config as runtime

CONTEXT_KEY = "fpga-burst:config"
# Errors name the field only: app.py prints the file before them.
_SOURCE = ""

# The hooks are created with these; the lifecycle handler receives them in
# FPGA_BURST_CONFIG (`lifecycle`) so its deadlines and the hooks' always agree.
LAUNCH_HOOK_TIMEOUT_SECONDS = int(LAUNCH_HOOK_TIMEOUT.total_seconds())
TERMINATE_HOOK_TIMEOUT_SECONDS = int(TERMINATE_HOOK_TIMEOUT.total_seconds())

_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# scaler.mode -> whether the scaler watches pending pods between ticks (FPGA_BURST_CONFIG's
# watch.enabled). watch: a new pod is acted on within seconds; poll: once per tick, for a
# fraction of the idle cost (README, "Watch or poll").
SCALER_MODES = {"watch": True, "poll": False}
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
# Kubernetes qualified names: optional DNS-subdomain prefix, then a name of at most 63.
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
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
# An extended resource name: a DNS-subdomain prefix, '/', a name (kubectl's rules).
_BOARD = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_PARAMETER = re.compile(r"^/[A-Za-z0-9_.\-/]{1,1000}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _bad(field: str, problem: str) -> ConfigError:
    return ConfigError(_SOURCE, field, problem)


@dataclass(frozen=True)
class Subnet:
    id: str
    availability_zone: str


@dataclass(frozen=True)
class NodeGroupConfig:
    name: str
    instance_type: str
    ami_id: str
    min_size: int
    max_size: int
    subnets: tuple[Subnet, ...]
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    priority: int
    root_volume_gib: int
    # Must be the AMI's RootDeviceName, or the encrypted gp3 volume is added beside the root
    # instead of replacing it (`aws ec2 describe-images --query 'Images[].RootDeviceName'`).
    root_device_name: str
    boards: Mapping[str, int]  # board resource -> boards per instance
    # on-demand | spot; `labels` carry it as karpenter.sh/capacity-type (burst.core.spot).
    capacity_type: str = ON_DEMAND
    # A Spot group's price source: this price per hour (USD), the live Spot price, or both
    # (live first, this when the live price cannot be read).
    spot_price_per_hour: float | None = None
    spot_price_live: bool = False
    region: str = ""  # its AWS region: aws.region (home) or a key of `regions`

    def asg_name(self, cluster: str) -> str:
        return f"{cluster}-{self.name}"


@dataclass(frozen=True)
class NodeImageConfig:
    """The node image fpga-burst builds (stacks/nodegroup/image.py) for groups without an
    ami_id: Ubuntu 24.04 with what image/node/install.sh installs."""

    kubernetes_version: str  # the cluster's minor, "1.37": kubelet and kubeadm are pinned to it
    aws_fpga_ref: str = "f2"  # git ref of aws/aws-fpga whose SDK gives the F2 tools
    build_instance_type: str = "c7i.2xlarge"  # builds only: the image needs no FPGA to build


# Ubuntu's root device name (the node image's parent); "/dev/xvda" is Amazon Linux's.
NODE_IMAGE_ROOT_DEVICE = "/dev/sda1"


@dataclass(frozen=True)
class RegionConfig:
    """A region besides the home one where node groups live: its network and VPN."""

    vpc_id: str
    subnets: tuple[Subnet, ...]
    onprem_cidr: str
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
    onprem_cidr: str
    vpn_secret_arn: str
    join_parameter_name: str
    node_groups: tuple[NodeGroupConfig, ...]
    # As written; the functions' loader checks them (see _check_runtime).
    accelerators: Mapping[str, Mapping[str, int]]
    scaler_mode: str  # a key of SCALER_MODES
    policy: Policy = field(default_factory=Policy)
    alarm_email: str | None = None
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
        raise _bad("", f"cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise _bad("", "is not UTF-8 text") from exc
    except yaml.YAMLError as exc:
        raise _bad("", f"not valid YAML: {' '.join(str(exc).split())}") from exc
    return parse(raw)


def parse(raw: object) -> DeployConfig:
    """The validated configuration; raises ConfigError naming the first bad field."""
    doc = _Obj(raw, "")
    cluster = doc.obj("cluster")
    aws = doc.obj("aws")
    network = doc.obj("network")
    vpn = doc.obj("vpn")
    name = cluster.text("name", pattern=_NAME, hint="lower-case letters, digits, '-'; ≤ 32")
    subnets = tuple(_subnet(s) for s in network.items("subnets", min_len=1))
    _unique([s.id for s in subnets], network.path("subnets"))
    region = aws.text("region", pattern=_REGION, hint="e.g. us-east-1")
    if region not in AWS_REGIONS:
        raise _bad(aws.path("region"), f"{region!r} is not an AWS region code")
    _check_zones(subnets, region, network.path("subnets"))
    regions = _regions(doc.obj("regions", required=False), region, network.cidr("onprem_cidr"))
    networks = {region: subnets, **{r: c.subnets for r, c in regions.items()}}
    groups = tuple(
        _node_group(g, networks, region) for g in doc.items("node_groups", min_len=1)
    )
    _unique([g.name for g in groups], "node_groups[].name")
    for other in regions:
        if not any(g.region == other for g in groups):
            raise _bad(f"regions.{other}", "no node group lives in this region")
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
        onprem_cidr=network.cidr("onprem_cidr"),
        vpn_secret_arn=vpn.text("secret_arn", pattern=_SECRET_ARN, hint="a Secrets Manager ARN"),
        join_parameter_name=doc.obj("join", required=False).text(
            "parameter_name", default=f"/fpga-burst/{name}/join", pattern=_PARAMETER
        ),
        node_groups=groups,
        accelerators=doc.obj("catalog", required=False).mapping("accelerators"),
        policy=parse_policy(doc.get("policy"), _SOURCE),
        scaler_mode=_scaler_mode(doc.obj("scaler", required=False)),
        alarm_email=alarms.text("email", default=None, pattern=_EMAIL),
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
        raise _bad("catalog", f"holds a value JSON cannot carry ({exc})") from exc
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
        raise _bad(exc.field or exc.source, exc.problem) from exc


def _credentials_secrets(secrets: _Obj) -> dict[str, str]:
    """function -> its credentials secret ARN, one for each function and no other key."""
    for key in secrets.fields():
        if key not in FUNCTIONS:
            raise _bad(secrets.path(key), f"is not a function (one of {', '.join(FUNCTIONS)})")
    return {f: secrets.text(f, pattern=_SECRET_ARN, hint="a Secrets Manager secret ARN")
            for f in FUNCTIONS}


def _check_zones(subnets: tuple[Subnet, ...], region: str, where: str) -> None:
    for i, subnet in enumerate(subnets):
        # An AZ name is its region's code plus a letter (us-east-1a); Local Zones add more.
        if not subnet.availability_zone.startswith(region):
            raise _bad(
                f"{where}[{i}].availability_zone",
                f"{subnet.availability_zone!r} is not in region {region!r}",
            )


def _regions(regions: _Obj, home: str, onprem_cidr: str) -> dict[str, RegionConfig]:
    """The `regions:` map: per other region, its VPC, subnets, on-prem CIDR and VPN secret."""
    found: dict[str, RegionConfig] = {}
    for name in regions.fields():
        where = regions.path(name)
        if name not in AWS_REGIONS:
            raise _bad(where, f"{name!r} is not an AWS region code")
        if name == home:
            raise _bad(where, "is the home region (aws.region): its network is `network`")
        item = regions.obj(name)
        subnets = tuple(_subnet(s) for s in item.items("subnets", min_len=1))
        _unique([s.id for s in subnets], item.path("subnets"))
        _check_zones(subnets, name, item.path("subnets"))
        secret = item.text("vpn_secret_arn", pattern=_SECRET_ARN, hint="a Secrets Manager ARN")
        if secret.split(":")[3] != name:
            raise _bad(item.path("vpn_secret_arn"),
                       f"must be a secret in {name}: the nodes there read it from there")
        found[name] = RegionConfig(
            vpc_id=item.text("vpc_id", pattern=re.compile(r"^vpc-[0-9a-f]{8,17}$")),
            subnets=subnets,
            onprem_cidr=item.cidr("onprem_cidr") if item.get("onprem_cidr") else onprem_cidr,
            vpn_secret_arn=secret,
        )
    return found


def _check_penalties(config: DeployConfig) -> None:
    where = "policy.region_penalty_per_board_hour"
    for name in config.policy.region_penalties:
        if name != config.region and name not in config.regions:
            raise _bad(f"{where}.{name}", "no node group lives in this region")


def _node_access(access: _Obj) -> bool:
    for key in access.fields():
        if key != "ssm_session_manager":
            raise _bad(access.path(key), "unknown setting (known: ssm_session_manager)")
    enabled = access.get("ssm_session_manager")
    if enabled is None:
        return False
    if not isinstance(enabled, bool):
        raise _bad(access.path("ssm_session_manager"), f"must be true or false, got {enabled!r}")
    return enabled


def _scaler_mode(scaler: _Obj) -> str:
    mode: str = scaler.text("mode", default="watch")
    if mode not in SCALER_MODES:
        raise _bad(scaler.path("mode"), f"{mode!r} is not one of {', '.join(SCALER_MODES)}")
    return mode


def _subnet(item: _Obj) -> Subnet:
    return Subnet(
        id=item.text("id", pattern=re.compile(r"^subnet-[0-9a-f]{8,17}$")),
        availability_zone=item.text("availability_zone", pattern=re.compile(r"^[a-z0-9-]+[a-z]$")),
    )


def _node_group(
    item: _Obj, networks: Mapping[str, tuple[Subnet, ...]], home: str
) -> NodeGroupConfig:
    instance_type = item.text("instance_type")
    known = INSTANCE_TYPES.get(instance_type)
    if known is None:
        raise _bad(
            item.path("instance_type"),
            f"{instance_type!r} is not a known FPGA instance type "
            f"(known: {', '.join(sorted(INSTANCE_TYPES))})",
        )
    region = item.text("region", default=home)
    if region not in networks:
        raise _bad(item.path("region"),
                   f"{region!r} is neither aws.region nor a key of `regions`")
    if region not in OFFERED_IN.get(instance_type, frozenset()):
        raise _bad(
            item.path("instance_type"),
            f"{instance_type} is not known to be offered in {region} (known: "
            f"{', '.join(sorted(OFFERED_IN.get(instance_type, ())))}; burst/core/regions.py)",
        )
    subnets = {s.id: s for s in networks[region]}
    subnets_of = "network.subnets" if region == home else f"regions.{region}.subnets"
    min_size = item.integer("min_size", default=0, minimum=0)
    max_size = item.integer("max_size", minimum=1)
    if max_size < min_size:
        raise _bad(item.path("max_size"), f"{max_size} is below min_size {min_size}")
    ids = item.str_list("subnet_ids", default=list(subnets))
    for i, subnet_id in enumerate(ids):
        if subnet_id not in subnets:
            raise _bad(
                f"{item.path('subnet_ids')}[{i}]", f"{subnet_id!r} is not in {subnets_of}"
            )
    capacity = _capacity(item)
    if capacity["spot_price_live"] and region != home:
        # The functions read Spot prices (and the F quotas) in the home region only.
        raise _bad(item.path("spot_price_live"),
                   f"is read in the home region ({home}) only: give a group in {region} "
                   "a spot_price_per_hour")
    return NodeGroupConfig(
        name=item.text("name", pattern=_NAME, hint="lower-case letters, digits, '-'; ≤ 32"),
        instance_type=instance_type,
        # None: the node image fpga-burst builds (node_image)
        ami_id=item.text("ami_id", default="", pattern=re.compile(r"^ami-[0-9a-f]{8,17}$")),
        min_size=min_size,
        max_size=max_size,
        subnets=tuple(subnets[i] for i in ids),
        labels={**_labels(item), CAPACITY_TYPE_LABEL: capacity["capacity_type"]},
        taints=tuple(_taint(t) for t in item.items("taints", min_len=0, required=False)),
        priority=item.integer("priority", default=0, minimum=0),
        root_volume_gib=item.integer("root_volume_gib", default=100, minimum=8),
        root_device_name=item.text(
            "root_device_name",
            default="/dev/xvda" if item.get("ami_id") else NODE_IMAGE_ROOT_DEVICE,
            pattern=re.compile(r"^/dev/[a-z0-9]+$"),
        ),
        boards=_boards(item, dict(known.boards)),
        **capacity,
        region=region,
    )


def _node_image(doc: _Obj, groups: Sequence[NodeGroupConfig]) -> NodeImageConfig | None:
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


def _capacity(item: _Obj) -> dict[str, Any]:
    """capacity_type and the Spot price source; the capacity-type label joins `labels`."""
    kind = item.text("capacity_type", default=ON_DEMAND)
    if kind not in CAPACITY_TYPES:
        raise _bad(item.path("capacity_type"),
                   f"{kind!r} is not one of {', '.join(CAPACITY_TYPES)}")
    price = item.get("spot_price_per_hour")
    live = item.get("spot_price_live")
    live = False if live is None else live
    if not isinstance(live, bool):
        raise _bad(item.path("spot_price_live"), f"must be true or false, got {live!r}")
    if price is not None and (isinstance(price, bool) or not isinstance(price, (int, float))
                              or price <= 0):
        raise _bad(item.path("spot_price_per_hour"), f"{price!r} is not a price per hour > 0")
    if kind != SPOT and (price is not None or live):
        field = "spot_price_per_hour" if price is not None else "spot_price_live"
        raise _bad(item.path(field), "is for a Spot group only (capacity_type: spot)")
    if kind == SPOT and price is None and not live:
        raise _bad(item.path("spot_price_per_hour"),
                   "a Spot group needs a price source: a price per hour, or spot_price_live: true")
    if CAPACITY_TYPE_LABEL in item.mapping("labels"):
        raise _bad(f"{item.path('labels')}.{CAPACITY_TYPE_LABEL}",
                   "is set from capacity_type; do not set it here")
    return {"capacity_type": kind, "spot_price_live": live,
            "spot_price_per_hour": None if price is None else float(price)}


def _boards(item: _Obj, known: dict[str, int]) -> dict[str, int]:
    """The instance type's boards, under the name its device plugin advertises if given."""
    name = item.text("board_resource", default=None, pattern=_BOARD,
                     hint="vendor/name, as the device plugin advertises it")
    if name is None:
        return known
    return {name: sum(known.values())}


def _labels(item: _Obj) -> dict[str, str]:
    labels = item.mapping("labels")
    for key, value in labels.items():
        where = f"{item.path('labels')}.{key}"
        if not isinstance(value, str) or not _LABEL_VALUE.match(value):
            raise _bad(where, f"{value!r} is not a valid label value")
        if not _LABEL_KEY.match(key):
            raise _bad(where, "not a valid label key")
    return {str(k): str(v) for k, v in labels.items()}


def _taint(item: _Obj) -> Taint:
    key = item.text("key", pattern=_LABEL_KEY)
    value = item.text("value", default="", pattern=_LABEL_VALUE)
    effect = item.text("effect", default="NoSchedule")
    if effect not in _TAINT_EFFECTS:
        raise _bad(item.path("effect"), f"{effect!r} is not one of {_TAINT_EFFECTS}")
    return Taint(key=key, value=value, effect=effect)


def _unique(values: list[str], where: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise _bad(where, f"{value!r} appears twice")
        seen.add(value)


class _Obj:
    """A YAML mapping with its dotted path, for error messages that name the field."""

    def __init__(self, raw: object, path: str) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise _bad(path or "<top level>", "must be a mapping")
        self._raw: dict[str, Any] = raw
        self._path = path

    def path(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def get(self, key: str) -> Any:
        return self._raw.get(key)

    def fields(self) -> list[str]:
        return [str(k) for k in self._raw]

    def obj(self, key: str, *, required: bool = True) -> _Obj:
        if required and key not in self._raw:
            raise _bad(self.path(key), "is required")
        return _Obj(self._raw.get(key), self.path(key))

    def mapping(self, key: str) -> dict[str, Any]:
        value = self._raw.get(key) or {}
        if not isinstance(value, dict):
            raise _bad(self.path(key), "must be a mapping")
        return value

    def items(self, key: str, *, min_len: int, required: bool = True) -> list[_Obj]:
        value = self._raw.get(key)
        if value is None and not required:
            return []
        if not isinstance(value, list) or len(value) < min_len:
            raise _bad(self.path(key), f"must be a list of at least {min_len}")
        return [_Obj(v, f"{self.path(key)}[{i}]") for i, v in enumerate(value)]

    def str_list(self, key: str, *, default: list[str]) -> list[str]:
        value = self._raw.get(key, default)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise _bad(self.path(key), "must be a non-empty list of strings")
        return value

    def text(
        self,
        key: str,
        *,
        default: Any = ...,
        pattern: re.Pattern[str] | None = None,
        hint: str = "",
    ) -> Any:
        return self._scalar(key, default, lambda v: isinstance(v, str), "a string", pattern, hint)

    def integer(self, key: str, *, default: Any = ..., minimum: int) -> Any:
        value = self._scalar(
            key, default, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"
        )
        if value is not None and value < minimum:
            raise _bad(self.path(key), f"{value} must be ≥ {minimum}")
        return value

    def cidr(self, key: str) -> str:
        value = self.text(key)
        try:
            return str(ipaddress.ip_network(value, strict=True))
        except ValueError as exc:
            raise _bad(self.path(key), f"{value!r} is not a CIDR block ({exc})") from exc

    def _scalar(
        self,
        key: str,
        default: Any,
        ok: Callable[[Any], bool],
        kind: str,
        pattern: re.Pattern[str] | None = None,
        hint: str = "",
    ) -> Any:
        if key not in self._raw or self._raw[key] is None:
            if default is ...:
                raise _bad(self.path(key), "is required")
            return default
        value = self._raw[key]
        if not ok(value):
            raise _bad(self.path(key), f"{value!r} is not {kind}")
        if pattern is not None and not pattern.match(value):
            suffix = f" ({hint})" if hint else ""
            raise _bad(self.path(key), f"{value!r} is not valid{suffix}")
        return value
