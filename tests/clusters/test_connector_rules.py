"""The platform's connector rules without a worker (issue 19): what is refused before any
worker sees a config, and what a worker gets for what a tenant wrote."""

import pytest

from clusters.services.connector_rules import (
    Scope,
    WorkerTarget,
    check_config,
    secret_entries,
    wire_config,
)
from fleet.connect.plugins import ALLOWED_PLUGINS

SCOPE = Scope(prefix="acme.prod.", other_prefixes=["other.main."])
PG = {
    "database.hostname": "db.example.com",
    "database.port": "5432",
    "database.user": "cdc",
    "database.password": "s3cret",
    "database.dbname": "shop",
    "topic.prefix": "cdc",
}
SINK = {
    "topics": "orders",
    "connection.url": "jdbc:postgresql://db.example.com:5432/shop",
    "connection.username": "writer",
    "connection.password": "pw",
}
MIRROR = {
    "source.cluster.alias": "eu",
    "source.cluster.bootstrap.servers": "kafka.example.com:9093",
    "source.cluster.sasl.username": "reader",
    "source.cluster.sasl.password": 'p"w',
    "topics": "orders.*",
}


def check(plugin_id, config, name="c1"):
    plugin = ALLOWED_PLUGINS[plugin_id]
    return check_config(
        plugin_id=plugin_id, kind=plugin.kind, name=name, config=config, scope=SCOPE
    )


@pytest.mark.parametrize(
    ("plugin_id", "config"), [("postgres-cdc", PG), ("jdbc-sink", SINK), ("mirror-source", MIRROR)]
)
def test_a_plain_config_of_each_plugin_passes(plugin_id, config):
    _values, errors = check(plugin_id, config)
    assert errors == {}


@pytest.mark.parametrize(
    ("plugin_id", "extra", "field", "message"),
    [
        # isolation: names outside the cluster
        ("jdbc-sink", {"topics": "other.main.orders"}, "topics", "another cluster"),
        ("jdbc-sink", {"topics": "acme.prod.orders"}, "topics", "short name"),
        ("jdbc-sink", {"topics": "connect-configs"}, "topics", "reserved"),
        ("postgres-cdc", {"topic.prefix": "other.main.cdc"}, "topic.prefix", "another cluster"),
        ("jdbc-sink", {"errors.deadletterqueue.topic.name": "other.main.dlq"},
         "errors.deadletterqueue.topic.name", "another cluster"),
        # the worker's clients are the platform's
        ("jdbc-sink", {"consumer.override.sasl.jaas.config": "x"},
         "consumer.override.sasl.jaas.config", "Client overrides"),
        ("postgres-cdc", {"producer.override.sasl.jaas.config": "x"},
         "producer.override.sasl.jaas.config", "Client overrides"),
        ("jdbc-sink", {"consumer.override.group.id": "other.main.g"},
         "consumer.override.group.id", "Client overrides"),
        ("jdbc-sink", {"group.id": "anything"}, "group.id", "consumer group"),
        ("postgres-cdc", {"sasl.jaas.config": "x"}, "sasl.jaas.config", "security settings"),
        ("postgres-cdc", {"schema.history.internal.producer.sasl.jaas.config": "x"},
         "schema.history.internal.producer.sasl.jaas.config", "security settings"),
        ("mirror-source", {"source.cluster.sasl.jaas.config": "x"},
         "source.cluster.sasl.jaas.config", "set by the platform"),
        ("mirror-source", {"target.cluster.bootstrap.servers": "evil:9092"},
         "target.cluster.bootstrap.servers", "set by the platform"),
        ("mirror-source", {"replication.policy.class": "x.Y"}, "replication.policy.class",
         "set by the platform"),
        # host files, classes and config providers
        ("postgres-cdc", {"database.password": "${file:/etc/passwd:x}"}, "database.password",
         "Config-provider references"),
        ("postgres-cdc", {"database.sslrootcert": "/etc/ssl/x"}, "database.sslrootcert",
         "file on the worker"),
        ("postgres-cdc", {"topic.naming.strategy.class": "x"}, "topic.naming.strategy.class",
         "load a class"),
        ("jdbc-sink", {"value.converter": "com.evil.Converter"}, "value.converter", "not offered"),
        ("jdbc-sink", {"transforms": "f", "transforms.f.type": "io.debezium.transforms.Filter"},
         "transforms.f.type", "not an offered transform"),
        ("jdbc-sink", {"connection.url": "jdbc:h2:mem:x"}, "connection.url", "PostgreSQL"),
        ("jdbc-sink", {"connection.url": "jdbc:postgresql://h/db?socketFactory=x.Y&arg=z"},
         "connection.url", "socketFactory"),
        ("jdbc-sink", {"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector"},
         "connector.class", "set by the platform"),
        # bounds
        ("jdbc-sink", {"tasks.max": "64"}, "tasks.max", "1 to 4"),
        ("postgres-cdc", {"tasks.max": "2"}, "tasks.max", "one task"),
    ],
)  # fmt: skip
def test_refused_before_the_worker(plugin_id, extra, field, message):
    base = {"postgres-cdc": PG, "jdbc-sink": SINK, "mirror-source": MIRROR}[plugin_id]
    _values, errors = check(plugin_id, {**base, **extra})
    assert field in errors, errors
    assert any(message in m for m in errors[field]), errors[field]


def test_names_are_checked():
    _values, errors = check("jdbc-sink", SINK, name="Bad Name")
    assert "name" in errors


def test_a_sink_needs_topics_or_a_regex_not_both():
    _values, errors = check("jdbc-sink", {**SINK, "topics.regex": "o.*"})
    assert "topics" in errors
    _values, errors = check("jdbc-sink", {k: v for k, v in SINK.items() if k != "topics"})
    assert "topics" in errors


def test_a_sink_gets_wire_topics_and_the_forced_group():
    values, _ = check("jdbc-sink", {**SINK, "topics": "orders, refunds"})
    wire = wire_config(
        plugin_id="jdbc-sink", class_name="io.debezium.connector.jdbc.JdbcSinkConnector",
        kind="sink", name="c1", values=values, scope=SCOPE,
        secret_values={"connection.password": "${directory:/s:connection.password}"},
    )  # fmt: skip
    assert wire["topics"] == "acme.prod.orders,acme.prod.refunds"
    assert wire["consumer.override.group.id"] == "acme.prod.connect-c1"
    assert wire["connection.password"] == "${directory:/s:connection.password}"
    assert wire["name"] == "c1"
    assert wire["connector.class"] == "io.debezium.connector.jdbc.JdbcSinkConnector"


def test_a_sink_regex_is_anchored_in_the_prefix_and_skips_internal_topics():
    import re

    config = {k: v for k, v in SINK.items() if k != "topics"} | {"topics.regex": ".*"}
    values, errors = check("jdbc-sink", config)
    assert errors == {}
    wire = wire_config(
        plugin_id="jdbc-sink", class_name="x", kind="sink", name="c1", values=values,
        scope=SCOPE, secret_values={},
    )  # fmt: skip
    pattern = re.compile(wire["topics.regex"])
    assert pattern.fullmatch("acme.prod.orders")
    assert not pattern.fullmatch("other.main.orders")
    assert not pattern.fullmatch("acme.prod.connect-configs")


def test_the_postgres_source_writes_inside_the_prefix():
    values, _ = check("postgres-cdc", PG)
    wire = wire_config(
        plugin_id="postgres-cdc", class_name="x", kind="source", name="my-cdc", values=values,
        scope=SCOPE, secret_values={},
    )  # fmt: skip
    assert wire["topic.prefix"] == "acme.prod.cdc"
    assert wire["topic.heartbeat.prefix"].startswith("acme.prod.")
    assert wire["slot.name"] == "skiff_my_cdc"


def test_mirror_maker_replicates_into_the_prefix_and_its_password_is_a_secret():
    values, _ = check("mirror-source", MIRROR)
    secrets = secret_entries("mirror-source", values, [])
    assert list(secrets) == ["source.cluster.sasl.jaas.config"]
    assert 'password="p\\"w"' in secrets["source.cluster.sasl.jaas.config"]
    wire = wire_config(
        plugin_id="mirror-source", class_name="x", kind="source", name="m", values=values,
        scope=SCOPE, secret_values={"source.cluster.sasl.jaas.config": "${directory:/s:j}"},
        target=WorkerTarget("cell:9093", "PEM", "${directory:/s:t}"),
    )  # fmt: skip
    # DefaultReplicationPolicy names target topics <source alias>.<topic>.
    assert wire["source.cluster.alias"] == "acme.prod.eu"
    assert wire["target.cluster.bootstrap.servers"] == "cell:9093"
    assert wire["emit.offset-syncs.enabled"] == "false"
    assert "source.cluster.sasl.password" not in wire
    assert 'p"w' not in str(wire)


@pytest.mark.parametrize(
    ("plugin_id", "key"),
    [
        ("jdbc-sink", "collection.naming.strategy"),
        ("postgres-cdc", "topic.naming.strategy"),
        ("postgres-cdc", "converters"),
        ("postgres-cdc", "openlineage.integration.dataset.kafka.bootstrap.servers"),
        ("mirror-source", "metric.reporters"),
        ("mirror-source", "ssl.truststore.certificates"),
        ("mirror-source", "sasl.mechanism"),
    ],
)
def test_class_and_connection_settings_are_not_offered(plugin_id, key):
    from clusters.services.connector_rules import offered_key

    assert not offered_key(plugin_id, key)


def test_every_captured_definition_is_offered_or_refused_consistently():
    """The real ConfigInfos of the three plugins (captured by the pages' engineer): what the
    form offers passes the rules with a harmless value."""
    import json
    from pathlib import Path

    from clusters.services.connector_rules import offered_key

    here = Path(__file__).parent / "configinfos"
    offered = {}
    for plugin_id in ("postgres-cdc", "jdbc-sink", "mirror-source"):
        document = json.loads((here / f"validate_{plugin_id.replace('-', '_')}.json").read_text())
        keys = [c["definition"]["name"] for c in document["configs"]]
        offered[plugin_id] = {k for k in keys if offered_key(plugin_id, k)}
    assert "topic.prefix" in offered["postgres-cdc"]
    assert "database.sslrootcert" not in offered["postgres-cdc"]
    assert "connection.password" in offered["jdbc-sink"]
    assert "sasl.jaas.config" not in offered["mirror-source"]
    assert "topic.filter.class" not in offered["mirror-source"]
    assert "topics" in offered["mirror-source"]


def test_the_tenants_view_of_configinfos():
    """Refused settings hidden (their errors still fail the request, under "config"),
    MirrorMaker's source fields added, secrets never echoed, wire names shortened."""
    import json
    from pathlib import Path

    from clusters.services.connector_rules import config_infos_errors, tenant_config_infos

    here = Path(__file__).parent / "configinfos"
    answer = json.loads((here / "validate_mirror_source.json").read_text())
    for item in answer["configs"]:
        if item["definition"]["name"] == "emit.offset-syncs.enabled":
            item["value"]["errors"] = ["offset syncs are off"]
        if item["definition"]["name"] == "topics":
            item["value"]["errors"] = ["acme.prod.x is odd"]
    values = {"source.cluster.sasl.password": "s3cret", "topics": "orders.*"}
    view = tenant_config_infos("mirror-source", answer, values, "acme.prod.")
    keys = {c["definition"]["name"]: c for c in view["configs"]}
    assert "emit.offset-syncs.enabled" not in keys and "sasl.jaas.config" not in keys
    assert keys["source.cluster.sasl.password"]["definition"]["type"] == "PASSWORD"
    assert keys["source.cluster.sasl.password"]["value"]["value"] is None
    assert "s3cret" not in json.dumps(view)
    assert keys["topics"]["value"]["value"] == "orders.*"
    assert "Source cluster" in view["groups"]
    assert config_infos_errors(view) == {
        "topics": ["x is odd"],
        "config": ["offset syncs are off"],
    }
    assert view["error_count"] == 2
