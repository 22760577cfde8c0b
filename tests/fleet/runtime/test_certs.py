"""The platform CA and node certificates (no Kafka needed)."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import stat
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from fleet.runtime import certs


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _pem_blocks(text: str, label: str) -> int:
    return text.count(f"-----BEGIN {label}-----")


def test_ca_is_a_private_self_signed_ca(tmp_path: Path) -> None:
    ca = certs.create_ca(tmp_path / "ca", common_name="Test CA")

    cert, _key = ca.load()
    assert cert.subject == cert.issuer
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert ca.key_path.read_text().startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert _mode(ca.key_path) == 0o600
    assert _mode(ca.cert_path) == 0o600
    assert _mode(tmp_path / "ca") == 0o700


def test_ensure_ca_reuses_the_existing_ca(tmp_path: Path) -> None:
    first = certs.ensure_ca(tmp_path)
    before = first.cert_path.read_bytes()
    second = certs.ensure_ca(tmp_path)
    assert second.cert_path.read_bytes() == before


def test_node_keystore_is_pkcs8_key_plus_chain_with_loopback_san(tmp_path: Path) -> None:
    ca = certs.create_ca(tmp_path / "ca")
    node = certs.issue_node_certificate(
        ca, tmp_path / "node-1", "kafka-1", hostnames=["kafka-1", "kafka-1.internal"]
    )

    keystore = node.keystore_path.read_text()
    # Kafka's PEM keystore: unencrypted PKCS#8 key first, then leaf and CA certificates.
    assert keystore.startswith("-----BEGIN PRIVATE KEY-----")
    assert "ENCRYPTED" not in keystore and "EC PRIVATE KEY" not in keystore
    assert _pem_blocks(keystore, "PRIVATE KEY") == 1
    assert _pem_blocks(keystore, "CERTIFICATE") == 2
    assert node.truststore_path.read_bytes() == ca.cert_path.read_bytes()
    for path in (node.keystore_path, node.cert_path, node.truststore_path):
        assert _mode(path) == 0o600
    assert _mode(tmp_path / "node-1") == 0o700

    leaf = x509.load_pem_x509_certificate(node.cert_path.read_bytes())
    ca_cert, _ = ca.load()
    leaf.verify_directly_issued_by(ca_cert)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "kafka-1", "kafka-1.internal"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku and ExtendedKeyUsageOID.CLIENT_AUTH in eku
    key = serialization.load_pem_private_key(keystore.encode(), password=None)
    assert key.public_key() == leaf.public_key()


def test_tls_handshake_verifies_ip_and_localhost_against_the_ca(tmp_path: Path) -> None:
    """A real handshake with Python's ssl (OpenSSL, like librdkafka) and hostname checking."""
    ca = certs.create_ca(tmp_path / "ca")
    node = certs.issue_node_certificate(ca, tmp_path / "node", "node")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(node.keystore_path)  # key + chain in one file
    client_ctx = ssl.create_default_context(cafile=str(ca.cert_path))

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            for _ in range(2):
                conn, _addr = listener.accept()
                try:
                    with server_ctx.wrap_socket(conn, server_side=True) as tls:
                        tls.recv(1)
                except (ssl.SSLError, OSError):
                    pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        for server_name in ("127.0.0.1", "localhost"):
            with (
                socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
                client_ctx.wrap_socket(raw, server_hostname=server_name) as tls,
            ):
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
                tls.sendall(b"x")
        thread.join(timeout=5)


def test_private_files_are_never_world_readable(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "secret.txt"
    certs.write_private_file(target, "s3cret")
    assert target.read_text() == "s3cret"
    assert _mode(target) == 0o600
    certs.write_private_file(target, b"again")  # overwrite keeps the mode
    assert _mode(target) == 0o600
    assert not list(target.parent.glob("*.tmp"))
