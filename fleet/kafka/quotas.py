"""Client quotas per user, by kafka-python: librdkafka has no (Alter|Describe)ClientQuotas.

Both calls reuse a warm kafka-python client per connection (connection._kafka_python_clients):
provisioning sets every new cluster's quotas and the reconciler reads them every pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleet.kafka.connection import KafkaConnection, _import_kafka_python, _kafka_python_call, _send
from fleet.kafka.errors import InvalidKafkaRequest, _kafka_python_error_name, _map_error

QUOTA_KEYS = frozenset(
    {"producer_byte_rate", "consumer_byte_rate", "request_percentage", "controller_mutation_rate"}
)


def alter_user_quotas(
    conn: KafkaConnection, username: str | None, quotas: Mapping[str, float | None]
) -> None:
    """Set (value) or remove (None) quotas of a user; ``username=None`` targets the default user.

    Byte-rate quotas are enforced per broker, not per cell.
    """
    alter_many_user_quotas(conn, {username: quotas})


def alter_many_user_quotas(
    conn: KafkaConnection, changes: Mapping[str | None, Mapping[str, float | None]]
) -> None:
    """`alter_user_quotas` for many users in one AlterClientQuotas request (the reconciler's
    repair of a whole cell: one request, however many keys drifted)."""
    _import_kafka_python()
    from kafka.protocol.admin import AlterClientQuotasRequest

    changes = {user: quotas for user, quotas in changes.items() if quotas}
    unknown = {k for quotas in changes.values() for k in quotas} - QUOTA_KEYS
    if unknown:
        raise InvalidKafkaRequest(f"Unknown quota keys: {', '.join(sorted(unknown))}.")
    if not changes:
        return
    if len(changes) == 1:
        username = next(iter(changes))
        context = f"Changing quotas of user '{username or '<default>'}'"
    else:
        context = f"Changing quotas of {len(changes)} users"
    entry_cls = AlterClientQuotasRequest.EntryData
    request = AlterClientQuotasRequest(
        entries=[
            entry_cls(
                entity=[entry_cls.EntityData(entity_type="user", entity_name=username)],
                ops=[
                    entry_cls.OpData(key=k, value=0.0 if v is None else float(v), remove=v is None)
                    for k, v in sorted(quotas.items())
                ],
            )
            for username, quotas in sorted(changes.items(), key=lambda item: item[0] or "")
        ],
        validate_only=False,
    )

    def call(admin: Any) -> None:
        response = _send(admin, request)
        for entry in response.entries:
            if entry.error_code:
                raise _map_error(
                    _kafka_python_error_name(entry.error_code), entry.error_message or "", context
                )

    _kafka_python_call(conn, context, call, reuse=True)


def describe_user_quotas(
    conn: KafkaConnection, username: str | None = None
) -> dict[str | None, dict[str, float]]:
    """Quotas per user (key None = the default-user quota). ``username`` narrows to one user."""
    _import_kafka_python()
    from kafka.protocol.admin import DescribeClientQuotasRequest

    context = "Reading user quotas"
    component_cls = DescribeClientQuotasRequest.ComponentData
    # match_type: 0 = exact name, 2 = any (incl. the default entity).
    component = (
        component_cls(entity_type="user", match_type=0, match=username)
        if username is not None
        else component_cls(entity_type="user", match_type=2, match=None)
    )
    request = DescribeClientQuotasRequest(components=[component], strict=True)

    def call(admin: Any) -> dict[str | None, dict[str, float]]:
        response = _send(admin, request)
        if response.error_code:
            raise _map_error(
                _kafka_python_error_name(response.error_code), response.error_message or "", context
            )
        out: dict[str | None, dict[str, float]] = {}
        for entry in response.entries or ():
            user = next((e.entity_name for e in entry.entity if e.entity_type == "user"), None)
            out[user] = {v.key: float(v.value) for v in entry.values}
        return out

    return _kafka_python_call(conn, context, call, reuse=True)
