"""The topic configuration tenants may set, with defaults and bounds: the one table that the
console and the brokers' topic policy both enforce.

One table drives validation (services), the create/edit forms (default, unit, range shown next
to each field) and the API. Everything else about a topic is the platform's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from fleet import limits

LONG_MAX = 9_223_372_036_854_775_807
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
GIB = 1024**3


@dataclass(frozen=True)
class TopicConfigSpec:
    name: str
    label: str
    default: str  # the platform default (what a topic gets when the user leaves it empty)
    unit: str  # "ms", "bytes" or "" (choice)
    help: str
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    unlimited: bool = False  # -1 means unlimited
    create_only: bool = False
    # Set explicitly at creation because the platform default differs from Kafka's.
    set_at_creation: bool = False

    @property
    def range_text(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        low = f"{self.minimum:,}" if self.minimum is not None else ""
        high = "no maximum" if self.maximum in (None, LONG_MAX) else f"{self.maximum:,}"
        text = f"{low} – {high}" + (f" {self.unit}" if self.unit else "")
        if self.unlimited:
            text += ", or -1 for unlimited"
        return text

    def validate(self, raw: object) -> str:
        """The value as Kafka wants it (a string), or ValueError with a user-facing message."""
        text = str(raw).strip() if raw is not None else ""
        if self.choices:
            normalized = ",".join(part.strip() for part in text.split(",")) if text else ""
            if normalized not in self.choices:
                raise ValueError(f"{self.name} must be {self.range_text} (got '{text}').")
            return normalized
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{self.name} must be a whole number of {self.unit}.") from None
        if self.unlimited and value == -1:
            return "-1"
        low = self.minimum if self.minimum is not None else 0
        high = self.maximum if self.maximum is not None else LONG_MAX
        if not low <= value <= high:
            raise ValueError(f"{self.name} must be {self.range_text} (got {value:,}).")
        return str(value)


RETENTION_PRESETS: tuple[tuple[str, int], ...] = (
    ("1 hour", HOUR_MS),
    ("6 hours", 6 * HOUR_MS),
    ("12 hours", 12 * HOUR_MS),
    ("1 day", DAY_MS),
    ("2 days", 2 * DAY_MS),
    ("7 days", 7 * DAY_MS),
    ("4 weeks", 28 * DAY_MS),
)

TOPIC_CONFIGS: dict[str, TopicConfigSpec] = {
    spec.name: spec
    for spec in (
        TopicConfigSpec(
            name="cleanup.policy",
            label="Cleanup policy",
            default="delete",
            unit="",
            help="delete drops old segments; compact keeps the last value per key. "
            "Settable only at creation; compacted topics count toward the "
            f"{limits.MAX_COMPACTED_PARTITIONS}-partition compacted limit.",
            choices=("delete", "compact", "compact,delete"),
            create_only=True,
        ),
        TopicConfigSpec(
            name="compression.type",
            label="Compression type",
            default="producer",
            unit="",
            help="producer keeps whatever codec the producer used.",
            choices=("producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"),
        ),
        TopicConfigSpec(
            name="max.message.bytes",
            label="Maximum message size",
            default="1048588",
            unit="bytes",
            help="Largest record batch the topic accepts (at most 8 MiB).",
            minimum=1,
            maximum=limits.MAX_MESSAGE_BYTES,
        ),
        TopicConfigSpec(
            name="message.timestamp.difference.max.ms",
            label="Maximum timestamp difference",
            default=str(LONG_MAX),
            unit="ms",
            help="How far a CreateTime timestamp may differ from the broker's clock (Kafka 4 "
            "stores it as message.timestamp.before.max.ms and .after.max.ms).",
            minimum=0,
            maximum=LONG_MAX,
        ),
        TopicConfigSpec(
            name="message.timestamp.type",
            label="Timestamp type",
            default="CreateTime",
            unit="",
            help="CreateTime keeps the producer's timestamp; LogAppendTime uses the broker's.",
            choices=("CreateTime", "LogAppendTime"),
        ),
        TopicConfigSpec(
            name="retention.bytes",
            label="Retention size (per partition)",
            default=str(250 * GIB),
            unit="bytes",
            help="Old segments are deleted past this size per partition (default 250 GiB).",
            minimum=1,
            maximum=LONG_MAX,
            unlimited=True,
            set_at_creation=True,
        ),
        TopicConfigSpec(
            name="retention.ms",
            label="Retention time",
            default=str(7 * DAY_MS),
            unit="ms",
            help="Messages older than this are deleted (default 7 days).",
            minimum=60_000,
            maximum=LONG_MAX,
            unlimited=True,
        ),
    )
}

# Kafka 4 split message.timestamp.difference.max.ms into two configs; the console keeps the
# MSK name and sets both.
TIMESTAMP_DIFFERENCE = "message.timestamp.difference.max.ms"
TIMESTAMP_WIRE_NAMES = ("message.timestamp.before.max.ms", "message.timestamp.after.max.ms")


_V = TypeVar("_V", str, str | None)  # a value to set, or None to remove it


def to_wire_configs(configs: Mapping[str, _V]) -> dict[str, _V]:
    wire: dict[str, _V] = {}
    for name, value in configs.items():
        if name == TIMESTAMP_DIFFERENCE:
            for wire_name in TIMESTAMP_WIRE_NAMES:
                wire[wire_name] = value
        else:
            wire[name] = value
    return wire


def settable_names() -> str:
    return ", ".join(TOPIC_CONFIGS)
