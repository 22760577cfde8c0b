"""Every list links to its objects (issue 16), and the topic list's numbers are fresh and dated.

A person opens a cluster, a topic, a key, a consumer group or an invoice by clicking its row's
name: each test reads a rendered list page and checks that every row's name is a link to that
object's detail URL. Members have no page of their own: a member's row carries the controls
that act on that member.
"""

from __future__ import annotations

import html
import re
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import Invoice
from clusters.services import topics as topic_services
from clusters.services.list_refresh import refresh_lists
from console.models import Role
from tests.billing.factories import draft_with_lines
from tests.clusters.access_helpers import active_cluster, new_member
from tests.factories import ClusterFactory, MembershipFactory
from tests.fleet.kafka import gateway


def row_links(page: str, table_label: str | None = None) -> list[tuple[str, str]]:
    """(href, text) of the first link of every body row of the page's (or a labelled) table."""
    if table_label:
        found = re.search(
            rf'<table[^>]*aria-label="{re.escape(table_label)}"[^>]*>(.*?)</table>', page, re.S
        )
    else:
        found = re.search(r"<table[^>]*>(.*?)</table>", page, re.S)
    assert found, f"no table {table_label or ''} on the page"
    body = re.search(r"<tbody>(.*?)</tbody>", found.group(1), re.S)
    assert body, "the table has no body"
    links = []
    for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S):
        link = re.search(r'<a href="([^"]+)"[^>]*>(.*?)</a>', row, re.S)
        assert link, f"a row without a link: {row[:300]}"
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", link.group(2))).split())
        links.append((html.unescape(link.group(1)), text))
    return links


@pytest.mark.django_db
def test_the_cluster_list_links_every_cluster(client):
    member = MembershipFactory(role=Role.VIEWER)
    clusters = [ClusterFactory(team=member.team, name=n) for n in ("alpha", "beta")]
    client.force_login(member.user)
    links = row_links(client.get(reverse("home")).content.decode())
    assert links == [(reverse("clusters:detail", args=[c.pk]), c.name) for c in clusters]


@pytest.mark.django_db
def test_the_invoice_list_links_every_invoice(client):
    member = MembershipFactory(role=Role.BILLING)
    invoice = draft_with_lines(member.team, {})
    Invoice.objects.filter(pk=invoice.pk).update(computed_at=timezone.now())
    client.force_login(member.user)
    links = row_links(client.get(reverse("billing:invoices")).content.decode())
    assert links == [(reverse("billing:invoice_detail", args=[invoice.pk]), "Draft 2026-11")]


@pytest.mark.django_db
def test_a_members_row_acts_on_that_member(client):
    owner = MembershipFactory(role=Role.OWNER)
    other = MembershipFactory(team=owner.team, role=Role.DEVELOPER)
    client.force_login(owner.user)
    page = client.get(reverse("team_members")).content.decode()
    row = re.search(rf"<tr>(?:(?!</tr>).)*{re.escape(other.user.email)}.*?</tr>", page, re.S)
    assert row, "no row for the member"
    for name in ("team_member_role", "team_member_remove", "team_member_transfer"):
        assert f'action="{reverse(name, args=[other.pk])}"' in row.group(0), name


def test_topics_groups_and_keys_link_and_the_topic_list_is_fresh_and_dated(
    cell, client, admin_connection, django_capture_on_commit_callbacks, monkeypatch, settings
):
    member = new_member("links")
    cluster, key, _secret = active_cluster(member, django_capture_on_commit_callbacks)
    topic_services.topic_create(cluster=cluster, name="events", partitions=2)
    client.force_login(member.user)
    base = reverse("clusters:topics", args=[cluster.pk])

    # Freshness windows shortened so the test need not wait a minute; the rule is the same:
    # past the window the background refresh (issue 20) reads the list again, and the next
    # view shows the new numbers with their new time.
    settings.SKIFF_LISTS_REFRESH = 1.0
    monkeypatch.setattr(topic_services, "SIZES_SECONDS", 1.0)
    before = client.get(base).content.decode()
    assert row_links(before, "Topics") == [
        (reverse("clusters:topic_detail", args=[cluster.pk, "events"]), "events")
    ]
    assert re.search(r"messages as of \d\d:\d\d:\d\d UTC", before)

    wire = f"{cluster.wire_prefix}events"
    assert gateway.produce(admin_connection, wire, [b"x" * 100] * 600) == 600
    gateway.consume(admin_connection, wire, group_id=f"{cluster.wire_prefix}readers", timeout=30)
    viewed = time.monotonic()
    deadline = viewed + 30
    while time.monotonic() - viewed < 1.5:  # past the (shortened) window, then one view
        assert time.monotonic() < deadline
        time.sleep(0.1)
    refreshed = refresh_lists()  # as the scheduler runs it every few seconds
    assert cluster.pk in refreshed.refreshed.get("topics", []), refreshed
    after = client.get(base).content.decode()
    row = re.search(r"<tr>\s*<td><a [^>]*>events</a>.*?</tr>", after, re.S).group(0)
    cells = [
        html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
        for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]
    assert "600" in cells, cells  # messages
    assert not any(c in ("0 bytes", "0\xa0bytes") for c in cells), cells

    groups = client.get(reverse("clusters:groups", args=[cluster.pk])).content.decode()
    assert (
        reverse("clusters:group_detail", args=[cluster.pk, "readers"]),
        "readers",
    ) in row_links(groups)

    access = client.get(reverse("clusters:access", args=[cluster.pk])).content.decode()
    assert (
        reverse("clusters:key_detail", args=[cluster.pk, key.pk]),
        key.name,
    ) in row_links(access)


def test_a_group_id_with_a_slash_links_and_opens(
    cell, client, admin_connection, django_capture_on_commit_callbacks
):
    """Kafka allows any character in a group id: "team/app?v=2#x" gets a working row link, a
    topic page that lists it, an API detail at its escaped URL, and its delete action."""
    from urllib.parse import quote

    from rest_framework.test import APIClient

    from console.services.teams import api_token_create

    member = new_member("slash")
    cluster, _key, _secret = active_cluster(member, django_capture_on_commit_callbacks)
    topic_services.topic_create(cluster=cluster, name="events", partitions=1)
    wire = f"{cluster.wire_prefix}events"
    group = "team/app?v=2#x"
    assert gateway.produce(admin_connection, wire, [b"m"] * 3) == 3
    gateway.consume(admin_connection, wire, group_id=f"{cluster.wire_prefix}{group}", timeout=30)
    client.force_login(member.user)

    listing = client.get(reverse("clusters:groups", args=[cluster.pk])).content.decode()
    href = next((h for h, text in row_links(listing) if text == group), None)
    assert href is not None, row_links(listing)
    detail = client.get(href)
    assert detail.status_code == 200, detail.content[:300]
    assert group in html.unescape(detail.content.decode())
    topic_page = client.get(reverse("clusters:topic_detail", args=[cluster.pk, "events"]))
    assert topic_page.status_code == 200
    assert reverse("clusters:group_detail", args=[cluster.pk, group]) in html.unescape(
        topic_page.content.decode()
    )

    _, raw = api_token_create(user=member.user, team=member.team, name="t")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    url = f"/api/v1/clusters/{cluster.pk}/consumer-groups/{quote(group, safe='')}/"
    answer = api.get(url)
    assert answer.status_code == 200, answer.content[:300]
    assert answer.json()["group"] == group
    deleted = client.post(reverse("clusters:group_delete", args=[cluster.pk, group]))
    assert deleted.status_code == 302, deleted.content[:300]
    assert api.get(url).status_code == 404
