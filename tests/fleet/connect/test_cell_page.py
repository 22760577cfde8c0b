"""Issue 19: the fleet cell page lists the cell's Connect workers with their memory (staff only)."""

import pytest
from django.urls import reverse

from fleet.models import ConnectWorker
from tests.factories import CellFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True))
    return client


def test_cell_page_shows_workers_with_memory(staff_client):
    cell = CellFactory(name="north")
    ConnectWorker.objects.create(
        cell=cell,
        tenant_prefix="acme.orders.",
        rest_port=40123,
        pid=4242,
        state=ConnectWorker.State.RUNNING,
        last_rss_bytes=170 * 2**20,
        heap_mb=320,
        restarts=1,
    )
    ConnectWorker.objects.create(
        cell=cell, tenant_prefix="acme.old.", state=ConnectWorker.State.STOPPED, heap_mb=320
    )
    ConnectWorker.objects.create(
        cell=CellFactory(name="south"), tenant_prefix="other.x.", state="running", pid=1
    )
    page = staff_client.get(reverse("fleet:cell_detail", args=[cell.pk])).content.decode()
    table = page[page.index('aria-label="Connect workers on north"') :]
    table = table[: table.index("</table>")]
    running, stopped = table.index("acme.orders."), table.index("acme.old.")
    assert running < stopped  # running workers first
    assert "170.0 MB" in table and "320 MB" in table and "4242" in table
    assert "127.0.0.1:40123" in table and "RUNNING" in table and "STOPPED" in table
    assert "other.x." not in table  # another cell's worker


def test_cell_page_without_workers_says_when_one_starts(staff_client):
    cell = CellFactory(name="west")
    page = staff_client.get(reverse("fleet:cell_detail", args=[cell.pk])).content.decode()
    assert "No Connect worker on this cell." in page
