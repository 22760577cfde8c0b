"""A key's identity and a cluster's client addresses: leaf helpers that cluster creation and the
key services share (kept apart so that neither service module imports the other)."""

import ipaddress
import re
import secrets

from clusters.models import Cluster
from console.errors import ValidationFailed


def validate_client_ips(ips) -> list[str]:
    if ips in (None, ""):
        return []
    if isinstance(ips, str):
        ips = [part for part in re.split(r"[\s,]+", ips) if part]
    if not isinstance(ips, list):
        raise ValidationFailed({"allowed_client_ips": "Give a list of IP addresses."})
    clean: list[str] = []
    for raw in ips:
        text = str(raw).strip()
        if "/" in text:
            raise ValidationFailed(
                {
                    "allowed_client_ips": f"'{text}' is a CIDR range: Kafka ACLs match exact "
                    "client addresses only, so list each address."
                }
            )
        try:
            address = str(ipaddress.ip_address(text))
        except ValueError as exc:
            raise ValidationFailed(
                {"allowed_client_ips": f"'{text}' is not a valid IPv4 or IPv6 address."}
            ) from exc
        if address not in clean:
            clean.append(address)
    return clean


def access_key_username(cluster: Cluster, key_name: str) -> str:
    # The cluster prefix makes usernames unique across teams; the random tail keeps a re-created
    # cluster of the same name from inheriting an old key's identity.
    return f"{cluster.wire_prefix}{key_name}.{secrets.token_hex(3)}"


def new_key_secret() -> str:
    return secrets.token_urlsafe(32)  # 43 characters, 256 bits
