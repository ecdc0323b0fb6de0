"""`burst credentials`: give each function its identity and hand out its credentials.

With an admin kubeconfig, apply the RBAC manifest (create, or replace what exists), then
ask the TokenRequest API for a token of each function's ServiceAccount
(kube-system/fpga-burst-<function>) and print {function: {endpoint, ca, token}} as JSON, or
store each in its own Secrets Manager secret `<secret-id>/<function>`, which is where that
function reads it (burst.ports.aws.ClusterCredentials) and no other function may. Re-run it
to rotate the tokens before they expire. The manifest is rbac.yaml beside this module,
shipped with the package; the repository's manifests/rbac.yaml is a link to it, for
`kubectl`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from burst.adapters import yamlload
from burst.adapters.kube.identity import FUNCTIONS, NAMESPACE, ca_pem, service_account
from burst.core.errors import ConfigError, KubeConflictError, KubeNotFoundError
from burst.ports.aws import ClusterCredentials, CredentialsWriter

if TYPE_CHECKING:
    # Imported when the command runs: `burst plan` should not pay for the kubernetes client.
    from burst.adapters.kube.client import Json, Kube

DEFAULT_RBAC = Path(__file__).with_name("rbac.yaml")  # package data
DEFAULT_VALIDITY = timedelta(days=90)


def load_manifests(path: Path) -> list[Json]:
    """The objects in a multi-document YAML file; ConfigError naming the file if not."""
    try:
        docs = [d for d in yamlload.load_all(path.read_text()) if d is not None]
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "", f"not YAML: {exc}") from exc
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict) or doc.get("kind") not in _KINDS:
            raise ConfigError(str(path), f"document {i + 1}",
                              f"kind must be one of {', '.join(sorted(_KINDS))}")
        if not (doc.get("metadata") or {}).get("name"):
            raise ConfigError(str(path), f"document {i + 1}", "metadata.name is missing")
    return docs


def _methods(kube: Kube, kind: str) -> tuple[Callable[..., Any], Callable[..., Any],
                                             Callable[..., Any], bool]:
    """(create, read, replace, namespaced) for `kind`."""
    c, r, a = kube.core, kube.rbac, kube.admission
    return {
        "ServiceAccount": (c.create_namespaced_service_account,
                           c.read_namespaced_service_account,
                           c.replace_namespaced_service_account, True),
        "ClusterRole": (r.create_cluster_role, r.read_cluster_role, r.replace_cluster_role, False),
        "ClusterRoleBinding": (r.create_cluster_role_binding, r.read_cluster_role_binding,
                               r.replace_cluster_role_binding, False),
        "Role": (r.create_namespaced_role, r.read_namespaced_role,
                 r.replace_namespaced_role, True),
        "RoleBinding": (r.create_namespaced_role_binding, r.read_namespaced_role_binding,
                        r.replace_namespaced_role_binding, True),
        "ValidatingAdmissionPolicy": (a.create_validating_admission_policy,
                                      a.read_validating_admission_policy,
                                      a.replace_validating_admission_policy, False),
        "ValidatingAdmissionPolicyBinding": (a.create_validating_admission_policy_binding,
                                             a.read_validating_admission_policy_binding,
                                             a.replace_validating_admission_policy_binding,
                                             False),
    }[kind]


_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
          "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}


def apply(kube: Kube, docs: list[Json]) -> Iterator[str]:
    """Create each object, or replace it if it exists; yields what was done, one line each."""
    for doc in docs:
        create, read, replace, namespaced = _methods(kube, doc["kind"])
        name = doc["metadata"]["name"]
        ns = (doc["metadata"].get("namespace") or "default") if namespaced else None
        where = (ns,) if ns else ()
        label = f"{doc['kind']} {ns + '/' if ns else ''}{name}"
        try:
            kube.call(f"create {label}", create, *where, doc)
            yield f"created {label}"
            continue
        except KubeConflictError:
            pass
        current = kube.call(f"read {label}", read, name, *where)
        body = {**doc, "metadata": {**doc["metadata"],
                                    "resourceVersion": current["metadata"]["resourceVersion"]}}
        kube.call(f"replace {label}", replace, name, *where, body)
        yield f"updated {label}"


def issue_token(kube: Kube, function: str, validity: timedelta) -> str:
    """A token for `function`'s ServiceAccount from the TokenRequest API. Never logged."""
    request = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": int(validity.total_seconds())},
    }
    account = service_account(function)
    answer = kube.call(
        f"request token for serviceaccount {NAMESPACE}/{account}",
        kube.core.create_namespaced_service_account_token, account, NAMESPACE, request,
    )
    token: str = answer["status"]["token"]
    return token


def provision(admin: Kube, rbac: Path, validity: timedelta, source: str
              ) -> dict[str, ClusterCredentials]:
    """Apply the RBAC manifest and return each function's credentials. Idempotent."""
    for line in apply(admin, load_manifests(rbac)):
        print(f"burst: {line}", file=sys.stderr)
    ca = ca_pem(admin, source)
    issued = {}
    for function in FUNCTIONS:
        try:
            token = issue_token(admin, function, validity)
        except KubeNotFoundError as exc:
            raise ConfigError(str(rbac), "ServiceAccount", f"{NAMESPACE}/"
                              f"{service_account(function)} is not in the manifest") from exc
        issued[function] = ClusterCredentials(endpoint=admin.endpoint, ca=ca, token=token)
    return issued


def secret_id(prefix: str, function: str) -> str:
    """The Secrets Manager secret that holds `function`'s credentials."""
    return f"{prefix}/{function}"


def register(commands: Any, store: Callable[[], CredentialsWriter] | None = None) -> None:
    """Add `burst credentials --kubeconfig ADMIN [--secret-id ID]` to the CLI's subparsers.

    `store` makes the Secrets Manager writer (the AWS adapter), only when --secret-id is given.
    """
    p = commands.add_parser("credentials", help="set up the controller's cluster identity")
    p.add_argument("--kubeconfig", required=True, type=Path, help="an admin kubeconfig")
    p.add_argument("--context", help="kubeconfig context (default: current)")
    p.add_argument("--rbac", type=Path, default=DEFAULT_RBAC, help="RBAC manifest to apply")
    p.add_argument("--days", type=int, default=DEFAULT_VALIDITY.days, help="token validity")
    p.add_argument("--secret-id", help="store in Secrets Manager secrets ID/<function>, "
                   "not stdout")
    p.set_defaults(run=lambda args: _run(args, store))


def _run(args: argparse.Namespace, store: Callable[[], CredentialsWriter] | None) -> int:
    if args.days < 1:
        raise ConfigError("--days", "", "must be at least 1")
    from burst.adapters.kube import client

    with client.from_kubeconfig(args.kubeconfig, args.context) as admin:
        issued = provision(admin, args.rbac, timedelta(days=args.days), str(args.kubeconfig))
    if args.secret_id is None:
        print(json.dumps({function: {"endpoint": c.endpoint, "ca": c.ca, "token": c.token}
                          for function, c in issued.items()}))
        return 0
    if store is None:
        raise ConfigError("--secret-id", "", "storing in Secrets Manager is not available")
    writer = store()
    for function, creds in issued.items():
        where = secret_id(args.secret_id, function)
        writer.write_cluster_credentials(where, creds)
        print(f"burst: stored the {function} function's endpoint, CA and token in secret "
              f"{where}", file=sys.stderr)
    return 0
