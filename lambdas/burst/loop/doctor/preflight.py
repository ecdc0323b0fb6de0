"""What to expect and what to check through (Expected, Probes), and `diagnose`, which runs
every check in CHECKS order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from burst.core.errors import BurstError
from burst.core.model import NodeGroup
from burst.loop.config import RuntimeConfig
from burst.loop.doctor.aws import config_matches, hooks, join_errors, join_parameter, node_groups
from burst.loop.doctor.cluster import api_server, boards, rbac, token
from burst.loop.doctor.results import (
    API_SERVER,
    BOARDS,
    CONFIG,
    HOOKS,
    JOIN,
    JOIN_ERRORS,
    NODE_GROUPS,
    RBAC,
    TOKEN,
    Check,
    Report,
    Status,
    failed,
    guarded,
    not_run,
)
from burst.ports.aws import JoinErrors, NodeGroups
from burst.ports.doctor import (
    Access,
    ClusterProbe,
    DeployedFunctions,
    HookReader,
    ParameterReader,
)

_NO_TOKEN = "the API server does not accept the token"


@dataclass(frozen=True)
class Expected:
    """What the deployment should look like. `None` fields: not known here, checks not run."""

    cfg: RuntimeConfig
    now: datetime
    token: str | None = field(default=None, repr=False)  # the controller's token, for `exp`
    access: tuple[Access, ...] | None = None  # from manifests/rbac.yaml (required_access)
    environment: Mapping[str, str] | None = None  # the functions' environment, from config


@dataclass(frozen=True)
class Probes:
    """The ports to check through; None: not reachable from here, with `why` per check."""

    cluster: ClusterProbe | None = None
    groups: NodeGroups | None = None
    hooks: HookReader | None = None
    parameters: ParameterReader | None = None
    functions: DeployedFunctions | None = None
    joins: JoinErrors | None = None
    why: Mapping[str, str] = field(default_factory=dict)  # check name -> why it is not run
    # Why there is no cluster probe, when that is itself a failure (the credentials secret
    # could not be read): the api-server check fails with it.
    cluster_error: BurstError | None = None

    def skip(self, name: str) -> Check:
        return not_run(name, self.why.get(name, "not available here"))


def diagnose(expected: Expected, probes: Probes) -> Report:
    """Every check, in CHECKS order. Never raises for what it finds: each is a Check."""
    checks = [_config(expected, probes)]
    checks.extend(cluster_checks(expected, probes))
    groups_check, groups = _groups(expected.cfg, probes)
    checks += [
        groups_check,
        _hooks(probes, groups),
        _join(expected.cfg, expected.now, probes),
    ]
    probe = probes.cluster
    if checks[1].status is not Status.OK:
        checks.append(not_run(BOARDS, _unreached(checks[1])))
    elif checks[2].status is Status.FAIL:
        checks.append(not_run(BOARDS, _NO_TOKEN))
    elif probe is None:
        checks.append(probes.skip(BOARDS))
    else:
        checks.append(guarded(BOARDS, lambda: boards(probe, expected.cfg, groups)))
    joins = probes.joins
    if joins is None:
        checks.append(probes.skip(JOIN_ERRORS))
    elif not groups:  # no instance to ask: not a pass
        checks.append(not_run(JOIN_ERRORS, f"no node group discovered ({NODE_GROUPS})"))
    else:
        checks.append(guarded(JOIN_ERRORS, lambda: join_errors(joins, groups)))
    return Report(tuple(checks))


def _unreached(reach: Check) -> str:
    if reach.status is Status.NOT_RUN:
        return f"the API server was not checked ({API_SERVER})"
    return "the API server cannot be reached"


def _config(expected: Expected, probes: Probes) -> Check:
    if probes.functions is None or expected.environment is None:
        return probes.skip(CONFIG)
    functions, environment = probes.functions, expected.environment
    return guarded(CONFIG, lambda: config_matches(
        functions.environments(expected.cfg.cluster_name), environment,
        expected.cfg.cluster_name))


def cluster_checks(expected: Expected, probes: Probes) -> list[Check]:
    """api-server, token, rbac: each only once the one before it passed."""
    probe = probes.cluster
    if probe is None and probes.cluster_error is not None:
        reach = failed(API_SERVER, probes.cluster_error)
    elif probe is None:
        return [probes.skip(name) for name in (API_SERVER, TOKEN, RBAC)]
    else:
        reach = guarded(API_SERVER, lambda: api_server(probe))
    if reach.status is not Status.OK:
        return [reach, *(not_run(n, _unreached(reach)) for n in (TOKEN, RBAC))]
    assert probe is not None
    accepted = guarded(TOKEN, lambda: token(probe, expected.token, expected.now))
    if accepted.status is Status.FAIL:
        return [reach, accepted, not_run(RBAC, _NO_TOKEN)]
    return [reach, accepted, guarded(RBAC, lambda: rbac(probe, expected.access))]


def _groups(cfg: RuntimeConfig, probes: Probes) -> tuple[Check, tuple[NodeGroup, ...]]:
    if probes.groups is None:
        return probes.skip(NODE_GROUPS), ()
    port = probes.groups
    found: tuple[NodeGroup, ...] = ()

    def discover() -> Check:
        nonlocal found
        found = port.discover_node_groups(cfg.cluster_name, cfg.catalog.instance_types)
        return node_groups(found, cfg.cluster_name)

    return guarded(NODE_GROUPS, discover), found


def _hooks(probes: Probes, groups: Sequence[NodeGroup]) -> Check:
    if probes.hooks is None:
        return probes.skip(HOOKS)
    if not groups:
        return not_run(HOOKS, "no node group discovered")
    reader = probes.hooks
    return guarded(HOOKS, lambda: hooks(reader, groups))


def _join(cfg: RuntimeConfig, now: datetime, probes: Probes) -> Check:
    if probes.parameters is None:
        return probes.skip(JOIN)
    reader = probes.parameters
    return guarded(JOIN, lambda: join_parameter(reader, cfg, now))
