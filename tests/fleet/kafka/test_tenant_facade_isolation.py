"""Isolation by construction: the tenant facade cannot address, or show, another tenant's names.

Against the session's real cell, which holds topics, consumer groups and ACLs of three other
tenants (one of them with a prefix that is a string prefix of ours: `iso-a.orders.` next to
`iso-a.orders2.`), Hypothesis feeds `ClusterGateway` arbitrary short names: dots, names that
look like other prefixes, another tenant's full wire name, unicode, control characters, the
longest allowed name and longer. A recording transport sits at the client boundary (between the
facade and the gateway modules that build Kafka requests) and proves that no request names a
resource outside the cluster's prefix, and that listings never return a foreign name.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.errors import ApplicationError
from fleet.kafka.tenant import KAFKA_MAX_NAME, MODULES_TRANSPORT, WHOLE_CLUSTER, ClusterGateway
from fleet.kafka.types import AclBinding
from tests.fleet.kafka import gateway
from tests.fleet.kafka.util import eventually

pytestmark = pytest.mark.django_db


@dataclass
class RecordingTransport:
    """Records every name each request carries, then makes the real request."""

    names: list[tuple[str, str]] = field(default_factory=list)  # (call, name)
    raw_results: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, call: str) -> Any:
        real = getattr(MODULES_TRANSPORT, call)

        def record(conn: Any, *args: Any, **kwargs: Any) -> Any:
            for value in (*args, *kwargs.values()):
                for name in _names_in(value):
                    self.names.append((call, name))
            result = real(conn, *args, **kwargs)
            self.raw_results[call] = result
            return result

        return record


def _names_in(value: Any) -> Iterator[str]:
    """Every resource name inside a request argument (names, (topic, partition) keys, maps)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], int):
        yield from _names_in(value[0])
    elif isinstance(value, dict):
        for key in value:
            yield from _names_in(key)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            if isinstance(item, (str, tuple, dict, list)):
                yield from _names_in(item)


@dataclass(frozen=True)
class Tenant:
    prefix: str
    cell: Any

    @property
    def wire_prefix(self) -> str:
        return self.prefix


@pytest.fixture(scope="module")
def crowded_cell(kafka_cell, admin_connection) -> dict[str, Any]:
    """Our prefix plus three foreign tenants' topics, groups and ACLs on the real cell."""
    run = uuid.uuid4().hex[:6]
    ours = f"iso{run}.orders."
    foreign = [f"iso{run}.orders2.", f"other{run}.orders.", f"iso{run}x.orders."]
    topics = {f"{p}{t}" for p in [ours, *foreign] for t in ("payments", "audit")}
    for wire in sorted(topics):
        eventually(lambda wire=wire: gateway.create_topic(admin_connection, wire, partitions=1))
    for prefix in [ours, *foreign]:
        gateway.produce(admin_connection, f"{prefix}payments", [b"x"])
        gateway.consume(
            admin_connection,
            f"{prefix}payments",
            group_id=f"{prefix}readers",
            max_messages=1,
            timeout=20,
        )
        gateway.create_acls(
            admin_connection,
            [
                AclBinding(
                    "TOPIC", prefix, "PREFIXED", f"User:{prefix}key.{run}", "*", "READ", "ALLOW"
                )
            ],
        )
    yield {"ours": ours, "foreign": foreign, "run": run}
    for wire in sorted(topics):
        gateway.delete_topic(admin_connection, wire, missing_ok=True)


def _facade(kafka_cell, crowded_cell) -> tuple[ClusterGateway, RecordingTransport]:
    recorder = RecordingTransport()
    connection = kafka_cell.admin_connection(timeout=10.0)
    tenant = Tenant(prefix=crowded_cell["ours"], cell=None)
    return ClusterGateway(tenant, transport=recorder, connection=connection), recorder


def _assert_inside(recorder: RecordingTransport, prefix: str) -> None:
    def inside(call: str, name: str) -> bool:
        if call == "describe_acls":  # a principal filter: one of our own keys
            return name.startswith(f"User:{prefix}")
        return name.startswith(prefix)

    outside = [(call, name) for call, name in recorder.names if not inside(call, name)]
    assert not outside, f"requests left the prefix {prefix!r}: {outside}"


def test_listings_never_return_a_foreign_name(kafka_cell, crowded_cell):
    facade, recorder = _facade(kafka_cell, crowded_cell)
    ours, foreign = crowded_cell["ours"], crowded_cell["foreign"]

    topics = eventually(lambda: facade.list_topics() if len(facade.list_topics()) >= 2 else None)
    assert set(topics) == {"payments", "audit"}
    raw = recorder.raw_results["list_topics"]
    assert any(name.startswith(foreign[0]) for name in raw), "the cell holds foreign topics"

    groups = facade.list_consumer_groups()
    assert set(groups) == {"readers"}
    assert any(g.startswith(foreign[0]) for g in recorder.raw_results["list_consumer_groups"])

    bindings = facade.describe_acls()
    assert bindings and all(b.principal.startswith(f"User:{ours}") for b in bindings)
    assert {b.resource_name for b in bindings} == {WHOLE_CLUSTER}  # the prefix itself
    assert any(
        b.principal.startswith(f"User:{foreign[0]}") for b in recorder.raw_results["describe_acls"]
    )

    described = facade.describe_consumer_groups(["readers"])
    assert set(described) == {"readers"}
    offsets = facade.list_consumer_group_offsets(["readers"])
    assert set(offsets["readers"]) == {("payments", 0)}
    produced = facade.produce("payments", [b"y"])
    assert [r.topic for r in produced] == ["payments"]
    fetched = facade.fetch_messages({("payments", 0): (0, produced[0].offset + 1)})
    assert {m.topic for m in fetched} == {"payments"} and len(fetched) == produced[0].offset + 1
    _assert_inside(recorder, ours)


def _short_names(crowded_cell: dict[str, Any]) -> st.SearchStrategy[str]:
    ours, foreign = crowded_cell["ours"], crowded_cell["foreign"]
    room = KAFKA_MAX_NAME - len(ours)
    known = [
        *foreign,  # a name that looks like another prefix
        *(f"{p}payments" for p in foreign),  # another tenant's full wire name
        f"{ours}payments",  # our own wire name, given as a short name
        "..",
        ".",
        "*",
        "",
        "payments\x00",
        "a" * room,  # the longest allowed
        "a" * (room + 1),  # one too long
        "../" + foreign[1] + "payments",
    ]
    return st.one_of(
        st.sampled_from(known),
        st.text(alphabet=st.sampled_from("abc.-_*/\\:Ωé🙂 \t"), max_size=40),
        st.text(max_size=300),
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_request_leaves_the_prefix(kafka_cell, crowded_cell, data):
    facade, recorder = _facade(kafka_cell, crowded_cell)
    ours = crowded_cell["ours"]
    name = data.draw(_short_names(crowded_cell), label="name")
    calls = [
        lambda: facade.describe_topic_configs(name),
        lambda: facade.describe_many_topic_configs([name, "payments"]),
        lambda: facade.list_partition_offsets([(name, 0)]),
        lambda: facade.describe_log_dirs({name: [0]}),
        lambda: facade.describe_consumer_groups([name]),
        lambda: facade.list_consumer_group_offsets([name]),
        lambda: facade.delete_consumer_groups([name]),
        lambda: facade.delete_topic(name, missing_ok=True),
        lambda: facade.describe_acls(f"User:{name}"),
    ]
    for call in calls:
        try:
            result = call()
        except ApplicationError:
            continue  # refused before or by the broker: either way inside the prefix
        # Whatever came back is ours: keys of results are our short names only.
        if isinstance(result, dict):
            for key in result:
                short = key[0] if isinstance(key, tuple) else key
                assert facade.wire_name(short).startswith(ours)
    _assert_inside(recorder, ours)
    # Our own topics are untouched by anything the names did.
    assert {"payments", "audit"} <= set(facade.list_topics())
