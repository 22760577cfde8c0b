"""Run a local cell: N combined broker+controller KRaft nodes as JVMs on this host.

Broker-only nodes can join later (``add_broker``, issue 14): ``process.roles=broker``, the same
listeners, TLS, SCRAM, policies and metrics exporter, and the existing controllers as
``controller.quorum.voters`` (the quorum itself never changes: a 3-node cell keeps its 3 voters).
An added node takes the next node id and the first free node slot of the cell's port block
(a block of 100 ports holds ``MAX_NODES_PER_BLOCK`` = 10 slots of 10 ports, so a 3-node cell has
room for 7 more brokers without touching any other block); ``retire_node`` stops and forgets it.

State layout (everything secret is 0600, directories 0700)::

    <state_dir>/cell.json                 ports, cluster id, credentials
    <state_dir>/tls/ca.pem, ca-key.pem    the platform CA of this cell
    <state_dir>/node-<id>/node.properties rendered on every start (so code changes apply)
    <state_dir>/node-<id>/tls/            keystore.pem (PKCS#8 key + chain), truststore.pem
    <state_dir>/node-<id>/data/           log.dirs (metadata log included)
    <state_dir>/node-<id>/logs/           server.log, authorizer.log
    <state_dir>/node-<id>/console.log     JVM stdout/stderr
    <state_dir>/node-<id>/kafka.pid

The first ``up`` formats storage with the admin SCRAM credential; later ``up`` calls restart the
same cell with its data. JVMs run in their own session, so Ctrl-C in the parent does not kill
them mid-write; ``down`` stops exactly the processes named in the pid files, after checking that
each pid still is our ``kafka.Kafka`` with our node.properties (pids get reused).

    python -m fleet.runtime.launcher up|down|status [--state-dir var/fleet/local]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from fleet import limits
from fleet.kafka.connection import KafkaConnection
from fleet.kafka.errors import KafkaGatewayError
from fleet.kafka.plain import plain_credentials_path
from fleet.kafka.topics import describe_cluster
from fleet.runtime import certs, topic_policy
from fleet.runtime.classpath import DEFAULT_FLEET_DIR, REPO_ROOT, Runtime, ensure_classpath

STATE_VERSION = 1
# JVM heap per broker. 1024 MB holds a cluster at the service limit (2,400 partitions x RF 3)
# with room to spare: measured, 4,800 replicas per broker used about 330 MB (issue 13).
DEFAULT_HEAP_MB = 1024
ADMIN_USERNAME = "admin"
CONTROLLER_USERNAME = "controller"
# Metrics behind authentication (issue 13): the exporter's basic-auth user, one password per cell.
METRICS_USERNAME = "metrics"
LOCAL_HOST = "127.0.0.1"

# Default port blocks: 19100, 19200, … 31900 (128 blocks). Below the Linux ephemeral range
# (32768+), so outgoing connections never squat on them. Many blocks, because a stopped cell's
# block stays claimed for CLAIM_GRACE_SECONDS (a block reused at once lost its metrics exporter)
# and a test run starts well over ten cells within that time.
PORT_SEARCH_START = 19100
PORT_SEARCH_END = 31900
PORT_SEARCH_STEP = 100
# node i (0-based) of a block uses base + i*10 + offset
CLIENT_OFFSET, INTERNAL_OFFSET, CONTROLLER_OFFSET, METRICS_OFFSET = 0, 1, 2, 3
# The broker's own per-topic metrics endpoint (io.skiff.metrics.TopicMetricsEndpoint, issue 20).
TOPIC_METRICS_OFFSET = 4
PORTS_PER_NODE = 5
MAX_NODES_PER_BLOCK = PORT_SEARCH_STEP // 10
COMBINED_ROLES = "broker,controller"
BROKER_ROLES = "broker"
# A node's own settings (set_node_config) never touch identity, listeners, security, storage
# or the quorum: those stay what render_node_properties makes of them.
NODE_CONFIG_FORBIDDEN = (
    "process.roles",
    "node.id",
    "broker.id",
    "controller.",
    "listener",
    "advertised.",
    "inter.broker.",
    "sasl.",
    "ssl.",
    "security.",
    "authorizer.",
    "allow.everyone.",
    "super.users",
    "log.dir",
    "metadata.log.dir",
    "create.topic.policy.",
    "alter.config.policy.",
    "skiff.",
    "broker.rack",
    "principal.builder.",
    "max.connections",
    "connection",
)


class CellError(RuntimeError):
    """A local cell could not be started, stopped or inspected."""


# --------------------------------------------------------------------------------------------
# Public data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeInfo:
    node_id: int
    host: str
    client_port: int
    internal_port: int
    controller_port: int
    metrics_port: int
    pid: int | None
    alive: bool
    # KRaft roles (issue 14): "broker,controller" for the nodes a cell starts with, "broker"
    # for nodes added later by add_broker.
    roles: str = "broker,controller"
    rack: str = ""
    # The broker's own per-topic metrics endpoint (issue 20); 0 when the running JVM was
    # started without it (a node started before it existed).
    topic_metrics_port: int = 0

    @property
    def is_controller(self) -> bool:
        return "controller" in self.roles

    @property
    def client_address(self) -> str:
        return f"{self.host}:{self.client_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.host}:{self.metrics_port}/metrics"

    @property
    def topic_metrics_url(self) -> str:
        """What the sampler reads each second; "" when the node has no such endpoint."""
        if not self.topic_metrics_port:
            return ""
        return f"http://{self.host}:{self.topic_metrics_port}/metrics"


@dataclass(frozen=True)
class CellInfo:
    name: str
    cluster_id: str
    bootstrap: str
    nodes: tuple[NodeInfo, ...]
    admin_username: str
    admin_password: str
    ca_path: Path
    state_dir: Path
    # Metrics behind authentication (issue 13): the basic-auth credential of every node's
    # metrics endpoint (kept out of __repr__ like the admin password).
    metrics_username: str = METRICS_USERNAME
    metrics_password: str = ""

    @property
    def metrics_auth(self) -> tuple[str, str] | None:
        return (self.metrics_username, self.metrics_password) if self.metrics_password else None

    def __repr__(self) -> str:  # keep the admin password out of logs and tracebacks
        return (
            f"CellInfo(name={self.name!r}, cluster_id={self.cluster_id!r}, "
            f"bootstrap={self.bootstrap!r}, nodes={len(self.nodes)}, state_dir={self.state_dir})"
        )

    @property
    def running(self) -> bool:
        return bool(self.nodes) and all(n.alive for n in self.nodes)

    def admin_connection(self, timeout: float = 15.0) -> KafkaConnection:
        return KafkaConnection(
            bootstrap=self.bootstrap,
            username=self.admin_username,
            password=self.admin_password,
            ca_path=self.ca_path,
            timeout=timeout,
        )


# --------------------------------------------------------------------------------------------
# Node properties (pure; reused by the docker-compose configuration)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeAddress:
    """Where one node listens and how others reach it.

    ``host`` is the name peers and clients dial (127.0.0.1 locally, the service name in
    compose). ``bind_host`` is the listen address (defaults to ``host``; ``0.0.0.0`` in a
    container). ``client_advertised`` overrides the tenant listener's advertised "host:port"
    when clients reach the node through a port mapping.
    """

    node_id: int
    host: str
    client_port: int
    internal_port: int
    controller_port: int
    bind_host: str | None = None
    client_advertised: str | None = None


# Connection guard rails (issue 13) ----------------------------------------------------------
@dataclass(frozen=True)
class ConnectionLimits:
    """Bounds on what one address or one key can hold on a broker (docs/security.md).

    Kafka counts ``max.connections.per.ip`` per broker across the broker's listeners (CLIENT and
    INTERNAL; the KRaft CONTROLLER listener has its own socket server and count). A peer holds
    about seventy INTERNAL connections on a full cell (64 replica fetchers and a few more), so
    the default leaves room for them beside a tenant.
    ``per_ip_overrides`` ("host:limit,...") raises the limit for platform addresses: on a local
    cell everything (peer brokers, the console, the test suite, a developer's clients) comes
    from 127.0.0.1, so loopback gets a larger but still finite allowance by default.
    ``client_max_connections`` caps the tenant listener alone, so a flood of tenants can never
    take the connection slots the inter-broker listener needs. ``client_creation_rate`` (new
    connections per second on CLIENT) is enforced by delaying accepts, not by refusing.
    """

    max_connections_per_ip: int = 200
    per_ip_overrides: str = "127.0.0.1:2000"
    client_max_connections: int = 2000
    client_creation_rate: int = 200
    failed_authentication_delay_ms: int = 1000
    reauth_ms: int = 300_000

    ENV = {
        "max_connections_per_ip": "SKIFF_KAFKA_MAX_CONNECTIONS_PER_IP",
        "per_ip_overrides": "SKIFF_KAFKA_MAX_CONNECTIONS_PER_IP_OVERRIDES",
        "client_max_connections": "SKIFF_KAFKA_CLIENT_MAX_CONNECTIONS",
        "client_creation_rate": "SKIFF_KAFKA_CLIENT_MAX_CONNECTION_CREATION_RATE",
        "failed_authentication_delay_ms": "SKIFF_KAFKA_FAILED_AUTHENTICATION_DELAY_MS",
        "reauth_ms": "SKIFF_KAFKA_CONNECTIONS_MAX_REAUTH_MS",
    }

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ConnectionLimits:
        """The limits named by SKIFF_KAFKA_* variables (README), defaults for the others."""
        values: dict[str, object] = {}
        for attr, var in cls.ENV.items():
            raw = environ.get(var)
            if raw is None or raw.strip() == "":
                continue
            values[attr] = raw.strip() if attr == "per_ip_overrides" else int(raw)
        return cls(**values)  # type: ignore[arg-type]

    def properties(self) -> dict[str, str]:
        if self.failed_authentication_delay_ms >= 600_000:  # < connections.max.idle.ms
            raise ValueError("the failed-authentication delay must stay under 10 minutes")
        return {
            "max.connections.per.ip": str(self.max_connections_per_ip),
            "max.connections.per.ip.overrides": self.per_ip_overrides,
            "listener.name.client.max.connections": str(self.client_max_connections),
            "listener.name.client.max.connection.creation.rate": str(self.client_creation_rate),
            "connection.failed.authentication.delay.ms": str(self.failed_authentication_delay_ms),
            # Kafka authenticates a connection once; without re-authentication (KIP-368) a
            # revoked or rotated key keeps its open connections for as long as they last.
            "connections.max.reauth.ms": str(self.reauth_ms),
        }


# The broker-side check of SASL/PLAIN logins (fleet/policy/, built into fleet/lib).
PLAIN_CALLBACK_HANDLER = "io.skiff.auth.SkiffPlainServerCallbackHandler"
JMX_REPORTER = "org.apache.kafka.common.metrics.JmxReporter"
LEGACY_SCRAM_WATCH = "io.skiff.auth.LegacyScramWatch"
TOPIC_METRICS_REPORTER = "io.skiff.metrics.TopicMetricsEndpoint"
TOPIC_METRICS_PREFIX = "skiff.metrics.topics."


@dataclass(frozen=True)
class TopicMetricsEndpoint:
    """The broker's per-topic metrics endpoint (issue 20; fleet/policy/, io.skiff.metrics).

    The sampler reads the per-topic byte and message counters and per-partition log sizes from
    it every second instead of from the JMX exporter (about 135 ms of CPU per exporter scrape at
    1,000 topics). It asks for the same credential as the node's exporter; the broker's
    properties hold only a salted SHA-256 of the password (as the exporter's configuration).
    """

    host: str
    port: int
    username: str
    password: str

    def properties(self) -> dict[str, str]:
        if not self.username.isidentifier():
            raise ValueError("the metrics username must be a plain identifier")
        if not self.password:
            raise ValueError("the per-topic metrics endpoint needs the metrics password")
        salt = secrets.token_hex(16)
        digest = hashlib.sha256(f"{salt}:{self.password}".encode()).hexdigest()
        return {
            f"{TOPIC_METRICS_PREFIX}host": self.host,
            f"{TOPIC_METRICS_PREFIX}port": str(self.port),
            f"{TOPIC_METRICS_PREFIX}username": self.username,
            f"{TOPIC_METRICS_PREFIX}salt": salt,
            f"{TOPIC_METRICS_PREFIX}password.sha256": digest,
        }


def replication_defaults(cluster_size: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) for a cell of ``cluster_size`` brokers."""
    replication_factor = limits.cell_replication_factor(cluster_size)
    return replication_factor, min(2, replication_factor)


def render_node_properties(
    node: NodeAddress,
    *,
    voters: Sequence[NodeAddress],
    log_dir: str,
    keystore_path: str,
    truststore_path: str,
    admin_password: str,
    controller_password: str,
    replication_factor: int,
    process_roles: str = "broker,controller",
    admin_username: str = ADMIN_USERNAME,
    extra: Mapping[str, str] | None = None,
    connection_limits: ConnectionLimits | None = None,
    internal_platform_login: bool = False,
    policy_rules_path: str | None = None,
    plain_credentials_path: str | None = None,
    topic_metrics: TopicMetricsEndpoint | None = None,
) -> str:
    """The server.properties of one node of a secured Skiff cell.

    Listeners: CLIENT (tenants and the platform, SASL_SSL + SCRAM-SHA-512), INTERNAL
    (inter-broker, SASL_SSL + PLAIN) and CONTROLLER (KRaft, SASL_PLAINTEXT + PLAIN). INTERNAL and
    CONTROLLER accept only the users their listener-specific JAAS lists: the node identity
    ``controller`` (a super user: peers need CLUSTER_ACTION; never ANONYMOUS), so a tenant's
    SCRAM credential fails SASL there (issue 13). ``internal_platform_login`` also lists the
    platform's admin on INTERNAL, for a console that can reach only that listener (compose).
    """
    for secret in (admin_password, controller_password):
        # JAAS values are double-quoted; the generator only makes URL-safe tokens anyway.
        if any(c in secret for c in '"\\\n;'):
            raise ValueError("passwords must not contain quotes, backslashes, ';' or newlines")
    roles = {r.strip() for r in process_roles.split(",")}
    if not roles <= {"broker", "controller"} or "broker" not in roles:
        raise ValueError(f"unsupported process.roles {process_roles!r}")
    is_controller = "controller" in roles
    rf, min_isr = replication_factor, (2 if replication_factor >= 3 else 1)
    bind = node.bind_host or node.host
    client_adv = node.client_advertised or f"{node.host}:{node.client_port}"

    listeners = [
        f"CLIENT://{bind}:{node.client_port}",
        f"INTERNAL://{bind}:{node.internal_port}",
    ]
    if is_controller:
        listeners.append(f"CONTROLLER://{bind}:{node.controller_port}")
    voter_list = ",".join(f"{v.node_id}@{v.host}:{v.controller_port}" for v in voters)
    scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
    plain = "org.apache.kafka.common.security.plain.PlainLoginModule"

    props: dict[str, str] = {
        "process.roles": ",".join(r for r in ("broker", "controller") if r in roles),
        "node.id": str(node.node_id),
        "controller.quorum.voters": voter_list,
        "listeners": ",".join(listeners),
        "advertised.listeners": f"CLIENT://{client_adv},INTERNAL://{node.host}:{node.internal_port}",
        "listener.security.protocol.map": (
            "CLIENT:SASL_SSL,INTERNAL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT"
        ),
        "inter.broker.listener.name": "INTERNAL",
        "controller.listener.names": "CONTROLLER",
        # SASL
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.client.sasl.enabled.mechanisms": "SCRAM-SHA-512",
        # Listener guard rails (issue 13): INTERNAL is PLAIN with its own user list (below).
        "listener.name.internal.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "sasl.mechanism.controller.protocol": "PLAIN",
        # Server side of SCRAM needs a login module but no credentials (they live in metadata).
        "listener.name.client.scram-sha-512.sasl.jaas.config": f"{scram} required;",
        # PLAIN on INTERNAL: this node logs in to its peers as the node identity, and the
        # listener accepts that identity only (plus the platform admin where asked).
        "listener.name.internal.plain.sasl.jaas.config": (
            f'{plain} required username="{CONTROLLER_USERNAME}" '
            f'password="{controller_password}" user_{CONTROLLER_USERNAME}="{controller_password}"'
            + (f' user_{admin_username}="{admin_password}"' if internal_platform_login else "")
            + ";"
        ),
        # PLAIN: username/password = what this node sends; user_controller = what it accepts.
        "listener.name.controller.plain.sasl.jaas.config": (
            f'{plain} required username="{CONTROLLER_USERNAME}" '
            f'password="{controller_password}" user_{CONTROLLER_USERNAME}="{controller_password}";'
        ),
        # TLS with the platform CA, PEM files, no keystore passwords (Kafka refuses them for PEM).
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": keystore_path,
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": truststore_path,
        "ssl.endpoint.identification.algorithm": "https",
        "ssl.client.auth": "none",
        # Authorization
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{admin_username};User:{CONTROLLER_USERNAME}",
        # JMX as by default, plus Skiff's watch for SCRAM logins that fail with librdkafka's
        # doubled nonce (librdkafka < 2.6.1, fleet/policy/): the console tells the key's owner;
        # and the per-topic metrics endpoint (issue 20), which serves only when configured.
        "metric.reporters": f"{JMX_REPORTER},{LEGACY_SCRAM_WATCH},{TOPIC_METRICS_REPORTER}",
        # Topics
        "auto.create.topics.enable": "false",
        "num.partitions": "1",
        "default.replication.factor": str(rf),
        "min.insync.replicas": str(min_isr),
        "offsets.topic.replication.factor": str(rf),
        "transaction.state.log.replication.factor": str(rf),
        "transaction.state.log.min.isr": str(min_isr),
        "share.coordinator.state.topic.replication.factor": str(rf),
        "share.coordinator.state.topic.min.isr": str(min_isr),
        "unclean.leader.election.enable": "false",
        "group.initial.rebalance.delay.ms": "0",
        # Replication (issue 20, a cell full of tenants): a leader answers each follower fetch
        # by looking at every partition of the follower's fetch session, whether or not it has
        # new records, and an acks=all produce waits for two fetches of each follower. So a
        # produce's latency grows with the session's size. At 1,000 clusters (5,000 partitions,
        # 3 nodes, leaders balanced), a tenant's round trip p50 / p95 back to back, by replica
        # fetchers per broker pair (partitions per session): 1: 105-160 ms p95; 4 (~420):
        # 7-8 ms p50; 16 (~105): 4.5-6.2 / 7.7-11 ms; 32 (~52): 3.6-3.9 / 6.0-7.3 ms; 64 (~26):
        # 2.6 / 4.5 ms, as fast as a cell with 50 partitions; 128: no faster. The brokers' idle
        # work grows with the threads (all three brokers at rest: 22% of a core with 16, 27%
        # with 32, 31% with 64, 52% with 128). A fetcher thread starts only once a partition
        # hashes to it, so a small cell runs few. An empty fetch waiting 2 s instead of 0.5 s
        # (new records answer it at once) makes a quarter of the empty rounds.
        "num.replica.fetchers": "64",
        "replica.fetch.wait.max.ms": "2000",
        # Storage
        "log.dirs": log_dir,
    }
    # Connection guard rails (issue 13): per-IP and per-listener limits, the creation rate of
    # the tenant listener, the delay on failed authentication, re-authentication.
    props.update((connection_limits or ConnectionLimits()).properties())
    # Topic policies (issue 13): Skiff's CreateTopicPolicy/AlterConfigPolicy (fleet/policy/),
    # run by the controllers, with the rules file rendered from fleet/topic_rules.py.
    if policy_rules_path is not None:
        props.update(topic_policy.policy_properties(policy_rules_path))
    if plain_credentials_path is not None:
        # SASL/PLAIN beside SCRAM on the tenant listener (issue 17), for clients that Kafka 4's
        # SCRAM nonce check locks out (librdkafka < 2.6.1). Skiff's handler checks the key's
        # secret against the salted hash the platform writes (fleet/kafka/plain.py); the
        # principal is User:<key username> either way, so ACLs and quotas are the same.
        if any(c in plain_credentials_path for c in '"\\\n;'):
            raise ValueError("the PLAIN credentials path must not contain quotes or ';'")
        props["listener.name.client.sasl.enabled.mechanisms"] = "SCRAM-SHA-512,PLAIN"
        props["listener.name.client.plain.sasl.jaas.config"] = (
            f'{plain} required credentials_file="{plain_credentials_path}";'
        )
        props["listener.name.client.plain.sasl.server.callback.handler.class"] = (
            PLAIN_CALLBACK_HANDLER
        )
    if topic_metrics is not None:
        props.update(topic_metrics.properties())
    if extra:
        props.update(extra)
    lines = ["# Rendered by fleet.runtime.launcher.render_node_properties: do not edit."]
    lines += [f"{key}={_escape_property(value)}" for key, value in props.items()]
    return "\n".join(lines) + "\n"


def check_node_config_entry(key: str, value: str | None) -> None:
    """Refuse a node setting that is not a plain broker setting (see NODE_CONFIG_FORBIDDEN)."""
    if not key or not all(c.isascii() and (c.isalnum() or c in "._-") for c in key):
        raise CellError(f"{key!r} is not a broker setting name")
    if key.startswith(NODE_CONFIG_FORBIDDEN) or key in LOCKED_NODE_SETTINGS:
        raise CellError(f"{key} is managed by the platform and cannot be set per node")
    if value is not None and any(c in value for c in "\n\r\\"):
        raise CellError(f"the value of {key} must be one line without backslashes")


# Settings with a Skiff guarantee behind them (docs/security.md): never changed per node.
LOCKED_NODE_SETTINGS = frozenset(
    {
        "auto.create.topics.enable",
        "unclean.leader.election.enable",
        "default.replication.factor",
        "min.insync.replicas",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
    }
)


def _escape_property(value: str) -> str:
    # java.util.Properties treats backslash as an escape; nothing else we write needs escaping.
    return value.replace("\\", "\\\\")


# Metrics behind authentication (issue 13) ---------------------------------------------------
def render_metrics_config(
    base_config: str,
    *,
    username: str,
    password: str,
    topic_series: bool = True,
    salt: str | None = None,
) -> str:
    """The exporter's configuration with HTTP basic auth on its server (jmx_exporter >= 1.0).

    Only a salted SHA-256 of the password is written (the agent compares SHA-256 of
    ``<salt>:<password>``); the password itself stays in the cell's owner-only credentials.
    ``topic_series=False`` (the platform's own cells, whose brokers serve the per-topic series
    on their TopicMetricsEndpoint) leaves them out: see `without_topic_series`.
    ``salt`` keeps the salt of the file written before (so an unchanged cell rewrites nothing
    under running agents) when the agent accepts the password under it; otherwise, and when
    it is None, a fresh salt is drawn (see `exporter_accepts`).
    """
    if not topic_series:
        base_config = without_topic_series(base_config)
    if "httpServer:" in base_config:
        raise ValueError("the base exporter configuration already has an httpServer section")
    if not username.isidentifier():
        raise ValueError("the metrics username must be a plain identifier")
    if salt is None or not exporter_accepts(salt=salt, password=password):
        salt = secrets.token_hex(16)
        while not exporter_accepts(salt=salt, password=password):
            salt = secrets.token_hex(16)
    digest = hashlib.sha256(f"{salt}:{password}".encode()).hexdigest()
    return (
        base_config.rstrip("\n")
        + "\n# Rendered by fleet.runtime.launcher.render_metrics_config: the scrape needs the"
        + " cell's metrics credential.\n"
        + "httpServer:\n  authentication:\n    basic:\n"
        + f"      username: {username}\n"
        + "      algorithm: SHA-256\n"
        + f'      salt: "{salt}"\n'
        + f'      passwordHash: "{digest}"\n'
    )


def exporter_accepts(*, salt: str, password: str) -> bool:
    """Whether the exporter agent matches ``password`` against the salted digest we write.

    The agent we ship (jmx_exporter 1.0.1, MessageDigestAuthenticator) hex-encodes the SHA-256
    of ``<salt>:<password>`` with BigInteger.toString(16), which drops leading zero digits, and
    compares that string with the configured passwordHash. When the digest starts with "0" (one
    salt in 16) the two never match: the exporter answers 401 to the right credential for its
    JVM's whole life. Measured with the real agent: leading "0" -> HTTP 401, else 200.
    """
    if not salt or not all(c in "0123456789abcdef" for c in salt):
        return False
    return not hashlib.sha256(f"{salt}:{password}".encode()).hexdigest().startswith("0")


_CONFIGURED_SALT = re.compile(r'^      salt: "([0-9a-f]+)"$', re.MULTILINE)


def configured_salt(config_text: str) -> str | None:
    """The salt in an exporter configuration `render_metrics_config` wrote, if any."""
    match = _CONFIGURED_SALT.search(config_text)
    return match.group(1) if match else None


# The per-topic MBeans of the exporter's rules (fleet/config/jmx-exporter.yaml); the broker-wide
# totals of the same meters (no topic key) stay.
_PER_TOPIC_INCLUDES = (
    '"kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec,*"',
    '"kafka.server:type=BrokerTopicMetrics,name=BytesOutPerSec,*"',
    '"kafka.server:type=BrokerTopicMetrics,name=MessagesInPerSec,*"',
    '"kafka.log:type=Log,name=Size,*"',
)


def without_topic_series(base_config: str) -> str:
    """The exporter rules without the per-topic and per-partition MBeans (issue 20).

    fleet/config/jmx-exporter.yaml stays the rule set a registered cell's exporter needs (the
    sampler meters such a cell through it). The platform's own brokers serve those series on
    their TopicMetricsEndpoint instead, and the exporter (1.0.1) reads every included MBean on
    every scrape whatever the name[] filter: at 1,000 topics about 135 ms of CPU per scrape.
    Without them it keeps the broker-wide totals, the replica manager and controller gauges and
    the old-librdkafka SCRAM records, which the cell page and the legacy-client scan read.
    """
    out: list[str] = []
    rule: list[str] = []

    def end_rule() -> None:
        # A rule with a topic label reads per-topic MBeans that are no longer included.
        if rule and not any(line.strip().startswith("topic:") for line in rule):
            out.extend(rule)
        rule.clear()

    for line in base_config.splitlines():
        stripped = line.strip()
        if stripped.startswith("- ") and stripped[2:] in _PER_TOPIC_INCLUDES:
            if "BrokerTopicMetrics" in stripped:
                out.append(line.replace(',*"', '"'))  # the broker-wide totals only
            continue
        if line.startswith("  - pattern:"):
            end_rule()
            rule.append(line)
        elif rule and (line.startswith("    ") or not stripped):
            rule.append(line)
        else:
            end_rule()
            out.append(line)
    end_rule()
    return "\n".join(out) + "\n"


# Lighter defaults for cells on a developer machine: fewer internal-topic partitions make the
# first consumer group (which creates __consumer_offsets) and start-up noticeably faster.
LOCAL_PROFILE: Mapping[str, str] = {
    "offsets.topic.num.partitions": "10",
    "transaction.state.log.num.partitions": "10",
    "share.coordinator.state.topic.num.partitions": "10",
    "num.network.threads": "2",
    "num.io.threads": "4",
    "log.retention.check.interval.ms": "60000",
}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, base64url without padding (like Uuid.toString).

    Kafka's own generator also avoids ids starting with '-' (they look like CLI flags).
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


def _new_password() -> str:
    return secrets.token_urlsafe(32)  # 43 chars of [A-Za-z0-9_-]


def _port_free(port: int, host: str = LOCAL_HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Same option the JVM sets on server sockets: TIME_WAIT leftovers don't count as used.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _block_ports(base: int, nodes: int) -> list[int]:
    return [base + i * 10 + off for i in range(nodes) for off in range(PORTS_PER_NODE)]


_CLAIMS_FILE = Path(tempfile.gettempdir()) / f"skiff-port-claims-{os.getuid()}.json"
# A claim protects a block from the moment it is chosen until the cell's JVMs hold the ports.
# After that, only a running cell keeps its block: a stopped cell (or the leftover state dir of
# an old test session) must not exhaust the few blocks there are. The grace also keeps a block
# just given up from being taken again at once: with 120 s, a dedicated test cell reused the
# block of one stopped a minute before and its metrics exporter never answered (the port's
# last connections were still closing).
log = logging.getLogger(__name__)

CLAIM_GRACE_SECONDS = 600.0
# How long a node start waits for the ports of a node that just stopped to be released.
PORT_RELEASE_SECONDS = 10.0
# How long a started cell waits for its metrics exporters once Kafka itself serves.
METRICS_READY_SECONDS = 45.0


@contextmanager
def _claims_lock() -> Iterator[dict[str, dict[str, object]]]:
    """Port blocks claimed by cell state dirs on this host: base -> {state_dir, at}."""
    lock_path = _CLAIMS_FILE.with_suffix(".lock")
    with open(lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            raw = json.loads(_CLAIMS_FILE.read_text())
        except (FileNotFoundError, ValueError):
            raw = {}
        claims = {k: v for k, v in raw.items() if isinstance(v, dict)}
        yield claims
        _CLAIMS_FILE.write_text(json.dumps(claims, indent=1, sort_keys=True))


def _claim(base: int, state_dir: Path) -> None:
    with _claims_lock() as claims:
        claims[str(base)] = {"state_dir": str(state_dir), "at": time.time()}


def _claim_is_live(base: int, claim: Mapping[str, object]) -> bool:
    state_dir = Path(str(claim.get("state_dir")))
    claimed_at = claim.get("at")
    recent = isinstance(claimed_at, int | float) and time.time() - claimed_at < CLAIM_GRACE_SECONDS
    try:
        state = json.loads((state_dir / "cell.json").read_text())
    except (FileNotFoundError, ValueError, OSError):
        # A cell being created has claimed its block but not yet written cell.json (its CA and
        # node certificates come first, seconds under load): a recent claim holds. Treating it
        # as dead let a second cell take the same block, and a probe of one cell's metrics port
        # reached the other's exporter (HTTP 401 with this cell's credential).
        return recent and state_dir.exists()
    if state.get("port_base") != base:
        return False
    if recent:
        return True
    return any(
        _pid_file_is_kafka(d / "kafka.pid", d / "node.properties") for d in _node_dirs(state_dir)
    )


def _node_dirs(state_dir: Path) -> list[Path]:
    return sorted(p for p in state_dir.glob("node-*") if p.is_dir())


def _pid_file_is_kafka(pid_path: Path, properties_path: Path) -> bool:
    try:
        pid = int(pid_path.read_text().strip())
    except (FileNotFoundError, ValueError, OSError):
        return False
    cmdline = _read_cmdline(pid)
    return bool(cmdline) and "kafka.Kafka" in cmdline and str(properties_path) in cmdline


def _choose_port_base(state_dir: Path, nodes: int) -> int:
    if nodes > MAX_NODES_PER_BLOCK:
        raise CellError(f"at most {MAX_NODES_PER_BLOCK} nodes fit a default port block")
    with _claims_lock() as claims:
        for base in range(PORT_SEARCH_START, PORT_SEARCH_END + 1, PORT_SEARCH_STEP):
            claim = claims.get(str(base))
            if (
                claim is not None
                and claim.get("state_dir") != str(state_dir)
                and _claim_is_live(base, claim)
            ):
                continue
            if all(_port_free(p) for p in _block_ports(base, nodes)):
                claims[str(base)] = {"state_dir": str(state_dir), "at": time.time()}
                return base
    raise CellError(
        f"no free port block in {PORT_SEARCH_START}-{PORT_SEARCH_END + 99}: every block is used "
        "by a running cell or another process; stop one or pass port_base"
    )


def _read_cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # Field 3 of stat (after the parenthesised comm) is the state; a zombie is not running.
    if stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


# Class-data sharing (issue 14) -------------------------------------------------------------
# Off unless SKIFF_KAFKA_CDS=1. Measured with bench/fleet_startup.py on 2 cores (load ~12, heap
# 256 MB, C1 only), the same hour: without an archive a 3-node cold start was ready in 12.8 s
# with 4.1 s of CPU per broker; with a dynamic AppCDS archive (60 MB, made by one clean run) 22.1
# s and 5.2-5.7 s of CPU per broker. The nodes already start in parallel (storage formatted in
# parallel, all JVMs spawned before the first wait), so neither idea gained anything here.
CDS_ENV = "SKIFF_KAFKA_CDS"  # "1" turns it on
_TRAINING_SUFFIX = ".training-"
CDS_DUMP_SECONDS = 120.0


def _class_data_sharing(runtime: Runtime) -> list[str]:
    """JVM flags for the AppCDS archive of the broker's classes.

    With the archive: map it (-XX:SharedArchiveFile; a mismatched or damaged archive is
    ignored by the JVM, which then starts without sharing). Without: this JVM writes one
    when it exits cleanly (-XX:ArchiveClassesAtExit) to a file of its own, which the stop
    that ended it renames into place (_adopt_archive): no JVM ever reads a half-written one.
    """
    if os.environ.get(CDS_ENV, "0").strip() != "1" or not runtime.digest:
        return []
    archive = runtime.cds_archive
    if archive.is_file():
        return [f"-XX:SharedArchiveFile={archive}", "-Xshare:auto", "-Xlog:cds=off"]
    training = archive.with_name(f"{archive.name}{_TRAINING_SUFFIX}{secrets.token_hex(6)}")
    return [
        # The metrics agent runs in every broker JVM; Java 17 archives beside an agent only
        # with this diagnostic switch (the agent transforms no classes).
        "-XX:+UnlockDiagnosticVMOptions",
        "-XX:+AllowArchivingWithJavaAgent",
        f"-XX:ArchiveClassesAtExit={training}",
        "-Xlog:cds=off",
        "-Xlog:cds+dynamic=off",
    ]


def _training_archive(pid: int) -> Path | None:
    for arg in _read_cmdline(pid) or []:
        if arg.startswith("-XX:ArchiveClassesAtExit="):
            return Path(arg.split("=", 1)[1])
    return None


def _adopt_archive(training: Path, *, complete: bool = True) -> None:
    """Move a finished training archive into place (the first one wins)."""
    final = training.with_name(training.name.split(_TRAINING_SUFFIX, 1)[0])
    try:
        if complete and training.is_file() and training.stat().st_size > 0 and not final.exists():
            os.replace(training, final)
            log.info("class-data archive %s made", final)
    finally:
        training.unlink(missing_ok=True)


def _exiting(pid: int) -> bool:
    """A process in its exit path: not yet a zombie, but its command line already gone."""
    cmdline = _read_cmdline(pid)
    return cmdline is not None and not cmdline


def _tail(path: Path, lines: int = 40) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            text = fh.read().decode(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])


def basic_auth_header(auth: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()


def _health_url(metrics_url: str) -> str:
    # The exporter's own liveness page: answers without collecting every MBean, which on a busy
    # host can take longer than a readiness probe should wait.
    return metrics_url.rsplit("/", 1)[0] + "/-/healthy"


def _probe_http(url: str, timeout: float = 5.0, auth: tuple[str, str] | None = None) -> str:
    """ "" when ``url`` answers 200; otherwise what happened, for readiness messages:
    "connection refused", "HTTP 401", "timed out", or the client's own words."""
    request = urllib.request.Request(url)  # noqa: S310 (our own URL)
    if auth is not None:
        request.add_header("Authorization", basic_auth_header(auth))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
            resp.read(1)
            return "" if resp.status == 200 else f"HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ConnectionRefusedError):
            return PROBE_REFUSED
        if isinstance(reason, TimeoutError | socket.timeout):
            return "timed out"
        return str(reason)
    except TimeoutError:
        return "timed out"
    except (OSError, ValueError) as exc:
        return str(exc) or type(exc).__name__


PROBE_REFUSED = "connection refused"
# What the JMX exporter agent (1.x) leaves in the JVM's console when it cannot listen on its
# port; it then ends the JVM ("Prometheus JMX Exporter exiting", exit status 1), so Kafka never
# starts either. Measured: it does not go on without metrics.
AGENT_BIND_ERRORS = ("BindException", "Address already in use")


def _http_ok(url: str, timeout: float = 5.0, auth: tuple[str, str] | None = None) -> bool:
    request = urllib.request.Request(url)  # noqa: S310 (our own URL)
    if auth is not None:
        request.add_header("Authorization", basic_auth_header(auth))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
            resp.read(1)
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _NodeState:
    node_id: int
    client_port: int
    internal_port: int
    controller_port: int
    metrics_port: int
    # Absent in cell.json files written before issue 14: those nodes are all combined nodes.
    roles: str = COMBINED_ROLES
    rack: str = ""
    # Broker settings of this node beyond the rendered ones (a rolling restart's config change,
    # issue 14); applied on the node's next start. See NODE_CONFIG_FORBIDDEN for what may not.
    config: dict[str, str] = field(default_factory=dict)
    # The per-topic metrics endpoint (issue 20). cell.json files from before it get the
    # block's slot for it (client port + TOPIC_METRICS_OFFSET) when read.
    topic_metrics_port: int = 0

    @property
    def is_controller(self) -> bool:
        return "controller" in self.roles


@dataclass(frozen=True)
class _CellState:
    name: str
    cluster_id: str
    port_base: int
    nodes: tuple[_NodeState, ...]
    admin_password: str
    controller_password: str
    metrics_password: str = ""  # issue 13; cells made before it get one on their next start

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": STATE_VERSION,
                "name": self.name,
                "cluster_id": self.cluster_id,
                "port_base": self.port_base,
                "admin_username": ADMIN_USERNAME,
                "admin_password": self.admin_password,
                "controller_password": self.controller_password,
                "metrics_username": METRICS_USERNAME,
                "metrics_password": self.metrics_password,
                "nodes": [n.__dict__ for n in self.nodes],
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> _CellState:
        data = json.loads(text)
        if data.get("version") != STATE_VERSION:
            raise CellError(f"unsupported cell.json version {data.get('version')!r}")
        return cls(
            name=data["name"],
            cluster_id=data["cluster_id"],
            port_base=data["port_base"],
            nodes=tuple(
                _NodeState(**{"topic_metrics_port": n["client_port"] + TOPIC_METRICS_OFFSET, **n})
                for n in data["nodes"]
            ),
            admin_password=data["admin_password"],
            controller_password=data["controller_password"],
            metrics_password=data.get("metrics_password", ""),
        )


# --------------------------------------------------------------------------------------------
# The cell
# --------------------------------------------------------------------------------------------


class LocalCell:
    def __init__(
        self,
        state_dir: Path,
        name: str = "local",
        fleet_dir: Path = DEFAULT_FLEET_DIR,
        connection_limits: ConnectionLimits | None = None,
        topic_policy: bool = True,
        exporter_topic_series: bool = False,
    ):
        self.state_dir = Path(state_dir).resolve()
        # The exporter's per-topic series (issue 20): off, since each node's TopicMetricsEndpoint
        # serves them; on only to compare the two (tests, bench/live_latency.py).
        self.exporter_topic_series = exporter_topic_series
        # Topic policies (issue 13) on every node; off only to simulate a cell registered
        # without them (drift-repair tests).
        self.topic_policy = topic_policy
        # Connection guard rails (issue 13): rendered into every node's properties on start.
        self.connection_limits = connection_limits or ConnectionLimits()
        self.name = name
        self.fleet_dir = Path(fleet_dir).resolve()
        # Popen handles of JVMs started by this object, so we can reap them (no zombies).
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._heap_mb = DEFAULT_HEAP_MB
        self._fast_start = True

    # ---- paths -----------------------------------------------------------------------------

    @property
    def _state_file(self) -> Path:
        return self.state_dir / "cell.json"

    @property
    def ca_path(self) -> Path:
        return self.state_dir / "tls" / certs.CA_CERT_NAME

    def node_dir(self, node_id: int) -> Path:
        return self.state_dir / f"node-{node_id}"

    def _properties_path(self, node_id: int) -> Path:
        return self.node_dir(node_id) / "node.properties"

    @property
    def _metrics_config_path(self) -> Path:
        return self.state_dir / "metrics" / "jmx-exporter.yaml"

    def _pid_path(self, node_id: int) -> Path:
        return self.node_dir(node_id) / "kafka.pid"

    def console_log(self, node_id: int) -> Path:
        return self.node_dir(node_id) / "console.log"

    def server_log(self, node_id: int) -> Path:
        return self.node_dir(node_id) / "logs" / "server.log"

    # ---- public API ------------------------------------------------------------------------

    def up(
        self,
        *,
        nodes: int | None = None,
        port_base: int | None = None,
        heap_mb: int = DEFAULT_HEAP_MB,
        timeout: float = 120,
        fast_start: bool = True,
    ) -> CellInfo:
        """Start the cell (creating it on first use) and wait until every broker serves.

        ``nodes`` defaults to 3 for a new cell and to the existing size otherwise; asking for a
        different size or port base than an existing cell has is an error.

        ``fast_start`` runs the JVMs with the C1 JIT only (-XX:TieredStopAtLevel=1): measured
        on 2 cores, a broker needs ~40% less CPU to start and ~40 MB less RSS, at the cost of
        peak throughput a local cell does not need. Pass False for full tiered compilation.
        """
        runtime = ensure_classpath(self.fleet_dir)
        self._heap_mb = heap_mb
        self._fast_start = fast_start
        started: list[int] = []
        with self._lock():
            state = self._load_state()
            if state is None:
                state = self._create(nodes or 3, port_base)
            else:
                # Brokers added later (add_broker) do not count: `nodes` is the size `up` made.
                controllers = sum(1 for n in state.nodes if n.is_controller)
                if nodes is not None and nodes not in (len(state.nodes), controllers):
                    raise CellError(
                        f"cell {state.name!r} in {self.state_dir} has {len(state.nodes)} nodes, "
                        f"not {nodes}"
                    )
                if port_base is not None and port_base != state.port_base:
                    raise CellError(
                        f"cell {state.name!r} uses port base {state.port_base}, not {port_base}"
                    )
            # Metrics behind authentication (issue 13): a cell made before it gets its credential
            # now; running nodes keep their old agent config until restarted.
            if not state.metrics_password:
                state = replace(state, metrics_password=_new_password())
                certs.write_private_file(self._state_file, state.to_json())
            info = self._info(state)
            if info.running:
                return info
            to_start = [n.node_id for n in info.nodes if not n.alive]
            self._write_metrics_config(state, runtime)
            self._check_ports(state, to_start)
            _claim(state.port_base, self.state_dir)
            for node in state.nodes:
                self._write_properties(state, node)
            self._format_missing(state, runtime)
            for node_info in info.nodes:
                if not node_info.alive:
                    self._spawn(state, node_info.node_id, runtime)
                    started.append(node_info.node_id)
            try:
                return self._wait_ready(state, started, timeout, runtime)
            except BaseException:
                self._stop_nodes(state, started, timeout=15)
                raise

    def down(self, timeout: float = 30) -> None:
        """Stop every node of the cell (SIGTERM, then SIGKILL after ``timeout``)."""
        with self._lock():
            state = self._load_state()
            if state is None:
                return
            self._stop_nodes(state, [n.node_id for n in state.nodes], timeout=timeout)

    def status(self) -> CellInfo | None:
        state = self._load_state()
        return None if state is None else self._info(state)

    def stop_node(self, node_id: int, timeout: float = 30) -> None:
        with self._lock():
            state = self._require_state()
            self._node_state(state, node_id)
            self._stop_nodes(state, [node_id], timeout=timeout)

    def start_node(
        self, node_id: int, timeout: float = 60, *, heap_mb: int | None = None
    ) -> CellInfo:
        """Start one stopped node and wait until the whole cell serves again."""
        runtime = ensure_classpath(self.fleet_dir)
        if heap_mb is not None:
            self._heap_mb = heap_mb
        with self._lock():
            state = self._require_state()
            node = self._node_state(state, node_id)
            if self._live_pid(node_id) is None:
                self._check_ports(state, [node_id])
                _claim(state.port_base, self.state_dir)
                self._write_properties(state, node)
                self._write_metrics_config(state, runtime)
                self._spawn(state, node_id, runtime)
            try:
                return self._wait_ready(state, [node_id], timeout, runtime)
            except BaseException:
                self._stop_nodes(state, [node_id], timeout=15)
                raise

    def crashed_nodes(self) -> list[int]:
        """Nodes that died without being stopped: their pid file names a process that is gone.

        `down` and `stop_node` remove a node's pid file, so a node the operator stopped on
        purpose is never in this list; a SIGKILL or an OutOfMemoryError exit leaves it behind.
        """
        state = self._load_state()
        if state is None:
            return []
        return [
            n.node_id
            for n in state.nodes
            if self._pid_path(n.node_id).exists() and self._live_pid(n.node_id) is None
        ]

    def restart_crashed(self, *, heap_mb: int | None = None, timeout: float = 60) -> list[int]:
        """Start again every crashed node (see `crashed_nodes`): the supervisor's one action.

        Returns the nodes started, once the cell serves again; raises CellError when they do
        not come up (the supervisor's next check tries again).
        """
        if not self.crashed_nodes():
            return []
        runtime = ensure_classpath(self.fleet_dir)
        with self._lock():
            state = self._require_state()
            crashed = self.crashed_nodes()  # again, under the lock: `down` may have run
            if not crashed:
                return []
            if heap_mb is not None:
                self._heap_mb = heap_mb
            self._check_ports(state, crashed)
            _claim(state.port_base, self.state_dir)
            self._write_metrics_config(state, runtime)
            for node_id in crashed:
                self._write_properties(state, self._node_state(state, node_id))
                self._spawn(state, node_id, runtime)
            self._wait_ready(state, crashed, timeout, runtime)
            return crashed

    def add_broker(
        self, *, heap_mb: int | None = None, rack: str = "", timeout: float = 90
    ) -> CellInfo:
        """Start a broker-only node that joins the running cell's controller quorum (issue 14).

        The node gets the next node id, the first free node slot of the cell's port block and
        its own certificate; it is kept in cell.json, so up/down/status/start_node/stop_node
        treat it like the others. Returns once every node of the cell is registered again.
        If the node does not come up, it is stopped and forgotten, and CellError says why.
        """
        runtime = ensure_classpath(self.fleet_dir)
        if heap_mb is not None:
            self._heap_mb = heap_mb
        if rack and not all(c.isalnum() or c in "-_." for c in rack):
            raise CellError("a rack name may use letters, digits, '-', '_' and '.'")
        with self._lock():
            state = self._require_state()
            info = self._info(state)
            if not any(n.alive and n.is_controller for n in info.nodes):
                raise CellError(f"cell {state.name!r} is not running; start it before adding")
            node = self._next_broker_slot(state, rack=rack)
            self._check_ports(replace(state, nodes=(node,)), [node.node_id])
            ca = certs.ensure_ca(self.state_dir / "tls", common_name=f"Skiff cell {self.name} CA")
            certs.issue_node_certificate(
                ca, self.node_dir(node.node_id) / "tls", f"skiff-{state.name}-node-{node.node_id}"
            )
            state = replace(state, nodes=(*state.nodes, node))
            certs.write_private_file(self._state_file, state.to_json())
            _claim(state.port_base, self.state_dir)
            try:
                self._write_properties(state, node)
                self._write_metrics_config(state, runtime)
                self._format_missing(state, runtime)
                self._spawn(state, node.node_id, runtime)
                return self._wait_ready(state, [node.node_id], timeout, runtime)
            except BaseException:
                self._stop_nodes(state, [node.node_id], timeout=15)
                self._forget(state, node.node_id)
                raise

    def retire_node(self, node_id: int, *, timeout: float = 30) -> None:
        """Stop an added broker and forget it: its cell.json entry and its directory go.

        Only broker-only nodes can retire: the combined nodes are the controller quorum's
        voters. Unregistering the broker from the quorum (UnregisterBroker) is the caller's
        step (fleet.services.cells.retire_local_broker), since it needs a Kafka client.
        """
        with self._lock():
            state = self._require_state()
            node = self._node_state(state, node_id)
            if node.is_controller:
                raise CellError(
                    f"node {node_id} of cell {state.name!r} is a controller (a voter of the "
                    "quorum); only brokers added later can be retired"
                )
            self._stop_nodes(state, [node_id], timeout=timeout)
            self._forget(state, node_id)

    def set_node_config(self, node_id: int, config: Mapping[str, str | None]) -> dict[str, str]:
        """Merge broker settings into one node's own (None removes one); kept in cell.json and
        applied on the node's next start. Returns the node's settings now."""
        for key, value in config.items():
            check_node_config_entry(key, value)
        with self._lock():
            state = self._require_state()
            node = self._node_state(state, node_id)
            merged = {**node.config}
            for key, value in config.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            nodes = tuple(
                replace(n, config=merged) if n.node_id == node_id else n for n in state.nodes
            )
            certs.write_private_file(self._state_file, replace(state, nodes=nodes).to_json())
            return merged

    def _forget(self, state: _CellState, node_id: int) -> None:
        remaining = tuple(n for n in state.nodes if n.node_id != node_id)
        certs.write_private_file(self._state_file, replace(state, nodes=remaining).to_json())
        self._procs.pop(node_id, None)
        shutil.rmtree(self.node_dir(node_id), ignore_errors=True)

    @staticmethod
    def _next_broker_slot(state: _CellState, *, rack: str) -> _NodeState:
        """A broker-only node in the first node slot of the port block no node uses."""
        used = {(n.client_port - state.port_base) // 10 for n in state.nodes}
        free = [i for i in range(MAX_NODES_PER_BLOCK) if i not in used]
        if not free:
            raise CellError(
                f"cell {state.name!r} has {len(state.nodes)} nodes: its port block holds at "
                f"most {MAX_NODES_PER_BLOCK}"
            )
        base = state.port_base + free[0] * 10
        return _NodeState(
            node_id=max(n.node_id for n in state.nodes) + 1,
            client_port=base + CLIENT_OFFSET,
            internal_port=base + INTERNAL_OFFSET,
            controller_port=base + CONTROLLER_OFFSET,
            metrics_port=base + METRICS_OFFSET,
            topic_metrics_port=base + TOPIC_METRICS_OFFSET,
            roles=BROKER_ROLES,
            rack=rack,
        )

    # ---- state -----------------------------------------------------------------------------

    @contextmanager
    def _lock(self) -> Iterator[None]:
        certs.ensure_private_dir(self.state_dir)
        with open(self.state_dir / ".lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def _load_state(self) -> _CellState | None:
        try:
            return _CellState.from_json(self._state_file.read_text())
        except FileNotFoundError:
            return None

    def _require_state(self) -> _CellState:
        state = self._load_state()
        if state is None:
            raise CellError(f"no cell in {self.state_dir}; run up() first")
        return state

    @staticmethod
    def _node_state(state: _CellState, node_id: int) -> _NodeState:
        for node in state.nodes:
            if node.node_id == node_id:
                return node
        raise CellError(f"cell {state.name!r} has no node {node_id}")

    def _create(self, nodes: int, port_base: int | None) -> _CellState:
        if nodes < 1:
            raise CellError("a cell needs at least one node")
        if port_base is None:
            port_base = _choose_port_base(self.state_dir, nodes)
        else:
            busy = [p for p in _block_ports(port_base, nodes) if not _port_free(p)]
            if busy:
                raise CellError(f"ports already in use: {', '.join(map(str, busy))}")
            _claim(port_base, self.state_dir)
        state = _CellState(
            name=self.name,
            cluster_id=new_cluster_id(),
            port_base=port_base,
            nodes=tuple(
                _NodeState(
                    node_id=i + 1,
                    client_port=port_base + i * 10 + CLIENT_OFFSET,
                    internal_port=port_base + i * 10 + INTERNAL_OFFSET,
                    controller_port=port_base + i * 10 + CONTROLLER_OFFSET,
                    metrics_port=port_base + i * 10 + METRICS_OFFSET,
                    topic_metrics_port=port_base + i * 10 + TOPIC_METRICS_OFFSET,
                )
                for i in range(nodes)
            ),
            admin_password=_new_password(),
            controller_password=_new_password(),
            metrics_password=_new_password(),
        )
        ca = certs.ensure_ca(self.state_dir / "tls", common_name=f"Skiff cell {self.name} CA")
        for node in state.nodes:
            certs.issue_node_certificate(
                ca, self.node_dir(node.node_id) / "tls", f"skiff-{self.name}-node-{node.node_id}"
            )
        certs.write_private_file(self._state_file, state.to_json())
        return state

    def _addresses(self, state: _CellState) -> list[NodeAddress]:
        return [
            NodeAddress(
                node_id=n.node_id,
                host=LOCAL_HOST,
                client_port=n.client_port,
                internal_port=n.internal_port,
                controller_port=n.controller_port,
            )
            for n in state.nodes
        ]

    def _write_properties(self, state: _CellState, node: _NodeState) -> None:
        addresses = self._addresses(state)
        me = next(a for a in addresses if a.node_id == node.node_id)
        controller_ids = {n.node_id for n in state.nodes if n.is_controller}
        voters = [a for a in addresses if a.node_id in controller_ids]
        tls = self.node_dir(node.node_id) / "tls"
        rf, _ = replication_defaults(len(state.nodes))
        # Topic policies (issue 13): the rules file each node's controller reads.
        rules_path = self.node_dir(node.node_id) / topic_policy.RULES_FILE_NAME
        max_partitions = topic_policy.max_partitions_per_request(
            nodes=len(state.nodes),
            replication_factor=rf,
            partitions_per_broker=topic_policy.budget_from_env(os.environ),
        )
        certs.write_private_file(
            rules_path,
            topic_policy.render_policy_rules(replication_factor=rf, max_partitions=max_partitions),
        )
        policy_rules_path = str(rules_path) if self.topic_policy else None
        extra = dict(LOCAL_PROFILE)
        if node.rack:
            extra["broker.rack"] = node.rack
        extra.update(node.config)
        text = render_node_properties(
            me,
            voters=voters,
            process_roles=node.roles,
            log_dir=str(self.node_dir(node.node_id) / "data"),
            keystore_path=str(tls / "keystore.pem"),
            truststore_path=str(tls / "truststore.pem"),
            admin_password=state.admin_password,
            controller_password=state.controller_password,
            replication_factor=rf,
            extra=extra,
            connection_limits=self.connection_limits,
            policy_rules_path=policy_rules_path,
            plain_credentials_path=str(plain_credentials_path(self.state_dir)),
            # Loopback only, like the exporter: metrics are for the platform's sampler.
            topic_metrics=TopicMetricsEndpoint(
                host=LOCAL_HOST,
                port=node.topic_metrics_port,
                username=METRICS_USERNAME,
                password=state.metrics_password,
            )
            if node.topic_metrics_port and state.metrics_password
            else None,
        )
        certs.write_private_file(self._properties_path(node.node_id), text)

    def _write_metrics_config(self, state: _CellState, runtime: Runtime) -> None:
        """Write the agents' configuration once per cell credential and rules.

        Every node's agent reads this one file; the running ones reload their rules when it
        changes. The salt of the file already there is kept, so a node (re)start under running
        agents writes nothing unless the password or the rules changed.
        """
        certs.ensure_private_dir(self._metrics_config_path.parent)
        try:
            previous: str | None = self._metrics_config_path.read_text()
        except FileNotFoundError:
            previous = None
        text = render_metrics_config(
            runtime.metrics_config.read_text(),
            username=METRICS_USERNAME,
            password=state.metrics_password,
            # The per-topic series come from each node's TopicMetricsEndpoint (issue 20).
            topic_series=self.exporter_topic_series,
            salt=configured_salt(previous) if previous else None,
        )
        if text != previous:
            certs.write_private_file(self._metrics_config_path, text)

    def _info(self, state: _CellState) -> CellInfo:
        infos = []
        for n in state.nodes:
            pid = self._live_pid(n.node_id)
            infos.append(
                NodeInfo(
                    node_id=n.node_id,
                    host=LOCAL_HOST,
                    client_port=n.client_port,
                    internal_port=n.internal_port,
                    controller_port=n.controller_port,
                    metrics_port=n.metrics_port,
                    pid=pid,
                    alive=pid is not None,
                    roles=n.roles,
                    rack=n.rack,
                    topic_metrics_port=n.topic_metrics_port
                    if self._serves_topic_metrics(n.node_id, alive=pid is not None)
                    else 0,
                )
            )
        return CellInfo(
            name=state.name,
            cluster_id=state.cluster_id,
            bootstrap=",".join(f"{LOCAL_HOST}:{n.client_port}" for n in state.nodes),
            nodes=tuple(infos),
            admin_username=ADMIN_USERNAME,
            admin_password=state.admin_password,
            ca_path=self.ca_path,
            state_dir=self.state_dir,
            metrics_username=METRICS_USERNAME,
            metrics_password=state.metrics_password,
        )

    def _serves_topic_metrics(self, node_id: int, *, alive: bool) -> bool:
        """Whether the node has the per-topic metrics endpoint: its properties (written at its
        start, or to be used by its next one) configure it. A node still running from before
        the endpoint existed has properties without it, and the sampler reads its exporter."""
        try:
            text = self._properties_path(node_id).read_text()
        except OSError:
            return not alive  # a node never started yet gets the endpoint when it starts
        return f"{TOPIC_METRICS_PREFIX}port=" in text

    # ---- processes -------------------------------------------------------------------------

    def _is_our_kafka(self, pid: int, node_id: int) -> bool:
        cmdline = _read_cmdline(pid)
        if not cmdline:
            return False
        return "kafka.Kafka" in cmdline and str(self._properties_path(node_id)) in cmdline

    def _check_ports(
        self, state: _CellState, node_ids: Sequence[int], *, grace: float = PORT_RELEASE_SECONDS
    ) -> None:
        """Fail clearly when something else listens on a stopped node's ports.

        Waits up to ``grace`` seconds first: a node stopped a moment ago may still be closing
        its sockets, and a JVM started on a bound port starts without its metrics exporter.
        """
        deadline = time.monotonic() + grace
        while True:
            busy = [
                port
                for node in state.nodes
                if node.node_id in node_ids
                for port in (
                    node.client_port,
                    node.internal_port,
                    node.controller_port,
                    node.metrics_port,
                    node.topic_metrics_port,
                )
                if port and not _port_free(port)
            ]
            if not busy or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        if busy:
            raise CellError(
                f"cell {state.name!r} cannot start: port(s) {', '.join(map(str, busy))} are in use "
                "by another process (a stopped cell does not keep its ports reserved)"
            )

    def _live_pid(self, node_id: int) -> int | None:
        self._reap(node_id)
        try:
            pid = int(self._pid_path(node_id).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        proc = self._procs.get(node_id)
        if proc is not None and proc.pid == pid:
            # Our own child: trust the handle. (/proc/<pid>/cmdline reads empty for a moment
            # while the java launcher re-execs itself, which would look like a dead node.)
            return pid
        return pid if self._is_our_kafka(pid, node_id) else None

    def _reap(self, node_id: int) -> None:
        proc = self._procs.get(node_id)
        if proc is not None and proc.poll() is not None:
            del self._procs[node_id]

    def _java_base(self, runtime: Runtime, heap_mb: int, *, fast_start: bool = True) -> list[str]:
        return java_base_command(
            runtime.java, runtime.log4j_config, heap_mb=heap_mb, fast_start=fast_start
        )

    def _format_missing(self, state: _CellState, runtime: Runtime) -> None:
        """Format the storage of every node that has none yet (in parallel: one JVM each)."""
        pending: list[tuple[int, subprocess.Popen[bytes], Path]] = []
        for node in state.nodes:
            data = self.node_dir(node.node_id) / "data"
            if (data / "meta.properties").exists():
                continue
            log_path = self.node_dir(node.node_id) / "format.log"
            cmd = [
                *self._java_base(runtime, 128, fast_start=True),
                f"-Dkafka.logs.dir={self.node_dir(node.node_id) / 'logs'}",
                "-cp",
                runtime.classpath,
                "kafka.tools.StorageTool",
                "format",
                "--cluster-id",
                state.cluster_id,
                "--config",
                str(self._properties_path(node.node_id)),
                "--add-scram",
                f"SCRAM-SHA-512=[name={ADMIN_USERNAME},password={state.admin_password}]",
            ]
            with open(log_path, "wb") as log_fh:
                proc = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=log_fh, stderr=subprocess.STDOUT
                )
            pending.append((node.node_id, proc, log_path))
        for node_id, proc, log_path in pending:
            if proc.wait(timeout=120) != 0:
                raise CellError(
                    f"formatting storage of node {node_id} failed:\n{_tail(log_path, 30)}"
                )

    def _spawn(self, state: _CellState, node_id: int, runtime: Runtime) -> None:
        node = self._node_state(state, node_id)
        node_dir = self.node_dir(node_id)
        logs = certs.ensure_private_dir(node_dir / "logs")
        cmd = [
            *self._java_base(runtime, self._heap_mb, fast_start=self._fast_start),
            *_class_data_sharing(runtime),
            f"-Dkafka.logs.dir={logs}",
            # The agent listens on loopback only: metrics are for the platform's sampler.
            # Its HTTP server asks for the cell's metrics credential (issue 13).
            f"-javaagent:{runtime.agent_jar}={LOCAL_HOST}:{node.metrics_port}:"
            f"{self._metrics_config_path}",
            "-cp",
            runtime.classpath,
            "kafka.Kafka",
            str(self._properties_path(node_id)),
        ]
        console = self.console_log(node_id)
        with open(console, "ab") as out:
            os.chmod(console, 0o600)
            out.write(f"\n==== skiff: starting node {node_id} at {time.ctime()}\n".encode())
            out.flush()
            proc = subprocess.Popen(
                cmd,
                cwd=node_dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Own session: a Ctrl-C in the terminal that ran `up` must not SIGINT the JVMs.
                start_new_session=True,
                close_fds=True,
            )
        self._procs[node_id] = proc
        certs.write_private_file(self._pid_path(node_id), f"{proc.pid}\n")

    def _stop_nodes(self, state: _CellState, node_ids: Sequence[int], *, timeout: float) -> None:
        targets: dict[int, int] = {}
        for node_id in node_ids:
            pid = self._live_pid(node_id)
            if pid is not None:
                targets[node_id] = pid
            else:
                self._pid_path(node_id).unlink(missing_ok=True)
        # Class-data archives those JVMs write as they exit (see _class_data_sharing).
        trainings = {pid: _training_archive(pid) for pid in targets.values()}
        killed: set[int] = set()
        try:
            # Writing the class-data archive at exit takes a while on a busy host.
            wait = max(timeout, CDS_DUMP_SECONDS) if any(trainings.values()) else timeout
            killed = self._stop_pids(dict(targets), timeout=wait)
        finally:
            for pid, archive in trainings.items():
                if archive is not None:
                    # A JVM killed mid-dump leaves a truncated file: never adopt that.
                    _adopt_archive(archive, complete=pid not in killed)

    def _stop_pids(self, targets: dict[int, int], *, timeout: float) -> set[int]:
        """SIGTERM, wait, SIGKILL what is left; returns the pids that had to be killed."""
        killed: set[int] = set()
        for pid in targets.values():
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while targets and time.monotonic() < deadline:
            for node_id in list(targets):
                if not self._still_running(node_id, targets[node_id]):
                    del targets[node_id]
                    self._pid_path(node_id).unlink(missing_ok=True)
            if targets:
                time.sleep(0.1)
        for node_id, pid in targets.items():
            if self._is_our_kafka(pid, node_id):
                _signal(pid, signal.SIGKILL)
                killed.add(pid)
        for node_id in list(targets):
            kill_deadline = time.monotonic() + 10
            while self._still_running(node_id, targets[node_id]):
                if time.monotonic() > kill_deadline:
                    raise CellError(f"node {node_id} (pid {targets[node_id]}) does not die")
                time.sleep(0.05)
            self._pid_path(node_id).unlink(missing_ok=True)
        return killed

    def _still_running(self, node_id: int, pid: int) -> bool:
        proc = self._procs.get(node_id)
        if proc is not None and proc.pid == pid:
            if proc.poll() is None:
                return True
            del self._procs[node_id]
            return False
        # A JVM we did not start (another LocalCell object, e.g. a service call): while it exits,
        # /proc/<pid>/cmdline reads empty from the moment its memory is released, but its
        # sockets close only after that; until it is a zombie its ports may still be bound
        # (seen: a restarted node's metrics port "in use" right after the stop).
        return self._is_our_kafka(pid, node_id) or _exiting(pid)

    # ---- readiness -------------------------------------------------------------------------

    def _agent_failed_to_bind(self, node_id: int) -> bool:
        """Whether the node's console, since its last start, shows the agent's bind error."""
        text = _tail(self.console_log(node_id), 400)
        since_start = text.rsplit(f"==== skiff: starting node {node_id}", 1)[-1]
        return any(marker in since_start for marker in AGENT_BIND_ERRORS)

    def _respawn_after_bind_error(
        self, state: _CellState, node_id: int, runtime: Runtime | None, respawned: set[int]
    ) -> bool:
        """Start a node once more when it exited because its exporter could not bind its port
        (a port still held a moment after a stop); False when that is not what happened."""
        if runtime is None or node_id in respawned or not self._agent_failed_to_bind(node_id):
            return False
        port = self._node_state(state, node_id).metrics_port
        log.warning(
            "cell %s: node %s exited: its metrics exporter could not bind port %s; "
            "starting it once more when the port is free",
            state.name,
            node_id,
            port,
        )
        respawned.add(node_id)
        self._pid_path(node_id).unlink(missing_ok=True)
        self._check_ports(state, [node_id], grace=30)
        self._spawn(state, node_id, runtime)
        return True

    def _wait_ready(
        self,
        state: _CellState,
        started: Sequence[int],
        timeout: float,
        runtime: Runtime | None = None,
    ) -> CellInfo:
        info = self._info(state)
        # Nodes that exited because their exporter could not bind get one more start.
        respawned: set[int] = set()
        conn = replace(info.admin_connection(), timeout=5.0)
        expected = {n.node_id for n in state.nodes}
        deadline = time.monotonic() + timeout
        metrics_deadline = time.monotonic() + min(METRICS_READY_SECONDS, timeout / 2)
        last_problem = "no attempt yet"
        while True:
            for node_id in started:
                if self._live_pid(node_id) is None and self._respawn_after_bind_error(
                    state, node_id, runtime, respawned
                ):
                    metrics_deadline = max(metrics_deadline, time.monotonic() + 30)
                elif self._live_pid(node_id) is None:
                    raise CellError(
                        f"Kafka node {node_id} of cell {state.name!r} exited during start-up.\n"
                        + self._failure_tail(node_id)
                    )
            registered: set[int] = set()
            try:
                described = describe_cluster(conn)
                registered = {b.node_id for b in described.brokers}
            except KafkaGatewayError as exc:
                last_problem = exc.message
            probes = {
                n.node_id: _probe_http(_health_url(n.metrics_url), auth=info.metrics_auth)
                for n in info.nodes
            }
            metrics_down = sorted(node_id for node_id, outcome in probes.items() if outcome)
            outcomes = ", ".join(f"node {n}: {probes[n]}" for n in metrics_down)
            if registered >= expected and not metrics_down:
                return self._info(state)
            if registered >= expected and time.monotonic() >= metrics_deadline:
                # Kafka serves; only the exporter is missing. Serving without metrics beats
                # failing the whole cell; the probe's outcome says which way it failed.
                log.warning(
                    "cell %s: metrics endpoint not answering (%s); serving without it",
                    state.name,
                    outcomes,
                )
                return self._info(state)
            if registered and not registered >= expected:
                last_problem = f"brokers registered: {sorted(registered)} of {sorted(expected)}"
            elif metrics_down:
                last_problem = f"metrics endpoint not answering ({outcomes})"
            if time.monotonic() >= deadline:
                suspect = next(iter(sorted((expected - registered) or set(metrics_down))), None)
                suspect = suspect or (started[0] if started else state.nodes[0].node_id)
                raise CellError(
                    f"cell {state.name!r} was not ready within {timeout:g}s ({last_problem}).\n"
                    f"Log of node {suspect}:\n" + self._failure_tail(suspect)
                )
            time.sleep(0.5)

    def _failure_tail(self, node_id: int) -> str:
        return (
            f"--- {self.console_log(node_id)}\n{_tail(self.console_log(node_id), 20)}\n"
            f"--- {self.server_log(node_id)}\n{_tail(self.server_log(node_id), 30)}"
        )


def java_base_command(
    java: Path, log4j_config: Path, *, heap_mb: int, fast_start: bool = True
) -> list[str]:
    """The JVM and its flags for a Kafka process the platform runs (a broker, a Connect worker)."""
    return [
        str(java),
        f"-Xms{heap_mb}m",
        f"-Xmx{heap_mb}m",
        # Same collector settings as Kafka's kafka-server-start.sh.
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent",
        *(["-XX:TieredStopAtLevel=1"] if fast_start else []),
        # A process that ran out of memory must die loudly rather than limp on.
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j_config}",
    ]


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


# --------------------------------------------------------------------------------------------
# CLI (for humans and the Makefile; the console uses `manage.py fleet`)
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fleet.runtime.launcher")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / "var" / "fleet" / "local")
    parser.add_argument("--name", default="local")
    parser.add_argument("--nodes", type=int, default=None)
    parser.add_argument("--port-base", type=int, default=None)
    parser.add_argument("--heap-mb", type=int, default=DEFAULT_HEAP_MB)
    parser.add_argument(
        "--full-jit", action="store_true", help="tiered C1+C2 JIT instead of the C1-only fast start"
    )
    args = parser.parse_args(argv)
    cell = LocalCell(args.state_dir, name=args.name)
    try:
        if args.command == "up":
            info = cell.up(
                nodes=args.nodes,
                port_base=args.port_base,
                heap_mb=args.heap_mb,
                fast_start=not args.full_jit,
            )
        elif args.command == "down":
            cell.down()
            print(f"cell in {args.state_dir} stopped")
            return 0
        else:
            maybe = cell.status()
            if maybe is None:
                print(f"no cell in {args.state_dir}")
                return 1
            info = maybe
    except CellError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"cell {info.name}  cluster id {info.cluster_id}")
    print(f"  bootstrap  {info.bootstrap}  (SASL_SSL, SCRAM-SHA-512, CA {info.ca_path})")
    print(f"  admin      {info.admin_username}  (password in {info.state_dir / 'cell.json'})")
    for n in info.nodes:
        state = f"pid {n.pid}" if n.alive else "stopped"
        print(f"  node {n.node_id}  {n.client_address}  metrics {n.metrics_url}  {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
