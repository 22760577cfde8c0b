"""Finance's moves after finalization, from the Django admin (platform staff only)."""

import pytest

from billing.models import Invoice
from billing.periods import parse_month
from billing.services.invoices import close_month
from console.models import AuditEvent
from tests.billing.sources import GIB, at, billed_cluster, minute_row
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
NOV = parse_month("2026-11")


@pytest.fixture
def finalized():
    cluster = billed_cluster("2026-11-30 22:00", name="adm")
    minute_row(cluster, "t", "2026-11-30 22:10", bytes_in=GIB)
    close_month(NOV, now=at("2026-12-01 02:00"))
    return Invoice.objects.get(team=cluster.team)


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def act(client, action, invoice):
    return client.post(
        "/admin/billing/invoice/",
        {"action": action, "_selected_action": [invoice.pk]},
        follow=True,
    )


def test_staff_mark_paid_then_void_and_the_replacement_is_a_draft(staff_client, finalized):
    page = staff_client.get(f"/admin/billing/invoice/{finalized.pk}/change/")
    assert page.status_code == 200 and finalized.number in page.content.decode()

    act(staff_client, "mark_paid_action", finalized)
    finalized.refresh_from_db()
    assert finalized.status == "paid" and finalized.paid_at is not None

    response = act(staff_client, "mark_paid_action", finalized)  # twice: refused, unchanged
    assert "Only a finalized invoice can be marked paid" in response.content.decode()

    act(staff_client, "void_action", finalized)
    finalized.refresh_from_db()
    assert finalized.status == "void" and finalized.number == "SKF-2026-000001"
    replacement = Invoice.objects.get(replaces=finalized)
    assert replacement.status == "draft" and replacement.subtotal == finalized.subtotal
    assert list(
        AuditEvent.objects.filter(target_id=str(finalized.pk))
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["invoice.paid", "invoice.void"]


def test_the_admin_cannot_edit_or_delete_an_invoice(staff_client, finalized):
    before = (finalized.subtotal, finalized.number, finalized.status)
    staff_client.post(
        f"/admin/billing/invoice/{finalized.pk}/change/",
        {"subtotal": "1.00", "number": "X", "status": "draft"},
    )
    assert staff_client.get(f"/admin/billing/invoice/{finalized.pk}/delete/").status_code == 403
    finalized.refresh_from_db()
    assert (finalized.subtotal, finalized.number, finalized.status) == before
