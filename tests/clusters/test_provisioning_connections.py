"""Provisioning reuses the cell's admin connections (issue 20, goal 4): what keeps it fast.

A fresh admin client costs TLS and SCRAM handshakes (two of them for a kafka-python client:
bootstrap, then the broker it asks) before its one request. These tests count the clients
made, not the time taken: after the first provisioning on a cell, the next ones make none.
"""

import threading
import uuid

import pytest

from clusters.models import Cluster
from clusters.services.clusters import ClusterSpec, cluster_create
from fleet.kafka import connection, quotas
from tests.factories import MembershipFactory
from tests.fleet.kafka import gateway
from tests.fleet.kafka.util import eventually


@pytest.fixture
def member(db):
    return MembershipFactory(team__slug=f"t{uuid.uuid4().hex[:8]}")


def clients_made() -> tuple[int, int]:
    """(librdkafka admin clients, kafka-python admin clients) made by this process so far."""
    return connection._admin_clients.created, connection._kafka_python_clients.created


def test_provisionings_after_the_first_make_no_new_admin_connection(
    cell, member, admin_connection, django_capture_on_commit_callbacks
):
    def create(name: str) -> Cluster:
        with django_capture_on_commit_callbacks(execute=True):
            created = cluster_create(
                team=member.team, user=member.user, spec=ClusterSpec(name=name)
            )
        created.cluster.refresh_from_db()
        assert created.cluster.state == Cluster.State.ACTIVE, created.cluster.state_reason
        return created.cluster

    create("first")  # may connect: the clients of this cell's connection are made here
    before = clients_made()
    later = [create(f"next-{i}") for i in range(3)]
    assert clients_made() == before, (
        "provisioning made new admin clients (librdkafka, kafka-python) although warm ones "
        f"for the cell existed: {before} -> {clients_made()}"
    )
    # And the work was done through the reused clients: every key has its quotas.
    usernames = {c.access_keys.get().username for c in later}

    def all_set() -> None:
        on_cell = gateway.describe_user_quotas(admin_connection)
        assert usernames <= {u for u, q in on_cell.items() if q}, on_cell

    eventually(all_set, timeout=30)


def test_threads_share_one_kafka_python_client_and_close_drops_it(admin_connection):
    connection.close_clients()
    users = [f"kp-share-{uuid.uuid4().hex[:8]}-{i}" for i in range(8)]
    barrier = threading.Barrier(len(users))
    errors: list[BaseException] = []

    def work(user: str) -> None:
        try:
            barrier.wait(timeout=60)
            quotas.alter_many_user_quotas(admin_connection, {user: {"producer_byte_rate": 1024.0}})

            def applied() -> None:  # a broker applies the change when it fetches metadata
                got = quotas.describe_user_quotas(admin_connection, user)
                assert got == {user: {"producer_byte_rate": 1024.0}}, got

            eventually(applied, timeout=30)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a quota call never returned"
    assert not errors, errors
    cached = list(connection._kafka_python_clients._clients.values())
    assert len(cached) == 1, f"one cached kafka-python client per connection, not {len(cached)}"
    made = connection._kafka_python_clients.created
    quotas.describe_user_quotas(admin_connection)
    assert connection._kafka_python_clients.created == made, "a warm client was not reused"

    client = cached[0].admin
    connection.close_clients()
    assert client._closed, "close_clients() left the cached kafka-python client open"
    quotas.alter_many_user_quotas(
        admin_connection, {u: {"producer_byte_rate": None} for u in users}
    )
    assert connection._kafka_python_clients.created == made + 1
