"""The platform's rules for a tenant's connector config, applied before any worker sees it.

A pure module (no DB, no Kafka, no worker): `check_config` returns field errors, and
`wire_config` turns an accepted tenant config into what the cluster's Connect worker gets.

What a tenant writes uses short names, as everywhere in clusters/: `topics=orders`,
`topic.prefix=cdc`. The worker gets wire names (`<team>.<cluster>.orders`). What is refused:

- a plugin that is not in the catalogue (`fleet.connect.plugins.ALLOWED_PLUGINS`);
- any client override (`producer.override.*`, `consumer.override.*`, `admin.override.*`) and
  any `group.id`: a sink's consumer group is set by the platform (`connect-<name>`, inside the
  prefix; the worker's override policy admits only `group.id`);
- credentials and transport settings of the worker's own clients (`sasl.*`, `*.jaas.config`,
  `security.protocol`, key/trust stores by file), config-provider references (`${…}`: they
  could read another connector's secrets or any file of the worker), and settings that name a
  file or a class on the worker host, except the converters and transforms listed here;
- a name that is another cluster's wire name, a wire name of this cluster (use the short
  name), or one of the worker's own internal topics.

MirrorMaker 2's target is always this cluster (the platform fills `target.cluster.*`); its
source is described with `source.cluster.bootstrap.servers`, `source.cluster.sasl.username`,
`source.cluster.sasl.password` (a secret) and optionally the source's CA as PEM text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from clusters.services.access.reconcile import CONNECT_RESERVED_TOPICS

CONNECTOR_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")
CONNECTOR_NAME_MESSAGE = (
    "Connector name may use lowercase letters, digits and '-' (1–48 chars, starting with a "
    "letter or digit)."
)
MAX_TASKS = 4
MAX_VALUE_LENGTH = 8192
TOPIC_RE = re.compile(r"^[A-Za-z0-9._-]{1,200}$")

# Converters and single message transforms a tenant may name (classes run on the worker).
ALLOWED_CONVERTERS = frozenset(
    {
        "org.apache.kafka.connect.json.JsonConverter",
        "org.apache.kafka.connect.storage.StringConverter",
        "org.apache.kafka.connect.converters.ByteArrayConverter",
        "org.apache.kafka.connect.converters.LongConverter",
        "org.apache.kafka.connect.converters.IntegerConverter",
        "org.apache.kafka.connect.converters.DoubleConverter",
        "org.apache.kafka.connect.storage.SimpleHeaderConverter",
    }
)
ALLOWED_TRANSFORM_PREFIXES = ("org.apache.kafka.connect.transforms.",)
ALLOWED_DEBEZIUM_TRANSFORMS = frozenset(
    {
        # Not io.debezium.transforms.Filter or ContentBasedRouter: they run scripts.
        "io.debezium.transforms.ExtractNewRecordState",
        "io.debezium.transforms.ExtractChangedRecordState",
        "io.debezium.transforms.HeaderToValue",
        "io.debezium.transforms.TimezoneConverter",
    }
)
CLASS_VALUED = re.compile(
    r"^(key\.converter|value\.converter|header\.converter|transforms\.[^.]+\.type|"
    r"predicates\.[^.]+\.type)$"
)
# Keys nobody but the platform sets.
PLATFORM_KEYS = frozenset({"name", "connector.class", "config.action.reload"})
FORBIDDEN_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^(producer|consumer|admin)\.override\."),
        "Client overrides are not allowed: the worker's clients are run by the platform.",
    ),
    (
        re.compile(r"(^|\.)group\.id$"),
        "The consumer group is set by the platform (connect-<connector name>, inside this "
        "cluster).",
    ),
    (
        re.compile(r"(^|\.)sasl\.|(^|\.)security\.protocol$|jaas"),
        "Credentials and security settings of the worker's connections are set by the platform.",
    ),
    (
        re.compile(r"\.(location|file|filename|path|dir|directory)$|ssl(root)?cert$|sslkey$"),
        "Settings that name a file on the worker host are not allowed.",
    ),
    (
        re.compile(
            r"(\.class|\.classes|factory|callback\.handler|config\.providers.*|naming\.strategy"
            r"|^converters|^post\.processors|^sourceinfo\.struct\.maker|metric\.reporters)$"
        ),
        "Settings that load a class on the worker are not allowed.",
    ),
    (
        re.compile(r"^ssl\.|^signal\.kafka\.|^openlineage\."),
        "Connections the worker makes besides the plugin's own are set by the platform.",
    ),
)
# Debezium signal channels a tenant may enable ("file" reads the worker's files, "kafka" a
# cluster of its choosing).
SIGNAL_CHANNELS = frozenset({"source", "jmx"})
# MirrorMaker 2: what a tenant may say about the source (everything else source.cluster.* or
# target.cluster.* is the platform's).
MIRROR_SOURCE_KEYS = frozenset(
    {
        "source.cluster.alias",
        "source.cluster.bootstrap.servers",
        "source.cluster.sasl.username",
        "source.cluster.sasl.password",
        "source.cluster.sasl.mechanism",
        "source.cluster.security.protocol",
        "source.cluster.ssl.truststore.certificates",
    }
)
MIRROR_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
MIRROR_PROTOCOLS = ("SASL_SSL", "SASL_PLAINTEXT")
MIRROR_FORCED = {
    "target.cluster.alias": "target",
    "replication.policy.class": "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
    "replication.policy.separator": ".",
    # Offset syncs live in a topic named by MirrorMaker (mm2-offset-syncs.…), outside any
    # prefix; ACL sync needs the cell's ACLs. Neither is offered.
    "emit.offset-syncs.enabled": "false",
    "sync.topic.acls.enabled": "false",
}
# PostgreSQL JDBC URL parameters a tenant may use (others load classes or files on the host).
JDBC_PARAMS = frozenset(
    {
        "sslmode",
        "ApplicationName",
        "applicationName",
        "currentSchema",
        "connectTimeout",
        "socketTimeout",
        "loginTimeout",
        "tcpKeepAlive",
        "reWriteBatchedInserts",
        "stringtype",
        "prepareThreshold",
        "targetServerType",
    }
)
# Keys whose values are names of this cluster's topics (short in, wire out).
TOPIC_LIST_KEYS = frozenset({"topics"})
TOPIC_KEYS = frozenset({"errors.deadletterqueue.topic.name", "offsets.storage.topic"})
# Our own secret keys (besides the plugin's PASSWORD fields).
PSEUDO_SECRET_KEYS = frozenset({"source.cluster.sasl.password"})


@dataclass
class Scope:
    """What the rules need to know of the cluster."""

    prefix: str  # "<team>.<cluster>."
    # Wire prefixes of every other live cluster (to refuse their wire names).
    other_prefixes: Iterable[str] = field(default_factory=tuple)


class Errors(dict[str, list[str]]):
    def add(self, key: str, message: str) -> None:
        self.setdefault(key, []).append(message)


def _strings(config: Mapping[str, object], errors: Errors) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in config.items():
        if not isinstance(key, str) or not key or len(key) > 200:
            errors.add("config", "Config keys are strings of 1–200 characters.")
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        if not isinstance(value, str):
            errors.add(key, "A config value is a string (or a number or true/false).")
            continue
        if len(value) > MAX_VALUE_LENGTH:
            errors.add(key, f"At most {MAX_VALUE_LENGTH} characters.")
            continue
        out[key] = value
    return out


RESERVED_NAMES = frozenset({"plugins", "validate", "new"})  # routes beside connectors


def check_name(name: str) -> str | None:
    if name in RESERVED_NAMES:
        return f"'{name}' cannot name a connector (it names a page of the API)."
    return None if CONNECTOR_NAME_RE.match(name or "") else CONNECTOR_NAME_MESSAGE


def _check_topic_name(name: str, scope: Scope) -> str | None:
    if not TOPIC_RE.match(name):
        return f"'{name}' is not a valid topic name: use letters, digits, '.', '_' and '-'."
    if name.startswith(scope.prefix):
        return f"'{name}' is a wire name: write the topic's short name, without '{scope.prefix}'."
    if any(name.startswith(other) for other in scope.other_prefixes):
        return f"'{name}' is a topic of another cluster: a connector reaches only this cluster."
    if name in CONNECT_RESERVED_TOPICS:
        return f"'{name}' is reserved for the cluster's Connect workers."
    return None


def _check_class(key: str, value: str) -> str | None:
    if key.endswith("converter"):
        return None if value in ALLOWED_CONVERTERS else f"Converter '{value}' is not offered."
    if value.startswith(ALLOWED_TRANSFORM_PREFIXES) or value in ALLOWED_DEBEZIUM_TRANSFORMS:
        return None
    return f"'{value}' is not an offered transform or predicate."


def key_problem(plugin_id: str, key: str) -> str | None:
    """Why a tenant may not set `key` at all (whatever its value), or None."""
    if key in PLATFORM_KEYS:
        return f"'{key}' is set by the platform."
    if plugin_id == "mirror-source" and key.startswith(("source.cluster.", "target.cluster.")):
        return (
            None if key in MIRROR_SOURCE_KEYS else f"'{key}' is set by the platform or not offered."
        )
    if plugin_id == "mirror-source" and key in MIRROR_FORCED:
        return f"'{key}' is set by the platform."
    if CLASS_VALUED.match(key):
        return None  # the value is checked against the offered classes
    for pattern, message in FORBIDDEN_PATTERNS:
        if pattern.search(key):
            return message
    return None


def offered_key(plugin_id: str, key: str) -> bool:
    """Whether a form should show `key` (the pages hide what the rules refuse anyway)."""
    return key_problem(plugin_id, key) is None


def check_config(
    *, plugin_id: str, kind: str, name: str, config: Mapping[str, object], scope: Scope
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(the config as strings, field errors). No errors: `wire_config` may be called."""
    errors = Errors()
    values = _strings(config, errors)
    if message := check_name(name):
        errors.add("name", message)
    for key, value in values.items():
        if "${" in value:
            errors.add(key, "Config-provider references (${…}) are not allowed.")
            continue
        message = key_problem(plugin_id, key)
        if message is None and CLASS_VALUED.match(key):
            message = _check_class(key, value)
        if message:
            errors.add(key, message)
    channels = set(_split(values.get("signal.enabled.channels", "")))
    if channels - SIGNAL_CHANNELS:
        errors.add("signal.enabled.channels", "Signal channels offered: source, jmx.")
    if "tasks.max" in values:
        try:
            tasks = int(values["tasks.max"])
        except ValueError:
            tasks = 0
        if not 1 <= tasks <= MAX_TASKS:
            errors.add("tasks.max", f"tasks.max is a whole number from 1 to {MAX_TASKS}.")
    for key in TOPIC_KEYS & values.keys():
        if message := _check_topic_name(values[key], scope):
            errors.add(key, message)
    if kind == "sink":
        _check_sink_topics(values, scope, errors)
    if plugin_id == "postgres-cdc":
        _check_postgres(values, scope, errors)
    elif plugin_id == "jdbc-sink":
        _check_jdbc(values, errors)
    elif plugin_id == "mirror-source":
        _check_mirror(values, scope, errors)
    return values, dict(errors)


def _check_sink_topics(values: dict[str, str], scope: Scope, errors: Errors) -> None:
    has_list, has_regex = bool(values.get("topics")), bool(values.get("topics.regex"))
    if has_list == has_regex:
        errors.add(
            "topics",
            "A sink reads either 'topics' (a comma-separated list) or 'topics.regex', one of them.",
        )
        return
    if has_list:
        for topic in _split(values["topics"]):
            if message := _check_topic_name(topic, scope):
                errors.add("topics", message)
    else:
        try:
            re.compile(values["topics.regex"])
        except re.error as exc:
            errors.add("topics.regex", f"Not a valid regular expression: {exc}.")


def _check_postgres(values: dict[str, str], scope: Scope, errors: Errors) -> None:
    topic_prefix = values.get("topic.prefix", "")
    if not topic_prefix:
        errors.add(
            "topic.prefix",
            "Give a topic prefix: change events go to "
            "<topic prefix>.<schema>.<table> in this cluster.",
        )
    elif message := _check_topic_name(topic_prefix, scope):
        errors.add("topic.prefix", message)
    if "tasks.max" in values and values["tasks.max"] != "1":
        errors.add("tasks.max", "The PostgreSQL source runs one task.")


def _check_jdbc(values: dict[str, str], errors: Errors) -> None:
    url = values.get("connection.url", "")
    if not url.startswith("jdbc:postgresql://"):
        errors.add(
            "connection.url",
            "The JDBC sink writes to PostgreSQL: jdbc:postgresql://host:port/database.",
        )
        return
    parts = urlsplit(url[len("jdbc:") :])
    if not parts.hostname:
        errors.add("connection.url", "The URL names no host.")
    for param, _value in parse_qsl(parts.query, keep_blank_values=True):
        if param not in JDBC_PARAMS:
            errors.add(
                "connection.url",
                f"The URL parameter '{param}' is not allowed (allowed: "
                f"{', '.join(sorted(JDBC_PARAMS))}).",
            )


def _check_mirror(values: dict[str, str], scope: Scope, errors: Errors) -> None:
    alias = values.get("source.cluster.alias", "")
    if not re.match(r"^[A-Za-z0-9_-]{1,64}$", alias):
        errors.add(
            "source.cluster.alias",
            "Name the source (letters, digits, '-', '_'): "
            "replicated topics are named <alias>.<source topic> in this cluster.",
        )
    if not values.get("source.cluster.bootstrap.servers"):
        errors.add("source.cluster.bootstrap.servers", "Give the source's bootstrap servers.")
    else:
        for address in _split(values["source.cluster.bootstrap.servers"]):
            if not re.match(r"^[A-Za-z0-9.-]+:\d{1,5}$", address) and not re.match(
                r"^\[[0-9A-Fa-f:]+\]:\d{1,5}$", address
            ):
                errors.add("source.cluster.bootstrap.servers", f"'{address}' is not host:port.")
    mechanism = values.get("source.cluster.sasl.mechanism", "SCRAM-SHA-512")
    if mechanism not in MIRROR_MECHANISMS:
        errors.add("source.cluster.sasl.mechanism", f"One of {', '.join(MIRROR_MECHANISMS)}.")
    protocol = values.get("source.cluster.security.protocol", "SASL_SSL")
    if protocol not in MIRROR_PROTOCOLS:
        errors.add("source.cluster.security.protocol", f"One of {', '.join(MIRROR_PROTOCOLS)}.")
    for key in ("source.cluster.sasl.username", "source.cluster.sasl.password"):
        if not values.get(key):
            errors.add(key, "The source cluster's credentials are required.")
    username = values.get("source.cluster.sasl.username", "")
    if '"' in username or "\\" in username:
        errors.add("source.cluster.sasl.username", "A username without quotes or backslashes.")
    pem = values.get("source.cluster.ssl.truststore.certificates", "")
    if pem and "-----BEGIN CERTIFICATE-----" not in pem:
        errors.add(
            "source.cluster.ssl.truststore.certificates",
            "A PEM certificate (the source's CA), beginning with -----BEGIN CERTIFICATE-----.",
        )


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


# --- what the worker gets ---------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerTarget:
    """How the cluster's own worker reaches the cluster (for MirrorMaker 2's target)."""

    bootstrap_servers: str
    ca_pem: str
    jaas_config: str  # a config-provider placeholder, never the secret itself


def sink_group(name: str) -> str:
    """A sink's consumer group (short name)."""
    return f"connect-{name}"


def jaas_line(mechanism: str, username: str, password: str) -> str:
    module = (
        "org.apache.kafka.common.security.plain.PlainLoginModule"
        if mechanism == "PLAIN"
        else "org.apache.kafka.common.security.scram.ScramLoginModule"
    )
    escaped = password.replace("\\", "\\\\").replace('"', '\\"')
    return f'{module} required username="{username}" password="{escaped}";'


def secret_entries(plugin_id: str, values: Mapping[str, str], password_keys: Iterable[str]):
    """{key: secret value} of a config: the plugin's PASSWORD fields that are set, and ours.

    MirrorMaker's source password becomes the whole JAAS line (the secret file holds it; the
    worker config gets a placeholder for `source.cluster.sasl.jaas.config`)."""
    secrets = {k: values[k] for k in password_keys if values.get(k)}
    if plugin_id == "mirror-source" and values.get("source.cluster.sasl.password"):
        secrets.pop("source.cluster.sasl.password", None)
        secrets["source.cluster.sasl.jaas.config"] = jaas_line(
            values.get("source.cluster.sasl.mechanism", "SCRAM-SHA-512"),
            values.get("source.cluster.sasl.username", ""),
            values["source.cluster.sasl.password"],
        )
    return secrets


def wire_config(
    *,
    plugin_id: str,
    class_name: str,
    kind: str,
    name: str,
    values: Mapping[str, str],
    scope: Scope,
    secret_values: Mapping[str, str],
    target: WorkerTarget | None = None,
) -> dict[str, str]:
    """The config the worker gets: wire names, platform-forced keys, and `secret_values` (real
    values for a validate call, placeholders for create) in place of the secrets."""
    prefix = scope.prefix
    out = {
        k: v
        for k, v in values.items()
        if k not in PSEUDO_SECRET_KEYS and k != "source.cluster.sasl.username"
    }
    out["name"] = name
    out["connector.class"] = class_name
    for key in TOPIC_KEYS & out.keys():
        out[key] = prefix + out[key]
    if kind == "sink":
        out["consumer.override.group.id"] = prefix + sink_group(name)
        if out.get("topics"):
            out["topics"] = ",".join(prefix + t for t in _split(out["topics"]))
        elif out.get("topics.regex"):
            reserved = "|".join(re.escape(t) for t in CONNECT_RESERVED_TOPICS)
            out["topics.regex"] = f"{re.escape(prefix)}(?!(?:{reserved})$)(?:{out['topics.regex']})"
    if plugin_id == "postgres-cdc":
        if out.get("topic.prefix"):
            out["topic.prefix"] = prefix + out["topic.prefix"]
        out["topic.heartbeat.prefix"] = prefix + "__debezium-heartbeat"
        out["tasks.max"] = "1"
        # Change-event topics are made by the worker (the cells do not auto-create topics).
        out.setdefault("topic.creation.default.replication.factor", "-1")
        out.setdefault("topic.creation.default.partitions", "1")
        slot = re.sub(r"[^a-z0-9_]", "_", name.lower())
        out.setdefault("slot.name", f"skiff_{slot}"[:63])
        out.setdefault("publication.name", f"skiff_{slot}"[:63])
    if plugin_id == "mirror-source":
        out.update(MIRROR_FORCED)
        if values.get("source.cluster.alias"):
            out["source.cluster.alias"] = prefix + values["source.cluster.alias"]
        out.setdefault("source.cluster.sasl.mechanism", "SCRAM-SHA-512")
        out.setdefault("source.cluster.security.protocol", "SASL_SSL")
        if out.get("source.cluster.ssl.truststore.certificates"):
            out["source.cluster.ssl.truststore.type"] = "PEM"
        out.setdefault("replication.factor", "-1")
        # Records are copied as they are (the worker's default converter is JSON).
        out.setdefault("key.converter", "org.apache.kafka.connect.converters.ByteArrayConverter")
        out.setdefault("value.converter", "org.apache.kafka.connect.converters.ByteArrayConverter")
        out.setdefault("sync.topic.configs.enabled", "false")
        if target is not None:
            out["target.cluster.bootstrap.servers"] = target.bootstrap_servers
            out["target.cluster.security.protocol"] = "SASL_SSL"
            out["target.cluster.sasl.mechanism"] = "SCRAM-SHA-512"
            if target.jaas_config:
                out["target.cluster.sasl.jaas.config"] = target.jaas_config
            out["target.cluster.ssl.truststore.type"] = "PEM"
            out["target.cluster.ssl.truststore.certificates"] = target.ca_pem
    out.update(secret_values)
    return out


def tenant_message(message: str, prefix: str) -> str:
    """A worker's message about this cluster's names, in short names."""
    return message.replace(prefix, "")


# --- the tenant's view of Connect's ConfigInfos -------------------------------------------------


def _definition(
    name: str, type_: str, display: str, doc: str, order: int, *, required: bool = True,
    default: str | None = None,
) -> dict:  # fmt: skip
    return {
        "name": name,
        "type": type_,
        "required": required,
        "default_value": default,
        "importance": "HIGH",
        "documentation": doc,
        "group": "Source cluster",
        "order_in_group": order,
        "width": "LONG",
        "display_name": display,
        "dependents": [],
    }


# MirrorMaker 2's source, as a tenant describes it (the platform builds the JAAS line).
MIRROR_PSEUDO_DEFINITIONS: list[tuple[dict, list[str]]] = [
    (_definition("source.cluster.bootstrap.servers", "LIST", "Source bootstrap servers",
                 "host:port of the source cluster's brokers (another Skiff cluster: its "
                 "bootstrap servers).", 1), []),
    (_definition("source.cluster.sasl.username", "STRING", "Source username",
                 "A key of the source cluster that may read the replicated topics.", 2), []),
    (_definition("source.cluster.sasl.password", "PASSWORD", "Source password",
                 "The key's secret. Stored encrypted; never shown again.", 3), []),
    (_definition("source.cluster.sasl.mechanism", "STRING", "SASL mechanism",
                 "How the key authenticates.", 4, required=False, default="SCRAM-SHA-512"),
     list(MIRROR_MECHANISMS)),
    (_definition("source.cluster.security.protocol", "STRING", "Security protocol",
                 "SASL_SSL (TLS) or SASL_PLAINTEXT.", 5, required=False, default="SASL_SSL"),
     list(MIRROR_PROTOCOLS)),
    (_definition("source.cluster.ssl.truststore.certificates", "STRING",
                 "Source CA certificate (PEM)", "The CA that signed the source's TLS "
                 "certificates (another Skiff cluster: its ca.pem).", 6, required=False), []),
]  # fmt: skip


def tenant_config_infos(
    plugin_id: str, answer: Mapping, values: Mapping[str, str], prefix: str
) -> dict:
    """Connect's ConfigInfos as the tenant sees it: definitions the rules refuse left out,
    MirrorMaker's source fields added, PASSWORD values never echoed, wire names shortened."""
    configs: list[dict] = []
    hidden_errors: list[str] = []
    groups = list(answer.get("groups") or [])
    for item in answer.get("configs") or []:
        definition = dict(item.get("definition") or {})
        value = dict(item.get("value") or {})
        key = str(definition.get("name") or value.get("name") or "")
        if not offered_key(plugin_id, key) or key in ("name", "connector.class"):
            # A setting the platform sets: its errors are the platform's to see, but the
            # request must still fail with them (under "config").
            hidden_errors += [tenant_message(str(m), prefix) for m in value.get("errors") or []]
            continue
        if plugin_id == "mirror-source" and key == "source.cluster.alias":
            definition["group"] = "Source cluster"
        value["errors"] = [tenant_message(str(m), prefix) for m in value.get("errors") or []]
        if definition.get("type") == "PASSWORD" or key.endswith("jaas.config"):
            value["value"] = None
        elif key in values:
            value["value"] = values[key]  # what the tenant wrote (short names)
        elif isinstance(value.get("value"), str):
            value["value"] = tenant_message(value["value"], prefix)
        configs.append({"definition": definition, "value": value})
    if plugin_id == "mirror-source":
        if "Source cluster" not in groups:
            groups.insert(0, "Source cluster")
        for definition, recommended in MIRROR_PSEUDO_DEFINITIONS:
            key = definition["name"]
            shown = None if definition["type"] == "PASSWORD" else values.get(key)
            configs.append({
                "definition": dict(definition),
                "value": {"name": key, "value": shown, "recommended_values": recommended,
                          "errors": [], "visible": True},
            })  # fmt: skip
    error_count = sum(len(c["value"]["errors"]) for c in configs) + len(hidden_errors)
    return {
        "name": answer.get("name"),
        "error_count": error_count,
        "groups": groups,
        "configs": configs,
        "errors": hidden_errors,
    }


def config_infos_errors(document: Mapping) -> dict[str, list[str]]:
    """Field errors of a (tenant) ConfigInfos document: config key → the plugin's messages."""
    errors: dict[str, list[str]] = {}
    for item in document.get("configs") or []:
        value = item.get("value") or {}
        if value.get("errors") and value.get("visible", True) is not False:
            errors.setdefault(str(value.get("name")), []).extend(value["errors"])
    if document.get("errors"):
        errors.setdefault("config", []).extend(document["errors"])
    return errors


def password_keys(document: Mapping) -> list[str]:
    return [
        str(item["definition"]["name"])
        for item in document.get("configs") or []
        if (item.get("definition") or {}).get("type") == "PASSWORD"
    ]
