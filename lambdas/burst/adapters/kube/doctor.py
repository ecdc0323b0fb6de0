"""The preflight's view of the API server (burst.ports.doctor.ClusterProbe), as one identity.

The handshake is made here with the standard library, not through the client, so a CA that
does not verify the server is told apart from a server that cannot be reached at all.
"""

from __future__ import annotations

import base64
import binascii
import socket
import ssl
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from kubernetes import client as k8s

from burst.adapters.kube import convert, tokens
from burst.adapters.kube.client import Kube
from burst.adapters.kube.observe import list_all
from burst.core.errors import KubeNotFoundError
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
            with context.wrap_socket(raw, server_hostname=host) as tls:
                cert = tls.getpeercert() or {}
        except (ssl.SSLError, OSError) as exc:
            return Handshake(endpoint, reachable=True, verified=False, problem=_why(exc))
        finally:
            raw.close()
        sans: tuple[tuple[str, str], ...] = tuple(cert.get("subjectAltName", ()))  # type: ignore[arg-type]
        names = tuple(f"{'IP' if kind == 'IP Address' else kind}:{value}" for kind, value in sans)
        return Handshake(endpoint, reachable=True, verified=True, names=names)

    def whoami(self) -> str:
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        answer = self.kube.call("review own identity",
                                self.kube.authn.create_self_subject_review, review)
        user = ((answer.get("status") or {}).get("userInfo") or {}).get("username")
        return str(user or "?")

    def allowed(self, access: Access) -> bool:
        review = {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": _attributes(access)},
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


def _attributes(access: Access) -> dict[str, str]:
    """An access review's resourceAttributes: the fields that are set."""
    attributes = {
        "verb": access.verb, "group": access.group, "resource": access.resource,
        "subresource": access.subresource, "namespace": access.namespace, "name": access.name,
    }
    return {k: v for k, v in attributes.items() if v}


def _extended(name: str) -> bool:
    """An extended resource: a domain-prefixed name outside kubernetes.io."""
    if "/" not in name:
        return False
    domain = name.split("/", 1)[0]
    return domain != "kubernetes.io" and not domain.endswith(".kubernetes.io")


def _why(exc: BaseException) -> str:
    reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None)
    return f"{type(exc).__name__}: {reason or exc}"


class AdminProbe:
    """BootstrapProbe over an administrator's connection (the admin.conf `burst
    credentials` uses): what kubeadm set up for joining nodes."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.authz = k8s.AuthorizationV1Api(kube.api_client)

    def cluster_info(self) -> Mapping[str, str] | None:
        try:
            found = self.kube.call("read kube-public/cluster-info",
                                   self.kube.core.read_namespaced_config_map,
                                   "cluster-info", "kube-public")
        except KubeNotFoundError:
            return None
        return {str(k): str(v) for k, v in (found.get("data") or {}).items()}

    def signing_tokens(self) -> tuple[str, ...]:
        now = datetime.now(UTC)
        found = []
        for secret in list_all(self.kube, "list bootstrap tokens",
                               self.kube.core.list_namespaced_secret, tokens.NAMESPACE,
                               field_selector=f"type={tokens.SECRET_TYPE}"):
            data = {k: _decoded(v) for k, v in (secret.get("data") or {}).items()}
            expires = data.get("expiration")
            if data.get("usage-bootstrap-signing") != "true" or not data.get("token-id"):
                continue
            if expires and datetime.fromisoformat(expires.replace("Z", "+00:00")) <= now:
                continue
            found.append(data["token-id"])
        return tuple(sorted(found))

    def subject_allowed(self, user: str, groups: Sequence[str], access: Access) -> bool:
        review = {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": user, "groups": list(groups),
                     "resourceAttributes": _attributes(access)},
        }
        answer = self.kube.call(f"review access of {user}: {access}",
                                self.authz.create_subject_access_review, review)
        return bool((answer.get("status") or {}).get("allowed"))


def _decoded(value: object) -> str:
    try:
        return base64.b64decode(str(value)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""
