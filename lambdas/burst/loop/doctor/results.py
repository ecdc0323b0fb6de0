"""A check's outcome (Check, Status, Report), the names of the checks, and the failure for
an error a check ran into, with its fix (FIXES)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from burst.core import errors

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
# Before anything is deployed (`burst doctor --config FILE`): what the config names must
# exist and work. API_SERVER, TOKEN and RBAC are asked with the scaler's credentials secret.
AWS_CREDENTIALS = "aws-credentials"
CREDENTIALS_SECRETS = "credentials-secrets"
VPN_SECRET = "vpn-secret"
CERT_SANS = "certificate-sans"
CLUSTER_INFO = "cluster-info"
BOOTSTRAP_RBAC = "bootstrap-rbac"
NODE_IMAGE = "node-image"
OFFERINGS = "instance-offerings"
QUOTA = "vcpu-quota"
QUOTAS_ROUTE = "aws-apis-route"
VPN_EGRESS = "vpn-egress"
PLUGIN = "device-plugin"
PREFLIGHT = (AWS_CREDENTIALS, CREDENTIALS_SECRETS, VPN_SECRET, API_SERVER, TOKEN, RBAC,
             CERT_SANS, CLUSTER_INFO, BOOTSTRAP_RBAC, NODE_IMAGE, OFFERINGS, QUOTA,
             QUOTAS_ROUTE, VPN_EGRESS, PLUGIN)
# After deploy (`--deployed`): the preflight, then what only the stack makes, then alarms.
ALARMS = "alarms"
DEPLOYED = (*PREFLIGHT, *(c for c in CHECKS if c not in PREFLIGHT), ALARMS)

CREDENTIALS_FIX = (
    "issue new credentials: burst credentials --kubeconfig ADMIN.conf --secret-id SECRET_ARN"
)
# The AWS APIs the functions call from their subnets (adapters/aws), as VPC endpoint
# service names com.amazonaws.<region>.<name>; Service Quotas is read every tick.
FUNCTION_SERVICES = ("autoscaling", "ec2", "secretsmanager", "ssm", "servicequotas")
SUBNETS_FIX = (
    "route the functions' subnets to AWS's APIs (a NAT gateway, or VPC endpoints for "
    f"{', '.join(FUNCTION_SERVICES)})"
)
# botocore's errors when there are no credentials or region at all: nothing to check with.
NO_AWS_ACCESS = ("NoCredentialsError", "NoRegionError")
# error class -> (what it means, the fix); the first match wins, so subclasses come first.
FIXES: tuple[tuple[type[errors.BurstError], str, str], ...] = (
    (errors.KubeUnauthorizedError, "the API server rejects the controller's token (expired, "
     "revoked or of another cluster)", CREDENTIALS_FIX),
    (errors.KubeForbiddenError, "RBAC denies the controller", "apply manifests/rbac.yaml: "
     "burst credentials --kubeconfig ADMIN.conf does it"),
    (errors.ClusterUnreachableError, "the API server cannot be reached", "route the functions' "
     "subnets to the API server over the VPN and allow its port in the security groups"),
    (errors.KubeThrottledError, "the API server throttles the controller", "run it again later"),
    (errors.ClusterCredentialsError, "the credentials secret is unusable", CREDENTIALS_FIX),
    (errors.ConfigError, "the configuration is invalid", "correct the named setting"),
    (errors.AwsUnavailableError, "AWS cannot be reached", SUBNETS_FIX),
    (errors.AwsThrottledError, "AWS throttles the calls", "run it again later"),
    (errors.AwsError, "AWS refused a call", "allow the named call for these credentials, or name "
     "the right resource"),
)



class Status(StrEnum):
    OK = "ok"
    WARN = "warn"  # works now, will not for long
    FAIL = "fail"
    NOT_RUN = "not run"  # could not be asked from here: no verdict, so never a pass


_MARK = {Status.OK: "✓", Status.WARN: "!", Status.FAIL: "✗", Status.NOT_RUN: "-"}


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str = ""  # what was found; for a failure, the problem
    fix: str = ""
    lines: tuple[str, ...] = ()  # what was seen, one item a line (groups, denied verbs)

    def render(self) -> str:
        head = f"{_MARK[self.status]} {self.name}"
        if self.status is Status.NOT_RUN:
            head += f": not run: {self.detail}"
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

    @property
    def passed(self) -> bool:
        """Every check ran and none failed: a check not run is no pass."""
        return all(c.status in (Status.OK, Status.WARN) for c in self.checks)

    def render(self) -> str:
        return "\n".join(c.render() for c in self.checks)

    def table(self) -> str:
        """check / result / detail, the fix under a failure, what was seen under that."""
        width = max([len("CHECK"), *(len(c.name) for c in self.checks)])
        rows = [f"{'CHECK':<{width}}  {'RESULT':<7}  DETAIL"]
        pad = " " * (width + 11)
        for c in self.checks:
            result = c.status.value if c.status is Status.OK else c.status.value.upper()
            rows.append(f"{c.name:<{width}}  {result:<7}  {c.detail}".rstrip())
            if c.fix:
                rows.append(f"{pad}fix: {c.fix}")
            rows.extend(f"{pad}  {line}" for line in c.lines)
        return "\n".join(rows)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.passed, "checks": [c.to_json() for c in self.checks]}

    def __add__(self, other: Report) -> Report:
        """Both reports' checks, a name the first already has dropped from the second."""
        seen = {c.name for c in self.checks}
        return Report(self.checks + tuple(c for c in other.checks if c.name not in seen))


def ok(name: str, detail: str = "", lines: Iterable[str] = ()) -> Check:
    return Check(name, Status.OK, detail, lines=tuple(lines))


def fail(name: str, detail: str, fix: str, lines: Iterable[str] = ()) -> Check:
    return Check(name, Status.FAIL, detail, fix, tuple(lines))


def not_run(name: str, why: str) -> Check:
    return Check(name, Status.NOT_RUN, why)


def from_error(name: str, exc: errors.BurstError) -> Check:
    """The failure for an error a check ran into, with the fix for its class."""
    meaning, fix = next(((m, f) for kind, m, f in FIXES if isinstance(exc, kind)),
                        ("unexpected error", "see the message"))
    return fail(name, f"{meaning}: {exc}", fix)


def guarded(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except errors.BurstError as exc:
        return failed(name, exc)


def failed(name: str, exc: errors.BurstError) -> Check:
    """The check for an error: not run with no AWS access at all, else from_error."""
    if isinstance(exc, errors.AwsError) and exc.code in NO_AWS_ACCESS:
        return not_run(name, f"no AWS access here: {exc}")
    return from_error(name, exc)
