"""The preflight: is this deployment wired right? One Check per question, each with its fix.

`diagnose` runs the checks through the ports it is given (burst.ports.doctor, NodeGroups):
`burst doctor` passes them all with the user's credentials; the deployed scaler passes the
cluster half and the node groups from inside the VPC (a diagnose event). A port not given
is a check "skipped", with why. No check stops the others: an error becomes that check's
failure, named with its fix (FIXES), except that the cluster checks are skipped once the
API server cannot be reached, since each would only repeat that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from burst.core import jwt
from burst.core.errors import (
    AwsError,
    AwsThrottledError,
    AwsUnavailableError,
    BurstError,
    ClusterCredentialsError,
    ClusterUnreachableError,
    ConfigError,
    KubeForbiddenError,
    KubeThrottledError,
    KubeUnauthorizedError,
)
from burst.core.model import NodeGroup
from burst.core.names import Hook
from burst.core.policy import TOKEN_PERIOD
from burst.loop.config import RuntimeConfig
from burst.ports.aws import JoinErrors, NodeGroups
from burst.ports.doctor import (
    Access,
    ClusterProbe,
    DeployedFunctions,
    HookReader,
    ParameterReader,
)

# The checks, in the order they run and print.
CONFIG = "config"
API_SERVER = "api-server"
TOKEN = "token"
RBAC = "rbac"
NODE_GROUPS = "node-groups"
HOOKS = "lifecycle-hooks"
JOIN = "join-parameter"
BOARDS = "board-names"
JOIN_ERRORS = "join-errors"
CHECKS = (CONFIG, API_SERVER, TOKEN, RBAC, NODE_GROUPS, HOOKS, JOIN, BOARDS, JOIN_ERRORS)

# Warn this long before the controller's token expires (the CredentialsDaysLeft alarm too).
TOKEN_WARNING = timedelta(days=7)
# Room for a late tokens run on top of when it must have rewritten the join parameter.
JOIN_SLACK = timedelta(minutes=5)
CREDENTIALS_FIX = (
    "issue new credentials: burst credentials --kubeconfig ADMIN.conf --secret-id SECRET_ARN"
)
SUBNETS_FIX = (
    "route the functions' subnets to AWS's APIs (a NAT gateway, or VPC endpoints for "
    "autoscaling, ec2, secretsmanager, ssm, lambda)"
)
# botocore's errors when there are no credentials or region at all: nothing to check with.
NO_AWS_ACCESS = ("NoCredentialsError", "NoRegionError")
# error class -> (what it means, the fix); the first match wins, so subclasses come first.
FIXES: tuple[tuple[type[BurstError], str, str], ...] = (
    (KubeUnauthorizedError, "the API server rejects the controller's token (expired, "
     "revoked or of another cluster)", CREDENTIALS_FIX),
    (KubeForbiddenError, "RBAC denies the controller", "apply manifests/rbac.yaml: "
     "burst credentials --kubeconfig ADMIN.conf does it"),
    (ClusterUnreachableError, "the API server cannot be reached", "route the functions' "
     "subnets to the API server over the VPN and allow its port in the security groups"),
    (KubeThrottledError, "the API server throttles the controller", "run it again later"),
    (ClusterCredentialsError, "the credentials secret is unusable", CREDENTIALS_FIX),
    (ConfigError, "the configuration is invalid", "correct the named setting"),
    (AwsUnavailableError, "AWS cannot be reached", SUBNETS_FIX),
    (AwsThrottledError, "AWS throttles the calls", "run it again later"),
    (AwsError, "AWS refused a call", "allow the named call for these credentials, or name "
     "the right resource"),
)


_NO_TOKEN = "the API server does not accept the token"


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"  # works now, will not for long
    FAIL = "fail"
    SKIPPED = "skipped"


_MARK = {Status.OK: "✓", Status.WARN: "!", Status.FAIL: "✗", Status.SKIPPED: "-"}


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str = ""  # what was found; for a failure, the problem
    fix: str = ""
    lines: tuple[str, ...] = ()  # what was seen, one item a line (groups, denied verbs)

    def render(self) -> str:
        head = f"{_MARK[self.status]} {self.name}"
        if self.status is Status.SKIPPED:
            head += f": skipped: {self.detail}"
        elif self.detail:
            head += f": {self.detail}"
        if self.fix:
            head += f" — fix: {self.fix}"
        return "\n".join([head, *(f"    {line}" for line in self.lines)])

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"name": self.name, "status": self.status.value}
        found.update({k: v for k, v in (("detail", self.detail), ("fix", self.fix)) if v})
        if self.lines:
            found["lines"] = list(self.lines)
        return found


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status is Status.FAIL)

    def render(self) -> str:
        return "\n".join(c.render() for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"ok": not self.failed, "checks": [c.to_json() for c in self.checks]}


def ok(name: str, detail: str = "", lines: Iterable[str] = ()) -> Check:
    return Check(name, Status.OK, detail, lines=tuple(lines))


def fail(name: str, detail: str, fix: str, lines: Iterable[str] = ()) -> Check:
    return Check(name, Status.FAIL, detail, fix, tuple(lines))


def skipped(name: str, why: str) -> Check:
    return Check(name, Status.SKIPPED, why)


def from_error(name: str, exc: BurstError) -> Check:
    """The failure for an error a check ran into, with the fix for its class."""
    meaning, fix = next(((m, f) for kind, m, f in FIXES if isinstance(exc, kind)),
                        ("unexpected error", "see the message"))
    return fail(name, f"{meaning}: {exc}", fix)


def guarded(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except BurstError as exc:
        return failed(name, exc)


def failed(name: str, exc: BurstError) -> Check:
    """The check for an error: skipped with no AWS access at all, else from_error."""
    if isinstance(exc, AwsError) and exc.code in NO_AWS_ACCESS:
        return skipped(name, f"no AWS access here: {exc}")
    return from_error(name, exc)


# -- the ports, and what to expect ---------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What the deployment should look like. `None` fields: not known here, checks skipped."""

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
    why: Mapping[str, str] = field(default_factory=dict)  # check name -> why it is skipped
    # Why there is no cluster probe, when that is itself a failure (the credentials secret
    # could not be read): the api-server check fails with it.
    cluster_error: BurstError | None = None

    def skip(self, name: str) -> Check:
        return skipped(name, self.why.get(name, "not available here"))


def diagnose(expected: Expected, probes: Probes) -> Report:
    """Every check, in CHECKS order. Never raises for what it finds: each is a Check."""
    checks = [_config(expected, probes)]
    checks.extend(_cluster(expected, probes))
    groups_check, groups = _groups(expected.cfg, probes)
    checks += [
        groups_check,
        _hooks(probes, groups),
        _join(expected.cfg, expected.now, probes),
    ]
    probe = probes.cluster
    if checks[1].status is not Status.OK:
        checks.append(skipped(BOARDS, "the API server cannot be reached"))
    elif checks[2].status is Status.FAIL:
        checks.append(skipped(BOARDS, _NO_TOKEN))
    elif probe is None:
        checks.append(probes.skip(BOARDS))
    else:
        checks.append(guarded(BOARDS, lambda: boards(probe, expected.cfg, groups)))
    joins = probes.joins
    checks.append(probes.skip(JOIN_ERRORS) if joins is None
                  else guarded(JOIN_ERRORS, lambda: join_errors(joins, groups)))
    return Report(tuple(checks))


def _config(expected: Expected, probes: Probes) -> Check:
    if probes.functions is None or expected.environment is None:
        return probes.skip(CONFIG)
    functions, environment = probes.functions, expected.environment
    return guarded(CONFIG, lambda: config_matches(
        functions.environments(expected.cfg.cluster_name), environment,
        expected.cfg.cluster_name))


def _cluster(expected: Expected, probes: Probes) -> list[Check]:
    probe = probes.cluster
    if probe is None and probes.cluster_error is not None:
        reach = failed(API_SERVER, probes.cluster_error)
    elif probe is None:
        return [probes.skip(name) for name in (API_SERVER, TOKEN, RBAC)]
    else:
        reach = guarded(API_SERVER, lambda: api_server(probe))
    if reach.status is not Status.OK:
        return [reach, *(skipped(n, "the API server cannot be reached") for n in (TOKEN, RBAC))]
    assert probe is not None
    accepted = guarded(TOKEN, lambda: token(probe, expected.token, expected.now))
    if accepted.status is Status.FAIL:
        return [reach, accepted, skipped(RBAC, _NO_TOKEN)]
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
        return skipped(HOOKS, "no node group discovered")
    reader = probes.hooks
    return guarded(HOOKS, lambda: hooks(reader, groups))


def _join(cfg: RuntimeConfig, now: datetime, probes: Probes) -> Check:
    if probes.parameters is None:
        return probes.skip(JOIN)
    reader = probes.parameters
    return guarded(JOIN, lambda: join_parameter(reader, cfg, now))


# -- the checks ------------------------------------------------------------------------------


def config_matches(deployed: Mapping[str, Mapping[str, str]], want: Mapping[str, str],
                   cluster: str) -> Check:
    """Each deployed function's environment against what the config makes of it."""
    if not deployed:
        return fail(CONFIG, f"no function is deployed for cluster {cluster!r}",
                    "deploy the stack: npx cdk deploy -c fpga-burst:config=YOUR.yaml")
    differ = [
        f"{fn}: {key} is {env.get(key)!r}, the config says {value!r}"
        for fn, env in sorted(deployed.items()) for key, value in sorted(want.items())
        if env.get(key) != value
    ]
    if differ:
        return fail(CONFIG, "the deployed functions do not run this config",
                    "deploy it: npx cdk deploy -c fpga-burst:config=YOUR.yaml", differ)
    return ok(CONFIG, f"{len(deployed)} deployed functions run this config",
              sorted(deployed))


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
        return skipped(RBAC, "no RBAC manifest to check against (burst doctor sends "
                       "manifests/rbac.yaml)")
    denied = [str(a) for a in access if not probe.allowed(a)]
    if denied:
        return fail(RBAC, f"{len(denied)} of {len(access)} verbs denied",
                    "apply manifests/rbac.yaml: burst credentials --kubeconfig ADMIN.conf "
                    "does it", denied)
    return ok(RBAC, f"all {len(access)} verbs allowed")


def node_groups(groups: Sequence[NodeGroup], cluster: str) -> Check:
    if not groups:
        return fail(NODE_GROUPS, f"no Auto Scaling group is tagged for cluster {cluster!r}",
                    "deploy the stack (it tags its groups), or tag yours "
                    f"k8s.io/cluster-autoscaler/enabled and k8s.io/cluster-autoscaler/{cluster}")
    lines = [_describe(g) for g in groups]
    boardless = [g.name for g in groups if not g.boards]
    if boardless:
        return fail(NODE_GROUPS, f"no boards known for {', '.join(boardless)}",
                    "tag the group k8s.io/cluster-autoscaler/node-template/resources/<board>, "
                    "or use an instance type of the catalog", lines)
    return ok(NODE_GROUPS, f"{len(groups)} discovered", lines)


def _describe(group: NodeGroup) -> str:
    boards = ", ".join(f"{n} x{c}" for n, c in sorted(group.boards.items())) or "none"
    labels = ", ".join(f"{k}={v}" for k, v in sorted(group.labels.items())) or "none"
    taints = ", ".join(f"{t.key}={t.value}:{t.effect}" for t in group.taints) or "none"
    return (f"{group.name}: {group.instance_type}, {group.min_size}-{group.max_size}; "
            f"boards {boards}; labels {labels}; taints {taints}")


def hooks(reader: HookReader, groups: Sequence[NodeGroup]) -> Check:
    want = sorted(Hook)
    missing = [
        f"{g.name}: no {hook}" for g in groups
        for hook in sorted(set(want) - set(reader.lifecycle_hooks(g.name)))
    ]
    if missing:
        return fail(HOOKS, "lifecycle hooks missing",
                    "deploy the stack (it creates both hooks on each group), or create them "
                    f"as stacks/nodegroup does: {', '.join(want)}", missing)
    return ok(HOOKS, f"{', '.join(want)} on {len(groups)} groups")


def join_errors(reader: JoinErrors, groups: Sequence[NodeGroup]) -> Check:
    """The groups' instances that say their join failed (their join-error tag)."""
    said = [f"{g.name} {i.instance_id}: {error}" for g in groups for i in g.instances
            if (error := reader.join_error(g.name, i.instance_id))]
    if said:
        return fail(JOIN_ERRORS, f"{len(said)} instance(s) say their node failed to join",
                    "fix the step each names (its console output says more: aws ec2 "
                    "get-console-output --instance-id ...)", said)
    count = sum(len(g.instances) for g in groups)
    return ok(JOIN_ERRORS, f"none of {count} instances says its join failed")


def join_max_age(cfg: RuntimeConfig) -> timedelta:
    """How old the join parameter may be: the tokens function rewrites it once the token
    has less than the overlap left, on a run every TOKEN_PERIOD."""
    return max(cfg.token_ttl - cfg.token_overlap, timedelta(0)) + TOKEN_PERIOD + JOIN_SLACK


def join_parameter(reader: ParameterReader, cfg: RuntimeConfig, now: datetime) -> Check:
    if not cfg.join_parameter:
        return fail(JOIN, "no join parameter configured", "set join.parameter_name")
    modified = reader.last_modified(cfg.join_parameter)
    run = "run the tokens function (aws lambda invoke --function-name <stack's tokens "
    if modified is None:
        return fail(JOIN, f"{cfg.join_parameter} does not exist",
                    run + "function>) and read its summary")
    age, limit = now - modified, join_max_age(cfg)
    if age > limit:
        return fail(JOIN, f"{cfg.join_parameter} last written {_minutes(age)} ago, more "
                    f"than {_minutes(limit)}: the tokens function is not rotating it",
                    run + "function>) and read its summary and logs")
    return ok(JOIN, f"{cfg.join_parameter} written {_minutes(age)} ago")


def _minutes(span: timedelta) -> str:
    return f"{int(span.total_seconds() // 60)} min"


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


# -- what RBAC must allow ------------------------------------------------------------------


def required_access(docs: Sequence[Mapping[str, Any]], source: str,
                    account: tuple[str, str]) -> tuple[Access, ...]:
    """Every verb the Roles and ClusterRoles of an RBAC manifest grant the ServiceAccount
    `account` (namespace, name) through its bindings: what that function needs, as
    manifests/rbac.yaml (`source`) states once. ConfigError naming a bad rule."""
    bound = _bound_roles(docs, account)
    found: list[Access] = []
    for i, doc in enumerate(docs):
        if doc.get("kind") not in ("Role", "ClusterRole"):
            continue
        namespace = str((doc.get("metadata") or {}).get("namespace") or "")
        if doc["kind"] == "Role" and not namespace:
            raise ConfigError(source, f"document {i + 1}", "a Role needs metadata.namespace")
        rules = [_rule(rule, namespace, source, f"document {i + 1}: rules[{j}]")
                 for j, rule in enumerate(doc.get("rules") or ())]  # each checked, bound or not
        if (doc["kind"], namespace, (doc.get("metadata") or {}).get("name")) in bound:
            found.extend(a for rule in rules for a in rule)
    return tuple(found)


def _bound_roles(docs: Sequence[Mapping[str, Any]], account: tuple[str, str]
                 ) -> set[tuple[Any, str, Any]]:
    """(kind, namespace, name) of the roles bound to ServiceAccount `account`."""
    bound: set[tuple[Any, str, Any]] = set()
    for doc in docs:
        if doc.get("kind") not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        subjects = {(s.get("namespace"), s.get("name")) for s in doc.get("subjects") or ()
                    if isinstance(s, Mapping) and s.get("kind") == "ServiceAccount"}
        ref = doc.get("roleRef") or {}
        if account in subjects:
            ns = str((doc.get("metadata") or {}).get("namespace") or "")
            bound.add((ref.get("kind"), ns if ref.get("kind") == "Role" else "", ref.get("name")))
    return bound


def _rule(rule: Any, namespace: str, source: str, where: str) -> list[Access]:
    lists: dict[str, list[Any]] = {}
    for key in ("apiGroups", "resources", "verbs"):
        value = rule.get(key) if isinstance(rule, Mapping) else None
        if not isinstance(value, list) or not value:
            raise ConfigError(source, where, f"{key} must be a non-empty list")
        lists[key] = value
    names = rule.get("resourceNames") or [""]
    return [
        Access(verb=str(verb), resource=str(res).split("/", 1)[0], group=str(group),
               subresource=str(res).split("/", 1)[1] if "/" in str(res) else "",
               namespace=namespace, name=str(name))
        for group in lists["apiGroups"] for res in lists["resources"]
        for verb in lists["verbs"] for name in names
    ]
