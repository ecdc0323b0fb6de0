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
    """The check for an error: skipped with no AWS access at all, else from_error."""
    if isinstance(exc, errors.AwsError) and exc.code in NO_AWS_ACCESS:
        return skipped(name, f"no AWS access here: {exc}")
    return from_error(name, exc)
