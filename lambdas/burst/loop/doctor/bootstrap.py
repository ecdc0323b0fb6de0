"""What a joining node meets, checked before the first one launches: the API server's
certificate names the address it dials, kube-public/cluster-info is there for discovery
and signed for each bootstrap token, and kubeadm's bootstrap RBAC is in place."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Sequence

import yaml

from burst.core.names import BOOTSTRAP_GROUP
from burst.loop.doctor.results import BOOTSTRAP_RBAC, CERT_SANS, CLUSTER_INFO, Check, fail, ok
from burst.ports.doctor import Access, BootstrapProbe, Handshake

BOOTSTRAP_FIX = ("run kubeadm init phase bootstrap-token --kubeconfig ADMIN.conf on the "
                 "control plane (it uploads cluster-info and kubeadm's bootstrap RBAC)")
# kubeadm's bootstrap-token phase (cmd/kubeadm/app/phases/bootstraptoken/node and
# clusterinfo): the subject, what it must be allowed, and the binding kubeadm creates for it.
_TOKEN = ("system:bootstrap:fbrst0", ("system:bootstrappers", BOOTSTRAP_GROUP,
                                      "system:authenticated"))
_NODE = ("system:node:doctor", ("system:nodes", "system:authenticated"))
_ANONYMOUS = ("system:anonymous", ("system:unauthenticated",))
_CSR = "certificates.k8s.io"
JOIN_RBAC: tuple[tuple[tuple[str, tuple[str, ...]], Access, str], ...] = (
    (_ANONYMOUS, Access("get", "configmaps", namespace="kube-public", name="cluster-info"),
     "kubeadm:bootstrap-signer-clusterinfo (Role in kube-public)"),
    (_TOKEN, Access("create", "certificatesigningrequests", _CSR),
     "kubeadm:kubelet-bootstrap -> system:node-bootstrapper"),
    (_TOKEN, Access("create", "certificatesigningrequests", _CSR, "nodeclient"),
     "kubeadm:node-autoapprove-bootstrap"),
    (_TOKEN, Access("get", "nodes"), "kubeadm:get-nodes"),
    (_TOKEN, Access("get", "configmaps", namespace="kube-system", name="kubeadm-config"),
     "kubeadm:nodes-kubeadm-config (Role in kube-system)"),
    (_TOKEN, Access("get", "configmaps", namespace="kube-system", name="kubelet-config"),
     "kubeadm:kubelet-config (Role in kube-system)"),
    (_NODE, Access("create", "certificatesigningrequests", _CSR, "selfnodeclient"),
     "kubeadm:node-autoapprove-certificate-rotation"),
)
# The key the bootstrap signer adds to cluster-info for each signing token: JWS over the
# kubeconfig, which `kubeadm join --discovery-token` verifies (bootstrap tokens docs).
JWS_PREFIX = "jws-kubeconfig-"


def host_of(endpoint: str) -> str:
    """The host of host:port (an IPv6 address in brackets)."""
    host = endpoint.rsplit(":", 1)[0] if endpoint.count(":") == 1 or "]" in endpoint \
        else endpoint
    return host.strip("[]")


def cert_sans(shake: Handshake, node_endpoint: str) -> Check:
    """The nodes dial cluster.api_endpoint and verify the server by name: the serving
    certificate must carry that address (IP) or name (DNS, a wildcard of one label)."""
    host = host_of(node_endpoint)
    if not shake.verified:
        return fail(CERT_SANS, "the certificate could not be read verified", "see api-server")
    if not _named(host, shake.names):
        return fail(CERT_SANS, f"the API server's certificate does not name {host}, the "
                    "address nodes dial (cluster.api_endpoint)",
                    f"add it: kubeadm init phase certs apiserver --apiserver-cert-extra-sans="
                    f"{host} (old apiserver.crt/key moved aside), then restart kube-apiserver",
                    [f"names: {', '.join(shake.names) or 'none'}"])
    return ok(CERT_SANS, f"the certificate names {host}")


def _named(host: str, names: Sequence[str]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        for name in (n.removeprefix("DNS:") for n in names if n.startswith("DNS:")):
            if name.lower() == host.lower() or (
                    name.startswith("*.") and host.lower().partition(".")[2] == name[2:].lower()):
                return True
        return False
    return any(n.startswith("IP:") and _same(n[3:], address) for n in names)


def _same(text: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:
        return ipaddress.ip_address(text.strip()) == address
    except ValueError:
        return False


def cluster_info(probe: BootstrapProbe, ca_pem: str) -> Check:
    """kube-public/cluster-info exists with a kubeconfig of this cluster's CA, and a JWS
    signature (jws-kubeconfig-<token-id>) for each signing bootstrap token."""
    data = probe.cluster_info()
    if data is None:
        return fail(CLUSTER_INFO, "kube-public/cluster-info does not exist: kubeadm join "
                    "cannot discover the cluster", BOOTSTRAP_FIX)
    problem = _kubeconfig_problem(data.get("kubeconfig"), ca_pem)
    if problem:
        return fail(CLUSTER_INFO, f"kube-public/cluster-info: {problem}", BOOTSTRAP_FIX)
    tokens = probe.signing_tokens()
    unsigned = [t for t in tokens if f"{JWS_PREFIX}{t}" not in data]
    if unsigned:
        return fail(CLUSTER_INFO, f"{len(unsigned)} bootstrap token(s) have no signature in "
                    "cluster-info: the bootstrap signer is not running",
                    "enable it: kube-controller-manager --controllers=*,bootstrapsigner,"
                    "tokencleaner", [f"{JWS_PREFIX}{t} missing" for t in unsigned])
    signed = f"signed for {len(tokens)} token(s)" if tokens else \
        "no bootstrap token yet to be signed (the tokens function makes them)"
    return ok(CLUSTER_INFO, f"kubeconfig of this cluster's CA; {signed}")


def _kubeconfig_problem(text: str | None, ca_pem: str) -> str:
    if not text:
        return "no kubeconfig"
    try:
        doc = yaml.safe_load(text)
        cluster = doc["clusters"][0]["cluster"]
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        return "its kubeconfig has no cluster"
    carried = str(cluster.get("certificate-authority-data") or "")
    if ca_pem and carried and _pem_body(carried) != _pem_body(ca_pem):
        return "its CA is not the one the credentials secret carries"
    return ""


def _pem_body(text: str) -> str:
    """A certificate's PEM without whitespace, given as PEM or (kubeconfig) base64 of it."""
    if "BEGIN" not in text:
        try:
            text = base64.b64decode(text).decode()
        except (binascii.Error, UnicodeDecodeError):
            return text
    return "".join(text.split())


def bootstrap_rbac(probe: BootstrapProbe) -> Check:
    """What kubeadm join's identities must be allowed, asked as each (SubjectAccessReview)."""
    denied = [f"{user}: {access} (kubeadm makes {binding})"
              for (user, groups), access, binding in JOIN_RBAC
              if not probe.subject_allowed(user, groups, access)]
    if denied:
        return fail(BOOTSTRAP_RBAC, f"{len(denied)} of {len(JOIN_RBAC)} join permissions "
                    "missing", BOOTSTRAP_FIX, denied)
    return ok(BOOTSTRAP_RBAC, f"all {len(JOIN_RBAC)} join permissions in place")
