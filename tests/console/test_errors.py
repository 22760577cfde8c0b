"""One error family, rendered by one API handler and one page handler (issue 12, item 4).

The table: every error class a user can meet, raised from a service that real views call,
gives its documented status, code and message — in the API's JSON and on pages (a tab that
shows it inline, the styled error page, a page message after a form post, htmx). A raw Kafka
error name never reaches the user.

Then the real thing: every broker of a cell is stopped (SIGSTOP) and the cluster's topic list
answers 504 naming the cell and the timeout, within the timeout plus 2 s, never a 500.
"""

from __future__ import annotations

import atexit
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import escape
from rest_framework.test import APIClient

from billing.errors import BillingError, PriceBookEmptyError
from billing.models import FinalizedInvoiceError
from clusters.services import topics as topic_services
from clusters.services.access.policy import PolicyInvalid, PolicyProblem
from clusters.services.provisioning import ProvisioningError
from console import errors
from console.models import Role
from console.services.teams import api_token_create
from fleet.kafka import errors as kafka
from fleet.kafka.connection import close_clients
from fleet.kafka.tenant import NameOutsideCluster
from fleet.runtime.classpath import RuntimeUnavailable
from fleet.runtime.launcher import CellError, CellInfo, LocalCell
from tests.factories import ClusterFactory, MembershipFactory

# --- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    make: Callable[[], Exception]
    status: int
    code: str
    message: str  # what the user reads, exactly
    fields: dict[str, list[str]] | None = None
    hidden: str | None = None  # must never reach the user (a raw Kafka error name)


def _kafka(name: str, detail: str = "Broker: the broker's own text", **where) -> Callable:
    return lambda: kafka._map_error(name, detail, "Listing topics", **where)


TABLE: dict[str, Row] = {
    # console.errors: the family's own classes
    "ValidationFailed": Row(
        lambda: errors.ValidationFailed("Topic name may use letters, digits, '-', '_'."),
        400,
        "invalid",
        "Topic name may use letters, digits, '-', '_'.",
    ),
    "ValidationFailed(fields)": Row(
        lambda: errors.ValidationFailed({"ordering": "Sort by one of: name, size."}),
        400,
        "invalid",
        "Sort by one of: name, size.",
        fields={"ordering": ["Sort by one of: name, size."]},
    ),
    "django ValidationError": Row(
        lambda: ValidationError({"page": "Page must be a whole number."}),
        400,
        "invalid",
        "Page must be a whole number.",
        fields={"page": ["Page must be a whole number."]},
    ),
    "NotFound": Row(lambda: errors.NotFound("No such topic."), 404, "not_found", "No such topic."),
    "Conflict": Row(
        lambda: errors.Conflict("It changed meanwhile."), 409, "conflict", "It changed meanwhile."
    ),
    "PermissionDenied": Row(
        lambda: errors.PermissionDenied("Not for your role."),
        403,
        "permission_denied",
        "Not for your role.",
    ),
    "ServiceUnavailable": Row(
        lambda: errors.ServiceUnavailable("The sampler is down."),
        503,
        "service_unavailable",
        "The sampler is down.",
    ),
    "GatewayTimeout": Row(
        lambda: errors.GatewayTimeout("No answer in time."), 504, "timeout", "No answer in time."
    ),
    # the gateway: Kafka's answers mapped once (fleet.kafka.errors._map_error)
    "KafkaGatewayError (unclassified)": Row(
        _kafka("UNKNOWN_MEMBER_ID", "Broker: Unknown member id"),
        502,
        "kafka_error",
        "Listing topics: Kafka refused the request. Try again; if it keeps failing, the "
        "platform team can find the reason in the console's logs.",
        hidden="UNKNOWN_MEMBER_ID",
    ),
    "KafkaUnavailable": Row(
        _kafka("_ALL_BROKERS_DOWN", "1/1 brokers are down", cell="cell-1"),
        503,
        "kafka_unavailable",
        "Listing topics: cell 'cell-1' is unavailable (1/1 brokers are down).",
        hidden="_ALL_BROKERS_DOWN",
    ),
    "CellTimeout": Row(
        _kafka("_TIMED_OUT", "Local: Timed out", cell="cell-1", timeout=10.0),
        504,
        "cell_timeout",
        "Cell 'cell-1' did not answer within 10 s while listing topics.",
        hidden="_TIMED_OUT",
    ),
    "CellUnreachable": Row(
        lambda: kafka.CellUnreachable(
            "The admin credentials of cell 'cell-1' could not be read; the platform team has "
            "been told.",
            cell="cell-1",
        ),
        503,
        "cell_unreachable",
        "The admin credentials of cell 'cell-1' could not be read; the platform team has been "
        "told.",
    ),
    "KafkaTlsError": Row(
        _kafka("_SSL", "certificate verify failed"),
        503,
        "kafka_tls_failed",
        "Listing topics: the TLS handshake failed (certificate verify failed).",
        hidden="_SSL",
    ),
    "KafkaAuthenticationFailed": Row(
        _kafka("SASL_AUTHENTICATION_FAILED", "Authentication failed for user admin", cell="c1"),
        502,
        "kafka_authentication_failed",
        "Listing topics: authentication failed: cell 'c1' refused the platform's own "
        "credentials. Nothing is wrong with your request; the platform team must renew the "
        "cell's credentials.",
        hidden="admin",  # the platform's user name stays in the logs
    ),
    "KafkaAuthorizationFailed": Row(
        _kafka("TOPIC_AUTHORIZATION_FAILED"),
        403,
        "kafka_not_authorized",
        "Listing topics: not authorized to access this topic.",
        hidden="TOPIC_AUTHORIZATION_FAILED",
    ),
    "TopicAlreadyExists": Row(
        _kafka("TOPIC_ALREADY_EXISTS"),
        409,
        "topic_exists",
        "Listing topics: the topic already exists.",
        hidden="TOPIC_ALREADY_EXISTS",
    ),
    "UnknownTopic": Row(
        _kafka("UNKNOWN_TOPIC_OR_PART"),
        404,
        "topic_not_found",
        "Listing topics: the topic does not exist.",
        hidden="UNKNOWN_TOPIC_OR_PART",
    ),
    "UnknownUser": Row(
        _kafka("RESOURCE_NOT_FOUND"),
        404,
        "user_not_found",
        "Listing topics: no such user.",
        hidden="RESOURCE_NOT_FOUND",
    ),
    "InvalidKafkaRequest": Row(
        _kafka("INVALID_REPLICATION_FACTOR", "Broker: Invalid replication factor"),
        400,
        "kafka_invalid_request",
        "Listing topics: Invalid replication factor.",
        hidden="INVALID_REPLICATION_FACTOR",
    ),
    "PolicyViolation": Row(
        _kafka("POLICY_VIOLATION", "Broker: retention.ms must be at most 7 days"),
        400,
        "kafka_policy_violation",
        "Listing topics: retention.ms must be at most 7 days.",
        hidden="POLICY_VIOLATION",
    ),
    "NameOutsideCluster": Row(
        lambda: NameOutsideCluster("'..' is not a name this cluster can use."),
        400,
        "name_outside_cluster",
        "'..' is not a name this cluster can use.",
    ),
    # the apps' own families
    "ProvisioningError": Row(
        lambda: ProvisioningError("No healthy Kafka cell is available."),
        503,
        "provisioning_failed",
        "No healthy Kafka cell is available.",
    ),
    "PolicyInvalid": Row(
        lambda: PolicyInvalid([PolicyProblem(1, "w", "Unknown action 'kafka-cluster:Fly'.")]),
        400,
        "policy_invalid",
        "Statement 1 (Sid 'w'): Unknown action 'kafka-cluster:Fly'.",
        fields={"policy_document": ["Statement 1 (Sid 'w'): Unknown action 'kafka-cluster:Fly'."]},
    ),
    "BillingError": Row(
        lambda: BillingError("The price book has no price for Cluster-hours on 2001-01-01."),
        400,
        "billing_refused",
        "The price book has no price for Cluster-hours on 2001-01-01.",
    ),
    "PriceBookEmptyError": Row(
        lambda: PriceBookEmptyError("The price book is empty."),
        503,
        "price_book_empty",
        "The price book is empty.",
    ),
    "FinalizedInvoiceError": Row(
        lambda: FinalizedInvoiceError("Finalized invoices cannot be changed."),
        409,
        "invoice_finalized",
        "Finalized invoices cannot be changed.",
    ),
}


def test_every_error_a_user_can_meet_derives_from_the_one_base():
    for name, row in TABLE.items():
        exc = row.make()
        if name == "django ValidationError":
            continue  # not ours, but rendered as a ValidationFailed
        assert isinstance(exc, errors.ApplicationError), name
        assert (exc.status, exc.code, exc.message) == (row.status, row.code, row.message), name
        if row.hidden:  # a raw Kafka error name (or the platform's user) stays in the logs
            assert row.hidden not in exc.message and row.hidden in (exc.detail or ""), name


@pytest.fixture
def owner(db):
    return MembershipFactory(team__slug=f"t{uuid.uuid4().hex[:8]}", role=Role.OWNER)


@pytest.fixture
def cluster(owner):
    return ClusterFactory(team=owner.team, name="orders")


@pytest.fixture
def api(owner) -> APIClient:
    _, raw = api_token_create(user=owner.user, team=owner.team, name="errors")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


@pytest.fixture
def page(client, owner):
    client.force_login(owner.user)
    return client


def raising(row: Row) -> Callable:
    def service(*args, **kwargs):
        raise row.make()

    return service


@pytest.mark.parametrize("row", TABLE.values(), ids=TABLE.keys())
def test_the_api_answers_the_documented_status_code_and_message(row, monkeypatch, api, cluster):
    monkeypatch.setattr(topic_services, "topic_list", raising(row))
    response = api.get(f"/api/v1/clusters/{cluster.pk}/topics/")
    assert response.status_code == row.status
    assert response.json() == {"detail": row.message, "code": row.code, **(row.fields or {})}
    if row.hidden:
        assert row.hidden not in response.content.decode()


@pytest.mark.parametrize("row", TABLE.values(), ids=TABLE.keys())
def test_a_tab_shows_the_message_with_the_documented_status(row, monkeypatch, page, cluster):
    # The Topics tab keeps its header and tabs and shows why the list is missing.
    monkeypatch.setattr(topic_services, "topic_list", raising(row))
    response = page.get(reverse("clusters:topics", args=[cluster.pk]))
    assert response.status_code == row.status
    html = response.content.decode()
    assert escape(row.message) in html and 'role="alert"' in html


@pytest.mark.parametrize("row", TABLE.values(), ids=TABLE.keys())
def test_a_page_that_lets_it_through_is_the_styled_error_page(row, monkeypatch, page, cluster):
    monkeypatch.setattr("clusters.views.throughput.current_throughput", raising(row))
    response = page.get(reverse("clusters:throughput", args=[cluster.pk]))
    assert response.status_code == row.status
    assert "errors/error.html" in [t.name for t in response.templates]
    html = response.content.decode()
    assert escape(row.message) in html
    assert f'<p class="empty-header">{row.status}</p>' in html
    assert f'href="{reverse("home")}"' in html  # a way back


@pytest.mark.parametrize("row", TABLE.values(), ids=TABLE.keys())
def test_a_form_post_is_a_page_message_on_the_page_it_came_from(row, monkeypatch, page, cluster):
    monkeypatch.setattr("clusters.views.clusters.cluster_retry", raising(row))
    detail = reverse("clusters:detail", args=[cluster.pk])
    response = page.post(reverse("clusters:retry", args=[cluster.pk]), HTTP_REFERER=detail)
    assert response.status_code == 302 and response["Location"] == detail
    shown = page.get(detail).content.decode()
    assert f'<div class="alert alert-danger">{escape(row.message)}</div>' in shown


@pytest.mark.parametrize("row", TABLE.values(), ids=TABLE.keys())
def test_an_htmx_request_keeps_the_status_and_reloads_with_the_message(
    row, monkeypatch, page, cluster
):
    monkeypatch.setattr("clusters.views.clusters.cluster_retry", raising(row))
    detail = reverse("clusters:detail", args=[cluster.pk])
    response = page.post(
        reverse("clusters:retry", args=[cluster.pk]),
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver{detail}",
    )
    assert response.status_code == row.status
    assert response["HX-Redirect"] == f"http://testserver{detail}"
    assert [m.message for m in get_messages(response.wsgi_request)] == [row.message]


def test_a_foreign_or_missing_back_link_goes_home(monkeypatch, page, cluster):
    monkeypatch.setattr("clusters.views.clusters.cluster_retry", raising(TABLE["Conflict"]))
    url = reverse("clusters:retry", args=[cluster.pk])
    assert page.post(url, HTTP_REFERER="https://evil.example/")["Location"] == reverse("home")
    assert page.post(url)["Location"] == reverse("home")


# --- the real cell, stopped -----------------------------------------------------------------

STOP_TIMEOUT = 3.0  # SKIFF_KAFKA_TIMEOUT for this test
SLACK = 2.0  # the acceptance: within the timeout plus 2 s
START_TIMEOUT = float(os.environ.get("SKIFF_TEST_KAFKA_TIMEOUT", "180"))


@pytest.fixture(scope="module")
def stoppable_cell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CellInfo]:
    """A one-broker cell of this module's own: stopping it disturbs no other test."""
    state_dir: Path = tmp_path_factory.mktemp("stoppable-cell")
    local = LocalCell(state_dir, name="stoppable")
    atexit.register(local.down)
    try:
        info = local.up(nodes=1, timeout=START_TIMEOUT)
    except (CellError, RuntimeUnavailable) as exc:
        local.down()
        pytest.fail(f"the one-broker cell could not start: {exc}", pytrace=False)
    try:
        yield info
    finally:
        close_clients()  # clients of the stopped cell, before it goes
        local.down()
        atexit.unregister(local.down)


def test_a_stopped_cell_is_a_504_naming_it_within_the_timeout(
    stoppable_cell, settings, owner, api, page
):
    from fleet.services.cells import cell_record_local

    settings.SKIFF_KAFKA_TIMEOUT = STOP_TIMEOUT
    cell = cell_record_local(stoppable_cell)
    cluster = ClusterFactory(team=owner.team, cell=cell, name="payments")
    api_url = f"/api/v1/clusters/{cluster.pk}/topics/"
    page_url = reverse("clusters:topics", args=[cluster.pk])
    # A session that works, then the cell stops answering: connections stay open, nothing
    # is refused, requests just get no answer.
    assert api.get(api_url).status_code == 200

    pids = [node.pid for node in stoppable_cell.nodes if node.pid]
    assert pids, "the launcher records every broker's pid"
    timings: dict[str, float] = {}
    responses = {}
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        for name, client, url in (("api", api, api_url), ("page", page, page_url)):
            topic_services.invalidate_topic_cache(cluster)  # a fresh read, not the cache
            started = time.monotonic()
            responses[name] = client.get(url)
            timings[name] = time.monotonic() - started
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)

    expected = f"Cell 'stoppable' did not answer within {STOP_TIMEOUT:g} s while listing topics."
    api_response = responses["api"]
    assert api_response.status_code == 504, api_response.content
    assert api_response.json() == {"detail": expected, "code": "cell_timeout"}
    assert responses["page"].status_code == 504
    assert escape(expected) in responses["page"].content.decode()
    for name, elapsed in timings.items():
        assert elapsed <= STOP_TIMEOUT + SLACK, f"{name}: {elapsed:.2f} s"

    # And it recovers: the same request answers again once the broker runs.
    topic_services.invalidate_topic_cache(cluster)
    deadline = time.monotonic() + 30
    while api.get(api_url).status_code != 200:
        assert time.monotonic() < deadline, "the cell did not answer again after SIGCONT"
        time.sleep(0.2)
