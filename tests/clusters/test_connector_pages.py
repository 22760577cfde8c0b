"""The Connectors tab's pages without a worker: who sees and who may change, the generated form's
markup, and a connector whose worker is not answering (no secret ever on a page).

The journey with a real worker (catalogue → form → validate → create → pause/resume → delete)
is tests/browser/test_connectors_browser.py.
"""

import json
import re
import uuid
from pathlib import Path

import pytest
from django.template.loader import render_to_string

from clusters.connect_forms import build_form
from clusters.models import Connector
from clusters.services.sealing import seal
from console.models import Role
from tests.factories import ClusterFactory, MembershipFactory

CONFIGINFOS = Path(__file__).parent / "configinfos"
SECRET = "pg-Secret-4711"


@pytest.fixture
def team_members(db):
    owner = MembershipFactory(team__slug=f"c{uuid.uuid4().hex[:8]}", role=Role.OWNER)
    developer = MembershipFactory(team=owner.team, role=Role.DEVELOPER)
    viewer = MembershipFactory(team=owner.team, role=Role.VIEWER)
    cluster = ClusterFactory(team=owner.team, name="orders")
    return {"developer": developer, "viewer": viewer, "cluster": cluster}


@pytest.fixture
def connector(team_members):
    """A sink the database knows, on a worker that is not running (nothing here starts one)."""
    return Connector.objects.create(
        cluster=team_members["cluster"],
        name="orders-sink",
        plugin="jdbc-sink",
        config={"topics": "orders", "connection.url": "jdbc:postgresql://db:5432/shop"},
        secret_keys=["connection.password"],
        sealed_secrets=seal(json.dumps({"connection.password": SECRET})),
        state=Connector.State.RUNNING,
    )


def page(client, membership, url, method="get", **data):
    client.force_login(membership.user)
    return getattr(client, method)(url, data)


def test_the_tab_and_an_empty_list_for_a_viewer_without_a_create_button(client, team_members):
    cluster = team_members["cluster"]
    response = page(client, team_members["viewer"], f"/clusters/{cluster.pk}/connectors/")
    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'class="nav-link active" aria-current="page"[^>]*>Connectors<', html)
    assert "No connectors yet" in html
    assert "Create connector" not in html

    response = page(client, team_members["developer"], f"/clusters/{cluster.pk}/connectors/")
    assert f'href="/clusters/{cluster.pk}/connectors/new/"' in response.content.decode()


def test_the_catalogue_offers_the_three_plugins_and_no_filestream(client, team_members):
    cluster = team_members["cluster"]
    response = page(client, team_members["developer"], f"/clusters/{cluster.pk}/connectors/new/")
    html = response.content.decode()
    assert response.status_code == 200
    for plugin_id in ("mirror-source", "postgres-cdc", "jdbc-sink"):
        assert f'href="/clusters/{cluster.pk}/connectors/new/{plugin_id}/"' in html
    assert "FileStreamSource" not in html and "FileStreamSink" not in html
    missing = page(
        client, team_members["developer"], f"/clusters/{cluster.pk}/connectors/new/file-source/"
    )
    assert missing.status_code == 404


def test_the_form_page_answers_at_once_and_loads_its_fields_after(client, team_members):
    """The first form of a cluster starts its worker: the page does not wait for it."""
    cluster = team_members["cluster"]
    url = f"/clusters/{cluster.pk}/connectors/new/jdbc-sink/"
    html = page(client, team_members["developer"], url).content.decode()
    assert f'hx-get="{url}?fields=1" hx-trigger="load"' in html
    assert 'name="name"' in html and ">Validate<" in html and ">Create connector<" in html


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "new/"),
        ("get", "new/jdbc-sink/"),
        ("post", "new/jdbc-sink/"),
        ("get", "orders-sink/edit/"),
        ("post", "orders-sink/edit/"),
        ("post", "orders-sink/pause/"),
        ("post", "orders-sink/resume/"),
        ("post", "orders-sink/restart/"),
        ("post", "orders-sink/delete/"),
    ],
)
def test_a_viewer_cannot_change_anything(client, team_members, connector, method, path):
    cluster = team_members["cluster"]
    response = page(
        client, team_members["viewer"], f"/clusters/{cluster.pk}/connectors/{path}", method
    )
    assert response.status_code == 403
    assert "<html" in response.content.decode()  # the styled error page, not a bare 403
    connector.refresh_from_db()
    assert connector.deleted_at is None and connector.state == Connector.State.RUNNING


def test_another_teams_cluster_and_connector_are_404(client, team_members, connector):
    stranger = MembershipFactory(team__slug=f"s{uuid.uuid4().hex[:8]}", role=Role.OWNER)
    cluster = team_members["cluster"]
    for path in ("", "new/", "orders-sink/", "orders-sink/edit/"):
        response = page(client, stranger, f"/clusters/{cluster.pk}/connectors/{path}")
        assert response.status_code == 404, path
    response = page(client, team_members["viewer"], f"/clusters/{cluster.pk}/connectors/nope/")
    assert response.status_code == 404


def test_detail_while_the_worker_is_not_answering(client, team_members, connector):
    cluster = team_members["cluster"]
    url = f"/clusters/{cluster.pk}/connectors/orders-sink/"
    response = page(client, team_members["viewer"], url)
    html = response.content.decode()
    assert response.status_code == 200
    assert "UNKNOWN" in html and "not answering" in html
    assert "Throughput" in html and "0 B/s" in html  # the sampler's live rates of its topics
    assert "jdbc:postgresql://db:5432/shop" in html
    assert "connection.password" in html and "never shown" in html
    assert SECRET not in html and connector.sealed_secrets not in html
    assert "Delete connector" not in html and "Pause" not in html

    html = page(client, team_members["developer"], url).content.decode()
    assert 'data-skiff-confirm="Delete connector orders-sink?' in html
    assert f'action="/clusters/{cluster.pk}/connectors/orders-sink/pause/"' in html
    assert f'href="/clusters/{cluster.pk}/connectors/orders-sink/edit/"' in html
    assert SECRET not in html

    listing = page(client, team_members["viewer"], f"/clusters/{cluster.pk}/connectors/")
    assert "orders-sink" in listing.content.decode() and SECRET not in listing.content.decode()

    # The page polls its status; once the connector is gone, the polling stops (no 404).
    connector.deleted_at = connector.created_at
    connector.save(update_fields=["deleted_at"])
    polled = client.get(url, HTTP_HX_REQUEST="true")
    assert polled.status_code == 286 and polled["HX-Reswap"] == "none"
    assert page(client, team_members["viewer"], url).status_code == 404


def test_generated_fields_markup():
    infos = json.loads((CONFIGINFOS / "validate_postgres_cdc.json").read_text())
    form = build_form(
        infos,
        values={"database.hostname": "db.internal", "plugin.name": "pgoutput"},
        errors={"topic.prefix": ["Give a topic prefix."]},
        entered_secrets={"database.password"},
    )
    html = render_to_string("clusters/connectors/_fields.html", {"form": form, "page_errors": {}})
    # Every input has its label; names carry the config key.
    for f in form.fields:
        assert f'for="{f.html_id}"' in html and f'id="{f.html_id}"' in html
    assert 'name="cfg.database.hostname"' in html and 'value="db.internal"' in html
    assert '<option value="pgoutput" selected>' in html
    # A secret is a password input with no value, asking to be typed again.
    password = re.search(r'<input id="cfg-database-password"[^>]*>', html).group(0)
    assert 'type="password"' in password and 'value=""' in password
    assert "Type it again" in password
    # Errors beside their field; required marker; optional settings folded.
    assert "Give a topic prefix." in html
    assert "The &#x27;database.user&#x27; value is invalid: A value is required" in html
    assert re.search(r'class="form-label required" for="cfg-database-user"', html)
    assert "<details" in html and "Connector settings (61, optional)" in html
