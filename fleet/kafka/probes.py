"""Probes of what a cell lets a principal do (issue 14: registering an existing Kafka).

Some broker settings cannot be read back: Kafka reports an authorizer's own keys, such as
``allow.everyone.if.no.acl.found``, as sensitive (no value) in DescribeConfigs. What matters is
their effect, so a probe asks the broker as a principal without ACLs.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka.admin import AdminClient

from fleet.kafka.connection import KafkaConnection, _base_config, _Deadline, _ErrorTrap
from fleet.kafka.topics import _metadata


def topic_metadata_error(conn: KafkaConnection, topic: str) -> str | None:
    """The error a metadata request for one topic gets on this connection, by Kafka name.

    None when the topic exists and may be described; ``TOPIC_AUTHORIZATION_FAILED`` when the
    principal may not describe it; ``UNKNOWN_TOPIC_OR_PART`` (librdkafka's
    ``_UNKNOWN_TOPIC`` too) when it may, and the topic does not exist. The request does not
    ask the broker to create the topic (librdkafka's admin client never does).
    """
    context = f"Describing topic '{topic}'"
    trap = _ErrorTrap(cell=conn.cell_name, timeout=conn.timeout)
    admin = AdminClient(_base_config(conn, trap, "skiff-acl-probe"))
    deadline = _Deadline(conn.timeout)
    try:
        metadata: Any = _metadata(admin, trap, deadline, topic, context)
        trap.raise_if_fatal(context)
    finally:
        del admin
    found = metadata.topics.get(topic)
    if found is None or found.error is None:
        return None
    return str(found.error.name())
