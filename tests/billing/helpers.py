"""Shared set-ups for the billing page, API and export tests."""

from __future__ import annotations

import uuid

from django.test import Client
from rest_framework.test import APIClient

from billing.models import Invoice
from billing.periods import parse_month
from billing.services.invoices import close_month
from console.access import SESSION_TEAM_KEY
from console.models import Role
from console.services.teams import api_token_create
from tests.billing.sources import GIB, at, billed_cluster, minute_row, partitions
from tests.factories import MembershipFactory

NOV = parse_month("2026-11")
CLOSE_AT = at("2026-12-01 01:30")


def member(role: str = Role.BILLING, team=None, **user):
    users = {f"user__{k}": v for k, v in user.items()}
    if team is None:
        return MembershipFactory(team__slug=f"t{uuid.uuid4().hex[:8]}", role=role, **users)
    return MembershipFactory(team=team, role=role, **users)


def browser(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    session = client.session
    session[SESSION_TEAM_KEY] = membership.team_id
    session.save()
    return client


def api_for(membership) -> APIClient:
    _, raw = api_token_create(user=membership.user, team=membership.team, name="billing-test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def november_usage(team, name: str = "orders", *, topics=("events",)):
    """A cluster of `team` active the last four hours of November, with traffic and storage."""
    cluster = billed_cluster("2026-11-30 20:00", team=team, name=name)
    for i, topic in enumerate(topics, start=1):
        partitions(cluster, topic, "2026-11-30 20:00", 10 * i)
        minute_row(
            cluster,
            topic,
            "2026-11-30 21:00",
            bytes_in=4 * i * GIB,
            bytes_out=8 * i * GIB,
            storage=2 * i * GIB,
        )
    return cluster


def closed_november(*teams) -> list[Invoice]:
    """Each team's November invoice, finalized by the month close (numbers in team order)."""
    for team in teams:
        if not team.clusters.exists():
            november_usage(team)
    close_month(NOV, now=CLOSE_AT)
    return [Invoice.objects.get(team=team, period=NOV) for team in teams]
