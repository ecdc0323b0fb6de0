"""The preflight: is this deployment wired right? One Check per question, each with its fix.

`diagnose` runs the checks through the ports it is given (burst.ports.doctor, NodeGroups):
`burst doctor` passes them all with the user's credentials; the deployed scaler passes the
cluster half and the node groups from inside the VPC (a diagnose event). A port not given
is a check "skipped", with why. No check stops the others: an error becomes that check's
failure, named with its fix (FIXES), except that the cluster checks are skipped once the
API server cannot be reached, since each would only repeat that.

results: Check, Status, Report and the fixes; cluster: the checks through the API server;
aws: the checks of the functions, node groups and join parameter; rbac: what RBAC must
allow; preflight: Expected, Probes and diagnose. Callers import the names from here.
"""

from burst.loop.doctor.aws import (
    JOIN_SLACK,
    config_matches,
    hooks,
    join_errors,
    join_max_age,
    join_parameter,
    node_groups,
)
from burst.loop.doctor.cluster import TOKEN_WARNING, api_server, boards, rbac, token
from burst.loop.doctor.preflight import Expected, Probes, diagnose
from burst.loop.doctor.rbac import required_access
from burst.loop.doctor.results import (
    API_SERVER,
    BOARDS,
    CHECKS,
    CONFIG,
    CREDENTIALS_FIX,
    FIXES,
    HOOKS,
    JOIN,
    JOIN_ERRORS,
    NO_AWS_ACCESS,
    NODE_GROUPS,
    RBAC,
    SUBNETS_FIX,
    TOKEN,
    Check,
    Report,
    Status,
    fail,
    failed,
    from_error,
    guarded,
    ok,
    skipped,
)

__all__ = [
    "API_SERVER", "BOARDS", "CHECKS", "CONFIG", "CREDENTIALS_FIX", "FIXES", "HOOKS", "JOIN",
    "JOIN_ERRORS", "JOIN_SLACK", "NODE_GROUPS", "NO_AWS_ACCESS", "RBAC", "SUBNETS_FIX",
    "TOKEN", "TOKEN_WARNING", "Check", "Expected", "Probes", "Report", "Status", "api_server",
    "boards", "config_matches", "diagnose", "fail", "failed", "from_error", "guarded", "hooks",
    "join_errors", "join_max_age", "join_parameter", "node_groups", "ok", "rbac",
    "required_access", "skipped", "token",
]
