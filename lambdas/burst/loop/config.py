"""The functions' runtime configuration: one frozen, validated object per process.

Each setting comes from an explicit argument to `load`, else its environment variable (the
names stacks/controller/construct.py `environment()` sets), else the default written here.
FPGA_BURST_CONFIG carries the structured part as JSON (burst/tools/deploy/config.py
`DeployConfig.runtime_config()`):

    {"catalog": {"accelerators": {name: {board: replicas}}, "boards": [board, ...]},
     "policy": {field: value} as burst.core.policy parses it,
     "lifecycle": {"launch_timeout_seconds", "terminate_timeout_seconds",
                   "scheduled_change_lead_seconds"},
     "watch": {"enabled", "idle_seconds", "max_batch_seconds", "margin_seconds"},
     "regions": {region: {"join_key_id"}} for each region besides the home one where
                node groups live: the groups are found there, the join data published}

Every problem is a ConfigError naming the source (variable) and the field.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from burst.core.catalog import default_catalog
from burst.core.errors import ConfigError, UnknownKeyError
from burst.core.model import Catalog, Policy
from burst.core.policy import (
    LAUNCH_HOOK_TIMEOUT,
    TERMINATE_HOOK_TIMEOUT,
    TOKEN_PERIOD,
    duration,
    parse_policy,
)
from burst.core.regions import AWS_REGIONS

CONFIG_VAR = "FPGA_BURST_CONFIG"
# argument name -> environment variable
_ENV = {
    "cluster_name": "FPGA_BURST_CLUSTER_NAME",
    "api_endpoint": "FPGA_BURST_API_ENDPOINT",
    "controller_endpoint": "FPGA_BURST_CONTROLLER_ENDPOINT",
    "credentials_secret": "FPGA_BURST_CREDENTIALS_SECRET_ARN",
    "join_parameter": "FPGA_BURST_JOIN_PARAMETER",
    "join_key_id": "FPGA_BURST_JOIN_KEY_ID",
    "kubeconfig": "FPGA_BURST_KUBECONFIG",
    "aws_endpoint_url": "FPGA_BURST_AWS_ENDPOINT_URL",
    "region": "AWS_REGION",
    "dry_run": "FPGA_BURST_DRY_RUN",
}
_SECTIONS = ("catalog", "policy", "lifecycle", "watch", "regions")
# An API server address without scheme, as kubeadm join takes it: the nodes' endpoint and
# the functions' (the deployment config validates both with this).
ENDPOINT = re.compile(r"^[A-Za-z0-9.-]+:\d{1,5}$")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class LifecycleSettings:
    """The lifecycle hooks' heartbeat timeouts, as the CDK created them, and how early a
    node is drained before an AWS Health scheduled change of its instance."""

    launch_timeout: timedelta = LAUNCH_HOOK_TIMEOUT
    terminate_timeout: timedelta = TERMINATE_HOOK_TIMEOUT
    # None: terminate_timeout, the time a terminate hook gives a drain.
    scheduled_change_lead_setting: timedelta | None = None

    @property
    def scheduled_change_lead(self) -> timedelta:
        """The drain for a scheduled change begins this long before its startTime."""
        lead = self.scheduled_change_lead_setting
        return self.terminate_timeout if lead is None else lead


@dataclass(frozen=True)
class WatchSettings:
    """Watch mode of the scaler: batching of pod changes, and when to stop before the next tick.

    `enabled` false is poll mode: one reconcile per tick (the deployment config's
    `scaler.mode`).

    A change is acted on once no other came for `idle`, or `max_batch` after the first,
    so a burst of pods is planned together without making the first one wait long.
    """

    enabled: bool = True
    idle: timedelta = timedelta(seconds=1)
    max_batch: timedelta = timedelta(seconds=10)
    # Room left before the invocation must end (the next tick, or the Lambda deadline:
    # burst.loop.watch.must_end) for one last reconcile and the response.
    margin: timedelta = timedelta(seconds=8)
    # While pods wait for instances asked for, reconcile at least this often even with no
    # pod change, so a failed launch moves them to the next group within seconds.
    recheck: timedelta = timedelta(seconds=10)


@dataclass(frozen=True)
class EventLimits:
    """The scaler's budget for Kubernetes Events in one reconcile, pods and nodes together
    (burst.loop.tell): at most `writes`, and none started more than `seconds` after it starts
    writing them. Not read from FPGA_BURST_CONFIG; tests and benchmarks set it."""

    writes: int = 1000
    seconds: timedelta = timedelta(seconds=10)


@dataclass(frozen=True)
class RuntimeConfig:
    cluster_name: str
    api_endpoint: str = ""  # host:port the nodes join (the join data); "": the cluster's own
    # host:port the functions connect to, instead of the credentials secret's `endpoint`
    controller_endpoint: str = ""
    credentials_secret: str | None = None
    join_parameter: str = ""
    join_key_id: str = ""
    catalog: Catalog = field(default_factory=default_catalog)
    policy: Policy = field(default_factory=Policy)
    lifecycle: LifecycleSettings = field(default_factory=LifecycleSettings)
    watch: WatchSettings = field(default_factory=WatchSettings)
    events: EventLimits = field(default_factory=EventLimits)
    kubeconfig: Path | None = None  # local runs: instead of the credentials secret
    aws_endpoint_url: str | None = None  # local runs: e.g. a moto_server
    region: str | None = None
    dry_run: bool = False
    # The other regions where node groups live -> the KMS key (ARN or alias ARN) their
    # join-data parameter is encrypted with; the parameter has join_parameter's name.
    regions: Mapping[str, str] = field(default_factory=dict)

    @property
    def token_ttl(self) -> timedelta:
        """Lifetime of each join token the tokens function makes (a policy field)."""
        return self.policy.token_ttl

    @property
    def token_overlap(self) -> timedelta:
        """Rotate the join token once it has less than this left: a node that read it just
        before a rotation still has a whole launch-hook timeout to join with it."""
        return self.lifecycle.launch_timeout + TOKEN_PERIOD

    @property
    def boards(self) -> frozenset[str]:
        """Board resources the catalog knows (instance types, accelerators, node groups)."""
        found = set(self.catalog.boards)
        found.update(b for it in self.catalog.instance_types.values() for b in it.boards)
        found.update(b for boards in self.catalog.accelerators.values() for b in boards)
        return frozenset(found)


def load(environ: Mapping[str, str] | None = None, **explicit: Any) -> RuntimeConfig:
    """The configuration from `explicit` arguments, then `environ` (default os.environ).

    `explicit` takes RuntimeConfig's scalar fields by name, and `config` for the parsed
    FPGA_BURST_CONFIG document. Raises ConfigError naming the variable and field.
    """
    env = os.environ if environ is None else environ
    unknown = set(explicit) - set(_ENV) - {"config"}
    if unknown:
        raise ConfigError("arguments", ", ".join(sorted(unknown)), "unknown setting")

    def pick(name: str) -> Any:
        return explicit[name] if name in explicit else env.get(_ENV[name])

    cluster = pick("cluster_name")
    if not cluster:
        raise ConfigError(_ENV["cluster_name"], "", "must name the cluster")
    document = explicit["config"] if "config" in explicit else _document(env.get(CONFIG_VAR))
    sections = _sections(document)
    kubeconfig = pick("kubeconfig")
    return RuntimeConfig(
        cluster_name=str(cluster),
        api_endpoint=_endpoint(pick("api_endpoint"), _ENV["api_endpoint"]),
        controller_endpoint=_endpoint(pick("controller_endpoint"), _ENV["controller_endpoint"]),
        credentials_secret=pick("credentials_secret") or None,
        join_parameter=str(pick("join_parameter") or ""),
        join_key_id=str(pick("join_key_id") or ""),
        catalog=_catalog(sections["catalog"]),
        policy=parse_policy(sections["policy"], CONFIG_VAR),
        lifecycle=_lifecycle(sections["lifecycle"]),
        watch=_watch(sections["watch"]),
        kubeconfig=Path(kubeconfig) if kubeconfig else None,
        aws_endpoint_url=pick("aws_endpoint_url") or None,
        region=pick("region") or None,
        dry_run=_flag(pick("dry_run"), _ENV["dry_run"]),
        regions=_regions(sections["regions"]),
    )


def _document(text: str | None) -> Any:
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(CONFIG_VAR, "", f"not JSON: {exc}") from exc


def _sections(document: Any) -> dict[str, Mapping[str, Any]]:
    if not isinstance(document, Mapping):
        raise ConfigError(CONFIG_VAR, "", "must be a JSON object")
    extra = sorted(set(document) - set(_SECTIONS))
    if extra:
        raise UnknownKeyError(CONFIG_VAR, extra[0], extra[0], _SECTIONS)
    found: dict[str, Mapping[str, Any]] = {}
    for name in _SECTIONS:
        value = document.get(name) or {}
        if not isinstance(value, Mapping):
            raise ConfigError(CONFIG_VAR, name, "must be a JSON object")
        found[name] = value
    return found


class _Fields:
    """Typed reads of one section; every unread key is refused at the end (typos)."""

    def __init__(self, section: str, data: Mapping[str, Any]) -> None:
        self.section = section
        self.data = data
        self.read: set[str] = set()

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(CONFIG_VAR, f"{self.section}.{key}", problem)

    def seconds(self, key: str, default: timedelta) -> timedelta:
        """A duration in seconds, >= 0; absent or null is the default."""
        found = self.maybe_seconds(key)
        return default if found is None else found

    def maybe_seconds(self, key: str) -> timedelta | None:
        """A duration in seconds, >= 0; None if absent or null."""
        self.read.add(key)
        value = self.data.get(key)
        if value is None:
            return None
        return duration(value, CONFIG_VAR, f"{self.section}.{key}")

    def done(self) -> None:
        extra = sorted(set(self.data) - self.read)
        if extra:
            raise UnknownKeyError(CONFIG_VAR, f"{self.section}.{extra[0]}", extra[0], self.read)


def _catalog(data: Mapping[str, Any]) -> Catalog:
    base = default_catalog()
    accelerators = data.get("accelerators", {})
    named = data.get("boards", [])
    extra = sorted(set(data) - {"accelerators", "boards"})
    if extra:
        raise UnknownKeyError(CONFIG_VAR, f"catalog.{extra[0]}", extra[0],
                              ("accelerators", "boards"))
    if not isinstance(accelerators, Mapping):
        raise ConfigError(CONFIG_VAR, "catalog.accelerators", "must be a JSON object")
    merged: dict[str, Mapping[str, int]] = dict(base.accelerators)
    for name, boards in accelerators.items():
        where = f"catalog.accelerators.{name}"
        if not isinstance(boards, Mapping) or not boards:
            raise ConfigError(CONFIG_VAR, where, "must map board resources to replicas")
        for board, replicas in boards.items():
            if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
                raise ConfigError(
                    CONFIG_VAR, f"{where}.{board}", f"replicas must be >= 1, got {replicas!r}"
                )
        merged[str(name)] = {str(b): int(r) for b, r in boards.items()}
    if not isinstance(named, list) or not all(isinstance(b, str) and "/" in b for b in named):
        raise ConfigError(CONFIG_VAR, "catalog.boards", "must be a list of vendor/name resources")
    return Catalog(accelerators=merged, instance_types=base.instance_types,
                   boards=frozenset(named))


def _lifecycle(data: Mapping[str, Any]) -> LifecycleSettings:
    f = _Fields("lifecycle", data)
    default = LifecycleSettings()
    found = LifecycleSettings(
        launch_timeout=f.seconds("launch_timeout_seconds", default.launch_timeout),
        terminate_timeout=f.seconds("terminate_timeout_seconds", default.terminate_timeout),
        scheduled_change_lead_setting=f.maybe_seconds("scheduled_change_lead_seconds"),
    )
    f.done()
    return found


def _watch(data: Mapping[str, Any]) -> WatchSettings:
    f = _Fields("watch", data)
    default = WatchSettings()
    f.read.add("enabled")
    enabled = data.get("enabled", default.enabled)
    if not isinstance(enabled, bool):
        raise f.error("enabled", f"must be true or false, got {enabled!r}")
    found = WatchSettings(
        enabled=enabled,
        idle=f.seconds("idle_seconds", default.idle),
        max_batch=f.seconds("max_batch_seconds", default.max_batch),
        margin=f.seconds("margin_seconds", default.margin),
    )
    f.done()
    if found.idle > found.max_batch:
        raise f.error("idle_seconds", "must not exceed max_batch_seconds")
    return found


def _regions(data: Mapping[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for region, settings in data.items():
        if region not in AWS_REGIONS:
            raise ConfigError(CONFIG_VAR, f"regions.{region}", "not an AWS region code")
        if not isinstance(settings, Mapping):
            raise ConfigError(CONFIG_VAR, f"regions.{region}", "must be a JSON object")
        f = _Fields(f"regions.{region}", settings)
        f.read.add("join_key_id")
        key = settings.get("join_key_id")
        if not isinstance(key, str) or not key:
            raise f.error("join_key_id", "must name the region's KMS key")
        f.done()
        found[str(region)] = key
    return found


def _endpoint(value: Any, source: str) -> str:
    text = str(value or "")
    if text and not ENDPOINT.match(text):
        raise ConfigError(source, "", f"{text!r} is not host:port")
    return text


def _flag(value: Any, source: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(source, "", f"must be true or false, got {value!r}")
