"""Cluster reads for pages and the API: always scoped to a team (or to one of its clusters).

Writes live in `clusters.services`; these functions only build querysets and fetch rows. A
`*_get` raises Http404 when the row is not in the given scope: another team's object is a 404,
never a 403.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from django.db import connection
from django.db.models import Count, F, Min, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from clusters.models import (
    AccessKey,
    Cluster,
    ClusterDraft,
    ClusterEvent,
    Connector,
    ConnectorTaskEvent,
    ManualAclBinding,
    Topic,
    TopicPartitionEvent,
)
from console.access import get_team_object_or_404, scope_to_team
from console.models import Team, User
from fleet.models import Broker, Cell, TopicMinuteUsage
from fleet.tenancy import CellTenancy

# The live throughput charts start with this much history (closed minutes).
LIVE_WINDOW = dt.timedelta(minutes=15)

# --- clusters -------------------------------------------------------------------------------


def cluster_list(*, team: Team) -> QuerySet[Cluster]:
    """The team's live clusters (deleted ones stay only for billing history), by name."""
    return scope_to_team(Cluster.objects.live().select_related("cell", "team"), team).order_by(
        "name"
    )


def cluster_get(*, team: Team, pk: int) -> Cluster:
    """One live cluster of the team; Http404 for a deleted one or another team's."""
    return get_team_object_or_404(
        Cluster.objects.live().select_related("cell", "team"), team, pk=pk
    )


def cluster_state(*, cluster_id: int) -> tuple[str, str] | None:
    """The cluster's state and its reason alone (one narrow read, for `services.state_waits`);
    None once the row is gone. Unscoped: the caller has already found it in its team."""
    return Cluster.objects.filter(pk=cluster_id).values_list("state", "state_reason").first()


# --- the create wizard's drafts -------------------------------------------------------------


def cluster_draft_get(*, team: Team, user: User, draft_id: uuid.UUID) -> ClusterDraft:
    """One of the user's wizard drafts in the team; Http404 for anyone else's."""
    draft = get_team_object_or_404(
        ClusterDraft.objects.select_related("cluster"), team, pk=draft_id
    )
    if draft.user_id != user.pk:
        raise Http404("No such draft.")
    return draft


def cluster_draft_open_get(
    *, team: Team, user: User, updated_since: dt.datetime
) -> ClusterDraft | None:
    """The user's most recent draft that made no cluster yet and was touched since then."""
    return ClusterDraft.objects.filter(
        team=team, user=user, cluster__isnull=True, updated_at__gte=updated_since
    ).first()


# --- access keys and manual ACL bindings ----------------------------------------------------


def access_key_list(
    *, cluster: Cluster, active_only: bool = False, order_by: tuple[str, ...] = ("created_at",)
) -> QuerySet[AccessKey]:
    """The cluster's access keys (revoked ones too unless `active_only`); never the keys the
    platform made for itself (the Connect worker's)."""
    keys = cluster.access_keys.filter(platform_managed=False)
    if active_only:
        keys = keys.filter(revoked_at__isnull=True)
    return keys.order_by(*order_by)


def access_key_get(*, cluster: Cluster, key_id: int) -> AccessKey:
    """One access key of the cluster (revoked or not); Http404 for any other, and for a
    platform-managed key (tenants can neither see nor edit it)."""
    try:
        return (
            cluster.access_keys.filter(platform_managed=False)
            .select_related("cluster__team", "cluster__cell")
            .get(pk=key_id)
        )
    except AccessKey.DoesNotExist as exc:
        raise Http404("No such access key in this cluster.") from exc


def manual_acl_get(*, cluster: Cluster, binding_id: int) -> ManualAclBinding:
    """One manual ACL binding of one of the cluster's keys; Http404 for any other."""
    binding = (
        ManualAclBinding.objects.filter(key__cluster=cluster, pk=binding_id)
        .select_related("key__cluster__team", "key__cluster__cell")
        .first()
    )
    if binding is None:
        raise Http404("No such manual binding in this cluster.")
    return binding


# --- throughput pages -----------------------------------------------------------------------


def throughput_recent_minutes(*, cluster: Cluster, topic: str | None = None) -> dict[str, list]:
    """The last 15 closed minutes as chart seed data: {"t": [...], "<rate key>": [...]}.

    The cluster's totals, or one topic's (short name).
    """
    end = timezone.now().replace(second=0, microsecond=0)  # the current minute is still open
    rows = TopicMinuteUsage.objects.filter(
        cluster=cluster, minute__gte=end - LIVE_WINDOW, minute__lt=end
    )
    if topic is not None:
        rows = rows.filter(topic=topic)
    totals: dict[dt.datetime, list[int]] = {}
    for minute, bytes_in, bytes_out, messages_in in rows.values_list(
        "minute", "bytes_in", "bytes_out", "messages_in"
    ):
        slot = totals.setdefault(minute, [0, 0, 0])
        slot[0] += bytes_in
        slot[1] += bytes_out
        slot[2] += messages_in
    seed: dict[str, list] = {
        "t": [],
        "bytes_in_per_sec": [],
        "bytes_out_per_sec": [],
        "messages_in_per_sec": [],
    }
    minute = end - LIVE_WINDOW
    while minute < end:
        slot = totals.get(minute, [0, 0, 0])
        # A minute's average, plotted at its middle.
        seed["t"].append(minute.timestamp() + 30)
        seed["bytes_in_per_sec"].append(round(slot[0] / 60, 2))
        seed["bytes_out_per_sec"].append(round(slot[1] / 60, 2))
        seed["messages_in_per_sec"].append(round(slot[2] / 60, 2))
        minute += dt.timedelta(minutes=1)
    return seed


def topic_is_known(*, cluster: Cluster, name: str) -> bool:
    """The cluster has (or had) this topic: a topic row, or minutes the sampler recorded."""
    return (
        Topic.objects.filter(cluster=cluster, name=name).exists()
        or TopicMinuteUsage.objects.filter(cluster=cluster, topic=name).exists()
    )


class ClusterDirectory:
    """The fleet's view of which clusters live on its cells (registered in ClustersConfig.ready;
    see fleet.tenancy): the sampler maps wire topics to clusters through it."""

    def live_namespaces(self, *, cell_ids: set[int]) -> dict[tuple[int, str], int]:
        rows = (
            Cluster.objects.live()
            .filter(cell_id__in=cell_ids)
            .values_list("pk", "cell_id", "team__slug", "name")
        )
        return {(cell_id, f"{slug}.{name}."): pk for pk, cell_id, slug, name in rows}

    def existing_tenants(self, *, tenant_ids: set[int]) -> set[int]:
        return set(Cluster.objects.filter(pk__in=tenant_ids).values_list("pk", flat=True))

    def cell_tenancy(self, *, cell_ids: set[int]) -> dict[int, CellTenancy]:
        # The same count as admission by capacity (clusters/services/capacity.py): Topic rows
        # of every cluster not deleted, partitions x replication factor.
        clusters = dict(
            Cluster.objects.live()
            .filter(cell_id__in=cell_ids)
            .values("cell_id")
            .annotate(n=Count("pk"))
            .values_list("cell_id", "n")
        )
        topics: dict[int, tuple[int, int]] = {
            cell_id: (partitions or 0, replicas or 0)
            for cell_id, partitions, replicas in Topic.objects.filter(cluster__cell_id__in=cell_ids)
            .exclude(cluster__state=Cluster.State.DELETED)
            .values("cluster__cell_id")
            .annotate(p=Sum("partitions"), r=Sum(F("partitions") * F("replication_factor")))
            .values_list("cluster__cell_id", "p", "r")
        }
        return {
            cell_id: CellTenancy(
                clusters=clusters.get(cell_id, 0),
                partitions=topics.get(cell_id, (0, 0))[0],
                replicas=topics.get(cell_id, (0, 0))[1],
            )
            for cell_id in cell_ids
        }


# --- billing's sources: ownership, lifecycle, partition history -----------------------------
# Billing reads clusters only through these (never the models): deleted clusters included,
# since their usage stays billed for the months they ran in.


class ClusterOwner(NamedTuple):
    team_id: int
    name: str


class ClusterLifecycle(NamedTuple):
    """When a cluster was activated, and deleted (None: still running)."""

    activated_at: dt.datetime
    deleted_at: dt.datetime | None


class PartitionChange(NamedTuple):
    """A topic's partition count from `occurred_at` on (0 and `deleted` after a deletion)."""

    cluster_id: int
    topic: str  # short name
    partition_count: int
    occurred_at: dt.datetime
    deleted: bool


def cluster_owners(*, team_ids: Iterable[int] | None = None) -> dict[int, ClusterOwner]:
    """Every cluster of the teams (None: of every team), deleted ones too: id → team and name."""
    clusters = Cluster.objects.all()
    if team_ids is not None:
        clusters = clusters.filter(team_id__in=list(team_ids))
    return {
        pk: ClusterOwner(team_id, name)
        for pk, team_id, name in clusters.values_list("pk", "team_id", "name")
    }


def cluster_get_including_deleted(*, team: Team, pk: int) -> Cluster:
    """One cluster of the team, live or deleted (usage pages); Http404 for another team's."""
    return get_team_object_or_404(Cluster.objects.all(), team, pk=pk)


def cluster_lifecycles(
    *, activated_before: dt.datetime, cluster_ids: Iterable[int] | None = None
) -> dict[int, ClusterLifecycle]:
    """Clusters activated before `activated_before` (only these ids, if given), with their
    activation and deletion instants from the lifecycle events (each recorded once)."""
    events = ClusterEvent.objects.filter(
        kind__in=[ClusterEvent.Kind.ACTIVATED, ClusterEvent.Kind.DELETED]
    )
    if cluster_ids is not None:
        events = events.filter(cluster_id__in=list(cluster_ids))
    activated = dict(
        events.filter(
            kind=ClusterEvent.Kind.ACTIVATED, occurred_at__lt=activated_before
        ).values_list("cluster_id", "occurred_at")
    )
    deleted = dict(
        events.filter(kind=ClusterEvent.Kind.DELETED, cluster_id__in=list(activated)).values_list(
            "cluster_id", "occurred_at"
        )
    )
    return {pk: ClusterLifecycle(at, deleted.get(pk)) for pk, at in activated.items()}


def cluster_first_activation() -> dt.datetime | None:
    """When the first cluster was activated (None: none ever was)."""
    return ClusterEvent.objects.filter(kind=ClusterEvent.Kind.ACTIVATED).aggregate(
        at=Min("occurred_at")
    )["at"]


def topic_partition_changes(
    *, cluster_ids: Iterable[int], before: dt.datetime
) -> Iterator[PartitionChange]:
    """Every change of the clusters' topics' partition counts before `before`, streamed: by
    cluster, then in the order they happened."""
    changes = (
        TopicPartitionEvent.objects.filter(cluster_id__in=list(cluster_ids), occurred_at__lt=before)
        .order_by("cluster_id", "occurred_at", "id")
        .values_list("cluster_id", "topic_name", "partition_count", "occurred_at", "kind")
    )
    for cluster_id, topic, count, occurred_at, kind in changes.iterator(chunk_size=5000):
        yield PartitionChange(
            cluster_id, topic, count, occurred_at, kind == TopicPartitionEvent.Kind.DELETED
        )


# --- connectors (issue 19) ------------------------------------------------------------------


def connector_rows(*, cluster: Cluster) -> QuerySet[Connector]:
    """The cluster's live connectors, by name (their status comes from the worker: services)."""
    return Connector.objects.live().filter(cluster=cluster).select_related("cluster__team")


def connector_get(*, cluster: Cluster, name: str) -> Connector:
    """One live connector of the cluster by name; Http404 for any other."""
    try:
        return (
            Connector.objects.live()
            .select_related("cluster__team", "cluster__cell")
            .get(cluster=cluster, name=name)
        )
    except Connector.DoesNotExist as exc:
        raise Http404("No such connector in this cluster.") from exc


class ConnectorTaskChange(NamedTuple):
    """From `occurred_at` on, `tasks` tasks of one connector of the cluster are billed."""

    cluster_id: int
    connector_id: int
    tasks: int
    occurred_at: dt.datetime


def connector_task_changes(
    *, cluster_ids: Iterable[int], before: dt.datetime
) -> Iterator[ConnectorTaskChange]:
    """Every change of the clusters' connectors' billed task counts before `before`, by
    connector, in the order they happened (billing's source of task-hours)."""
    changes = (
        ConnectorTaskEvent.objects.filter(cluster_id__in=list(cluster_ids), occurred_at__lt=before)
        .order_by("connector_id", "occurred_at", "id")
        .values_list("cluster_id", "connector_id", "tasks", "occurred_at")
    )
    for cluster_id, connector_id, tasks, occurred_at in changes.iterator(chunk_size=5000):
        yield ConnectorTaskChange(cluster_id, connector_id, tasks, occurred_at)


# --- admission by capacity ------------------------------------------------------------------


class CellRoom(NamedTuple):
    """A healthy, open cell's serving brokers and the partition replicas its tenants hold."""

    cell_id: int
    serving_brokers: int
    replicas: int


def open_cell_rooms() -> list[CellRoom]:
    """Every healthy cell that is open to new clusters, with what its room is computed from, in
    one query: the check every create makes before anything is written
    (clusters.services.capacity.check_fleet_room_for_cluster). The same counts as placement's
    (fleet.selectors.cell_loads): brokers not unregistered, and the Topic rows of every cluster
    not deleted, partitions x replication factor.

    In SQL, because Django took 2.4 ms of CPU to build this query each time (its annotations
    and subqueries), about a fifth of a create's request, for a query SQLite answers in
    0.1 ms (issue 20: 20 creates at once). Table and column names come from the models.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            _open_cell_rooms_sql(),
            [
                Broker.State.UNREGISTERED,
                Cluster.State.DELETED,
                Cell.State.HEALTHY,
                Cell.Admission.OPEN,
            ],
        )
        return [CellRoom(pk, serving, held) for pk, serving, held in cursor.fetchall()]


@functools.cache
def _open_cell_rooms_sql() -> str:
    def name(model, field: str | None = None) -> str:
        meta = model._meta
        return connection.ops.quote_name(meta.get_field(field).column if field else meta.db_table)

    # Only identifiers from the models are put in the text; every value is a parameter.
    return (  # noqa: S608
        "SELECT c.{cell_id},"
        " (SELECT COUNT(*) FROM {broker} b WHERE b.{broker_cell} = c.{cell_id}"
        "  AND b.{broker_state} <> %s),"
        " (SELECT COALESCE(SUM(t.{partitions} * t.{factor}), 0) FROM {topic} t"
        "  JOIN {cluster} k ON t.{topic_cluster} = k.{cluster_id}"
        "  WHERE k.{cluster_cell} = c.{cell_id} AND k.{cluster_state} <> %s)"
        " FROM {cell} c WHERE c.{cell_state} = %s AND c.{cell_admission} = %s"
        " ORDER BY c.{cell_id}"
    ).format(
        cell=name(Cell),
        broker=name(Broker),
        topic=name(Topic),
        cluster=name(Cluster),
        **{
            placeholder: name(model, field)
            for placeholder, model, field in (
                ("cell_id", Cell, "id"),
                ("cell_state", Cell, "state"),
                ("cell_admission", Cell, "admission"),
                ("broker_cell", Broker, "cell"),
                ("broker_state", Broker, "state"),
                ("topic_cluster", Topic, "cluster"),
                ("partitions", Topic, "partitions"),
                ("factor", Topic, "replication_factor"),
                ("cluster_id", Cluster, "id"),
                ("cluster_cell", Cluster, "cell"),
                ("cluster_state", Cluster, "state"),
            )
        },
    )
