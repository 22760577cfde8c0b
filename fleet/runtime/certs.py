"""The platform CA and per-node TLS material, in the PEM layout Kafka reads natively.

Kafka (``ssl.keystore.type=PEM``) wants one file holding an *unencrypted PKCS#8* private key
(``BEGIN PRIVATE KEY``) followed by the certificate chain, and no keystore password; the
truststore is the CA certificate in PEM. Clients verify the broker's hostname by default, so node
certificates carry ``IP:127.0.0.1`` and ``DNS:localhost`` plus any extra names (compose service
names such as ``kafka-1``).

Keys are ECDSA P-256: fast to generate, and accepted by the JDK, OpenSSL (librdkafka) and
Python's ssl module alike.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT_NAME = "ca.pem"
CA_KEY_NAME = "ca-key.pem"
_CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class CertificateAuthority:
    cert_path: Path
    key_path: Path

    def load(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{self.key_path} is not an EC private key")
        return cert, key


@dataclass(frozen=True)
class NodeCertificate:
    keystore_path: Path  # PKCS#8 key + leaf + CA, for ssl.keystore.location (type PEM)
    cert_path: Path  # leaf certificate alone, handy for inspection
    truststore_path: Path  # the CA certificate, for ssl.truststore.location (type PEM)


def ensure_private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_private_file(path: Path, data: bytes | str) -> None:
    """Write atomically with mode 0600 from the first byte (no window where it is readable)."""
    if isinstance(data, str):
        data = data.encode()
    ensure_private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode is filtered by umask; be explicit.
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            fh.write(data)
    finally:
        if fd != -1:
            os.close(fd)
    os.replace(tmp, path)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pkcs8_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def create_ca(
    directory: Path, *, common_name: str = "Skiff platform CA", valid_days: int = 3650
) -> CertificateAuthority:
    """Create a new self-signed CA in ``directory`` (overwrites an existing one)."""
    key = _new_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Skiff"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    ensure_private_dir(directory)
    ca = CertificateAuthority(cert_path=directory / CA_CERT_NAME, key_path=directory / CA_KEY_NAME)
    write_private_file(ca.key_path, _pkcs8_pem(key))
    write_private_file(ca.cert_path, _cert_pem(cert))
    return ca


def ensure_ca(directory: Path, *, common_name: str = "Skiff platform CA") -> CertificateAuthority:
    """Load the CA in ``directory``, creating it on first use."""
    ca = CertificateAuthority(cert_path=directory / CA_CERT_NAME, key_path=directory / CA_KEY_NAME)
    if ca.cert_path.is_file() and ca.key_path.is_file():
        return ca
    return create_ca(directory, common_name=common_name)


def issue_node_certificate(
    ca: CertificateAuthority,
    directory: Path,
    common_name: str,
    *,
    hostnames: Iterable[str] = (),
    ip_addresses: Iterable[str] = ("127.0.0.1",),
    valid_days: int = 825,
) -> NodeCertificate:
    """Issue a server+client certificate for one broker and write its PEM keystore/truststore.

    ``localhost`` is always in the SAN; ``hostnames`` adds more DNS names. The certificate is
    also valid for client auth because brokers are TLS clients of each other (inter-broker).
    """
    ca_cert, ca_key = ca.load()
    key = _new_key()
    dns_names = list(dict.fromkeys(["localhost", *hostnames]))
    ips = [ipaddress.ip_address(ip) for ip in dict.fromkeys(ip_addresses)]
    san = x509.SubjectAlternativeName(
        [*(x509.DNSName(n) for n in dns_names), *(x509.IPAddress(ip) for ip in ips)]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Skiff"),
                    x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(san, critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ensure_private_dir(directory)
    node = NodeCertificate(
        keystore_path=directory / "keystore.pem",
        cert_path=directory / "node.pem",
        truststore_path=directory / "truststore.pem",
    )
    write_private_file(node.keystore_path, _pkcs8_pem(key) + _cert_pem(cert) + _cert_pem(ca_cert))
    write_private_file(node.cert_path, _cert_pem(cert))
    write_private_file(node.truststore_path, _cert_pem(ca_cert))
    return node
