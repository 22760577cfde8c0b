"""The platform's super-user reach into a cell: for platform code only.

`platform_superuser(cell)` can address every tenant's topics, groups, users, ACLs and quotas on
the cell. Only an allow-list of modules may import this one (provisioning, the access reconciler
and key service, the fleet's own services and commands); an import-linter contract in the suite
enforces the list. Tenant-facing services get `fleet.kafka.tenant.ClusterGateway` instead, which
cannot name anything outside its cluster's prefix.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from fleet.kafka import acls, brokers, configs, groups, logdirs, quotas, scram, topics
from fleet.kafka.connection import KafkaConnection
from fleet.kafka.errors import CellUnreachable
from fleet.kafka.plain import PLAIN_SCRAM_MECHANISM, PlainCredentials, plain_credentials_path
from fleet.kafka.types import (
    AclBinding,
    BrokerDescription,
    ClusterDescription,
    ConfigEntryDescription,
    ResourceTypeName,
    TopicDescription,
)

if TYPE_CHECKING:
    from fleet.models import Cell


def cell_connection(cell: Cell) -> KafkaConnection:
    """The super-user connection to a cell, from its owner-only credentials file.

    Used by this module and by the tenant facade (which keeps it private); nothing else needs
    the raw connection.
    """
    try:
        credentials = json.loads(Path(cell.credentials_path).read_text())
    except (OSError, ValueError, KeyError) as exc:
        raise CellUnreachable(
            f"The admin credentials of cell '{cell.name}' could not be read; "
            "the platform team has been told.",
            cell=cell.name,
        ) from exc
    return KafkaConnection(
        bootstrap=cell.bootstrap_servers,
        username=credentials["admin_username"],
        password=credentials["admin_password"],
        # PLAIN where the admin reaches the cell on its INTERNAL listener (compose, issue 13).
        mechanism=credentials.get("admin_sasl_mechanism", "SCRAM-SHA-512"),
        ca_path=cell.ca_path,
        timeout=settings.SKIFF_KAFKA_TIMEOUT,
        cell_name=cell.name,
    )


class PlatformSuperuser:
    """Super-user on one cell. Every call may touch any tenant: say so in the caller's name."""

    def __init__(
        self, connection: KafkaConnection, *, plain_credentials: PlainCredentials | None = None
    ) -> None:
        self.connection = connection
        # The cell's SASL/PLAIN credentials file (issue 17), on cells whose brokers read one.
        self.plain_credentials = plain_credentials

    # Cell
    def describe_cluster(self) -> ClusterDescription:
        return topics.describe_cluster(self.connection)

    def broker_log_usage(self) -> dict[int, logdirs.BrokerLogUsage]:
        """Every broker's replica count, log bytes and log volume (the autoscaler's figures)."""
        return logdirs.broker_log_usage(self.connection)

    # Brokers and the controller quorum (issue 14)
    def describe_brokers(self) -> list[BrokerDescription]:
        """Every registered broker, fenced ones included, with fenced/is_controller set."""
        return brokers.describe_brokers(self.connection)

    def describe_quorum(self) -> brokers.QuorumDescription:
        return brokers.describe_quorum(self.connection)

    def fenced_broker_ids(self) -> set[int]:
        return brokers.fenced_broker_ids(self.connection)

    def unregister_broker(self, node_id: int) -> None:
        """Forget a stopped broker in the cluster metadata (idempotent)."""
        brokers.unregister_broker(self.connection, node_id=node_id)

    # Topics and groups, across tenants (provisioning's compensation and deletion)
    def list_topics(self, *, include_internal: bool = False) -> dict[str, TopicDescription]:
        return topics.list_topics(self.connection, include_internal=include_internal)

    def delete_topic(self, name: str, *, missing_ok: bool = False) -> bool:
        return topics.delete_topic(self.connection, name, missing_ok=missing_ok)

    def describe_many_topic_configs(
        self,
        names: Sequence[str],
        keys: Sequence[str] | None = None,
        *,
        sources: Collection[str] | None = None,
    ) -> dict[str, dict[str, ConfigEntryDescription]]:
        """Configs of many topics of any tenant in one DescribeConfigs round (the periodic
        topic sync reads a cell's once, not once per cluster; issue 20)."""
        return configs.describe_many_topic_configs(self.connection, names, keys, sources=sources)

    def list_consumer_groups(self) -> dict[str, str]:
        return groups.list_consumer_groups(self.connection)

    def delete_consumer_groups(self, group_ids: Sequence[str]) -> None:
        groups.delete_consumer_groups(self.connection, group_ids)

    # SCRAM users
    def create_scram_user(self, username: str, password: str) -> None:
        """Set the user's secret: its SCRAM credential and, where the cell offers PLAIN, the
        salted hash the brokers' PLAIN handler checks (so rotation reaches both)."""
        self.create_scram_users({username: password})

    def create_scram_users(self, secrets_by_user: Mapping[str, str]) -> None:
        """`create_scram_user` for many users: one request, and one rewrite of the PLAIN file.

        Each secret is salted once (SCRAM-SHA-512, 4,096 rounds), for its SCRAM credential and
        its PLAIN line both."""
        salted = {
            username: scram.salt_secret(secret, mechanism=PLAIN_SCRAM_MECHANISM)
            for username, secret in secrets_by_user.items()
        }
        scram.upsert_salted_secrets(self.connection, salted)
        if self.plain_credentials is not None:
            self.plain_credentials.set_secrets(salted)

    def revoke_scram_user(self, username: str, *, missing_ok: bool = True) -> bool:
        # PLAIN first: a failure half-way leaves the key unable to log in, never the reverse.
        if self.plain_credentials is not None:
            self.plain_credentials.remove_user(username)
        return scram.revoke_scram_user(self.connection, username, missing_ok=missing_ok)

    def list_scram_users(self) -> set[str]:
        """Every SCRAM user of the cell: its cost grows with the cell's keys; to ask about
        known users, use `existing_scram_users`."""
        return scram.list_scram_users(self.connection)

    def existing_scram_users(self, usernames: Iterable[str]) -> set[str]:
        """Which of these users have a SCRAM credential (one request naming only them)."""
        return scram.existing_scram_users(self.connection, usernames)

    @staticmethod
    def authenticate_as(connection: KafkaConnection, address: str) -> None:
        """Sign in at one broker with a key's own credentials (a rotation's propagation check)."""
        scram.authenticate_on_broker(connection, address)

    # ACLs
    def create_acls(self, bindings: Sequence[AclBinding]) -> None:
        acls.create_acls(self.connection, bindings)

    def describe_acls(
        self, principal: str | None = None, *, resource_type: ResourceTypeName | None = None
    ) -> list[AclBinding]:
        return acls.describe_acls(self.connection, principal, resource_type=resource_type)

    def delete_acls(self, bindings: Sequence[AclBinding]) -> int:
        return acls.delete_acls(self.connection, bindings)

    # Quotas
    def alter_user_quotas(self, username: str | None, values: Mapping[str, float | None]) -> None:
        quotas.alter_user_quotas(self.connection, username, values)

    def alter_many_user_quotas(
        self, changes: Mapping[str | None, Mapping[str, float | None]]
    ) -> None:
        """Quota changes of many users in one request."""
        quotas.alter_many_user_quotas(self.connection, changes)

    def describe_user_quotas(
        self, username: str | None = None
    ) -> dict[str | None, dict[str, float]]:
        return quotas.describe_user_quotas(self.connection, username)


def platform_superuser(cell: Cell) -> PlatformSuperuser:
    """The platform's super-user client for one cell (platform code only; see the module)."""
    return PlatformSuperuser(cell_connection(cell), plain_credentials=cell_plain_credentials(cell))


def cell_plain_credentials(cell: Cell) -> PlainCredentials | None:
    """The PLAIN credentials file of a cell the platform launches (its brokers read the file
    beside the cell's admin credentials); None for cells that do not offer PLAIN."""
    if cell.kind != "local":
        return None
    return PlainCredentials(plain_credentials_path(Path(cell.credentials_path).parent))
