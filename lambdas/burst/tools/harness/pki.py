"""The test control plane's certificates and kubeconfigs, made with `cryptography`.

A cluster CA, the API server's serving certificate (for loopback and the in-cluster names),
an admin client certificate (O=system:masters) and the service-account signing key; all
valid for two days, which outlasts any run.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVICE_IP = "10.96.0.1"  # the first address of the control plane's service CIDR


@dataclass(frozen=True)
class Pair:
    """A key and the certificate for it."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _builder(subject: x509.Name, issuer: x509.Name, key: rsa.RSAPrivateKey, *,
             ca: bool) -> x509.CertificateBuilder:
    """A certificate valid from five minutes ago (clock skew) for two days."""
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )


def ca() -> Pair:
    """A new self-signed CA: the cluster's, or one a test needs to be some other CA."""
    key = _key()
    name = _name("fpga-burst-test-ca")
    cert = (
        _builder(name, name, key, ca=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return Pair(key, cert)


def _leaf(issuer: Pair, name: x509.Name, *, server: bool) -> Pair:
    key = _key()
    builder = _builder(name, issuer.cert.subject, key, ca=False).add_extension(
        x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
        ),
        critical=False,
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.DNSName("kubernetes"),
                x509.DNSName("kubernetes.default"),
                x509.DNSName("kubernetes.default.svc"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address(SERVICE_IP)),
            ]),
            critical=False,
        )
    return Pair(key, builder.sign(issuer.key, hashes.SHA256()))


def write_pki(workdir: Path) -> None:
    """ca.crt/key, apiserver.crt/key, admin.crt/key, sa.key/pub in `workdir` (keys 0600)."""
    cluster = ca()
    serving = _leaf(cluster, _name("kube-apiserver"), server=True)
    admin = _leaf(cluster, _name("fpga-burst-admin", "system:masters"), server=False)
    sa = _key()
    files = {
        "ca.crt": cluster.cert_pem(), "ca.key": cluster.key_pem(),
        "apiserver.crt": serving.cert_pem(), "apiserver.key": serving.key_pem(),
        "admin.crt": admin.cert_pem(), "admin.key": admin.key_pem(),
        "sa.key": sa.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        "sa.pub": sa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    }
    for name, data in files.items():
        (workdir / name).write_bytes(data)
        if name.endswith(".key"):
            (workdir / name).chmod(0o600)


def write_kubeconfig(
    path: Path, endpoint: str, ca_pem: bytes, *, user: str, token: str | None = None,
    cert: Path | None = None, key: Path | None = None,
) -> Path:
    """A kubeconfig with everything embedded, for a bearer token or a client cert."""
    creds: dict[str, str] = {}
    if token is not None:
        creds["token"] = token
    if cert is not None and key is not None:
        creds["client-certificate-data"] = base64.b64encode(cert.read_bytes()).decode()
        creds["client-key-data"] = base64.b64encode(key.read_bytes()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {
            "server": endpoint,
            "certificate-authority-data": base64.b64encode(ca_pem).decode(),
        }}],
        "users": [{"name": user, "user": creds}],
        "contexts": [{"name": user, "context": {"cluster": "test", "user": user}}],
        "current-context": user,
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path
