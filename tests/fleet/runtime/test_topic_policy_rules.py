"""The topic policies' rules file agrees with the console's table (issue 13): one source of truth.

The integration proof is tests/fleet/test_topic_policy.py (a real cell, a tenant key); this
checks the rendering, and runs the Java policy classes themselves against the rendered file.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from fleet import limits
from fleet.runtime import topic_policy
from fleet.runtime.classpath import DEFAULT_FLEET_DIR, POLICY_JAR_NAME
from fleet.runtime.launcher import NodeAddress, render_node_properties
from fleet.topic_rules import LONG_MAX, TOPIC_CONFIGS, to_wire_configs


def _parse(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


@pytest.mark.parametrize("rf", [1, 3])
def test_rules_file_carries_every_settable_config_and_bound(rf):
    rules = _parse(topic_policy.render_policy_rules(replication_factor=rf))
    assert rules["replication.factor"] == str(rf)
    assert rules["max.partitions.per.request"] == str(limits.MAX_PARTITIONS)

    rendered = {key.split(".kind")[0][len("config.") :] for key in rules if key.endswith(".kind")}
    expected = set(to_wire_configs({name: "" for name in TOPIC_CONFIGS}))
    assert rendered == expected
    assert "min.insync.replicas" not in rendered

    for spec in TOPIC_CONFIGS.values():
        for wire in to_wire_configs({spec.name: ""}):
            prefix = f"config.{wire}."
            assert rules[prefix + "create.only"] == str(spec.create_only).lower()
            if spec.choices:
                assert rules[prefix + "kind"] == "choice"
                assert tuple(rules[prefix + "choices"].split("|")) == spec.choices
            else:
                assert rules[prefix + "kind"] == "number"
                assert int(rules[prefix + "min"]) == (spec.minimum or 0)
                assert int(rules[prefix + "max"]) == (spec.maximum or LONG_MAX)
                assert rules[prefix + "unlimited"] == str(spec.unlimited).lower()
            # The platform defaults the console sets at creation are inside the rules.
            spec.validate(spec.default)
    assert int(rules["config.max.message.bytes.max"]) == limits.MAX_MESSAGE_BYTES == 8 * 1024**2


def test_node_properties_name_the_policies_and_their_rules_file():
    node = NodeAddress(
        node_id=1, host="127.0.0.1", client_port=1, internal_port=2, controller_port=3
    )
    text = render_node_properties(
        node,
        voters=[node],
        log_dir="/tmp/x",
        keystore_path="/k",
        truststore_path="/t",
        admin_password="a",
        controller_password="c",
        replication_factor=1,
        policy_rules_path="/cell/node-1/topic-policy.properties",
    )
    props = _parse(text)
    assert props["create.topic.policy.class.name"] == "io.skiff.policy.SkiffCreateTopicPolicy"
    assert props["alter.config.policy.class.name"] == "io.skiff.policy.SkiffAlterConfigPolicy"
    assert props["skiff.policy.rules.file"] == "/cell/node-1/topic-policy.properties"


JAVA_CHECK = """
import java.util.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.PolicyViolationException;
import org.apache.kafka.server.policy.*;
import io.skiff.policy.*;

public class PolicyCheck {
    public static void main(String[] args) {
        Map<String, Object> broker = Map.of("skiff.policy.rules.file", args[0]);
        var create = new SkiffCreateTopicPolicy();
        create.configure(broker);
        var alter = new SkiffAlterConfigPolicy();
        alter.configure(broker);
        // Each line of stdin: create|alter <topic> <name> <value>  ->  prints OK or the refusal.
        var in = new Scanner(System.in);
        while (in.hasNextLine()) {
            String[] f = in.nextLine().split(" ", 4);
            Map<String, String> configs = new HashMap<>();
            configs.put(f[2], f[3]);
            try {
                if (f[0].equals("create")) {
                    create.validate(new CreateTopicPolicy.RequestMetadata(
                        f[1], 1, (short) 1, null, configs));
                } else {
                    alter.validate(new AlterConfigPolicy.RequestMetadata(
                        new ConfigResource(ConfigResource.Type.TOPIC, f[1]), configs));
                }
                System.out.println("OK");
            } catch (PolicyViolationException e) {
                System.out.println("REFUSED " + e.getMessage());
            }
        }
    }
}
"""


def test_java_policy_enforces_the_rendered_bounds(tmp_path: Path):
    jar = DEFAULT_FLEET_DIR / "lib" / POLICY_JAR_NAME
    java = shutil.which("java")
    if java is None or not jar.is_file():
        pytest.fail(f"needs java and {jar} (python -m fleet.runtime.classpath)")
    rules = tmp_path / "rules.properties"
    rules.write_text(topic_policy.render_policy_rules(replication_factor=1))
    (tmp_path / "PolicyCheck.java").write_text(JAVA_CHECK)

    cases: list[tuple[str, bool]] = []  # (request line, allowed)
    topic = "team.cluster.t"
    for spec in TOPIC_CONFIGS.values():
        for wire in to_wire_configs({spec.name: ""}):
            op = "create" if spec.create_only else "alter"
            if spec.create_only:
                # KRaft also runs the alter policy on creation configs and does not say which:
                # the broker can only hold create-only configs to their choices.
                cases.append((f"alter {topic} {wire} {spec.default}", True))
            cases.append((f"{op} {topic} {wire} {spec.default}", True))
            if spec.choices:
                cases += [(f"{op} {topic} {wire} {c}", True) for c in spec.choices]
                cases.append((f"{op} {topic} {wire} bogus", False))
                continue
            low, high = spec.minimum or 0, spec.maximum or LONG_MAX
            cases += [(f"{op} {topic} {wire} {low}", True), (f"{op} {topic} {wire} {high}", True)]
            cases.append((f"{op} {topic} {wire} {low - 1}", low - 1 == -1 and spec.unlimited))
            if high < LONG_MAX:
                cases.append((f"{op} {topic} {wire} {high + 1}", False))
    cases += [
        (f"alter {topic} min.insync.replicas 1", False),
        (f"alter {topic} segment.ms 1", False),
        (f"create {topic} unclean.leader.election.enable true", False),
        ("alter __consumer_offsets segment.ms 1", True),  # the platform's own topics
    ]
    proc = subprocess.run(
        [
            java,
            "-cp",
            f"{DEFAULT_FLEET_DIR / 'lib'}/*",
            str(tmp_path / "PolicyCheck.java"),
            str(rules),
        ],
        input="\n".join(line for line, _ in cases) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    answers = proc.stdout.splitlines()
    assert len(answers) == len(cases), proc.stdout + proc.stderr
    wrong = [
        (line, answer)
        for (line, allowed), answer in zip(cases, answers, strict=True)
        if (answer == "OK") != allowed
    ]
    assert not wrong
    too_big = f"alter {topic} max.message.bytes {limits.MAX_MESSAGE_BYTES + 1}"
    refusal = answers[[line for line, _ in cases].index(too_big)]
    assert "max.message.bytes" in refusal and f"{limits.MAX_MESSAGE_BYTES}" in refusal


def test_partitions_per_request_is_capped_by_the_cell_budget():
    cap = topic_policy.max_partitions_per_request
    assert cap(nodes=3, replication_factor=3) == limits.MAX_PARTITIONS
    assert cap(nodes=3, replication_factor=3, partitions_per_broker=4000) == limits.MAX_PARTITIONS
    assert cap(nodes=3, replication_factor=3, partitions_per_broker=300) == 300
    assert cap(nodes=1, replication_factor=1, partitions_per_broker=500) == 500
    assert topic_policy.budget_from_env({"SKIFF_PARTITIONS_PER_BROKER": " 300 "}) == 300
    assert topic_policy.budget_from_env({}) is None
    rules = _parse(topic_policy.render_policy_rules(replication_factor=3, max_partitions=300))
    assert rules["max.partitions.per.request"] == "300"
