"""Provisioning and deletion of serverless clusters on a cell: idempotent, compensated steps.

A cluster's whole footprint on its cell is derivable from the database (its keys' usernames and
its wire prefix), so compensation does not track what each step did: on any failure
`remove_cluster_footprint` deletes everything of that cluster on the cell, which is also the
core of deletion. Each step is safe to re-run (upserts and idempotent creates).
"""

import logging
import threading
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from clusters.models import AccessKey, Cluster, ClusterEvent
from clusters.selectors import open_cell_rooms
from clusters.services.access.policy import PolicyInvalid
from clusters.services.access.reconcile import (
    clusters_with_worker,
    key_desired_acls,
    key_desired_quotas,
)
from clusters.services.capacity import room_free_partitions
from clusters.services.cells import cluster_cell
from clusters.services.sealing import unseal
from clusters.services.state_waits import cluster_settled
from console.errors import ApplicationError
from fleet.kafka.errors import KafkaGatewayError
from fleet.kafka.platform import PlatformSuperuser, platform_superuser
from fleet.kafka.quotas import QUOTA_KEYS
from fleet.models import Cell
from fleet.selectors import NEW_CLUSTER_PARTITIONS, placement_candidates

logger = logging.getLogger(__name__)


class ProvisioningError(ApplicationError):
    """A step failed with a message a user can act on (503: the platform could not do it)."""

    status = 503
    code = "provisioning_failed"


# --- placement ------------------------------------------------------------------------------


def least_loaded_healthy_cell() -> Cell:
    """The open, healthy cell with the most headroom (fleet.selectors.placement_candidates:
    free partitions, then bytes stored, then ingress). Draining and closed cells take none.

    The rooms come first from one query (open_cell_rooms, the same eligibility): the ranking
    is read only when several cells have room, the only case where it ranks anything (issue 20).
    """
    rooms = open_cell_rooms()
    with_room = [r for r in rooms if room_free_partitions(r) >= NEW_CLUSTER_PARTITIONS]
    if len(with_room) == 1:
        return Cell.objects.get(pk=with_room[0].cell_id)
    if with_room:
        candidates = placement_candidates(usage=None)  # usage only to rank several cells
        chosen = next((c for c in candidates if c.eligible), None)
        if chosen is not None:
            return chosen.cell
    if rooms:
        # Admission by capacity (issue 13): open, healthy cells exist but none has room.
        raise ProvisioningError(
            "Every healthy Kafka cell is at its partition capacity. The platform team has been "
            "told; retry later."
        )
    raise ProvisioningError(
        "No healthy Kafka cell is available. The platform team has been told; retry later."
    )


# --- steps ----------------------------------------------------------------------------------


def step_place_on_cell(cluster: Cluster) -> None:
    if cluster.cell_id is None:
        cluster.cell = least_loaded_healthy_cell()
    # One write with the progress: on SQLite each write waits for the one write lock, which
    # 20 creates at once share (issue 20).
    cluster.progress = "placed on a cell"
    cluster.save(update_fields=["cell", "progress", "updated_at"])


def step_create_keys(cluster: Cluster, superuser: PlatformSuperuser) -> None:
    for key in _active_keys(cluster):
        secret = unseal(key.sealed_secret)
        if secret is None:
            # The secret was wiped after the user saw it, so the SCRAM user exists already.
            if not superuser.existing_scram_users([key.username]):
                raise ProvisioningError(
                    f"Access key '{key.name}' has no secret left to create; delete this "
                    "cluster and create it again."
                )
            continue
        superuser.create_scram_user(key.username, secret)  # an upsert: safe to repeat


def step_apply_acls(cluster: Cluster, superuser: PlatformSuperuser) -> None:
    """Every key's policy compiled to ACLs and created on the cell, in one request.

    No listing first: the keys are new (their usernames are unique) and creating a binding that
    exists already is a no-op, so a retry is safe; anything extra is the periodic reconciler's
    (access.reconcile), as for any key.
    """
    desired = sorted({b for key in _active_keys(cluster) for b in key_desired_acls(key)})
    if desired:
        superuser.create_acls(desired)


def step_set_quotas(cluster: Cluster, superuser: PlatformSuperuser) -> None:
    """Every key's client quotas set, in one request (setting a value twice is harmless)."""
    wanted: dict[str | None, dict[str, float | None]] = {
        key.username: dict(key_desired_quotas(key)) for key in _active_keys(cluster)
    }
    superuser.alter_many_user_quotas(wanted)


def step_activate(cluster: Cluster) -> None:
    _activate_together([cluster.pk])
    cluster.refresh_from_db(fields=["state", "state_reason", "progress", "updated_at"])


def provision_cluster(*, cluster_id: int) -> Cluster:
    """CREATING → ACTIVE, or FAILED with a reason and nothing of the cluster left on the cell.

    Provisionings asked for in this process while another runs are run together next
    (`_together`, `provision_clusters`); a create on its own waits for nothing.
    """
    _together.run(cluster_id)
    return Cluster.objects.select_related("team", "cell").get(pk=cluster_id)


def provision_clusters(*, cluster_ids: Collection[int]) -> None:
    """`provision_cluster` for several clusters with one request of each kind per cell.

    20 creates at once (issue 20, goal 4) would otherwise make 20 SCRAM, ACL and quota
    requests, 20 rewrites of the cell's PLAIN file and about 100 write transactions, which on
    SQLite all queue for one lock. Together: three requests sent at once, one rewrite and two
    or three writes.

    If any shared step fails, each cluster is provisioned again on its own (every step is
    idempotent), so a cluster fails only for its own reason, alone, and is cleaned up alone.
    """
    clusters = list(
        Cluster.objects.select_related("team", "cell")
        .filter(pk__in=cluster_ids, state=Cluster.State.CREATING)
        .order_by("pk")
    )
    if len(clusters) > 1:
        try:
            _provision_together(clusters)
            return
        except (ProvisioningError, KafkaGatewayError, OSError, PolicyInvalid) as exc:
            logger.info(
                "provisioning %s clusters together failed (%s): one by one", len(clusters), exc
            )
    for cluster in clusters:
        cluster.refresh_from_db()
        _provision_one(cluster)


def _provision_together(clusters: list[Cluster]) -> None:
    unplaced = [c.pk for c in clusters if c.cell_id is None]
    now = timezone.now()
    if unplaced:
        # One placement for all: the ranking cannot change between clusters that hold nothing.
        cell = least_loaded_healthy_cell()
        Cluster.objects.filter(pk__in=unplaced).update(
            cell=cell, progress="placed on a cell", updated_at=now
        )
        for cluster in clusters:
            if cluster.cell_id is None:
                cluster.cell = cell
    by_cell: dict[int, list[Cluster]] = {}
    for cluster in clusters:
        by_cell.setdefault(cluster.cell_id, []).append(cluster)  # type: ignore[arg-type]
    for group in by_cell.values():
        ids = [c.pk for c in group]
        cell = cluster_cell(group[0])
        superuser = platform_superuser(cell)
        workers = clusters_with_worker(cell)  # one query, not one per key
        keys = list(
            AccessKey.objects.filter(cluster_id__in=ids, revoked_at__isnull=True)
            .select_related("cluster__team", "cluster__cell")
            .prefetch_related("manual_acls")  # one query for every key's, not one per key
            .order_by("id")
        )
        desired = sorted(
            {b for key in keys for b in key_desired_acls(key, worker_clusters=workers)}
        )
        brokers = cell.brokers.count()  # once for the cell, not once per key
        quotas: dict[str | None, Mapping[str, float | None]] = {
            key.username: dict(key_desired_quotas(key, brokers=brokers)) for key in keys
        }
        # The three requests at once: each is a metadata write the controller commits, and
        # together they share its commits. No order is needed between them: a key with ACLs
        # but no credential cannot sign in, and one with a credential but no ACLs may do
        # nothing (the cell denies what no ACL allows); the cluster is ACTIVE only after all.
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="skiff-provision") as pool:
            calls = [
                pool.submit(_create_keys_together, keys, superuser),
                pool.submit(superuser.alter_many_user_quotas, quotas),
            ]
            if desired:
                calls.append(pool.submit(superuser.create_acls, desired))
            for call in calls:
                call.result()  # the first failure, after every call has ended
        _activate_together(ids)


def _create_keys_together(keys: list[AccessKey], superuser: PlatformSuperuser) -> None:
    secrets_by_user: dict[str, str] = {}
    wiped: list[str] = []
    for key in keys:
        secret = unseal(key.sealed_secret)
        if secret is None:
            wiped.append(key.username)
        else:
            secrets_by_user[key.username] = secret
    if wiped and set(wiped) - superuser.existing_scram_users(wiped):
        # One by one, the cluster whose key has neither names itself (step_create_keys).
        raise ProvisioningError("An access key has no secret left to create.")
    superuser.create_scram_users(secrets_by_user)


def _activate_together(cluster_ids: list[int]) -> None:
    now = timezone.now()
    with transaction.atomic():
        # The SCRAM users exist now: the sealed secrets have done their job.
        AccessKey.objects.filter(cluster_id__in=cluster_ids).exclude(sealed_secret="").update(
            sealed_secret=""
        )
        activated = set(
            ClusterEvent.objects.filter(
                cluster_id__in=cluster_ids, kind=ClusterEvent.Kind.ACTIVATED
            ).values_list("cluster_id", flat=True)
        )
        ClusterEvent.objects.bulk_create(
            ClusterEvent(cluster_id=pk, kind=ClusterEvent.Kind.ACTIVATED, occurred_at=now)
            for pk in cluster_ids
            if pk not in activated
        )
        Cluster.objects.filter(pk__in=cluster_ids, state=Cluster.State.CREATING).update(
            state=Cluster.State.ACTIVE, state_reason="", progress="active", updated_at=now
        )
        for pk in cluster_ids:
            cluster_settled(pk)


class _GroupCommit:
    """Runs `provision_clusters` for the provisionings asked for while one runs, together.

    The first caller runs its cluster at once; callers arriving meanwhile wait, and when it
    ends the next of them runs every waiting cluster in one batch (a group commit). So a
    batch grows only with the load, and no create ever waits for a batch to fill.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._waiting: list[_Ticket] = []
        self._running = False

    def run(self, cluster_id: int) -> None:
        ticket = _Ticket(cluster_id)
        with self._changed:
            self._waiting.append(ticket)
            while self._running and not ticket.done:
                self._changed.wait()
            if ticket.done:
                if ticket.error is not None:
                    raise ticket.error
                return
            self._running = True
            batch, self._waiting = self._waiting, []
        error: BaseException | None = None
        try:
            provision_clusters(cluster_ids=[t.cluster_id for t in batch])
        except BaseException as exc:  # each waiter's task records it as its own failure
            error = exc
            raise
        finally:
            with self._changed:
                for waiting in batch:
                    waiting.done, waiting.error = True, error
                self._running = False
                self._changed.notify_all()


@dataclass
class _Ticket:
    cluster_id: int
    done: bool = False
    error: BaseException | None = None


_together = _GroupCommit()


def _provision_one(cluster: Cluster) -> None:
    if cluster.state != Cluster.State.CREATING:
        return  # a duplicate or late task: nothing to do
    superuser: PlatformSuperuser | None = None
    try:
        step_place_on_cell(cluster)
        superuser = platform_superuser(cluster_cell(cluster))
        step_create_keys(cluster, superuser)
        _record_progress(cluster, "access key created")
        step_apply_acls(cluster, superuser)
        _record_progress(cluster, "ACLs applied")
        step_set_quotas(cluster, superuser)
        step_activate(cluster)  # at once: no "quotas set" progress written in between
    except (ProvisioningError, KafkaGatewayError, OSError, PolicyInvalid) as exc:
        _fail(cluster, exc, superuser)


def _fail(cluster: Cluster, exc: Exception, superuser: PlatformSuperuser | None) -> None:
    reason = _user_message(exc)
    logger.warning("provisioning of cluster %s failed: %s", cluster.pk, reason)
    if cluster.cell_id is not None:
        try:
            remove_cluster_footprint(
                cluster, superuser or platform_superuser(cluster_cell(cluster))
            )
        except (KafkaGatewayError, OSError) as cleanup_exc:
            reason += (
                " Cleaning up on the cell also failed "
                f"({_user_message(cleanup_exc)}); Retry or Delete will finish it."
            )
    cluster.state = Cluster.State.FAILED
    cluster.state_reason = reason
    cluster.save(update_fields=["state", "state_reason", "updated_at"])
    ClusterEvent.objects.create(
        cluster=cluster, kind=ClusterEvent.Kind.FAILED, occurred_at=timezone.now(), detail=reason
    )
    cluster_settled(cluster.pk)


# --- removal --------------------------------------------------------------------------------


def remove_cluster_footprint(
    cluster: Cluster, superuser: PlatformSuperuser, *, include_data: bool = False
) -> None:
    """Remove the cluster's keys (ACLs, quotas, credentials) and, with data, topics and groups.

    Matches by the keys' usernames and the wire prefix, so it never touches another tenant.
    Credentials are revoked (overwritten with a discarded random secret), not deleted: on Kafka
    4.3.1 deleting a SCRAM credential can make a restarted broker refuse every login
    (see gateway.revoke_scram_user).
    """
    usernames = sorted(set(cluster.access_keys.values_list("username", flat=True)))
    prefix = cluster.wire_prefix
    # Read per principal, not the whole cell: the cost stays the cluster's own as the cell
    # fills with other tenants' bindings.
    bindings = [b for u in usernames for b in superuser.describe_acls(f"User:{u}")]
    if bindings:
        superuser.delete_acls(bindings)
    if usernames:
        superuser.alter_many_user_quotas({u: dict.fromkeys(QUOTA_KEYS) for u in usernames})
    for username in usernames:
        superuser.revoke_scram_user(username)  # asks about this user only (and PLAIN's file)
    if include_data:
        groups = [group for group in superuser.list_consumer_groups() if group.startswith(prefix)]
        superuser.delete_consumer_groups(groups)
        for topic in superuser.list_topics():
            if topic.startswith(prefix):
                superuser.delete_topic(topic, missing_ok=True)


def delete_cluster(*, cluster_id: int) -> Cluster:
    """DELETING → DELETED once nothing of the cluster is left on its cell; else a reason."""
    cluster = Cluster.objects.select_related("team", "cell").get(pk=cluster_id)
    if cluster.state != Cluster.State.DELETING:
        return cluster
    try:
        if cluster.cell_id is not None:
            remove_cluster_footprint(
                cluster, platform_superuser(cluster_cell(cluster)), include_data=True
            )
    except (KafkaGatewayError, OSError) as exc:
        cluster.state_reason = (
            f"Deletion is incomplete: {_user_message(exc)} Delete again to retry."
        )
        cluster.save(update_fields=["state_reason", "updated_at"])
        cluster_settled(cluster.pk)  # still DELETING, but a held request should see the reason
        return cluster
    now = timezone.now()
    with transaction.atomic():
        AccessKey.objects.filter(cluster=cluster, revoked_at__isnull=True).update(
            revoked_at=now, sealed_secret=""
        )
        ClusterEvent.objects.get_or_create(
            cluster=cluster, kind=ClusterEvent.Kind.DELETED, defaults={"occurred_at": now}
        )
        cluster.state = Cluster.State.DELETED
        cluster.state_reason = ""
        cluster.deleted_at = now
        cluster.save(update_fields=["state", "state_reason", "deleted_at", "updated_at"])
        cluster_settled(cluster.pk)
    return cluster


# --- helpers --------------------------------------------------------------------------------


def _active_keys(cluster: Cluster):
    return (
        cluster.access_keys.filter(revoked_at__isnull=True)
        .select_related("cluster__team", "cluster__cell")
        .order_by("id")
    )


def _record_progress(cluster: Cluster, progress: str) -> None:
    cluster.progress = progress
    cluster.save(update_fields=["progress", "updated_at"])


def _user_message(exc: Exception) -> str:
    if isinstance(exc, KafkaGatewayError):
        return exc.message
    if isinstance(exc, OSError):
        return f"The cell's credentials could not be read ({exc.strerror or exc})."
    if isinstance(exc, PolicyInvalid):
        return "The access policy of a key is invalid: " + " ".join(exc.messages)
    return str(exc)
