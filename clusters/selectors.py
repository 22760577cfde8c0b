"""Cluster reads for pages and the API: always scoped to a team (or to one of its clusters).

Writes live in `clusters.services`; these functions only build querysets and fetch rows. A
`*_get` raises Http404 when the row is not in the given scope: another team's object is a 404,
never a 403.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from clusters.models import AccessKey, Cluster, ClusterDraft, ManualAclBinding, Topic
from console.access import get_team_object_or_404, scope_to_team
from console.models import Team, User
from fleet.models import TopicMinuteUsage

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
    """The cluster's access keys (revoked ones too unless `active_only`)."""
    keys = cluster.access_keys.all()
    if active_only:
        keys = keys.filter(revoked_at__isnull=True)
    return keys.order_by(*order_by)


def access_key_get(*, cluster: Cluster, key_id: int) -> AccessKey:
    """One access key of the cluster (revoked or not); Http404 for any other."""
    try:
        return cluster.access_keys.select_related("cluster__team", "cluster__cell").get(pk=key_id)
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
