"""The access reconciler's cost does not grow with the keys of a cell (issue 20, goal 3).

Against the session's real cell, the periodic pass (`reconcile_cell_access`) runs with every
call of the platform's super-user client recorded (the real calls are made): once over one
key, once over six keys of three clusters. Before each pass every key drifts in all three ways
the pass repairs: a desired binding deleted, a stray one added, a quota changed. The recorded
calls are the same for one key and for six, one of each kind at most: no request per key.
Without timing: the numbers are calls, not seconds.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from clusters.models import AccessKey
from clusters.services.access import reconcile
from clusters.services.access.keys import access_key_create
from clusters.services.access.reconcile import key_desired_acls, key_desired_quotas
from fleet.kafka.platform import PlatformSuperuser, platform_superuser
from fleet.kafka.types import AclBinding
from tests.clusters.access_helpers import active_cluster, new_member
from tests.fleet.kafka import gateway
from tests.fleet.kafka.util import eventually

pytestmark = pytest.mark.django_db(transaction=False)


class RecordingSuperuser:
    """The real super-user client of a cell, each call recorded by name, then made."""

    def __init__(self, real: PlatformSuperuser, calls: Counter[str]) -> None:
        self._real = real
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if not callable(attr):
            return attr

        def record(*args: Any, **kwargs: Any) -> Any:
            self._calls[name] += 1
            return attr(*args, **kwargs)

        return record


def recorded_pass(monkeypatch, cell) -> tuple[reconcile.CellReport, Counter[str]]:
    calls: Counter[str] = Counter()
    monkeypatch.setattr(
        reconcile, "platform_superuser", lambda c: RecordingSuperuser(platform_superuser(c), calls)
    )
    try:
        return reconcile.reconcile_cell_access(cell), calls
    finally:
        monkeypatch.undo()


def stray_binding(key: AccessKey) -> AclBinding:
    return AclBinding(
        "TOPIC", f"{key.cluster.wire_prefix}stray", "LITERAL", key.principal, "*", "READ", "ALLOW"
    )


def drift(admin_connection, keys: list[AccessKey]) -> None:
    """Each key: one desired binding gone, one stray binding there, its producer quota wrong."""
    victims = [key_desired_acls(key)[0] for key in keys]
    gateway.delete_acls(admin_connection, victims)
    gateway.create_acls(admin_connection, [stray_binding(key) for key in keys])
    for key in keys:
        gateway.alter_user_quotas(admin_connection, key.username, {"producer_byte_rate": 1.0})

    def drifted():
        for key, victim in zip(keys, victims, strict=True):
            on_cell = gateway.describe_acls(admin_connection, key.principal)
            assert victim not in on_cell and stray_binding(key) in on_cell, key.username
        quotas = gateway.describe_user_quotas(admin_connection)
        for key in keys:
            assert quotas.get(key.username, {}).get("producer_byte_rate") == 1.0, key.username

    eventually(drifted, timeout=30)


def assert_repaired(admin_connection, keys: list[AccessKey]) -> None:
    def repaired():
        quotas = gateway.describe_user_quotas(admin_connection)
        for key in keys:
            on_cell = gateway.describe_acls(admin_connection, key.principal)
            assert on_cell == key_desired_acls(key), key.username
            assert quotas.get(key.username) == key_desired_quotas(key), key.username

    eventually(repaired, timeout=30)


def test_a_pass_makes_the_same_few_admin_calls_for_one_key_and_for_six(
    cell, admin_connection, monkeypatch, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    member = new_member("bnd")
    first, _key, _secret = active_cluster(member, capture, name="one")
    small = list(AccessKey.objects.filter(cluster__cell=cell).select_related("cluster__team"))
    assert len(small) == 1

    drift(admin_connection, small)
    report, calls_small = recorded_pass(monkeypatch, cell)
    assert (report.keys, report.errors) == (1, []), report
    assert (report.created, report.deleted) == (1, 1), report
    assert report.quotas_changed >= 1, report
    assert_repaired(admin_connection, small)

    # Five more keys: two more clusters (their initial keys) and three more keys of the first.
    for name in ("two", "three"):
        active_cluster(member, capture, name=name)
    for n in range(3):
        access_key_create(cluster=first, name=f"extra{n}")
    large = list(
        AccessKey.objects.filter(cluster__cell=cell).select_related("cluster__team").order_by("id")
    )
    assert len(large) == 6

    drift(admin_connection, large)
    report, calls_large = recorded_pass(monkeypatch, cell)
    assert (report.keys, report.errors) == (6, []), report
    assert (report.created, report.deleted) == (6, 6), report
    assert report.quotas_changed >= 6, report
    assert_repaired(admin_connection, large)

    assert calls_large == calls_small, (calls_small, calls_large)
    assert calls_large == Counter(
        describe_acls=1,
        describe_user_quotas=1,
        create_acls=1,
        delete_acls=1,
        alter_many_user_quotas=1,
    ), calls_large

    # Nothing drifted: the two listings, nothing else.
    report, calls_clean = recorded_pass(monkeypatch, cell)
    assert (report.created, report.deleted, report.quotas_changed) == (0, 0, 0), report
    assert calls_clean == Counter(describe_acls=1, describe_user_quotas=1), calls_clean


def test_existing_scram_users_names_only_the_users_asked_about(cell, admin_connection):
    member = new_member("scr")
    superuser = platform_superuser(cell)
    username = f"{member.team.slug}.probe"
    gateway.create_scram_user(admin_connection, username, "probe-secret-0123456789")
    try:
        found = superuser.existing_scram_users([username, f"{member.team.slug}.nobody"])
        assert found == {username}
        assert superuser.existing_scram_users([]) == set()
    finally:
        gateway.revoke_scram_user(admin_connection, username)
