"""The kubeadm discovery hash of a CA certificate: `sha256:<hex>` of its SubjectPublicKeyInfo.

What `kubeadm join --discovery-token-ca-cert-hash` expects, and what the kubeadm docs compute
with `openssl x509 -pubkey -in ca.crt | openssl rsa -pubin -outform der | openssl dgst -sha256`.
The SPKI is a slice of the certificate's DER, found by walking the ASN.1 structure, so this
needs no crypto library at run time and works for any key type (RSA, ECDSA, Ed25519).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

_PEM = re.compile(
    rb"-----BEGIN CERTIFICATE-----\s*(?P<body>[A-Za-z0-9+/=\s]+?)\s*-----END CERTIFICATE-----"
)
_SEQUENCE = 0x30
_VERSION = 0xA0  # [0] EXPLICIT, present in v2/v3 certificates
_SPKI_INDEX = 5  # serial, signature, issuer, validity, subject, subjectPublicKeyInfo


def _element(der: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, content start, end) of the DER element at `offset`; ValueError if truncated."""
    if offset + 2 > len(der):
        raise ValueError("truncated DER")
    tag, length, start = der[offset], der[offset + 1], offset + 2
    if length & 0x80:
        size = length & 0x7F
        if size == 0 or size > 4 or start + size > len(der):
            raise ValueError("bad DER length")
        length, start = int.from_bytes(der[start : start + size], "big"), start + size
    if start + length > len(der):
        raise ValueError("truncated DER")
    return tag, start, start + length


def spki(der: bytes) -> bytes:
    """The DER SubjectPublicKeyInfo inside a DER X.509 certificate."""
    tag, start, _ = _element(der, 0)
    if tag != _SEQUENCE:
        raise ValueError("not a certificate: no outer SEQUENCE")
    tag, offset, tbs_end = _element(der, start)
    if tag != _SEQUENCE:
        raise ValueError("not a certificate: no tbsCertificate")
    tag, _, end = _element(der, offset)
    if tag == _VERSION:
        offset = end
    for _ in range(_SPKI_INDEX):
        offset = _element(der, offset)[2]
    tag, _, end = _element(der, offset)
    if tag != _SEQUENCE or end > tbs_end:
        raise ValueError("not a certificate: no SubjectPublicKeyInfo")
    return der[offset:end]


def discovery_hashes(pem: bytes) -> tuple[str, ...]:
    """`sha256:<hex>` for each certificate in a PEM file; ValueError if there is none."""
    hashes = []
    for match in _PEM.finditer(pem):
        try:
            der = base64.b64decode(b"".join(match["body"].split()), validate=True)
        except binascii.Error as exc:
            raise ValueError("a CERTIFICATE block is not valid base64") from exc
        hashes.append("sha256:" + hashlib.sha256(spki(der)).hexdigest())
    if not hashes:
        raise ValueError("no PEM CERTIFICATE block")
    return tuple(hashes)
