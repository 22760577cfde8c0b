"""Topic rules without a broker: config bounds, names, value rendering (fast unit tests)."""

import pytest
from django.core.exceptions import ValidationError

from clusters.services.messages import parse_timestamp, render_bytes
from clusters.services.topics import validate_configs, validate_partition_count
from fleet.topic_rules import TOPIC_CONFIGS, to_wire_configs


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("retention.ms", "-1", "-1"),
        ("retention.ms", " 3600000 ", "3600000"),
        ("retention.bytes", -1, "-1"),
        ("max.message.bytes", "8388608", "8388608"),
        ("cleanup.policy", "compact, delete", "compact,delete"),
        ("message.timestamp.type", "LogAppendTime", "LogAppendTime"),
    ],
)
def test_settable_values_are_normalized(name, value, expected):
    assert TOPIC_CONFIGS[name].validate(value) == expected


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("retention.ms", "59999", "60,000"),
        ("retention.ms", "-2", "-1 for unlimited"),
        ("max.message.bytes", "8388609", "8,388,608"),
        ("max.message.bytes", "-1", "1"),
        ("retention.bytes", "1e9", "whole number"),
        ("compression.type", "brotli", "one of producer"),
        ("message.timestamp.type", "createtime", "CreateTime"),
    ],
)
def test_out_of_range_values_name_the_bound(name, value, message):
    with pytest.raises(ValueError, match=message):
        TOPIC_CONFIGS[name].validate(value)


def test_only_settable_configs_and_create_only_rules():
    with pytest.raises(ValidationError) as info:
        validate_configs({"segment.bytes": "1", "retention.ms": "x"}, creating=True)
    errors = info.value.message_dict["configs"]
    assert any("segment.bytes" in e and "Settable:" in e for e in errors)
    assert any("retention.ms" in e for e in errors)
    with pytest.raises(ValidationError, match="only be set when the topic is created"):
        validate_configs({"cleanup.policy": "compact"}, creating=False)
    assert validate_configs({"cleanup.policy": "compact"}, creating=True) == {
        "cleanup.policy": "compact"
    }


def test_timestamp_difference_maps_to_kafka_4_configs():
    assert to_wire_configs({"message.timestamp.difference.max.ms": "5"}) == {
        "message.timestamp.before.max.ms": "5",
        "message.timestamp.after.max.ms": "5",
    }


@pytest.mark.parametrize("value", ["0", "2401", "six", ""])
def test_partition_counts_outside_the_limit_are_refused(value):
    with pytest.raises(ValidationError):
        validate_partition_count(value)


def test_rendering_text_json_binary_and_truncation():
    assert render_bytes(None).format == "null"
    assert render_bytes(b"<b>hi</b>").text == "<b>hi</b>"  # escaped by templates, never here
    pretty = render_bytes(b'{"a":{"b":1}}')
    assert pretty.format == "json" and pretty.text == '{\n  "a": {\n    "b": 1\n  }\n}'
    assert render_bytes(b"42").format == "text"  # a bare JSON scalar stays text
    binary = render_bytes(b"\x00\xff\x10")
    assert binary.format == "binary" and binary.text == "00 ff 10" and binary.base64 == "AP8Q"
    cut = render_bytes("é".encode() * 10, cap=5)  # cut inside a 2-byte character
    assert cut.truncated and cut.format == "text" and cut.text == "éé" and cut.size == 20


def test_timestamps_parse_as_utc_milliseconds():
    assert parse_timestamp("1700000000000") == 1_700_000_000_000
    assert parse_timestamp("2023-11-14T22:13:20Z") == 1_700_000_000_000
    assert parse_timestamp("2023-11-14T22:13:20") == 1_700_000_000_000  # naive means UTC
    with pytest.raises(ValidationError):
        parse_timestamp("yesterday")
