"""The per-topic metrics endpoint's configuration (issue 20): ports, credential, exporter rules."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

from fleet.runtime import launcher
from fleet.runtime.classpath import DEFAULT_FLEET_DIR
from fleet.runtime.compose import TOPIC_METRICS_PORT, write_compose_cell
from fleet.runtime.launcher import (
    NodeAddress,
    TopicMetricsEndpoint,
    render_metrics_config,
    render_node_properties,
    without_topic_series,
)

BASE_RULES = (DEFAULT_FLEET_DIR / "config" / "jmx-exporter.yaml").read_text()


def _parse(text: str) -> dict[str, str]:
    return dict(line.partition("=")[::2] for line in text.splitlines() if line and line[0] != "#")


def test_the_broker_gets_the_endpoint_with_a_salted_hash_of_the_metrics_password() -> None:
    node = NodeAddress(
        node_id=1, host="127.0.0.1", client_port=19100, internal_port=19101, controller_port=19102
    )
    text = render_node_properties(
        node,
        voters=[node],
        log_dir="/data",
        keystore_path="/k.pem",
        truststore_path="/t.pem",
        admin_password="a",
        controller_password="c",
        replication_factor=1,
        topic_metrics=TopicMetricsEndpoint(
            host="127.0.0.1", port=19104, username="metrics", password="s3cret-pass"
        ),
    )
    props = _parse(text)
    assert "s3cret-pass" not in text
    assert props["metric.reporters"].split(",")[-1] == "io.skiff.metrics.TopicMetricsEndpoint"
    prefix = "skiff.metrics.topics."
    assert props[prefix + "port"] == "19104"
    assert props[prefix + "host"] == "127.0.0.1"
    assert props[prefix + "username"] == "metrics"
    salt = props[prefix + "salt"]
    assert len(salt) == 32
    expected = hashlib.sha256(f"{salt}:s3cret-pass".encode()).hexdigest()
    assert props[prefix + "password.sha256"] == expected


def test_each_node_of_a_block_has_its_own_endpoint_port() -> None:
    ports = launcher._block_ports(20000, 3)
    assert len(ports) == len(set(ports)) == 15
    assert 20000 + 10 + launcher.TOPIC_METRICS_OFFSET in ports
    assert launcher.PORTS_PER_NODE * launcher.MAX_NODES_PER_BLOCK <= launcher.PORT_SEARCH_STEP


def test_a_cell_json_from_before_the_endpoint_gets_its_slot() -> None:
    node = {
        "node_id": 2,
        "client_port": 20010,
        "internal_port": 20011,
        "controller_port": 20012,
        "metrics_port": 20013,
    }
    state = launcher._CellState.from_json(
        json.dumps(
            {
                "version": launcher.STATE_VERSION,
                "name": "old",
                "cluster_id": "x",
                "port_base": 20000,
                "nodes": [node],
                "admin_password": "a",
                "controller_password": "c",
            }
        )
    )
    assert state.nodes[0].topic_metrics_port == 20014


def test_the_platforms_exporter_leaves_the_per_topic_series_out() -> None:
    trimmed = yaml.safe_load(without_topic_series(BASE_RULES))
    full = yaml.safe_load(BASE_RULES)
    includes = trimmed["includeObjectNames"]
    assert not [name for name in includes if "Log,name=Size" in name]
    assert "kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec" in includes  # totals
    assert not [name for name in includes if "BrokerTopicMetrics" in name and "*" in name]
    assert "io.skiff:type=LegacyScramFailures,*" in includes
    assert not [rule for rule in trimmed["rules"] if "topic" in rule.get("labels", {})]
    kept = {rule["pattern"] for rule in trimmed["rules"]}
    assert kept == {r["pattern"] for r in full["rules"] if "topic" not in r.get("labels", {})}
    # The reference rules (what a registered cell's exporter needs) keep them all.
    assert any("topic" in rule.get("labels", {}) for rule in full["rules"])
    rendered = yaml.safe_load(
        render_metrics_config(BASE_RULES, username="metrics", password="p", topic_series=False)
    )
    assert rendered["httpServer"]["authentication"]["basic"]["username"] == "metrics"


def test_compose_nodes_serve_the_endpoint_inside_the_network(tmp_path: Path) -> None:
    out = tmp_path / "fleet"
    manifest = write_compose_cell(out, ca_dir=tmp_path / "ca")
    for node in manifest["nodes"]:
        assert node["topic_metrics_url"] == f"http://{node['host']}:{TOPIC_METRICS_PORT}/metrics"
        text = (out / node["host"] / "server.properties").read_text()
        props = _parse(text)
        assert props["skiff.metrics.topics.port"] == str(TOPIC_METRICS_PORT)
        assert props["skiff.metrics.topics.host"] == "0.0.0.0"  # noqa: S104
        assert manifest["metrics_password"] not in text
        rules = yaml.safe_load((out / node["host"] / "jmx-exporter.yaml").read_text())
        assert "kafka.log:type=Log,name=Size,*" not in rules["includeObjectNames"]
