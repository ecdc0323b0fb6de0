"""What RBAC must allow: the verbs an RBAC manifest grants a ServiceAccount."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from burst.core.errors import ConfigError
from burst.ports.doctor import Access


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
