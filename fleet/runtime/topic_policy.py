"""The rules file of Skiff's broker-side topic policies (issue 13, fleet/policy/).

The launcher and compose render it from the one table of settable topic configs
(fleet/topic_rules.py) and the service limits (fleet/limits.py), so the console and the
brokers enforce the same names and bounds. The Java side (io.skiff.policy.TopicRules) reads it
from the path in the broker property ``skiff.policy.rules.file``.
"""

from __future__ import annotations

from fleet import limits
from fleet.topic_rules import TOPIC_CONFIGS, to_wire_configs

CREATE_TOPIC_POLICY = "io.skiff.policy.SkiffCreateTopicPolicy"
ALTER_CONFIG_POLICY = "io.skiff.policy.SkiffAlterConfigPolicy"
RULES_FILE_PROPERTY = "skiff.policy.rules.file"
# Optional tighter per-request partition limit (e.g. the cell's partition budget); the rules
# file's max.partitions.per.request (the service limit) applies when it is absent.
MAX_PARTITIONS_PROPERTY = "skiff.policy.max.partitions.per.request"
RULES_FILE_NAME = "topic-policy.properties"


def policy_properties(rules_path: str) -> dict[str, str]:
    """The broker properties that turn the policies on (the controllers run them in KRaft)."""
    return {
        "create.topic.policy.class.name": CREATE_TOPIC_POLICY,
        "alter.config.policy.class.name": ALTER_CONFIG_POLICY,
        RULES_FILE_PROPERTY: rules_path,
    }


def policy_rules(*, replication_factor: int) -> dict[str, str]:
    """The rules as flat key/value pairs (the content of the rules file)."""
    rules = {
        "replication.factor": str(replication_factor),
        "max.partitions.per.request": str(limits.MAX_PARTITIONS),
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


def render_policy_rules(*, replication_factor: int) -> str:
    lines = ["# Rendered by fleet.runtime.topic_policy from fleet/topic_rules.py: do not edit."]
    # No value contains a backslash, '=', ':' or a newline, so no Properties escaping is needed.
    lines += [f"{k}={v}" for k, v in policy_rules(replication_factor=replication_factor).items()]
    return "\n".join(lines) + "\n"
