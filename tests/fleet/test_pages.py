"""Fleet pages (issue 14) without Kafka: staff only (404 for everyone else), what a cell page
shows from the database, the live section degrading with a reason when the cell does not
answer, admission changes (audited), and the registration form's refusals."""

import json

import pytest
from django.urls import reverse

from console.models import AuditEvent
from fleet.models import AutoscaleDecision, Broker, Cell, FleetOperation
from tests.factories import CellFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True))
    return client


@pytest.fixture
def unreachable_cell(tmp_path):
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps({"admin_username": "admin", "admin_password": "x"}))
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n")
    cell = CellFactory(
        name="north",
        bootstrap_servers="127.0.0.1:9",
        credentials_path=str(credentials),
        ca_path=str(ca),
    )
    Broker.objects.create(
        cell=cell, node_id=1, host="127.0.0.1", port=9, metrics_url="http://127.0.0.1:9/metrics"
    )
    return cell


def fleet_urls(cell):
    return [
        reverse("fleet:cell_list"),
        reverse("fleet:cell_register"),
        reverse("fleet:cell_detail", args=[cell.pk]),
        reverse("fleet:cell_live", args=[cell.pk]),
        reverse("fleet:broker_detail", args=[cell.pk, 1]),
    ]


def test_every_fleet_page_is_404_for_anyone_but_staff(client, unreachable_cell):
    owner = MembershipFactory().user
    for who in (None, owner):
        if who is not None:
            client.force_login(who)
        for url in fleet_urls(unreachable_cell):
            response = client.get(url)
            assert response.status_code == 404, (who, url)
            assert b"Fleet" not in response.content  # not even a nav entry
    response = client.post(
        reverse("fleet:cell_admission", args=[unreachable_cell.pk]), {"admission": "closed"}
    )
    assert response.status_code == 404
    unreachable_cell.refresh_from_db()
    assert unreachable_cell.admission == Cell.Admission.OPEN


def test_staff_see_the_fleet_in_the_navigation_and_the_cell_list(staff_client, unreachable_cell):
    home = staff_client.get("/", follow=True).content.decode()
    assert f'href="{reverse("fleet:cell_list")}"' in home
    page = staff_client.get(reverse("fleet:cell_list")).content.decode()
    assert "north" in page
    assert "A new serverless cluster goes to" in page


def test_the_cell_page_shows_operations_and_autoscaler_decisions(staff_client, unreachable_cell):
    operation = FleetOperation.objects.create(
        cell=unreachable_cell, kind="rebalance", mode="full", state="succeeded"
    )
    from django.utils import timezone

    AutoscaleDecision.objects.create(
        cell=unreachable_cell,
        decided_at=timezone.now(),
        action="none",
        reason="ingress at 12% of capacity",
        metrics={"utilisation": {"ingress": 0.12, "partitions": 0.5}, "brokers": 3},
    )
    page = staff_client.get(reverse("fleet:cell_detail", args=[unreachable_cell.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert reverse("fleet:operation_detail", args=[operation.pk]) in html
    assert "ingress at 12% of capacity" in html
    assert "12%" in html and "50%" in html
    detail = staff_client.get(reverse("fleet:operation_detail", args=[operation.pk]))
    assert detail.status_code == 200


def test_the_live_section_of_an_unreachable_cell_says_why(staff_client, unreachable_cell):
    response = staff_client.get(reverse("fleet:cell_live", args=[unreachable_cell.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "DOWN" in html
    assert "unreachable" in html
    broker = staff_client.get(reverse("fleet:broker_detail", args=[unreachable_cell.pk, 1]))
    assert broker.status_code == 200
    assert staff_client.get(
        reverse("fleet:broker_detail", args=[unreachable_cell.pk, 7])
    ).status_code in (404,)


def test_changing_admission_is_audited(staff_client, unreachable_cell):
    response = staff_client.post(
        reverse("fleet:cell_admission", args=[unreachable_cell.pk]), {"admission": "draining"}
    )
    assert response.status_code == 302
    unreachable_cell.refresh_from_db()
    assert unreachable_cell.admission == Cell.Admission.DRAINING
    event = AuditEvent.objects.get(action="cell.admission")
    assert event.team is None
    assert event.before == {"admission": "open"} and event.after == {"admission": "draining"}
    assert event.target_id == str(unreachable_cell.pk)


def test_registration_refuses_an_unreachable_kafka_and_records_nothing(staff_client):
    response = staff_client.post(
        reverse("fleet:cell_register"),
        {
            "name": "far",
            "bootstrap_servers": "127.0.0.1:9",
            "username": "admin",
            "password": "secret",
            "ca_pem": "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n",
            "metrics_url": "http://127.0.0.1:9/metrics",
            "admission": "open",
        },
    )
    assert response.status_code == 400
    assert "cannot connect" in response.content.decode()
    assert not Cell.objects.filter(name="far").exists()


def test_the_team_page_links_staff_to_the_fleet_pages(client):
    staff = MembershipFactory(user__is_staff=True).user
    member = MembershipFactory().user
    client.force_login(staff)
    assert f'href="{reverse("fleet:cell_list")}"' in client.get("/team/").content.decode()
    client.force_login(member)
    page = client.get("/team/").content.decode()
    assert "fleet pages" in page and reverse("fleet:cell_list") not in page


def test_an_active_operation_polls_its_progress_and_can_be_cancelled(
    staff_client, unreachable_cell
):
    operation = FleetOperation.objects.create(
        cell=unreachable_cell,
        kind="rebalance",
        mode="full",
        state="planned",
        progress={"step": "planned", "batches_total": 4, "batches_done": 1},
    )
    url = reverse("fleet:operation_detail", args=[operation.pk])
    html = staff_client.get(url).content.decode()
    assert f'hx-get="{url}"' in html and "every 2s" in html  # polls while active
    assert "1 of 4 batches" in html and "Cancel operation" in html
    fragment = staff_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'id="operation-progress"' in fragment and "<html" not in fragment

    cell_page = staff_client.get(reverse("fleet:cell_detail", args=[unreachable_cell.pk]))
    assert "An operation is active" in cell_page.content.decode()

    response = staff_client.post(reverse("fleet:operation_cancel", args=[operation.pk]))
    assert response.status_code == 302
    operation.refresh_from_db()
    assert operation.state == FleetOperation.State.CANCELLED
    assert AuditEvent.objects.filter(
        action="fleet.operation.cancel", target_id=str(operation.pk)
    ).exists()
    html = staff_client.get(url).content.decode()
    assert "Cancel operation" not in html and "hx-get" not in html  # ended: no more polling
