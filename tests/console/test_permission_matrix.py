"""THE permission matrix: every route of the URLconf and every WebSocket route, for every role.

Principals (columns of every row):

* ``owner``, ``admin``, ``developer``, ``billing``, ``viewer`` — members of team A, which owns
  every object the URLs name (cluster, member, invitation, token, audit event…);
* ``anonymous`` — not signed in;
* ``outsider`` — owner of another team B: list pages show B's (empty) lists, A's objects are 404;
* ``staff`` — platform staff (``is_staff``, superuser) in no team: the Django admin, and
  nothing of any team's.

Pages use a session; API routes use the principal's own API token (staff and anonymous have
none). The world is built once for the module; each check runs in a savepoint that is rolled
back, so every principal sees the same world, and on-commit work (provisioning tasks, mail)
never runs. Nothing here
talks to Kafka: the gateway's client factory is replaced by one that fails at once, so a route
that needs a broker answers its error path (the row says which statuses are accepted).

Adding a route? Add a row to ``ROUTES`` (or ``WS_ROUTES``) keyed by its URL name: a route with
no row fails ``test_every_route_has_a_row``. Expected statuses are given in the column order
above with ``S(...)``; a tuple means "any of these". A mutating API call that succeeds (2xx)
must leave exactly one audit event by the caller's token on the expected object: give the
action in ``audit=``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from clusters.models import ClusterDraft
from console.audit import audit_record
from console.models import AuditEvent, Role
from console.routing import websocket_urlpatterns
from console.services.invitations import invitation_create
from console.services.teams import api_token_create
from fleet.kafka import connection as kafka_connection
from fleet.kafka import records as kafka_records
from fleet.kafka import scram as kafka_scram
from tests.factories import CellFactory, ClusterFactory, MembershipFactory, UserFactory
from tests.fleet.kafka import gateway

PRINCIPALS = ("owner", "admin", "developer", "billing", "viewer", "anonymous", "outsider", "staff")
TEAM_ROLES = {
    "owner": Role.OWNER,
    "admin": Role.ADMIN,
    "developer": Role.DEVELOPER,
    "billing": Role.BILLING,
    "viewer": Role.VIEWER,
}
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}

Expected = int | tuple[int, ...]


def S(*statuses: Expected) -> dict[str, Expected]:
    """Expected statuses in PRINCIPALS order."""
    assert len(statuses) == len(PRINCIPALS), statuses
    return dict(zip(PRINCIPALS, statuses, strict=True))


@dataclass
class World:
    team: Any  # team A
    other_team: Any  # team B (the outsider's)
    users: dict[str, Any]
    memberships: dict[str, Any]
    tokens: dict[str, tuple[Any, str]]  # principal -> (ApiToken, raw)
    cluster: Any
    target: Any  # a developer of team A that member routes act on
    invitation: Any
    invitation_raw: str
    event: Any  # an audit event of team A
    sessions: dict[str, str]  # principal -> session key (signed in once, reused by every check)

    def draft_for(self, principal: str):
        """A wizard draft of the principal in team A (the owner's for non-members)."""
        who = principal if principal in TEAM_ROLES else "owner"
        return ClusterDraft.objects.create(team=self.team, user=self.users[who], data={})

    def token_pk(self, principal: str) -> int:
        """The principal's own token in team A; the owner's for others (not theirs: 404)."""
        who = principal if principal in TEAM_ROLES else "owner"
        return self.tokens[who][0].pk


@dataclass
class Check:
    method: str
    expect: dict[str, Expected]
    kwargs: Callable[[World, str], dict] | None = None
    data: dict | Callable[[World, str], dict] | None = None
    query: str = ""
    audit: str | None = None  # for mutating API calls: the one audit action a success records
    # Object the audit event must name: (type, id); default: the URL's pk, or the body's id.
    audit_target: Callable[[World, str, Any], tuple[str, str]] | None = None


def pk_of(attr: str) -> Callable[[World, str], dict]:
    return lambda w, p: {"pk": getattr(w, attr).pk}


cluster_pk = pk_of("cluster")
target_pk = pk_of("target")
invitation_pk = pk_of("invitation")
event_pk = pk_of("event")


def sampled_topic(w: World, p: str) -> dict:
    """A topic of team A's cluster that the sampler has seen (a per-minute usage row)."""
    from django.utils import timezone

    from fleet.models import TopicMinuteUsage

    TopicMinuteUsage.objects.get_or_create(
        cluster=w.cluster,
        topic="payments",
        minute=timezone.now().replace(second=0, microsecond=0),
    )
    return {"pk": w.cluster.pk, "topic": "payments"}


def cell_pk(w: World, p: str) -> dict:
    return {"pk": w.cluster.cell_id}


def broker_kwargs(w: World, p: str) -> dict:
    from fleet.models import Broker

    Broker.objects.get_or_create(
        cell_id=w.cluster.cell_id,
        node_id=1,
        defaults={"host": "127.0.0.1", "port": 9, "metrics_url": "http://127.0.0.1:9/metrics"},
    )
    return {"pk": w.cluster.cell_id, "node_id": 1}


def operation_pk(w: World, p: str) -> dict:
    """A finished rebalance of the world's cell (cancelling it changes nothing)."""
    from fleet.models import FleetOperation

    operation = FleetOperation.objects.create(
        cell_id=w.cluster.cell_id, kind="rebalance", mode="full", state="succeeded"
    )
    return {"pk": operation.pk}


def topic_kwargs(w: World, p: str) -> dict:
    return {"pk": w.cluster.pk, "name": "payments"}


def group_kwargs(w: World, p: str) -> dict:
    return {"pk": w.cluster.pk, "group": "readers"}


def access_key(w: World):
    from clusters.models import AccessKey

    key, _ = AccessKey.objects.get_or_create(
        cluster=w.cluster,
        name="matrix-key",
        defaults={"username": "team-a.orders.matrix-key.abc123", "policy_template": "producer"},
    )
    return key


def cluster_pk_with_key(w: World, p: str) -> dict:
    access_key(w)
    return cluster_pk(w, p)


def key_kwargs(w: World, p: str) -> dict:
    return {"pk": w.cluster.pk, "key_id": access_key(w).pk}


def manual_acl_kwargs(w: World, p: str) -> dict:
    from clusters.models import ManualAclBinding

    binding, _ = ManualAclBinding.objects.get_or_create(
        key=access_key(w),
        resource_type="TOPIC",
        name="audit",
        pattern_type="LITERAL",
        operation="READ",
        permission="ALLOW",
    )
    return {"pk": w.cluster.pk, "binding_id": binding.pk}


def manual_acl_data(w: World, p: str) -> dict:
    return {"key": access_key(w).pk, "resource_type": "TOPIC", "name": "x", "operation": "READ"}


MATRIX_SINK = {
    "topics": "orders",
    "connection.url": "jdbc:postgresql://db.example.com:5432/shop",
    "connection.username": "writer",
    "connection.password": "pw",
}


def connector_kwargs(w: World, p: str) -> dict:
    from clusters.models import Connector

    connector, _ = Connector.objects.get_or_create(
        cluster=w.cluster,
        name="matrix-sink",
        deleted_at=None,
        defaults={"plugin": "jdbc-sink", "config": {"topics": "orders"}},
    )
    return {"pk": w.cluster.pk, "name": connector.name}


def connector_cluster(w: World, p: str) -> dict:
    """The cluster, with a connector (the list asks the worker, which is down: UNKNOWN)."""
    return {"pk": connector_kwargs(w, p)["pk"]}


def connector_plugin(w: World, p: str) -> dict:
    return {"pk": w.cluster.pk, "plugin": "jdbc-sink"}


def invoice_pk(w: World, p: str) -> dict:
    """A finalized invoice of team A with one line for its cluster."""
    import datetime as dt
    from decimal import Decimal

    from billing.models import Invoice, InvoiceLine

    invoice, _ = Invoice.objects.get_or_create(
        team=w.team, period=dt.date(2026, 10, 1), defaults={"subtotal": Decimal("540.00")}
    )
    InvoiceLine.objects.get_or_create(
        invoice=invoice,
        position=1,
        defaults={
            "cluster": w.cluster,
            "cluster_name": w.cluster.name,
            "meter": "cluster_hours",
            "description": "orders · Cluster-hours",
            "usage_period": invoice.period,
            "quantity": Decimal("720"),
            "unit": "hour",
            "unit_price": Decimal("0.75"),
            "amount": Decimal("540.00"),
        },
    )
    # Finalized, so that viewing it does not recompute it: a draft of a month with no usage
    # rows is (rightly) dropped when viewed, and the page then redirects to the list.
    Invoice.objects.filter(pk=invoice.pk, number__isnull=True).update(
        status=Invoice.Status.FINALIZED, number=f"SKF-MATRIX-{invoice.pk}"
    )
    return {"pk": invoice.pk}


def new_price(w: World, p: str) -> dict:
    """A valid new price version (tomorrow, UTC) for the price book form."""
    import datetime as dt

    day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    return {"meter": "data_out", "unit_price": "0.04", "effective_from": day.isoformat()}


def scheduled_price(w: World, p: str) -> dict:
    """A scheduled (not yet in effect) price version to withdraw."""
    import datetime as dt
    from decimal import Decimal

    from billing.models import PriceVersion

    day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)
    version, _ = PriceVersion.objects.get_or_create(
        meter="data_in", effective_from=day, defaults={"unit_price": Decimal("0.09")}
    )
    return {"version": version.pk}


def token_pk(w: World, p: str) -> dict:
    return {"pk": w.token_pk(p)}


def wizard(w: World, p: str) -> dict:
    return {"draft_id": w.draft_for(p).pk, "step": "type"}


def confirm_cluster(w: World, p: str) -> dict:
    return {"confirm_name": w.cluster.name}


def team_of(w: World, p: str, response) -> tuple[str, str]:
    team = w.other_team if p == "outsider" else w.team
    return "team", str(team.pk)


# Fleet pages and API (issue 14): platform staff only; everyone else, anonymous too, 404.
FLEET_STAFF_ONLY = {p: 404 for p in PRINCIPALS} | {"staff": 200}

# Column order: owner, admin, developer, billing, viewer, anonymous, outsider, staff.
# Pages: 302 for anonymous (to login) and for staff (no team: to /team/none/).
# API: 401 for anonymous (no credentials), 403 for staff (in no team).
ROUTES: dict[str, list[Check]] = {
    # --- sign-in and team switching -------------------------------------------------------
    "login": [Check("GET", S(302, 302, 302, 302, 302, 200, 302, 302))],
    "logout": [
        Check("GET", S(405, 405, 405, 405, 405, 405, 405, 405)),
        Check("POST", S(302, 302, 302, 302, 302, 302, 302, 302)),
    ],
    # --- own account (issue 15): change needs a session; reset is for anyone -----------------
    "password_change": [
        Check("GET", S(200, 200, 200, 200, 200, 302, 200, 200)),
        Check(
            "POST",
            S(200, 200, 200, 200, 200, 302, 200, 200),  # wrong old password: the form again
            data={"old_password": "wrong", "new_password1": "x", "new_password2": "x"},
        ),
    ],
    # --- platform staff's second factor (issue 15): staff only, 404 for everyone else ----
    "mfa_setup": [
        Check("GET", S(404, 404, 404, 404, 404, 302, 404, 200)),
        Check("POST", S(404, 404, 404, 404, 404, 302, 404, 400), data={"code": "000000"}),
    ],
    "mfa_verify": [
        Check("GET", S(404, 404, 404, 404, 404, 302, 404, 302)),  # staff: no app yet, set up
        Check("POST", S(404, 404, 404, 404, 404, 302, 404, 400), data={"code": "000000"}),
    ],
    "password_reset": [
        Check("GET", S(200, 200, 200, 200, 200, 200, 200, 200)),
        Check(
            "POST",
            S(302, 302, 302, 302, 302, 302, 302, 302),
            data={"email": "no-such-person@example.com"},
        ),
    ],
    "password_reset_done": [Check("GET", S(200, 200, 200, 200, 200, 200, 200, 200))],
    "password_reset_confirm": [
        Check(
            "GET",
            S(200, 200, 200, 200, 200, 200, 200, 200),  # a bad link: "This link does not work"
            kwargs=lambda w, p: {"uidb64": "MQ", "token": "bad-token"},
        )
    ],
    "password_reset_complete": [Check("GET", S(200, 200, 200, 200, 200, 200, 200, 200))],
    "team_switch": [
        Check("POST", S(302, 302, 302, 302, 302, 302, 302, 302), data={"team": "0"}),
    ],
    "no_team": [Check("GET", S(302, 302, 302, 302, 302, 302, 302, 200))],
    # --- team admin pages ----------------------------------------------------------------
    "team_overview": [Check("GET", S(200, 200, 200, 200, 200, 302, 200, 302))],
    "team_leave": [Check("POST", S(302, 302, 302, 302, 302, 302, 302, 302))],
    "team_members": [Check("GET", S(200, 200, 403, 403, 403, 302, 200, 302))],
    "team_member_role": [
        Check(
            "POST",
            S(302, 302, 403, 403, 403, 302, 404, 302),
            kwargs=target_pk,
            data={"role": "viewer"},
        )
    ],
    "team_member_remove": [
        Check("POST", S(302, 302, 403, 403, 403, 302, 404, 302), kwargs=target_pk)
    ],
    "team_member_transfer": [
        Check("POST", S(302, 403, 403, 403, 403, 302, 404, 302), kwargs=target_pk)
    ],
    "team_invitations": [
        Check("GET", S(200, 200, 403, 403, 403, 302, 200, 302)),
        Check(
            "POST",
            S(201, 201, 403, 403, 403, 302, 201, 302),
            data={"email": "new-person@example.com", "role": "developer"},
        ),
    ],
    "team_invitation_revoke": [
        Check("POST", S(302, 302, 403, 403, 403, 302, 404, 302), kwargs=invitation_pk)
    ],
    "team_tokens": [
        Check("GET", S(200, 200, 200, 200, 403, 302, 200, 302)),
        Check("POST", S(201, 201, 201, 201, 403, 302, 201, 302), data={"name": "ci"}),
    ],
    "team_token_revoke": [
        Check("POST", S(302, 302, 302, 302, 403, 302, 404, 302), kwargs=token_pk)
    ],
    "team_audit": [
        Check("GET", S(200, 200, 403, 403, 403, 302, 200, 302)),
        Check("GET", S(200, 200, 403, 403, 403, 302, 200, 302), query="action=member.&actor=x"),
    ],
    "team_audit_export": [Check("GET", S(200, 200, 403, 403, 403, 302, 200, 302))],
    # The link itself is the credential: anyone may open it. Only the invited email may join:
    # an anonymous visitor creates that account (302 into the team); a signed-in user with
    # another email is refused (400).
    "invitation_accept": [
        Check(
            "GET",
            S(200, 200, 200, 200, 200, 200, 200, 200),
            kwargs=lambda w, p: {"token": w.invitation_raw},
        ),
        Check(
            "POST",
            S(400, 400, 400, 400, 400, 302, 400, 400),
            kwargs=lambda w, p: {"token": w.invitation_raw},
            data={"password1": "A-long-pass-phrase-7", "password2": "A-long-pass-phrase-7"},
        ),
        Check(
            "GET",
            S(404, 404, 404, 404, 404, 404, 404, 404),
            kwargs=lambda w, p: {"token": "inv_not-a-real-link"},
        ),
    ],
    # --- billing -------------------------------------------------------------------------
    "billing:usage": [
        Check("GET", S(200, 200, 403, 200, 403, 302, 200, 302)),
        Check("GET", S(400, 400, 403, 400, 403, 302, 400, 302), query="month=2026-13"),
    ],
    "billing:usage_topics": [
        Check("GET", S(200, 200, 403, 200, 403, 302, 404, 302), kwargs=cluster_pk)
    ],
    "billing:invoices": [Check("GET", S(200, 200, 403, 200, 403, 302, 200, 302))],
    "billing:invoice_detail": [
        Check("GET", S(200, 200, 403, 200, 403, 302, 404, 302), kwargs=invoice_pk)
    ],
    "billing:invoice_refresh": [
        Check("POST", S(302, 302, 403, 302, 403, 302, 404, 302), kwargs=invoice_pk)
    ],
    "billing:invoice_pdf": [
        Check("GET", S(200, 200, 403, 200, 403, 302, 404, 302), kwargs=invoice_pk)
    ],
    "billing:invoice_csv": [
        Check("GET", S(200, 200, 403, 200, 403, 302, 404, 302), kwargs=invoice_pk)
    ],
    # Platform staff pages: no team needed; team roles (even owner) are refused.
    "billing:finance_export": [Check("GET", S(403, 403, 403, 403, 403, 302, 403, 200))],
    "billing:finance_export_csv": [
        Check("GET", S(403, 403, 403, 403, 403, 302, 403, 200), query="month=2026-10"),
        Check("GET", S(403, 403, 403, 403, 403, 302, 403, 400), query="month=October"),
    ],
    "billing:price_book": [
        Check("GET", S(403, 403, 403, 403, 403, 302, 403, 200)),
        Check("POST", S(403, 403, 403, 403, 403, 302, 403, 302), data=new_price),
    ],
    "billing:price_version_withdraw": [
        Check("POST", S(403, 403, 403, 403, 403, 302, 403, 302), data=scheduled_price),
    ],
    # Fleet pages (issue 14): platform staff only; everyone else, anonymous included, 404.
    "fleet:cell_list": [Check("GET", FLEET_STAFF_ONLY)],
    "fleet:cell_register": [
        Check("GET", FLEET_STAFF_ONLY),
        Check("POST", S(*[404] * 7, 400), data={"name": "x"}),  # invalid: the form again
    ],
    "fleet:cell_detail": [Check("GET", FLEET_STAFF_ONLY, kwargs=cell_pk)],
    "fleet:cell_live": [Check("GET", FLEET_STAFF_ONLY, kwargs=cell_pk)],
    "fleet:cell_admission": [
        Check("POST", S(*[404] * 7, 302), kwargs=cell_pk, data={"admission": "draining"})
    ],
    "fleet:broker_detail": [Check("GET", FLEET_STAFF_ONLY, kwargs=broker_kwargs)],
    "fleet:operation_preview": [
        Check("POST", FLEET_STAFF_ONLY, kwargs=cell_pk, data={"kind": "rebalance", "mode": "full"})
    ],
    "fleet:operation_start": [
        Check("POST", S(*[404] * 7, 302), kwargs=cell_pk, data={"kind": "rebalance"})
    ],
    "fleet:operation_detail": [Check("GET", FLEET_STAFF_ONLY, kwargs=operation_pk)],
    "fleet:operation_cancel": [Check("POST", S(*[404] * 7, 302), kwargs=operation_pk)],
    # --- clusters ------------------------------------------------------------------------
    "home": [Check("GET", S(200, 200, 200, 200, 200, 302, 200, 302))],
    "clusters:list": [Check("GET", S(200, 200, 200, 200, 200, 302, 200, 302))],
    "clusters:create": [Check("GET", S(302, 302, 302, 403, 403, 302, 302, 302))],
    "clusters:wizard": [
        Check("GET", S(200, 200, 200, 403, 403, 302, 404, 302), kwargs=wizard),
    ],
    "clusters:detail": [Check("GET", S(200, 200, 200, 200, 200, 302, 404, 302), kwargs=cluster_pk)],
    "clusters:status": [Check("GET", S(200, 200, 200, 200, 200, 302, 404, 302), kwargs=cluster_pk)],
    "clusters:retry": [Check("POST", S(302, 302, 302, 403, 403, 302, 404, 302), kwargs=cluster_pk)],
    "clusters:tags": [
        Check(
            "POST",
            S(302, 302, 302, 403, 403, 302, 404, 302),
            kwargs=cluster_pk,
            data={"tags": "env=matrix"},
        )
    ],
    "clusters:delete": [
        Check("GET", S(200, 200, 200, 403, 403, 302, 404, 302), kwargs=cluster_pk),
        Check(
            "POST",
            S(302, 302, 302, 403, 403, 302, 404, 302),
            kwargs=cluster_pk,
            data=confirm_cluster,
        ),
    ],
    "clusters:ca": [Check("GET", S(200, 200, 200, 200, 200, 302, 404, 302), kwargs=cluster_pk)],
    # --- Access keys, policies, ACLs (issue 5; no broker here: their error path) ---------------
    "clusters:access": [Check("GET", S(200, 200, 200, 403, 403, 302, 404, 302), kwargs=cluster_pk)],
    "clusters:key_create": [
        Check(
            "POST",
            S(503, 503, 503, 403, 403, 302, 404, 302),
            kwargs=cluster_pk,
            data={"name": "matrix", "policy_template": "producer"},
        )
    ],
    "clusters:allowed_ips": [
        Check(
            "POST",
            S(302, 302, 302, 403, 403, 302, 404, 302),
            kwargs=cluster_pk,
            data={"ips": "10.0.0.1"},
        )
    ],
    "clusters:key_detail": [
        Check("GET", S(200, 200, 200, 403, 403, 302, 404, 302), kwargs=key_kwargs)
    ],
    "clusters:key_rotate": [
        Check("POST", S(503, 503, 503, 403, 403, 302, 404, 302), kwargs=key_kwargs)
    ],
    "clusters:key_revoke": [
        Check("POST", S(302, 302, 302, 403, 403, 302, 404, 302), kwargs=key_kwargs)
    ],
    "clusters:key_policy": [
        Check(
            "POST",
            S(503, 503, 503, 403, 403, 302, 404, 302),
            kwargs=key_kwargs,
            data={"policy_template": "consumer"},
        )
    ],
    "clusters:key_policy_preview": [
        Check(
            "POST",
            S(200, 200, 200, 403, 403, 302, 404, 302),
            kwargs=key_kwargs,
            data={"policy_template": "consumer"},
        )
    ],
    "clusters:acls": [Check("GET", S(200, 200, 200, 403, 403, 302, 404, 302), kwargs=cluster_pk)],
    "clusters:acl_add": [
        Check(
            "POST",
            S(503, 503, 503, 403, 403, 302, 404, 302),
            kwargs=cluster_pk,
            data=manual_acl_data,
        )
    ],
    "clusters:acl_remove": [
        Check("POST", S(302, 302, 302, 403, 403, 302, 404, 302), kwargs=manual_acl_kwargs)
    ],
    "clusters:throughput": [
        Check("GET", S(200, 200, 200, 200, 200, 302, 404, 302), kwargs=cluster_pk)
    ],
    "clusters:topic_throughput": [
        Check("GET", S(200, 200, 200, 200, 200, 302, 404, 302), kwargs=sampled_topic)
    ],
    # --- Topics, consumer groups, messages (no broker here: their error path, 503) ----------
    "clusters:topics": [Check("GET", S(503, 503, 503, 503, 503, 302, 404, 302), kwargs=cluster_pk)],
    "clusters:topic_create": [
        Check("GET", S(200, 200, 200, 403, 403, 302, 404, 302), kwargs=cluster_pk),
        Check(
            "POST",
            S(503, 503, 503, 403, 403, 302, 404, 302),
            kwargs=cluster_pk,
            data={"name": "matrix", "partitions": "1"},
        ),
    ],
    "clusters:topic_detail": [
        Check("GET", S(503, 503, 503, 503, 503, 302, 404, 302), kwargs=topic_kwargs)
    ],
    "clusters:topic_configs": [
        Check(
            "POST",
            S(503, 503, 503, 403, 403, 302, 404, 302),
            kwargs=topic_kwargs,
            data={"retention.ms": "3600000"},
        )
    ],
    "clusters:topic_partitions": [
        Check(
            "POST",
            S(503, 503, 503, 403, 403, 302, 404, 302),
            kwargs=topic_kwargs,
            data={"partitions": "3"},
        )
    ],
    "clusters:topic_purge": [
        Check("POST", S(503, 503, 503, 403, 403, 302, 404, 302), kwargs=topic_kwargs)
    ],
    "clusters:topic_delete": [
        Check(
            "POST",
            S(503, 503, 503, 403, 403, 302, 404, 302),
            kwargs=topic_kwargs,
            data={"confirm_name": "payments"},
        )
    ],
    "clusters:topic_messages": [
        Check("GET", S(503, 503, 503, 403, 403, 302, 404, 302), kwargs=topic_kwargs),
        Check(  # no broker: the error's own status (issue 12; a refused produce was a 400)
            "POST",
            S(503, 503, 503, 403, 403, 302, 404, 302),
            kwargs=topic_kwargs,
            data={"value": "hello"},
        ),
    ],
    "clusters:groups": [Check("GET", S(503, 503, 503, 503, 503, 302, 404, 302), kwargs=cluster_pk)],
    "clusters:group_detail": [
        Check("GET", S(503, 503, 503, 503, 503, 302, 404, 302), kwargs=group_kwargs)
    ],
    "clusters:group_reset": [
        Check(
            "POST",
            S(503, 503, 503, 403, 403, 302, 404, 302),
            kwargs=group_kwargs,
            data={"to": "earliest"},
        )
    ],
    "clusters:group_delete": [
        Check("POST", S(503, 503, 503, 403, 403, 302, 404, 302), kwargs=group_kwargs)
    ],
    # --- Connectors tab (issue 19; no worker here: reads say UNKNOWN, a change goes back) ---
    "clusters:connectors": [
        Check("GET", S(200, 200, 200, 200, 200, 302, 404, 302), kwargs=cluster_pk),
        Check("GET", S(200, 200, 200, 200, 200, 302, 404, 302), kwargs=connector_cluster),
    ],
    "clusters:connector_catalogue": [
        Check("GET", S(200, 200, 200, 403, 403, 302, 404, 302), kwargs=cluster_pk)
    ],
    "clusters:connector_create": [
        # The page answers at once; its fields load after (?fields=1), which needs the worker.
        Check("GET", S(200, 200, 200, 403, 403, 302, 404, 302), kwargs=connector_plugin),
        Check(
            "GET",
            S(200, 200, 200, 403, 403, 302, 404, 302),  # the worker's error, in place
            kwargs=connector_plugin,
            query="fields=1",
        ),
        Check(  # no worker: back to the form with the message (the pages' POST error path)
            "POST",
            S(302, 302, 302, 403, 403, 302, 404, 302),
            kwargs=connector_plugin,
            data={"name": "matrix", "action": "create", "cfg.topics": "orders"},
        ),
    ],
    "clusters:connector_detail": [
        Check("GET", S(200, 200, 200, 200, 200, 302, 404, 302), kwargs=connector_kwargs)
    ],
    "clusters:connector_edit": [
        Check("GET", S(200, 200, 200, 403, 403, 302, 404, 302), kwargs=connector_kwargs),
        Check(
            "POST",
            S(302, 302, 302, 403, 403, 302, 404, 302),
            kwargs=connector_kwargs,
            data={"action": "save", "cfg.topics": "orders"},
        ),
    ],
    "clusters:connector_pause": [
        Check("POST", S(302, 302, 302, 403, 403, 302, 404, 302), kwargs=connector_kwargs)
    ],
    "clusters:connector_resume": [
        Check("POST", S(302, 302, 302, 403, 403, 302, 404, 302), kwargs=connector_kwargs)
    ],
    "clusters:connector_restart": [
        Check("POST", S(302, 302, 302, 403, 403, 302, 404, 302), kwargs=connector_kwargs)
    ],
    "clusters:connector_delete": [
        Check("POST", S(302, 302, 302, 403, 403, 302, 404, 302), kwargs=connector_kwargs)
    ],
    # --- API: team -----------------------------------------------------------------------
    "api-team": [Check("GET", S(200, 200, 200, 200, 200, 401, 200, 403))],
    "team-member-list": [Check("GET", S(200, 200, 403, 403, 403, 401, 200, 403))],
    "team-member-detail": [
        Check("GET", S(200, 200, 403, 403, 403, 401, 404, 403), kwargs=target_pk),
        # Another team's member is looked up (404) before the method is refused (405).
        Check("PUT", S(405, 405, 403, 403, 403, 401, 404, 403), kwargs=target_pk),
        Check(
            "PATCH",
            S(200, 200, 403, 403, 403, 401, 404, 403),
            kwargs=target_pk,
            data={"role": "billing"},
            audit="member.role_change",
        ),
        Check(
            "DELETE",
            S(204, 204, 403, 403, 403, 401, 404, 403),
            kwargs=target_pk,
            audit="member.remove",
        ),
    ],
    "team-member-transfer-ownership": [
        Check(
            "POST",
            S(200, 403, 403, 403, 403, 401, 404, 403),
            kwargs=target_pk,
            audit="team.transfer_ownership",
            audit_target=team_of,
        ),
    ],
    "team-invitation-list": [
        Check("GET", S(200, 200, 403, 403, 403, 401, 200, 403)),
        Check(
            "POST",
            S(201, 201, 403, 403, 403, 401, 201, 403),
            data={"email": "api-invitee@example.com", "role": "viewer"},
            audit="invitation.create",
        ),
    ],
    "team-invitation-detail": [
        Check("GET", S(200, 200, 403, 403, 403, 401, 404, 403), kwargs=invitation_pk),
        Check(
            "DELETE",
            S(204, 204, 403, 403, 403, 401, 404, 403),
            kwargs=invitation_pk,
            audit="invitation.revoke",
        ),
    ],
    "token-list": [
        Check("GET", S(200, 200, 200, 200, 403, 401, 200, 403)),
        Check(
            "POST",
            S(201, 201, 201, 201, 403, 401, 201, 403),
            data={"name": "deploy"},
            audit="token.create",
        ),
    ],
    "token-detail": [
        Check("GET", S(200, 200, 200, 200, 403, 401, 404, 403), kwargs=token_pk),
        Check(
            "DELETE",
            S(204, 204, 204, 204, 403, 401, 404, 403),
            kwargs=token_pk,
            audit="token.revoke",
        ),
    ],
    "audit-event-list": [
        Check("GET", S(200, 200, 403, 403, 403, 401, 200, 403)),
        Check("GET", S(400, 400, 403, 403, 403, 401, 400, 403), query="since=not-a-date"),
    ],
    "audit-event-detail": [
        Check("GET", S(200, 200, 403, 403, 403, 401, 404, 403), kwargs=event_pk)
    ],
    # --- API: clusters -------------------------------------------------------------------
    "cluster-list": [
        Check("GET", S(200, 200, 200, 200, 200, 401, 200, 403)),
        Check(
            "POST",
            S(201, 201, 201, 403, 403, 401, 201, 403),
            data={"name": "from-api"},
            audit="cluster.create",
        ),
    ],
    "cluster-detail": [
        Check("GET", S(200, 200, 200, 200, 200, 401, 404, 403), kwargs=cluster_pk),
        Check(
            "PATCH",
            S(200, 200, 200, 403, 403, 401, 404, 403),
            kwargs=cluster_pk,
            data={"tags": {"env": "matrix"}},
            audit="cluster.tags",
        ),
        Check(
            "DELETE",
            S(202, 202, 202, 403, 403, 401, 404, 403),
            kwargs=cluster_pk,
            audit="cluster.delete",
        ),
    ],
    "cluster-ca-file": [Check("GET", S(200, 200, 200, 200, 200, 401, 404, 403), kwargs=cluster_pk)],
    # --- API: usage and invoices (GET only); the finance export is for platform staff, who
    # authenticate with their session here (or a token of their own in a team) ---------------
    "usage": [
        Check("GET", S(200, 200, 403, 200, 403, 401, 200, 403)),
        Check("GET", S(400, 400, 403, 400, 403, 401, 400, 403), query="month=11-2026"),
    ],
    "invoice-list": [
        Check("GET", S(200, 200, 403, 200, 403, 401, 200, 403)),
        Check("GET", S(400, 400, 403, 400, 403, 401, 400, 403), query="status=overdue"),
    ],
    "invoice-detail": [Check("GET", S(200, 200, 403, 200, 403, 401, 404, 403), kwargs=invoice_pk)],
    "invoice-pdf": [Check("GET", S(200, 200, 403, 200, 403, 401, 404, 403), kwargs=invoice_pk)],
    "invoice-csv": [Check("GET", S(200, 200, 403, 200, 403, 401, 404, 403), kwargs=invoice_pk)],
    "finance-export-invoices-csv": [
        Check("GET", S(403, 403, 403, 403, 403, 401, 403, 200), query="month=2026-10"),
        Check("GET", S(403, 403, 403, 403, 403, 401, 403, 400), query="month=2026-1"),
    ],
    "cluster-throughput": [
        Check("GET", S(200, 200, 200, 200, 200, 401, 404, 403), kwargs=cluster_pk)
    ],
    "cluster-throughput-history": [
        Check(
            "GET", S(200, 200, 200, 200, 200, 401, 404, 403), kwargs=cluster_pk, query="window=24h"
        ),
        Check(
            "GET", S(400, 400, 400, 400, 400, 401, 404, 403), kwargs=cluster_pk, query="window=2y"
        ),
    ],
    # --- API: access keys, policies, ACLs (no broker here: 503 where the cell is needed) -----
    "key-list": [
        Check("GET", S(200, 200, 200, 403, 403, 401, 404, 403), kwargs=cluster_pk),
        Check(
            "POST",
            S(503, 503, 503, 403, 403, 401, 404, 403),
            kwargs=cluster_pk,
            data={"name": "matrix", "policy_template": "producer"},
        ),
    ],
    "key-detail": [
        Check("GET", S(503, 503, 503, 403, 403, 401, 404, 403), kwargs=key_kwargs),
        Check("DELETE", S(503, 503, 503, 403, 403, 401, 404, 403), kwargs=key_kwargs),
    ],
    "key-rotate": [Check("POST", S(503, 503, 503, 403, 403, 401, 404, 403), kwargs=key_kwargs)],
    "key-policy": [
        Check("GET", S(200, 200, 200, 403, 403, 401, 404, 403), kwargs=key_kwargs),
        Check(
            "PUT",
            S(503, 503, 503, 403, 403, 401, 404, 403),
            kwargs=key_kwargs,
            data={"policy_template": "consumer"},
        ),
    ],
    "cluster-acls": [
        # With a key, the listing must read the cell (no broker here: 503). A cluster with no
        # keys has no bindings to read, and answers 200 without asking the cell.
        Check("GET", S(503, 503, 503, 403, 403, 401, 404, 403), kwargs=cluster_pk_with_key),
        Check(
            "POST",
            S(503, 503, 503, 403, 403, 401, 404, 403),
            kwargs=cluster_pk,
            data=lambda w, p: {
                "key_id": access_key(w).pk,
                "resource_type": "TOPIC",
                "name": "x",
                "operation": "READ",
            },
        ),
        Check(
            "DELETE",
            S(503, 503, 503, 403, 403, 401, 404, 403),
            kwargs=cluster_pk,
            data=lambda w, p: {"id": manual_acl_kwargs(w, p)["binding_id"]},
        ),
    ],
    # --- API: managed connectors (issue 19; no broker and no Connect worker here) -------------
    # Reading a connector asks its worker, which is down here: 200 with state UNKNOWN.
    "connector-plugins": [
        Check("GET", S(200, 200, 200, 200, 200, 401, 404, 403), kwargs=cluster_pk)
    ],
    "connector-list": [
        Check("GET", S(200, 200, 200, 200, 200, 401, 404, 403), kwargs=cluster_pk),
        Check(
            "POST",
            S(503, 503, 503, 403, 403, 401, 404, 403),
            kwargs=cluster_pk,
            data={"name": "m", "plugin": "jdbc-sink", "config": MATRIX_SINK},
        ),
        Check(
            "POST",
            S(400, 400, 400, 403, 403, 401, 404, 403),
            kwargs=cluster_pk,
            data={"name": "m", "plugin": "file-stream", "config": {}},
        ),
    ],
    "connector-validate": [
        Check(
            "POST",
            S(503, 503, 503, 403, 403, 401, 404, 403),
            kwargs=cluster_pk,
            data={"plugin": "jdbc-sink", "config": MATRIX_SINK},
        ),
    ],
    "connector-detail": [
        Check("GET", S(200, 200, 200, 200, 200, 401, 404, 403), kwargs=connector_kwargs),
        Check("DELETE", S(503, 503, 503, 403, 403, 401, 404, 403), kwargs=connector_kwargs),
    ],
    "connector-config": [
        Check(
            "PUT",
            S(503, 503, 503, 403, 403, 401, 404, 403),
            kwargs=connector_kwargs,
            data={"config": MATRIX_SINK},
        )
    ],
    "connector-pause": [
        Check("POST", S(503, 503, 503, 403, 403, 401, 404, 403), kwargs=connector_kwargs)
    ],
    "connector-resume": [
        Check("POST", S(503, 503, 503, 403, 403, 401, 404, 403), kwargs=connector_kwargs)
    ],
    "connector-restart": [
        Check("POST", S(503, 503, 503, 403, 403, 401, 404, 403), kwargs=connector_kwargs)
    ],
    # --- API: topics, consumer groups, messages (no broker here: 503) -------------------------
    "topic-list": [
        Check("GET", S(503, 503, 503, 503, 503, 401, 404, 403), kwargs=cluster_pk),
        Check(
            "POST",
            S(503, 503, 503, 403, 403, 401, 404, 403),
            kwargs=cluster_pk,
            data={"name": "matrix", "partitions": 1},
        ),
    ],
    "topic-detail": [
        Check("GET", S(503, 503, 503, 503, 503, 401, 404, 403), kwargs=topic_kwargs),
        Check(
            "PATCH",
            S(503, 503, 503, 403, 403, 401, 404, 403),
            kwargs=topic_kwargs,
            data={"configs": {"retention.ms": "3600000"}},
        ),
        Check("DELETE", S(503, 503, 503, 403, 403, 401, 404, 403), kwargs=topic_kwargs),
    ],
    "topic-partitions": [
        Check(
            "POST",
            S(503, 503, 503, 403, 403, 401, 404, 403),
            kwargs=topic_kwargs,
            data={"count": 3},
        )
    ],
    "topic-purge": [Check("POST", S(503, 503, 503, 403, 403, 401, 404, 403), kwargs=topic_kwargs)],
    "topic-messages": [
        Check("GET", S(503, 503, 503, 403, 403, 401, 404, 403), kwargs=topic_kwargs),
        Check(
            "POST",
            S(503, 503, 503, 403, 403, 401, 404, 403),
            kwargs=topic_kwargs,
            data={"value": "hello"},
        ),
    ],
    "consumer-group-list": [
        Check("GET", S(503, 503, 503, 503, 503, 401, 404, 403), kwargs=cluster_pk)
    ],
    "consumer-group-detail": [
        Check("GET", S(503, 503, 503, 503, 503, 401, 404, 403), kwargs=group_kwargs),
        Check("DELETE", S(503, 503, 503, 403, 403, 401, 404, 403), kwargs=group_kwargs),
    ],
    "consumer-group-reset-offsets": [
        Check(
            "POST",
            S(503, 503, 503, 403, 403, 401, 404, 403),
            kwargs=group_kwargs,
            data={"to": "earliest"},
        )
    ],
    # --- API: the fleet (issue 14), platform staff only (by session here); 404 for others ---
    "fleet-cell-list": [
        Check("GET", FLEET_STAFF_ONLY),
        Check("POST", S(*[404] * 7, 400), data={"name": "x"}),
    ],
    "fleet-cell-detail": [
        Check("GET", FLEET_STAFF_ONLY, kwargs=cell_pk),
        Check(
            "PATCH",
            FLEET_STAFF_ONLY,
            kwargs=cell_pk,
            data={"admission": "draining"},
            audit="cell.admission",
        ),
    ],
    "fleet-broker-list": [Check("GET", FLEET_STAFF_ONLY, kwargs=cell_pk)],
    "fleet-broker-detail": [Check("GET", FLEET_STAFF_ONLY, kwargs=broker_kwargs)],
    "fleet-operation-list": [
        Check("GET", FLEET_STAFF_ONLY),
        Check("POST", S(*[404] * 7, 400), data=lambda w, p: {"cell": w.cluster.cell_id}),
    ],
    "fleet-operation-preview": [
        # No broker here: the preview cannot read the cell (503), or the service is missing.
        Check(
            "POST",
            S(*[404] * 7, (200, 503)),
            data=lambda w, p: {"cell": w.cluster.cell_id, "kind": "rebalance", "mode": "full"},
        )
    ],
    "fleet-operation-detail": [Check("GET", FLEET_STAFF_ONLY, kwargs=operation_pk)],
    "fleet-operation-cancel": [Check("POST", S(*[404] * 7, 409), kwargs=operation_pk)],
    "fleet-placement": [Check("GET", FLEET_STAFF_ONLY)],
    # --- API schema and docs: public, like the docs of any API -----------------------------
    "api-schema": [Check("GET", S(200, 200, 200, 200, 200, 200, 200, 200))],
    "api-docs": [Check("GET", S(200, 200, 200, 200, 200, 200, 200, 200))],
}

# The Django admin, one row for all its routes: platform staff only; everyone else is sent to
# the admin's own login (302). The test opens its index and every model's list.
ADMIN_NAMESPACE = "admin"
ADMIN_EXPECT = S(302, 302, 302, 302, 302, 302, 302, 200)

# WebSocket routes (console/routing.py), keyed by URL name: "accept" or "reject" per principal.
# kwargs gives the route's arguments (objects of team A).
WS_MEMBERS_ONLY = dict(
    zip(PRINCIPALS, ["accept"] * 5 + ["reject"] * 3, strict=True)
)  # every role may view clusters; anonymous, another team's owner and staff may not
WS_ROUTES: dict[str, tuple[Callable[[World, str], dict], dict[str, str]]] = {
    "ws-cluster-throughput": (lambda w, p: {"cluster_id": w.cluster.pk}, WS_MEMBERS_ONLY),
    "ws-topic-throughput": (
        lambda w, p: {"cluster_id": w.cluster.pk, "topic": "payments"},
        WS_MEMBERS_ONLY,
    ),
}


# --- enumerating routes ------------------------------------------------------------------------


def walk(patterns, prefix: str = "", namespace: str = ""):
    """(name, route, pattern) of every URL pattern, namespaces joined with ':'."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}{pattern.name}" if pattern.name else None
            yield name, prefix + str(pattern.pattern), pattern


def http_routes() -> list[tuple[str | None, str]]:
    return [(name, route) for name, route, _ in walk(get_resolver().url_patterns)]


def in_admin(name: str | None, route: str) -> bool:
    return (name or "").startswith(ADMIN_NAMESPACE + ":") or route.startswith("admin/")


def test_every_route_has_a_row():
    missing = sorted(
        f"{name or '(unnamed)'}  {route}"
        for name, route in http_routes()
        if not in_admin(name, route) and name not in ROUTES
    )
    assert not missing, "Routes without a row in ROUTES (add one):\n" + "\n".join(missing)
    names = {name for name, _ in http_routes()}
    stale = sorted(set(ROUTES) - names)
    assert not stale, f"Rows for routes that no longer exist: {stale}"


def test_every_websocket_route_has_a_row():
    names = [getattr(p, "name", None) for p in websocket_urlpatterns]
    missing = [str(p.pattern) for p in websocket_urlpatterns if getattr(p, "name", None) is None]
    assert not missing, f"Name every WebSocket route (path(..., name=...)): {missing}"
    assert set(names) == set(WS_ROUTES), (
        f"WebSocket routes {sorted(set(names) - set(WS_ROUTES))} have no row in WS_ROUTES; "
        f"rows {sorted(set(WS_ROUTES) - set(names))} name no route"
    )


# --- the world ---------------------------------------------------------------------------------


@pytest.fixture
def no_kafka(monkeypatch):
    """Every Kafka client the gateway would make fails at once, as with a broker that is down."""

    def unavailable(*args, **kwargs):
        raise gateway.KafkaUnavailable("Kafka is not reachable (permission matrix: no broker).")

    # The gateway package builds clients in these modules (fleet.kafka, since issue 12).
    for module in (kafka_connection, kafka_records, kafka_scram, gateway):
        monkeypatch.setattr(module, "_base_config", unavailable)
    monkeypatch.setattr(kafka_connection, "_kafka_python_admin", unavailable)  # quotas


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    """One world for the module, in a transaction rolled back after its last test (each test's
    own transaction and each check's savepoint nest inside it)."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield build_world(tmp_path_factory.mktemp("matrix"))
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def build_world(tmp_path: Path) -> World:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n")
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps({"admin_username": "admin", "admin_password": "x"}))
    cell = CellFactory(
        bootstrap_servers="127.0.0.1:9", ca_path=str(ca), credentials_path=str(credentials)
    )

    owner = MembershipFactory(team__slug="team-a", team__name="Team A", role=Role.OWNER)
    team = owner.team
    memberships = {"owner": owner}
    for principal, role in TEAM_ROLES.items():
        if principal != "owner":
            memberships[principal] = MembershipFactory(team=team, role=role)
    outsider = MembershipFactory(team__slug="team-b", team__name="Team B", role=Role.OWNER)
    memberships["outsider"] = outsider
    staff = UserFactory(is_staff=True, is_superuser=True)
    target = MembershipFactory(team=team, role=Role.DEVELOPER)

    users = {p: m.user for p, m in memberships.items()}
    users["staff"] = staff
    tokens = {
        p: api_token_create(user=m.user, team=m.team, name=f"{p}-token")
        for p, m in memberships.items()
    }
    cluster = ClusterFactory(team=team, cell=cell, name="orders")
    created = invitation_create(
        team=team, email="invitee@example.com", role=Role.VIEWER, by=owner, base_url="http://t"
    )
    event = audit_record(team=team, action="test.event", target=cluster)
    sessions = {}
    for principal, user in users.items():
        client = Client()
        client.force_login(user)
        sessions[principal] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return World(
        team=team,
        other_team=outsider.team,
        users=users,
        memberships=memberships,
        tokens=tokens,
        cluster=cluster,
        target=target,
        invitation=created.invitation,
        invitation_raw=created.link.rstrip("/").rsplit("/", 1)[-1],
        event=event,
        sessions=sessions,
    )


class _Rollback(Exception):
    pass


def run_check(world: World, name: str, check: Check, principal: str) -> tuple[int, str]:
    """The status the principal gets, and a problem with the audit trail ('' if none)."""
    kwargs = check.kwargs(world, principal) if check.kwargs else {}
    url = reverse(name, kwargs=kwargs) + (f"?{check.query}" if check.query else "")
    is_api = url.startswith("/api/v1/")
    data = check.data(world, principal) if callable(check.data) else (check.data or {})
    client = Client()
    token = None
    if is_api and principal in world.tokens:
        token, raw = world.tokens[principal]
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {raw}"
    elif principal != "anonymous":
        client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[principal]

    before = AuditEvent.objects.count()
    method = getattr(client, check.method.lower())
    if check.method == "GET":
        response = method(url)
    elif is_api:
        response = method(url, data=json.dumps(data), content_type="application/json")
    else:
        response = method(url, data=data)
    problem = ""
    if is_api and check.method in MUTATING and 200 <= response.status_code < 300:
        problem = audit_problem(world, check, principal, token, kwargs, response, before)
    return response.status_code, problem


def audit_problem(world, check, principal, token, kwargs, response, before) -> str:
    events = list(AuditEvent.objects.order_by("id")[before:])
    if check.audit is None:
        return "a mutating API call succeeded but its row names no audit action"
    if len(events) != 1:
        return f"expected 1 audit event, got {[e.action for e in events]}"
    event = events[0]
    if check.audit_target:
        want_type, want_id = check.audit_target(world, principal, response)
    else:
        body = response.json() if response.content else {}
        want_type, want_id = None, str(kwargs.get("pk") or body.get("id"))
    wrong = []
    if event.action != check.audit:
        wrong.append(f"action {event.action!r} != {check.audit!r}")
    if token is None:  # staff call the platform API with their session (they have no token)
        if event.actor_token_id is not None or event.actor_user_id != world.users[principal].pk:
            wrong.append(f"actor {event.actor_repr!r} is not the caller")
    elif event.actor_token_id != token.pk or event.actor_user_id != token.user_id:
        wrong.append(f"actor {event.actor_repr!r} is not the caller's token")
    if event.target_id != want_id or (want_type and event.target_type != want_type):
        wrong.append(f"object {event.target_type}#{event.target_id} != {want_type}#{want_id}")
    return "; ".join(wrong)


def matches(expected: Expected, status: int) -> bool:
    return status in expected if isinstance(expected, tuple) else status == expected


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_route_permissions(db, no_kafka, world, name):
    failures = []
    for check in ROUTES[name]:
        for principal in PRINCIPALS:
            try:
                with transaction.atomic():
                    status, problem = run_check(world, name, check, principal)
                    raise _Rollback
            except _Rollback:
                pass
            expected = check.expect[principal]
            label = f"{check.method} {check.query or ''} as {principal}".replace("  ", " ")
            if not matches(expected, status):
                failures.append(f"{label}: got {status}, expected {expected}")
            if problem:
                failures.append(f"{label}: audit: {problem}")
    assert not failures, f"{name}:\n" + "\n".join(failures)


def test_admin_routes_are_for_platform_staff_only(db, world):
    changelists = [
        name
        for name, route in http_routes()
        if name and name.startswith("admin:") and name.endswith("_changelist")
    ]
    names = ["admin:index", *sorted(changelists)]
    failures = []
    for name in names:
        # Every principal on the index; on each model list, staff and one of each kind of
        # refusal (a team member, anonymous) keep the test fast.
        principals = PRINCIPALS if name == "admin:index" else ("staff", "owner", "anonymous")
        for principal in principals:
            client = Client()
            if principal != "anonymous":
                client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[principal]
            status = client.get(reverse(name)).status_code
            if status != ADMIN_EXPECT[principal]:
                failures.append(f"{name} as {principal}: got {status}")
    assert not failures, "\n".join(failures)


def test_another_teams_object_ids_are_404_for_every_role():
    """A member of team B asking for team A's objects by id: never 403, always 404."""
    id_routes = [
        (name, check)
        for name, checks in ROUTES.items()
        for check in checks
        # Token links name no object of a team: an invitation, a password-reset link.
        if check.kwargs is not None and name not in ("invitation_accept", "password_reset_confirm")
    ]
    assert id_routes
    for name, check in id_routes:
        assert check.expect["outsider"] in (404, 405), f"{name}: {check.expect['outsider']}"
