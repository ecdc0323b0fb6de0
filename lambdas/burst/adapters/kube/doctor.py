"""The preflight's view of the API server (burst.ports.doctor.ClusterProbe), as one identity.

The handshake is made here with the standard library, not through the client, so a CA that
does not verify the server is told apart from a server that cannot be reached at all.
"""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit

from kubernetes import client as k8s

from burst.adapters.kube import convert
from burst.adapters.kube.client import Kube
from burst.adapters.kube.observe import list_all
from burst.ports.doctor import Access, Advertised, Handshake


class KubeProbe:
    """ClusterProbe over one Kube connection (the controller's credentials)."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.authz = k8s.AuthorizationV1Api(kube.api_client)

    def handshake(self) -> Handshake:
        endpoint = self.kube.endpoint
        url = urlsplit(endpoint)
        host, port = url.hostname or "", url.port or 443
        cafile = self.kube.api_client.configuration.ssl_ca_cert
        context = ssl.create_default_context(cafile=cafile or None)
        try:
            raw = socket.create_connection((host, port), timeout=self.kube.timeouts.connect)
        except OSError as exc:
            return Handshake(endpoint, reachable=False, verified=False, problem=_why(exc))
        try:
            with context.wrap_socket(raw, server_hostname=host):
                pass
        except (ssl.SSLError, OSError) as exc:
            return Handshake(endpoint, reachable=True, verified=False, problem=_why(exc))
        finally:
            raw.close()
        return Handshake(endpoint, reachable=True, verified=True)

    def whoami(self) -> str:
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        answer = self.kube.call("review own identity",
                                self.kube.authn.create_self_subject_review, review)
        user = ((answer.get("status") or {}).get("userInfo") or {}).get("username")
        return str(user or "?")

    def allowed(self, access: Access) -> bool:
        attributes = {
            "verb": access.verb, "group": access.group, "resource": access.resource,
            "subresource": access.subresource, "namespace": access.namespace,
            "name": access.name,
        }
        review = {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {k: v for k, v in attributes.items() if v}},
        }
        answer = self.kube.call(f"review access: {access}",
                                self.authz.create_self_subject_access_review, review)
        return bool((answer.get("status") or {}).get("allowed"))

    def advertised(self) -> tuple[Advertised, ...]:
        found = []
        for node in list_all(self.kube, "list nodes", self.kube.core.list_node):
            status = node.get("status") or {}
            names = {*(status.get("capacity") or {}), *(status.get("allocatable") or {})}
            found.append(Advertised(
                node=str((node.get("metadata") or {}).get("name") or ""),
                resources=tuple(sorted(n for n in names if _extended(n))),
                instance_id=convert.instance_id((node.get("spec") or {}).get("providerID")),
            ))
        return tuple(found)


def _extended(name: str) -> bool:
    """An extended resource: a domain-prefixed name outside kubernetes.io."""
    if "/" not in name:
        return False
    domain = name.split("/", 1)[0]
    return domain != "kubernetes.io" and not domain.endswith(".kubernetes.io")


def _why(exc: BaseException) -> str:
    reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None)
    return f"{type(exc).__name__}: {reason or exc}"
