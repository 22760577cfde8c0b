"""The rules file of Skiff's broker-side topic policies (issue 13, fleet/policy/).

The launcher and compose render it from the one table of settable topic configs
(fleet/topic_rules.py) and the service limits (fleet/limits.py), so the console and the
brokers enforce the same names and bounds. The Java side (io.skiff.policy.TopicRules) reads it
from the path in the broker property ``skiff.policy.rules.file``.
"""

from __future__ import annotations

from collections.abc import Mapping

from fleet import limits
from fleet.topic_rules import TOPIC_CONFIGS, to_wire_configs

CREATE_TOPIC_POLICY = "io.skiff.policy.SkiffCreateTopicPolicy"
ALTER_CONFIG_POLICY = "io.skiff.policy.SkiffAlterConfigPolicy"
RULES_FILE_PROPERTY = "skiff.policy.rules.file"
# Optional tighter per-request partition limit (e.g. the cell's partition budget); the rules
# file's max.partitions.per.request (the service limit) applies when it is absent.
MAX_PARTITIONS_PROPERTY = "skiff.policy.max.partitions.per.request"
RULES_FILE_NAME = "topic-policy.properties"
# The cell's partition budget (replicas per broker), read by the console's settings too.
PARTITIONS_PER_BROKER_ENV = "SKIFF_PARTITIONS_PER_BROKER"


def policy_properties(rules_path: str) -> dict[str, str]:
    """The broker properties that turn the policies on (the controllers run them in KRaft)."""
    return {
        "create.topic.policy.class.name": CREATE_TOPIC_POLICY,
        "alter.config.policy.class.name": ALTER_CONFIG_POLICY,
        RULES_FILE_PROPERTY: rules_path,
    }


def max_partitions_per_request(
    *, nodes: int, replication_factor: int, partitions_per_broker: int | None = None
) -> int:
    """The service limit, or less when the cell's partition budget (replicas per broker, the
    console's SKIFF_PARTITIONS_PER_BROKER) cannot hold that many partitions."""
    if partitions_per_broker is None:
        return limits.MAX_PARTITIONS
    budget = max(nodes, 1) * partitions_per_broker // max(replication_factor, 1)
    return max(1, min(limits.MAX_PARTITIONS, budget))


def budget_from_env(environ: Mapping[str, str]) -> int | None:
    raw = environ.get(PARTITIONS_PER_BROKER_ENV, "").strip()
    return int(raw) if raw else None


def policy_rules(*, replication_factor: int, max_partitions: int | None = None) -> dict[str, str]:
    """The rules as flat key/value pairs (the content of the rules file)."""
    rules = {
        "replication.factor": str(replication_factor),
        "max.partitions.per.request": str(
            limits.MAX_PARTITIONS if max_partitions is None else max_partitions
        ),
    }
    for spec in TOPIC_CONFIGS.values():
        # message.timestamp.difference.max.ms is two configs on the wire (Kafka 4).
        for wire_name in to_wire_configs({spec.name: ""}):
            prefix = f"config.{wire_name}."
            rules[prefix + "kind"] = "choice" if spec.choices else "number"
            if spec.choices:
                rules[prefix + "choices"] = "|".join(spec.choices)
            else:
                rules[prefix + "min"] = str(spec.minimum if spec.minimum is not None else 0)
                if spec.maximum is not None:
                    rules[prefix + "max"] = str(spec.maximum)
                rules[prefix + "unlimited"] = "true" if spec.unlimited else "false"
            rules[prefix + "create.only"] = "true" if spec.create_only else "false"
    return rules


def render_policy_rules(*, replication_factor: int, max_partitions: int | None = None) -> str:
    lines = ["# Rendered by fleet.runtime.topic_policy from fleet/topic_rules.py: do not edit."]
    # No value contains a backslash, '=', ':' or a newline, so no Properties escaping is needed.
    rules = policy_rules(replication_factor=replication_factor, max_partitions=max_partitions)
    lines += [f"{k}={v}" for k, v in rules.items()]
    return "\n".join(lines) + "\n"
