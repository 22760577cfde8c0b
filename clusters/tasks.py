"""Celery tasks: ids in, services do the work, safe to run twice."""

from celery import shared_task

from clusters.services.access.reconcile import reconcile_all_access
from clusters.services.list_refresh import refresh_lists
from clusters.services.provisioning import delete_cluster, provision_cluster
from clusters.services.topic_sync import sync_all_topics


@shared_task(acks_late=True)
def provision_cluster_task(cluster_id: int) -> None:
    provision_cluster(cluster_id=cluster_id)


@shared_task(acks_late=True)
def delete_cluster_task(cluster_id: int) -> None:
    delete_cluster(cluster_id=cluster_id)


@shared_task(acks_late=True)
def reconcile_access_task() -> None:
    """Periodic: every key's ACLs and quotas on its cell equal what Skiff says (drift repair)."""

    reconcile_all_access()


@shared_task(acks_late=True)
def sync_topics_task() -> None:
    """Import topics created, grown or deleted over the Kafka protocol (billing, limits)."""

    sync_all_topics()


@shared_task(acks_late=True)
def refresh_lists_task() -> None:
    """Periodic: read the topic and consumer-group lists of clusters viewed lately, so that no
    page waits for a bulk read of the cell (issue 20)."""
    refresh_lists()
