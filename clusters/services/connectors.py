"""Managed Kafka Connect for tenants (issue 19): catalogue, validate, create, operate, delete.

Every connector of a cluster runs on that cluster's Connect worker group, which the fleet runs
(`fleet.services.connect_workers`) and only this module calls. The order of every write:

1. our rules (`connector_rules.check_config`): a plugin outside the catalogue, a name outside
   the cluster, a forbidden key is a 400 here, before any worker sees the config;
2. the worker is ensured (first connector: its platform-made key and worker start);
3. Connect's own validate endpoint, whose per-field errors come back as field errors (400);
4. secrets (the plugin's PASSWORD fields) go to the worker's config provider, and the worker's
   config holds placeholders; the database keeps them sealed; the API never returns them;
5. the connector is created on the worker and recorded here, with a task-count event for
   billing (`ConnectorTaskEvent`: task-hours).

Deleting the last connector stops the worker, deletes its internal topics and revokes its key.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from clusters.models import AccessKey, Cluster, Connector, ConnectorTaskEvent
from clusters.selectors import connector_rows
from clusters.services.access.keys import (
    access_key_create_platform_managed,
    access_key_revoke,
    platform_key_secret,
)
from clusters.services.access.reconcile import CONNECT_RESERVED_TOPICS, reconcile_cluster_keys
from clusters.services.cells import cluster_cell
from clusters.services.connector_rules import (
    MAX_TASKS,
    Scope,
    WorkerTarget,
    check_config,
    config_infos_errors,
    password_keys,
    secret_entries,
    sink_group,
    tenant_config_infos,
    tenant_message,
    wire_config,
)
from clusters.services.sealing import seal, unseal
from clusters.throughput import current_throughput
from console.audit import audit_record
from console.errors import Conflict, NotFound, ValidationFailed
from fleet.connect.plugins import ALLOWED_PLUGINS, ConnectPlugin
from fleet.kafka.errors import KafkaGatewayError
from fleet.kafka.tenant import ClusterGateway

if TYPE_CHECKING:
    from console.models import User

logger = logging.getLogger(__name__)

MAX_CONNECTORS_PER_CLUSTER = 10
WORKER_KEY_NAME = "_connect"  # tenants' key names start with a letter or digit
# The worker's policy: this cluster's topics, groups and transactional ids; no DeleteTopic.
# (The internal topics and groups are inside the prefix: <prefix>connect-*, <prefix>connect.)
WORKER_ACTIONS_ON_TOPICS = [
    "Connect",
    "DescribeTopic",
    "CreateTopic",
    "ReadData",
    "WriteData",
    "DescribeTopicDynamicConfiguration",
    "AlterTopicDynamicConfiguration",
]


def worker_policy(cluster: Cluster) -> dict:
    team, name = cluster.team.slug, cluster.name

    def arn(kind: str, rest: str = "") -> str:
        return f"skiff:kafka:{team}:{kind}/{name}{rest}"

    actions = [f"kafka-cluster:{a}" for a in WORKER_ACTIONS_ON_TOPICS]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ConnectTopics", "Effect": "Allow", "Action": actions,
             "Resource": arn("topic", "/*")},
            {"Sid": "ConnectGroups", "Effect": "Allow",
             "Action": ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"],
             "Resource": arn("group", "/*")},
            {"Sid": "Idempotence", "Effect": "Allow",
             "Action": "kafka-cluster:WriteDataIdempotently", "Resource": arn("cluster")},
            {"Sid": "Transactions", "Effect": "Allow",
             "Action": ["kafka-cluster:DescribeTransactionalId",
                        "kafka-cluster:AlterTransactionalId"],
             "Resource": arn("transactional-id", "/*")},
        ],
    }  # fmt: skip


# --- the fleet side (fleet.services.connect_workers, see notes/connect_contract.md) ---------


def _workers() -> Any:
    from fleet.services import connect_workers

    return connect_workers


def _client(cluster: Cluster) -> Any:
    return _workers().connect_client(tenant_prefix=cluster.wire_prefix)


# --- catalogue --------------------------------------------------------------------------------


def connector_catalogue() -> list[ConnectPlugin]:
    """What a tenant may create, in catalogue order."""
    return list(ALLOWED_PLUGINS.values())


def _plugin(plugin_id: str) -> ConnectPlugin:
    plugin = ALLOWED_PLUGINS.get(plugin_id or "")
    if plugin is None:
        offered = ", ".join(ALLOWED_PLUGINS)
        raise ValidationFailed(
            {"plugin": f"'{plugin_id}' is not a plugin this platform offers (offered: {offered})."}
        )
    return plugin


def _require_active(cluster: Cluster) -> None:
    if cluster.state != Cluster.State.ACTIVE or cluster.cell_id is None:
        raise Conflict(
            f"Connectors can be changed only while the cluster is ACTIVE (it is {cluster.state}).",
            code="cluster_not_active",
        )


def cluster_scope(cluster: Cluster) -> Scope:
    others = [
        f"{slug}.{name}."
        for slug, name in Cluster.objects.live()
        .exclude(pk=cluster.pk)
        .values_list("team__slug", "name")
    ]
    return Scope(prefix=cluster.wire_prefix, other_prefixes=others)


# --- our rules, then Connect's ------------------------------------------------------------------


def _checked(
    *, cluster: Cluster, plugin: ConnectPlugin, name: str, config: Mapping[str, object]
) -> dict[str, str]:
    values, errors = check_config(
        plugin_id=plugin.id,
        kind=plugin.kind,
        name=name,
        config=config,
        scope=cluster_scope(cluster),
    )
    if errors:
        raise ValidationFailed(errors)
    return values


def _connect_validate(
    *,
    cluster: Cluster,
    plugin: ConnectPlugin,
    name: str,
    values: dict[str, str],
    stored_secrets: Mapping[str, str] | None = None,
) -> dict:
    """Connect's validate endpoint on the tenant's config (with the real secret values: a
    database source checks them), answered as the tenant's ConfigInfos (tenant_config_infos)."""
    # Secrets not given again on an update keep their stored values.
    merged = {**(stored_secrets or {}), **{k: v for k, v in values.items() if v != ""}}
    wire = wire_config(
        plugin_id=plugin.id,
        class_name=plugin.class_name,
        kind=plugin.kind,
        name=name,
        values=merged,
        scope=cluster_scope(cluster),
        secret_values=secret_entries(plugin.id, merged, []),
        target=_worker_target(cluster, jaas=None),
    )
    answer = _client(cluster).validate(plugin.class_name, wire)
    return tenant_config_infos(plugin.id, answer, values, cluster.wire_prefix)


def connector_validate(
    *, cluster: Cluster, plugin: str, config: Mapping[str, object], name: str = "new-connector"
) -> dict:
    """Our rules first (a 400 naming the config keys they refuse; nothing reaches a worker),
    then the plugin's own validation: the tenant's ConfigInfos (Connect's JSON shape: `name`,
    `error_count`, `groups`, `configs[{definition, value}]`), its errors per field inside.
    Ensures the cluster's worker (a form is generated from this before any connector exists).
    """
    _require_active(cluster)
    found = _plugin(plugin)
    values = _checked(cluster=cluster, plugin=found, name=name, config=config)
    ensure_worker(cluster=cluster)
    document = _connect_validate(cluster=cluster, plugin=found, name=name, values=values)
    # Recorded: it may start the cluster's worker, and it sends the config (with its secrets)
    # to the plugin, which may connect to the systems it names.
    audit_record(
        team=cluster.team,
        action="connector.validate",
        target=cluster,
        after={"plugin": found.id, "keys": sorted(values), "errors": document["error_count"]},
    )
    return document


def connector_definitions(*, cluster: Cluster, plugin: str) -> dict:
    """The tenant's ConfigInfos of an empty config (no rule checks): the blank form."""
    _require_active(cluster)
    found = _plugin(plugin)
    ensure_worker(cluster=cluster)
    return _connect_validate(cluster=cluster, plugin=found, name="new-connector", values={})


# --- the worker and its key --------------------------------------------------------------------


def worker_key(cluster: Cluster) -> AccessKey | None:
    return cluster.access_keys.filter(platform_managed=True, revoked_at__isnull=True).first()


def _worker_target(cluster: Cluster, *, jaas: str | None) -> WorkerTarget:
    cell = cluster_cell(cluster)
    try:
        ca = Path(cell.ca_path).read_text()
    except OSError:
        ca = ""
    return WorkerTarget(bootstrap_servers=cell.bootstrap_servers, ca_pem=ca, jaas_config=jaas or "")


def ensure_worker(*, cluster: Cluster) -> AccessKey:
    """The cluster's worker is running, with its platform-made key; returns the key.

    First start: the key is made (its policy: the cluster's prefix only), every tenant key of
    the cluster is denied the worker's internal topics and group (connect_reserved_acls), and
    internal topics left from before (a tenant could have made them, with a connector in them)
    are deleted, all before the worker starts and reads them.
    """
    _require_active(cluster)
    with transaction.atomic():
        Cluster.objects.select_for_update(of=("self",)).get(pk=cluster.pk)  # one starter at a time
        key = worker_key(cluster)
        if key is None:
            key, secret = access_key_create_platform_managed(
                cluster=cluster, name=WORKER_KEY_NAME, policy_document=worker_policy(cluster)
            )
            reconcile_cluster_keys(cluster)
            gateway = ClusterGateway(cluster)
            for topic in CONNECT_RESERVED_TOPICS:
                gateway.delete_topic(topic, missing_ok=True)
        else:
            secret = platform_key_secret(key)
    _workers().ensure_connect_worker(
        cell=cluster_cell(cluster),
        tenant_prefix=cluster.wire_prefix,
        username=key.username,
        password=secret,
    )
    return key


def _release_worker_if_idle(cluster: Cluster) -> bool:
    """No live connector left: stop the worker, delete its internal topics, revoke its key."""
    if cluster.connectors.live().exists():
        return False
    key = worker_key(cluster)
    _workers().stop_connect_worker(tenant_prefix=cluster.wire_prefix)
    if cluster.state == Cluster.State.ACTIVE:
        gateway = ClusterGateway(cluster)
        for topic in CONNECT_RESERVED_TOPICS:
            try:
                gateway.delete_topic(topic, missing_ok=True)
            except KafkaGatewayError as exc:  # the next first start deletes them anyway
                logger.warning("internal topic %s of %s not deleted: %s", topic, cluster, exc)
    if key is not None:
        access_key_revoke(key=key, audit=False)
        reconcile_cluster_keys(cluster)  # the tenant keys' reserved-name DENYs go too
    return True


# --- create, change, operate, delete -----------------------------------------------------------


def _seal_secrets(secrets: Mapping[str, str]) -> str:
    return seal(json.dumps(dict(secrets))) if secrets else ""


def _stored_secrets(connector: Connector) -> dict[str, str]:
    opened = unseal(connector.sealed_secrets)
    return json.loads(opened) if opened else {}


def _split_secrets(
    plugin: ConnectPlugin, values: dict[str, str], password_keys: list[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(config without secrets, secrets as the tenant typed them)."""
    secret_keys = set(password_keys) | {"source.cluster.sasl.password"}
    public = {k: v for k, v in values.items() if k not in secret_keys}
    typed = {k: v for k, v in values.items() if k in secret_keys and v != ""}
    return public, typed


def expected_tasks(plugin: ConnectPlugin, config: Mapping[str, str]) -> int:
    if plugin.id == "postgres-cdc":
        return 1
    try:
        return max(1, min(MAX_TASKS, int(config.get("tasks.max", "1"))))
    except ValueError:
        return 1


def _record_tasks(connector: Connector, tasks: int, reason: str) -> None:
    """A billing event when the billed task count changes (task-hours = tasks times hours)."""
    if connector.billed_tasks == tasks and reason not in ("created", "deleted"):
        return
    now = timezone.now()
    ConnectorTaskEvent.objects.create(
        connector=connector, cluster_id=connector.cluster_id, tasks=tasks, occurred_at=now,
        reason=reason,
    )  # fmt: skip
    connector.billed_tasks = tasks
    connector.save(update_fields=["billed_tasks", "updated_at"])


def _wire_for_create(
    cluster: Cluster, plugin: ConnectPlugin, connector_name: str, values: dict[str, str],
    secrets: dict[str, str],
) -> dict[str, str]:  # fmt: skip
    """Secrets written to the worker's config provider; the config with their placeholders."""
    entries = secret_entries(plugin.id, {**values, **secrets}, list(secrets))
    worker_secret = {}
    if plugin.id == "mirror-source":
        key = worker_key(cluster)
        assert key is not None  # ensure_worker made it
        from clusters.services.connector_rules import jaas_line

        worker_secret = {
            "target.cluster.sasl.jaas.config": jaas_line(
                "SCRAM-SHA-512", key.username, platform_key_secret(key)
            )
        }
    placeholders = _workers().write_connector_secrets(
        tenant_prefix=cluster.wire_prefix,
        connector_name=connector_name,
        secrets={**entries, **worker_secret},
    )
    target = None
    if plugin.id == "mirror-source":
        target = _worker_target(
            cluster, jaas=placeholders.pop("target.cluster.sasl.jaas.config", None)
        )
    return wire_config(
        plugin_id=plugin.id,
        class_name=plugin.class_name,
        kind=plugin.kind,
        name=connector_name,
        values=values,
        scope=cluster_scope(cluster),
        secret_values=placeholders,
        target=target,
    )


def connector_create(
    *,
    cluster: Cluster,
    name: str,
    plugin: str,
    config: Mapping[str, object],
    user: User | None = None,
) -> Connector:
    """Validate (ours, then Connect's), store the secrets, create on the worker, record."""
    _require_active(cluster)
    found = _plugin(plugin)
    name = (name or "").strip()
    values = _checked(cluster=cluster, plugin=found, name=name, config=config)
    if cluster.connectors.live().filter(name=name).exists():
        raise ValidationFailed({"name": f"This cluster already has a connector named '{name}'."})
    if cluster.connectors.live().count() >= MAX_CONNECTORS_PER_CLUSTER:
        raise ValidationFailed(
            {"name": f"A cluster can have at most {MAX_CONNECTORS_PER_CLUSTER} connectors."}
        )
    ensure_worker(cluster=cluster)
    try:
        document = _connect_validate(cluster=cluster, plugin=found, name=name, values=values)
        if errors := config_infos_errors(document):
            raise ValidationFailed(errors)
        public, secrets = _split_secrets(found, values, password_keys(document))
        wire = _wire_for_create(cluster, found, name, public, secrets)
        with transaction.atomic():
            connector = Connector.objects.create(
                cluster=cluster,
                name=name,
                plugin=found.id,
                config=public,
                secret_keys=sorted(secrets),
                sealed_secrets=_seal_secrets(secrets),
                state=Connector.State.CREATING,
                created_by=user,
            )
            audit_record(
                team=cluster.team,
                action="connector.create",
                target=connector,
                after={"name": name, "plugin": found.id, "config": public,
                       "secret_keys": sorted(secrets)},
            )  # fmt: skip
            _record_tasks(connector, expected_tasks(found, public), "created")
            _client(cluster).create(name, wire)
    except BaseException:
        if not cluster.connectors.live().filter(name=name).exists():
            _undo(lambda: _workers().delete_connector_secrets(
                tenant_prefix=cluster.wire_prefix, connector_name=name))  # fmt: skip
            _undo(lambda: _release_worker_if_idle(cluster))
        raise
    return connector


def connector_update_config(*, connector: Connector, config: Mapping[str, object]) -> Connector:
    """Replace the config (PUT). A secret left out or empty keeps its stored value."""
    cluster = connector.cluster
    _require_active(cluster)
    plugin = _plugin(connector.plugin)
    values = _checked(cluster=cluster, plugin=plugin, name=connector.name, config=config)
    ensure_worker(cluster=cluster)
    stored = _stored_secrets(connector)
    document = _connect_validate(
        cluster=cluster, plugin=plugin, name=connector.name, values=values, stored_secrets=stored
    )
    if errors := config_infos_errors(document):
        raise ValidationFailed(errors)
    secret_names = set(password_keys(document)) | {"source.cluster.sasl.password"}
    public, typed = _split_secrets(plugin, values, sorted(secret_names))
    secrets = {**{k: v for k, v in stored.items() if k in secret_names}, **typed}
    wire = _wire_for_create(cluster, plugin, connector.name, public, secrets)
    with transaction.atomic():
        before = {"config": connector.config, "secret_keys": connector.secret_keys}
        connector.config = public
        connector.secret_keys = sorted(secrets)
        connector.sealed_secrets = _seal_secrets(secrets)
        connector.save(update_fields=["config", "secret_keys", "sealed_secrets", "updated_at"])
        audit_record(
            team=cluster.team,
            action="connector.config",
            target=connector,
            before=before,
            after={"config": public, "secret_keys": sorted(secrets)},
        )
        if connector.state != Connector.State.PAUSED:
            _record_tasks(connector, expected_tasks(plugin, public), "config")
        _client(cluster).put_config(connector.name, wire)
    return connector


def _require_live(connector: Connector) -> None:
    if connector.deleted_at is not None:
        raise NotFound("No such connector in this cluster.")


def connector_pause(*, connector: Connector) -> Connector:
    _require_live(connector)
    _require_active(connector.cluster)
    _client(connector.cluster).pause(connector.name)
    with transaction.atomic():
        connector.state = Connector.State.PAUSED
        connector.save(update_fields=["state", "updated_at"])
        _record_tasks(connector, 0, "paused")
        audit_record(team=connector.cluster.team, action="connector.pause", target=connector)
    return connector


def connector_resume(*, connector: Connector) -> Connector:
    _require_live(connector)
    _require_active(connector.cluster)
    _client(connector.cluster).resume(connector.name)
    with transaction.atomic():
        connector.state = Connector.State.RUNNING
        connector.save(update_fields=["state", "updated_at"])
        _record_tasks(connector, expected_tasks(_plugin(connector.plugin), connector.config),
                      "resumed")  # fmt: skip
        audit_record(team=connector.cluster.team, action="connector.resume", target=connector)
    return connector


def connector_restart(
    *, connector: Connector, include_tasks: bool = True, only_failed: bool = False
) -> Connector:
    _require_live(connector)
    _require_active(connector.cluster)
    _client(connector.cluster).restart(
        connector.name, include_tasks=include_tasks, only_failed=only_failed
    )
    audit_record(
        team=connector.cluster.team,
        action="connector.restart",
        target=connector,
        after={"include_tasks": include_tasks, "only_failed": only_failed},
    )
    return connector


def connector_delete(*, connector: Connector) -> Connector:
    """Off the worker, its secrets and its sink group gone; the worker stops with the last."""
    _require_live(connector)
    cluster = connector.cluster
    if cluster.state == Cluster.State.ACTIVE:
        with contextlib.suppress(NotFound):
            _client(cluster).delete(connector.name)
    with transaction.atomic():
        connector.deleted_at = timezone.now()
        connector.state = Connector.State.DELETED
        connector.save(update_fields=["deleted_at", "state", "updated_at"])
        _record_tasks(connector, 0, "deleted")
        audit_record(
            team=cluster.team,
            action="connector.delete",
            target=connector,
            before={"name": connector.name, "plugin": connector.plugin},
        )
    _undo(lambda: _workers().delete_connector_secrets(
        tenant_prefix=cluster.wire_prefix, connector_name=connector.name))  # fmt: skip
    released = _release_worker_if_idle(cluster)
    if _plugin(connector.plugin).kind == "sink" and cluster.state == Cluster.State.ACTIVE:
        # Best effort: with other connectors left, the worker may still be leaving the group.
        try:
            ClusterGateway(cluster).delete_consumer_groups([sink_group(connector.name)])
        except KafkaGatewayError as exc:
            logger.info("group of %s not deleted (worker released: %s): %s", connector,
                        released, exc)  # fmt: skip
    return connector


def cluster_connectors_remove(*, cluster: Cluster) -> None:
    """Every connector of a cluster being deleted, and its worker (cluster deletion)."""
    for connector in cluster.connectors.live():
        with transaction.atomic():
            connector.deleted_at = timezone.now()
            connector.state = Connector.State.DELETED
            connector.save(update_fields=["deleted_at", "state", "updated_at"])
            _record_tasks(connector, 0, "deleted")
        _undo(lambda c=connector: _workers().delete_connector_secrets(
            tenant_prefix=cluster.wire_prefix, connector_name=c.name))  # fmt: skip
    _undo(lambda: _workers().stop_connect_worker(tenant_prefix=cluster.wire_prefix))


# --- status -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskStatus:
    id: int
    state: str
    worker_id: str
    trace: str | None  # a failed task's stack trace


@dataclass(frozen=True)
class ConnectorStatus:
    """A connector with what its worker says now (`reachable` False: the worker did not
    answer, and `state` is UNKNOWN)."""

    connector: Connector
    state: str
    tasks: list[TaskStatus]
    trace: str | None
    reachable: bool

    @property
    def name(self) -> str:
        return self.connector.name

    @property
    def plugin(self) -> str:
        return self.connector.plugin

    @property
    def config(self) -> dict:
        return self.connector.config

    @property
    def secret_keys(self) -> list[str]:
        return list(self.connector.secret_keys)


def connector_status(*, connector: Connector) -> ConnectorStatus:
    """The worker's status of the connector and its tasks; the state is remembered, and the
    billed task count follows the tasks that run (none while paused)."""
    _require_live(connector)
    cluster = connector.cluster
    try:
        answer = _client(cluster).status(connector.name)
    except NotFound:
        return ConnectorStatus(connector, connector.state, [], None, reachable=True)
    except Exception as exc:  # worker down: show what we knew, marked unknown
        logger.info("status of %s unavailable: %s", connector, exc)
        return ConnectorStatus(connector, Connector.State.UNKNOWN, [], None, reachable=False)
    prefix = cluster.wire_prefix
    tasks = [
        TaskStatus(
            id=int(t.get("id", 0)),
            state=str(t.get("state", "UNASSIGNED")),
            worker_id=str(t.get("worker_id", "")),
            trace=tenant_message(t["trace"], prefix) if t.get("trace") else None,
        )
        for t in answer.get("tasks", [])
    ]
    head = answer.get("connector", {})
    state = str(head.get("state", "UNASSIGNED"))
    if state not in Connector.State.values:
        state = Connector.State.UNKNOWN
    with transaction.atomic():
        locked = Connector.objects.select_for_update().get(pk=connector.pk)
        if locked.deleted_at is None:
            locked.state = state
            locked.state_checked_at = timezone.now()
            locked.save(update_fields=["state", "state_checked_at", "updated_at"])
            if state == Connector.State.PAUSED:
                _record_tasks(locked, 0, "status")
            elif state == Connector.State.RUNNING and tasks:
                _record_tasks(locked, sum(t.state == "RUNNING" for t in tasks), "status")
            connector.state, connector.billed_tasks = locked.state, locked.billed_tasks
    trace = tenant_message(head["trace"], prefix) if head.get("trace") else None
    return ConnectorStatus(connector, state, tasks, trace, reachable=True)


def connector_list(*, cluster: Cluster) -> list[ConnectorStatus]:
    """The cluster's live connectors with their status (one worker call each; at most
    MAX_CONNECTORS_PER_CLUSTER). No worker (no connector yet): an empty list, no call."""
    return [connector_status(connector=c) for c in connector_rows(cluster=cluster)]


def connector_topics(*, connector: Connector) -> list[str]:
    """The short names of the topics the connector reads (sinks) or writes (sources), as far
    as its config says (a source's topics start with its prefix)."""
    config = connector.config
    if connector.plugin == "jdbc-sink":
        return [t.strip() for t in config.get("topics", "").split(",") if t.strip()]
    if connector.plugin == "postgres-cdc":
        return [config.get("topic.prefix", "") + "."]
    if connector.plugin == "mirror-source":
        return [config.get("source.cluster.alias", "") + "."]
    return []


def connector_throughput(*, connector: Connector) -> dict:
    """The live rates of the topics the connector uses, from the document the sampler already
    publishes for the cluster (no broker call): {topics, bytes_per_sec, messages_per_sec}; a
    sink's bytes are read from its topics, a source's written to them."""
    topics = connector_topics(connector=connector)
    rates = current_throughput(connector.cluster).get("topics", {})
    chosen = [
        r
        for name, r in rates.items()
        if any(name == t or (t.endswith(".") and name.startswith(t)) for t in topics)
    ]
    key = "bytes_out_per_sec" if connector.plugin == "jdbc-sink" else "bytes_in_per_sec"
    return {
        "topics": topics,
        "bytes_per_sec": float(sum(r.get(key, 0) for r in chosen)),
        "messages_per_sec": float(sum(r.get("messages_in_per_sec", 0) for r in chosen)),
    }


def _undo(action) -> None:
    try:
        action()
    except Exception:
        logger.exception("clean-up after a connector change did not complete")


__all__ = [
    "ConnectorStatus",
    "TaskStatus",
    "cluster_connectors_remove",
    "connector_catalogue",
    "connector_create",
    "connector_definitions",
    "connector_delete",
    "connector_list",
    "connector_pause",
    "connector_restart",
    "connector_resume",
    "connector_status",
    "connector_throughput",
    "connector_topics",
    "connector_update_config",
    "connector_validate",
    "ensure_worker",
]
