"""The Connectors tab's generated form, from ConfigInfos documents captured from the real plugins.

tests/clusters/configinfos/ holds what Connect's validate answers for the three catalogue
plugins (Debezium PostgreSQL 3.6.1, Debezium JDBC sink 3.6.0, MirrorMaker 2's source from
Kafka 4.3.1), produced with the plugins' own jars: runtime + plugin definitions, validated with a
partial config, as the worker's `PUT /connector-plugins/<class>/config/validate` does.
"""

import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from clusters.connect_forms import (
    EXTRA_FIELD,
    build_form,
    config_from_form,
    entered_secrets,
    parse_extra,
    secret_names,
    without_secrets,
)

HERE = Path(__file__).parent / "configinfos"


def infos(plugin: str) -> dict:
    return json.loads((HERE / f"validate_{plugin}.json").read_text())


@pytest.fixture
def postgres():
    return infos("postgres_cdc")


def test_groups_follow_connect_order_with_the_plugins_own_first(postgres):
    form = build_form(postgres, show_errors=False)
    names = [g.name for g in form.groups]
    assert names == [
        "Postgres",
        "Connector",
        "Events",
        "Common",
        "Transforms",
        "Predicates",
        "Error Handling",
        "Topic Creation",
        "Exactly Once Support",
    ]  # "offsets.topic" held only offsets.storage.topic, which is the platform's
    pg = next(g for g in form.groups if g.name == "Postgres")
    # In-group order is Connect's `order_in_group`.
    assert [f.name for f in pg.fields[:6]] == [
        "topic.prefix",
        "database.hostname",
        "database.port",
        "database.user",
        "database.password",
        "database.dbname",
    ]


def test_page_and_platform_keys_get_no_input(postgres):
    form = build_form(postgres, show_errors=False)
    names = {f.name for f in form.fields}
    page_or_platform = {"name", "connector.class", "connector.plugin.version"}
    assert not names & (page_or_platform | {"offsets.storage.topic"})
    # Invisible definitions (Connect's recommender hid them) are left out too.
    assert "key.converter.plugin.version" not in names
    assert {"tasks.max", "plugin.name", "database.hostname", "errors.tolerance"} <= names


def test_blank_form_marks_needed_fields_without_showing_errors(postgres):
    form = build_form(postgres, show_errors=False)
    user = form.get_field("database.user")
    assert user.required and not user.errors and user.primary
    assert form.error_count == 0
    shown = build_form(postgres)
    assert shown.get_field("database.user").errors == (
        "The 'database.user' value is invalid: A value is required",
    )
    assert shown.error_count == postgres["error_count"] == 2


def test_widgets_follow_connect_types(postgres):
    form = build_form(postgres, show_errors=False)
    assert form.get_field("database.port").widget == "number"
    assert form.get_field("database.password").widget == "password"
    assert form.get_field("tasks.max.enforce").widget == "boolean"
    plugin = form.get_field("plugin.name")
    assert plugin.widget == "select" and set(plugin.choices) == {"decoderbufs", "pgoutput"}
    assert form.get_field("tasks.max").default == "1"
    assert form.get_field("table.include.list").help.endswith("captured. Comma-separated.")
    # Plain text: the sink's topics.regex documentation has <code> tags; "comma" said once.
    sink = build_form(infos("jdbc_sink"), show_errors=False)
    assert "<code>" not in sink.get_field("topics.regex").help
    assert "java.util.regex.Pattern" in sink.get_field("topics.regex").help
    assert not sink.get_field("topics").help.endswith("Comma-separated.")
    assert form.get_field("database.hostname").label == "Hostname"
    assert form.get_field("database.port").column == "col-md-4"  # width SHORT


def test_unimportant_fields_fold_away_until_set(postgres):
    form = build_form(postgres, show_errors=False)
    connector = next(g for g in form.groups if g.name == "Connector")
    assert connector.more_fields and all(not f.primary for f in connector.more_fields)
    low = connector.more_fields[0].name
    again = build_form(postgres, values={low: "x"}, show_errors=False)
    assert again.get_field(low).primary


def test_secrets_are_never_rendered_back(postgres):
    config = {"database.hostname": "db", "database.password": "s3cret-pw"}
    form = build_form(
        postgres,
        values=config,
        entered_secrets=entered_secrets(config, postgres),
        stored_secrets={"database.sslpassword"},
    )
    password = form.get_field("database.password")
    assert password.value == "" and password.default == "" and password.secret_entered
    assert form.get_field("database.sslpassword").secret_stored
    assert "s3cret-pw" not in repr(form)
    assert secret_names(postgres) == {"database.password", "database.sslpassword"}
    assert without_secrets(config, postgres) == {"database.hostname": "db"}


def test_a_secret_never_lands_in_the_extra_lines_either():
    mirror = infos("mirror_source")
    form = build_form(
        mirror,
        values={"sasl.jaas.config": 'x required password="p";'},
        offered=lambda key: not key.startswith("sasl."),
    )
    assert "password" not in form.extra and form.get_field("sasl.jaas.config") is None


def test_our_errors_show_beside_the_field_or_on_the_form(postgres):
    form = build_form(
        postgres,
        values={"topic.prefix": "acme.prod.cdc"},
        errors={"topic.prefix": ["'acme.prod.cdc' is a wire name"], "group.id": ["set by us"]},
    )
    assert form.get_field("topic.prefix").errors == ("'acme.prod.cdc' is a wire name",)
    assert form.errors == ("group.id: set by us",)
    assert form.error_count == 2 + 1 + 1  # Connect's two, ours on a field, ours on no field


def test_values_round_trip_through_the_inputs(postgres):
    config = {
        "database.hostname": "db.internal",
        "database.port": "5432",
        "plugin.name": "pgoutput",
        "table.include.list": "public.orders,public.items",
        "tasks.max.enforce": "false",
        "transforms": "unwrap",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
    }
    form = build_form(postgres, values=config)
    posted = {f.input_name: f.value for f in form.fields}
    posted[EXTRA_FIELD] = form.extra
    assert form.extra == "transforms.unwrap.type=io.debezium.transforms.ExtractNewRecordState"
    assert config_from_form(posted) == config


def test_a_typed_value_outside_the_recommendations_stays_selectable(postgres):
    form = build_form(postgres, values={"plugin.name": "wal2json"})
    assert form.get_field("plugin.name").choices[-1] == "wal2json"


def test_config_from_form_drops_empties_and_page_keys():
    posted = {
        "csrfmiddlewaretoken": "t",
        "name": "orders",
        "cfg.name": "sneaky",
        "cfg.connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
        "cfg.database.password": "",
        "cfg.database.hostname": "  db  ",
        "cfg.topics": "a,b",
        EXTRA_FIELD: "# comment\n\ntopics=ignored\nfoo.bar = 1 = 2\n",
    }
    assert config_from_form(posted) == {
        "database.hostname": "db",
        "topics": "a,b",
        "foo.bar": "1 = 2",
    }


def test_a_bad_extra_line_names_its_line():
    with pytest.raises(ValidationError) as info:
        parse_extra("ok=1\nnot a setting\n=x")
    assert info.value.message_dict[EXTRA_FIELD] == [
        "Line 2: write one setting per line as key=value.",
        "Line 3: write one setting per line as key=value.",
    ]


def test_mirror_source_definitions_without_a_group_and_a_platform_filter():
    mirror = infos("mirror_source")
    refused = ("ssl.", "sasl.", "security.", "replication.policy", "target.cluster.")
    form = build_form(
        mirror,
        values={"source.cluster.alias": "upstream", "ssl.keystore.location": "/etc/passwd"},
        show_errors=False,
        offered=lambda key: not key.startswith(refused) and not key.endswith(".class"),
    )
    assert form.groups[0].name == "Plugin settings"
    names = {f.name for f in form.fields}
    assert "source.cluster.alias" in names and "topics" in names
    assert not any(n.startswith(refused) for n in names)
    # A refused key someone already set is not dropped silently: it shows as an extra line.
    assert form.extra == "ssl.keystore.location=/etc/passwd"
    assert form.get_field("source.cluster.alias").value == "upstream"


def test_jdbc_sink_form():
    sink = infos("jdbc_sink")
    form = build_form(sink, values={"topics": "orders", "connection.url": "jdbc:postgresql://db/x"})
    assert form.error_count == 0
    assert form.get_field("connection.password").widget == "password"
    assert form.get_field("topics").value == "orders"
    assert form.groups[0].name == "Connector"


def test_runtime_filled_settings_are_not_asked_for():
    """Connect adds each converter's own settings; `converter.type` is required without a default
    but the runtime sets it (its value comes back filled in): no input, no required mark."""
    doc = infos("mirror_source")
    converter_type = {
        "definition": {
            "name": "key.converter.converter.type",
            "type": "STRING",
            "required": True,
            "default_value": None,
            "importance": "LOW",
            "documentation": "How this converter will be used.",
            "group": None,
            "order_in_group": 1,
            "width": "MEDIUM",
            "display_name": "converter.type",
            "dependents": [],
        },
        "value": {
            "name": "key.converter.converter.type",
            "value": "key",
            "recommended_values": [],
            "errors": [],
            "visible": True,
        },
    }
    filled = {**converter_type, "definition": {**converter_type["definition"], "name": "a.b"}}
    filled["value"] = {**converter_type["value"], "name": "a.b"}
    doc["configs"] += [converter_type, filled]
    form = build_form(doc, values={"source.cluster.alias": "upstream"}, show_errors=False)
    assert form.get_field("key.converter.converter.type") is None
    assert not form.get_field("a.b").required
    assert form.get_field("source.cluster.alias").required  # required, typed by the person
