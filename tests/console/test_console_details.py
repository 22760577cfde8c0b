"""Smaller things a person meets (issue 16, item 10): quotas with units, the audit log's
before/after as a table, a team made in the platform admin is audited, invoices refuse an
unknown status filter, the invoice PDF's header cells do not run into each other."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from billing.services.exports import invoice_pdf
from clusters.templatetags.cluster_format import quota_value
from console.audit import audit_record
from console.models import AuditEvent, Role, Team
from tests.billing.factories import draft_with_lines
from tests.billing.helpers import api_for, browser, member
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "name", "shown"),
    [
        (66666666, "producer_byte_rate", "63.6 MiB/s"),
        (1048576.0, "consumer_byte_rate", "1.0 MiB/s"),
        (512, "producer_byte_rate", "512 B/s"),
        (200.0, "request_percentage", "200 %"),
        (10.0, "controller_mutation_rate", "10/s"),
        (None, "producer_byte_rate", "—"),
    ],
)
def test_quotas_are_shown_with_units(value, name, shown):
    assert quota_value(value, name) == shown


def test_the_audit_log_shows_a_change_as_a_small_table(client):
    membership = MembershipFactory(role=Role.OWNER)
    audit_record(
        team=membership.team,
        action="topic.update_configs",
        target_type="topic",
        target_repr="orders",
        before={"retention.ms": "604800000", "cleanup.policy": "delete"},
        after={"retention.ms": "86400000", "cleanup.policy": "delete"},
    )
    client.force_login(membership.user)
    body = client.get(reverse("team_audit")).content.decode()
    assert "{&#x27;" not in body and "{'" not in body  # no Python dict
    assert 'class="table table-sm table-borderless mb-0 skiff-audit-change"' in body
    assert "retention.ms" in body and "604800000" in body and "86400000" in body
    assert "cleanup.policy" not in body  # unchanged: left out


def test_a_team_made_in_the_platform_admin_leaves_an_audit_event():
    staff = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    response = client.post(
        reverse("admin:console_team_add"),
        {
            "name": "Made by hand",
            "slug": "made-by-hand",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    team = Team.objects.get(slug="made-by-hand")
    event = AuditEvent.objects.get(team=team, action="team.create")
    assert event.actor_user == staff
    assert event.after["via"] == "platform admin"


def test_an_unknown_invoice_status_is_a_400_on_the_page_and_in_the_api():
    membership = member(Role.BILLING)
    page = browser(membership).get(reverse("billing:invoices") + "?status=bogus")
    assert page.status_code == 400
    assert "No invoice status &#x27;bogus&#x27;" in page.content.decode()
    assert browser(membership).get(reverse("billing:invoices") + "?status=draft").status_code == 200
    api = api_for(membership).get("/api/v1/invoices/?status=bogus")
    assert api.status_code == 400, api.content


def test_the_invoice_pdf_header_cells_stay_in_their_columns():
    invoice = draft_with_lines(TeamFactory(), {})
    reader = PdfReader(io.BytesIO(invoice_pdf(invoice)))
    spans: list[tuple[str, float]] = []

    def visit(text, cm, tm, font, size):
        if text.strip():
            spans.append((text.strip(), tm[4] * cm[0] + tm[5] * cm[2] + cm[4]))

    text = reader.pages[0].extract_text(visitor_text=visit)
    assert "Unit priceAmount" not in text
    x = {t: pos for t, pos in spans}
    assert "Unit price" in x and any(t.startswith("Amount") for t in x), spans[:40]
    amount_x = next(pos for t, pos in spans if t.startswith("Amount"))
    # "Unit price" is 8 pt bold, ~40 pt wide: it must end before the amount heading starts.
    assert x["Unit price"] + 40 <= amount_x + 1, (x["Unit price"], amount_x)
