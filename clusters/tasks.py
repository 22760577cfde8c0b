"""Celery tasks: ids in, services do the work, safe to run twice."""

from celery import shared_task

from clusters.services.provisioning import delete_cluster, provision_cluster


@shared_task(acks_late=True)
def provision_cluster_task(cluster_id: int) -> None:
    provision_cluster(cluster_id=cluster_id)


@shared_task(acks_late=True)
def delete_cluster_task(cluster_id: int) -> None:
    delete_cluster(cluster_id=cluster_id)
