"""Celery tasks of billing: each one is safe to run twice, late, or at the same time as itself."""

from celery import shared_task
from django.utils import timezone

from billing.periods import month_of
from billing.services.invoices import closable_month, close_month, recompute_drafts
from billing.services.rollup import reconcile_recent_usage, rollup_pending


@shared_task(acks_late=True)
def rollup_usage_task() -> int:
    """Periodic: usage records for every closed hour not rolled up yet (and recent ones again)."""

    return len(rollup_pending())


@shared_task(acks_late=True)
def reconcile_usage_task() -> int:
    """Periodic (daily): the last 24 closed hours recomputed from the sources; repairs counted."""

    _hours, stats = reconcile_recent_usage()
    return stats.created + stats.changed + stats.removed


@shared_task(acks_late=True)
def recompute_drafts_task() -> int:
    """Periodic (daily): this month's draft invoices from the usage so far."""

    return recompute_drafts(month_of(timezone.now()))


@shared_task(acks_late=True)
def close_month_task() -> int:
    """Periodic: once last month's grace period is over, finalize its invoices (once)."""

    period = closable_month(timezone.now())
    if period is None:
        return 0
    return close_month(period).finalized
