"""The kubeadm discovery hash, checked against the openssl pipeline from the kubeadm docs."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from burst.core import joinhash
from burst.tools import cli

KeyType = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def _ca(key: KeyType, *, version_one: bool = False) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
    )
    if not version_one:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.PEM)


def _openssl(pem: Path, key_command: str) -> str:
    """The kubeadm docs' pipeline; `openssl ec` in place of `openssl rsa` for an EC key."""
    assert shutil.which("openssl"), "the test needs openssl on PATH"
    out = subprocess.run(
        f"openssl x509 -pubkey -in {pem} | openssl {key_command} -pubin -outform der 2>/dev/null"
        " | openssl dgst -sha256 -hex | sed 's/^.* //'",
        shell=True, check=True, capture_output=True, text=True,
    ).stdout.strip()
    return f"sha256:{out}"


@pytest.mark.parametrize(("key", "command"), [
    (rsa.generate_private_key(public_exponent=65537, key_size=2048), "rsa"),
    (ec.generate_private_key(ec.SECP256R1()), "ec"),
    (ec.generate_private_key(ec.SECP384R1()), "ec"),
], ids=["rsa-2048 (kubeadm's default)", "ecdsa-p256", "ecdsa-p384"])
def test_the_hash_is_what_the_kubeadm_docs_openssl_pipeline_prints(
    tmp_path: Path, key: KeyType, command: str
) -> None:
    pem = tmp_path / "ca.crt"
    pem.write_bytes(_ca(key))

    assert joinhash.discovery_hashes(pem.read_bytes()) == (_openssl(pem, command),)


@pytest.mark.parametrize("version_one", [False, True], ids=["v3 certificate", "v1 certificate"])
def test_the_spki_slice_equals_the_public_key_as_cryptography_encodes_it(
    version_one: bool,
) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    cert = x509.load_pem_x509_certificate(_ca(key, version_one=version_one))
    expected = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    assert joinhash.spki(cert.public_bytes(serialization.Encoding.DER)) == expected


def test_a_bundle_gives_one_hash_per_certificate_in_order() -> None:
    first, second = (_ca(ec.generate_private_key(ec.SECP256R1())) for _ in range(2))

    hashes_ = joinhash.discovery_hashes(first + b"\n" + second)

    assert hashes_ == joinhash.discovery_hashes(first) + joinhash.discovery_hashes(second)


@pytest.mark.parametrize("text", [
    b"",
    b"not a certificate",
    b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
], ids=["empty", "no PEM block", "not DER", "truncated DER"])
def test_input_that_is_not_a_certificate_is_a_value_error(text: bytes) -> None:
    with pytest.raises(ValueError):
        joinhash.discovery_hashes(text)


def test_burst_join_hash_prints_the_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pem = tmp_path / "ca.crt"
    pem.write_bytes(_ca(ec.generate_private_key(ec.SECP256R1())))

    assert cli.main(["join-hash", "--ca-cert", str(pem)]) == 0

    assert capsys.readouterr().out.strip() == _openssl(pem, "ec")


@pytest.mark.parametrize("content", [None, b"garbage"], ids=["missing file", "not a cert"])
def test_burst_join_hash_with_bad_input_names_the_file_and_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None
) -> None:
    pem = tmp_path / "ca.crt"
    if content is not None:
        pem.write_bytes(content)

    assert cli.main(["join-hash", "--ca-cert", str(pem)]) != 0

    err = capsys.readouterr().err
    assert str(pem) in err and "Traceback" not in err
