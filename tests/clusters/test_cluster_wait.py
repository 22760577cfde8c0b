"""`GET /api/v1/clusters/{id}/?wait=`: the answer is held while the cluster is CREATING or
DELETING, instead of the client polling (issue 20, goal 4)."""

import threading
import uuid

import pytest
from django.db import connection
from rest_framework.test import APIClient

from clusters.models import Cluster
from clusters.services import state_waits
from clusters.services.provisioning import step_activate
from console.models import Role
from tests.clusters.test_cluster_api import client_for
from tests.factories import ClusterFactory, MembershipFactory
from tests.fleet.kafka.util import eventually

# A held request in these tests answers within this bound or the test fails; the waits they
# ask for are longer, so an answer inside it can only come from the change.
ANSWER_BOUND = 30


@pytest.fixture
def developer(transactional_db):
    return MembershipFactory(team__slug=f"w{uuid.uuid4().hex[:8]}", role=Role.DEVELOPER)


def held_get(api: APIClient, url: str) -> tuple[threading.Thread, list]:
    answers: list = []

    def run() -> None:
        try:
            answers.append(api.get(url))
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=run)
    thread.start()
    return thread, answers


def answered(thread: threading.Thread, answers: list):
    thread.join(timeout=ANSWER_BOUND)
    assert not thread.is_alive(), f"the held request did not answer within {ANSWER_BOUND} s"
    return answers[0]


def test_the_answer_comes_when_provisioning_activates_the_cluster(developer, monkeypatch):
    # No re-check within the test: only the in-process wake can answer it in time.
    monkeypatch.setattr(state_waits, "RECHECK", 3600.0)
    cluster = ClusterFactory(team=developer.team, state=Cluster.State.CREATING)
    thread, answers = held_get(client_for(developer), f"/api/v1/clusters/{cluster.pk}/?wait=60")
    eventually(lambda: _assert_held(cluster.pk), timeout=ANSWER_BOUND)

    step_activate(cluster)

    response = answered(thread, answers)
    assert response.status_code == 200 and response.json()["state"] == "ACTIVE"
    assert cluster.pk not in state_waits._waiting  # nothing left behind


def test_a_change_by_another_process_is_seen_at_the_recheck(developer):
    cluster = ClusterFactory(team=developer.team, state=Cluster.State.CREATING)
    thread, answers = held_get(client_for(developer), f"/api/v1/clusters/{cluster.pk}/?wait=60")
    eventually(lambda: _assert_held(cluster.pk), timeout=ANSWER_BOUND)

    # As a Celery worker would: a committed change, no wake in this process.
    Cluster.objects.filter(pk=cluster.pk).update(
        state=Cluster.State.FAILED, state_reason="The cell is gone."
    )

    body = answered(thread, answers).json()
    assert body["state"] == "FAILED" and body["state_reason"] == "The cell is gone."


def test_a_deletion_stopped_with_a_reason_answers_and_a_finished_one_is_a_404(developer):
    stuck = ClusterFactory(
        team=developer.team, state=Cluster.State.DELETING, state_reason="Delete again."
    )
    api = client_for(developer)
    assert api.get(f"/api/v1/clusters/{stuck.pk}/?wait=60").json()["state"] == "DELETING"

    gone = ClusterFactory(team=developer.team, state=Cluster.State.DELETING)
    thread, answers = held_get(api, f"/api/v1/clusters/{gone.pk}/?wait=60")
    eventually(lambda: _assert_held(gone.pk), timeout=ANSWER_BOUND)
    Cluster.objects.filter(pk=gone.pk).update(state=Cluster.State.DELETED)
    assert answered(thread, answers).status_code == 404


def test_the_wait_ends_with_the_cluster_as_it_is(developer):
    cluster = ClusterFactory(team=developer.team, state=Cluster.State.CREATING)
    response = client_for(developer).get(f"/api/v1/clusters/{cluster.pk}/?wait=0.2")
    assert response.status_code == 200 and response.json()["state"] == "CREATING"


@pytest.mark.parametrize("wait", ["-1", "61", "soon"])
def test_a_bad_wait_is_a_400_naming_the_field(developer, wait):
    cluster = ClusterFactory(team=developer.team, state=Cluster.State.CREATING)
    response = client_for(developer).get(f"/api/v1/clusters/{cluster.pk}/?wait={wait}")
    assert response.status_code == 400
    assert "wait" in response.json(), response.json()
    assert cluster.pk not in state_waits._waiting


def test_another_teams_cluster_is_a_404_without_waiting(developer):
    other = ClusterFactory(state=Cluster.State.CREATING)
    response = client_for(developer).get(f"/api/v1/clusters/{other.pk}/?wait=60")
    assert response.status_code == 404
    assert other.pk not in state_waits._waiting


def _assert_held(cluster_id: int) -> None:
    assert cluster_id in state_waits._waiting, "the request is not held yet"


def test_past_half_of_the_http_threads_a_wait_answers_at_once(developer, settings):
    """A held request keeps an HTTP thread (console/http_handler.py): once half of them are
    held, another wait answers at once with the state as it is, and the client asks again."""
    settings.SKIFF_HTTP_THREADS = 2  # one request may be held
    first = ClusterFactory(team=developer.team, state=Cluster.State.CREATING)
    second = ClusterFactory(team=developer.team, state=Cluster.State.CREATING)
    api = client_for(developer)
    thread, answers = held_get(api, f"/api/v1/clusters/{first.pk}/?wait=60")
    eventually(lambda: _assert_held(first.pk), timeout=ANSWER_BOUND)

    # Held, it would answer after 60 s, past the bound: answered() would fail.
    response = answered(*held_get(api, f"/api/v1/clusters/{second.pk}/?wait=60"))
    assert response.status_code == 200 and response.json()["state"] == "CREATING"
    assert second.pk not in state_waits._waiting

    step_activate(first)
    assert answered(thread, answers).json()["state"] == "ACTIVE"
