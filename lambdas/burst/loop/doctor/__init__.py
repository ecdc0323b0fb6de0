"""The preflight: is this deployment wired right? One Check per question, each with its fix.

`diagnose` runs the checks through the ports it is given (burst.ports.doctor, NodeGroups):
`burst doctor` passes them all with the user's credentials; the deployed scaler passes the
cluster half and the node groups from inside the VPC (a diagnose event). A port not given
is a check "not run", with why, and never a pass. No check stops the others: an error
becomes that check's failure, named with its fix (FIXES), except that the cluster checks
are not run once the API server cannot be reached, since each would only repeat that.

Before anything is deployed, `before_deploy` checks a deployment config (PREFLIGHT):
deployment: what the config says (Deployment); before: credentials, secrets, AMIs,
offerings, quotas, the device plugin's boards; network: routes to AWS's APIs and to the
OpenVPN server; bootstrap: what a joining node meets (certificate names, cluster-info,
kubeadm's bootstrap RBAC); predeploy: Before and before_deploy. After deploy, alarms
explains each alarm in ALARM from its entry in burst.core.alarms.

results: Check, Status, Report and the fixes; cluster: the checks through the API server;
aws: the checks of the functions, node groups and join parameter; rbac: what RBAC must
allow; preflight: Expected, Probes and diagnose. Callers import the names from here.
"""

from burst.loop.doctor.alarms import alarms
from burst.loop.doctor.aws import (
    JOIN_SLACK,
    config_matches,
    hooks,
    join_errors,
    join_max_age,
    join_parameter,
    node_groups,
)
from burst.loop.doctor.cluster import api_server, boards, rbac, token
from burst.loop.doctor.deployment import Deployment, GroupPlan, RegionPlan
from burst.loop.doctor.predeploy import Before, before_deploy
from burst.loop.doctor.preflight import Expected, Probes, diagnose
from burst.loop.doctor.rbac import required_access
from burst.loop.doctor.results import (
    ALARMS,
    API_SERVER,
    AWS_CREDENTIALS,
    BOARDS,
    BOOTSTRAP_RBAC,
    CERT_SANS,
    CHECKS,
    CLUSTER_INFO,
    CONFIG,
    CREDENTIALS_FIX,
    CREDENTIALS_SECRETS,
    DEPLOYED,
    FIXES,
    FUNCTION_SERVICES,
    HOOKS,
    JOIN,
    JOIN_ERRORS,
    NO_AWS_ACCESS,
    NODE_GROUPS,
    NODE_IMAGE,
    OFFERINGS,
    PLUGIN,
    PREFLIGHT,
    QUOTA,
    QUOTAS_ROUTE,
    RBAC,
    SUBNETS_FIX,
    TOKEN,
    VPN_EGRESS,
    VPN_SECRET,
    Check,
    Report,
    Status,
    fail,
    failed,
    from_error,
    guarded,
    not_run,
    ok,
)

__all__ = [
    "ALARMS", "API_SERVER", "AWS_CREDENTIALS", "BOARDS", "BOOTSTRAP_RBAC", "CERT_SANS",
    "CHECKS", "CLUSTER_INFO", "CONFIG", "CREDENTIALS_FIX", "CREDENTIALS_SECRETS", "DEPLOYED",
    "FIXES", "FUNCTION_SERVICES", "HOOKS", "JOIN", "JOIN_ERRORS", "JOIN_SLACK", "NODE_GROUPS",
    "NODE_IMAGE",
    "NO_AWS_ACCESS", "OFFERINGS", "PLUGIN", "PREFLIGHT", "QUOTA", "QUOTAS_ROUTE", "RBAC",
    "SUBNETS_FIX", "TOKEN", "VPN_EGRESS", "VPN_SECRET", "Before", "Check", "Deployment",
    "Expected", "GroupPlan", "Probes", "RegionPlan", "Report", "Status", "alarms",
    "api_server", "before_deploy", "boards", "config_matches", "diagnose", "fail", "failed",
    "from_error", "guarded", "hooks", "join_errors", "join_max_age", "join_parameter",
    "node_groups", "not_run", "ok", "rbac", "required_access", "token",
]
