"""Browse and produce messages of a topic, through the cluster's `ClusterGateway` (short names).

Values are rendered for display here (UTF-8 text, pretty JSON, or hex/base64 for binary),
capped per value and per page; templates escape whatever is returned (never `|safe`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import transaction

from clusters.models import Cluster
from clusters.services.topics import topics_changed
from console.audit import audit_record
from console.errors import NotFound, PayloadTooLarge, ValidationFailed
from fleet import limits
from fleet.kafka.errors import InvalidKafkaRequest, KafkaGatewayError, MessageTooLarge
from fleet.kafka.tenant import ClusterGateway
from fleet.kafka.types import OutgoingRecord, ProducedRecord

MODES = ("newest", "offset", "timestamp")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
VALUE_DISPLAY_BYTES = 16 * 1024  # per key/value shown
PAGE_BYTES = 4 * 1024 * 1024  # fetched per page
MAX_HEADERS = 32
# Kafka's offsets are 64-bit; timestamps are ms since the epoch up to the end of year 9999
# (Python's datetime, and far past any record). Outside these a query is a 400, never an
# overflow in the client.
MAX_OFFSET = 2**63 - 1
MAX_PARTITION = 2**31 - 1
MAX_TIMESTAMP_MS = 253_402_300_799_999


@dataclass(frozen=True)
class RenderedBytes:
    format: str  # "null", "text", "json", "binary"
    text: str  # what to show (pretty JSON, text, or a hex dump of the shown bytes)
    base64: str | None  # the shown bytes, for binary values
    size: int  # full size in bytes
    truncated: bool


@dataclass(frozen=True)
class BrowsedMessage:
    partition: int
    offset: int
    timestamp: datetime | None
    key: RenderedBytes
    value: RenderedBytes
    headers: list[tuple[str, RenderedBytes]]


@dataclass
class BrowseResult:
    messages: list[BrowsedMessage]
    mode: str
    partition: int | None
    limit: int
    partitions: int
    notices: list[str] = field(default_factory=list)

    @property
    def any_truncated(self) -> bool:
        return any(m.value.truncated or m.key.truncated for m in self.messages)


def render_bytes(data: bytes | None, *, cap: int = VALUE_DISPLAY_BYTES) -> RenderedBytes:
    if data is None:
        return RenderedBytes("null", "", None, 0, False)
    size = len(data)
    shown = data[:cap]
    truncated = size > cap
    try:
        text = shown.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A cut in the middle of a multi-byte character is still text.
        if truncated and exc.start >= len(shown) - 3:
            try:
                text = shown[: exc.start].decode("utf-8")
            except UnicodeDecodeError:
                text = None
        else:
            text = None
    if text is not None and _printable(text):
        if not truncated:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            else:
                if isinstance(parsed, (dict, list)):
                    pretty = json.dumps(parsed, indent=2, ensure_ascii=False, sort_keys=False)
                    return RenderedBytes("json", pretty, None, size, False)
        return RenderedBytes("text", text, None, size, truncated)
    return RenderedBytes(
        "binary", shown.hex(" "), base64.b64encode(shown).decode("ascii"), size, truncated
    )


def _printable(text: str) -> bool:
    return all(ch.isprintable() or ch in "\n\r\t" for ch in text)


def _topic_partitions(gw: ClusterGateway, cluster: Cluster, topic: str) -> list[int]:
    described = gw.list_topics().get(topic) if topic else None
    if described is None:
        raise NotFound(f"Topic '{topic}' does not exist in cluster '{cluster.name}'.")
    return [p.id for p in described.partitions]


def _gateway(cluster: Cluster) -> ClusterGateway:
    if cluster.cell_id is None or cluster.state != Cluster.State.ACTIVE:
        raise ValidationFailed(f"Cluster '{cluster.name}' is {cluster.state}, not ACTIVE.")
    return ClusterGateway(cluster)


def _int(value: object, name: str, message: str, *, maximum: int = MAX_OFFSET) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(str(value).strip()[:24])
    except ValueError:
        raise ValidationFailed({name: message}) from None
    if abs(number) > maximum:
        raise ValidationFailed({name: f"{message} At most {maximum}."})
    return number


def parse_timestamp(value: object) -> int | None:
    """Milliseconds since the epoch from ms digits or ISO 8601 (naive means UTC)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip()
        if text.lstrip("-").isdigit():
            return _timestamp_in_range(int(text) if len(text) <= 20 else -1)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except (ValueError, OverflowError):
            raise ValidationFailed(
                {"timestamp": "Timestamp must be ISO 8601 (e.g. 2026-01-31T12:00:00Z) or ms."}
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        ms = int(moment.timestamp() * 1000)
    except (OverflowError, ValueError):
        ms = -1
    return _timestamp_in_range(ms)


def _timestamp_in_range(ms: int) -> int:
    if not 0 <= ms <= MAX_TIMESTAMP_MS:
        raise ValidationFailed(
            {
                "timestamp": "Timestamp must be between 1970-01-01 and 9999-12-31 (0 to "
                f"{MAX_TIMESTAMP_MS} ms)."
            }
        )
    return ms


def message_browse(
    *,
    cluster: Cluster,
    topic: str,
    mode: str = "newest",
    partition: object = None,
    offset: object = None,
    timestamp: object = None,
    limit: object = DEFAULT_LIMIT,
) -> BrowseResult:
    """Newest N, from an offset, or from a timestamp; one partition or all of them."""
    if mode not in MODES:
        raise ValidationFailed({"mode": f"Mode must be one of: {', '.join(MODES)}."})
    count = _int(limit, "limit", "Limit must be a whole number.") or DEFAULT_LIMIT
    if not 1 <= count <= MAX_LIMIT:
        raise ValidationFailed({"limit": f"Limit must be between 1 and {MAX_LIMIT}."})
    part = _int(partition, "partition", "Partition must be a whole number.", maximum=MAX_PARTITION)
    start_offset = _int(offset, "offset", "Offset must be a whole number ≥ 0.")
    if mode == "offset" and (start_offset is None or start_offset < 0):
        raise ValidationFailed({"offset": "Give the offset to start from (a whole number ≥ 0)."})
    ts = parse_timestamp(timestamp) if mode == "timestamp" else None
    if mode == "timestamp" and ts is None:
        raise ValidationFailed({"timestamp": "Give the timestamp to start from."})
    gw = _gateway(cluster)
    ids = _topic_partitions(gw, cluster, topic)
    if part is not None and part not in ids:
        raise ValidationFailed(
            {"partition": f"Topic '{topic}' has partitions 0–{len(ids) - 1}; {part} is not one."}
        )
    chosen = [part] if part is not None else ids
    keys = [(topic, p) for p in chosen]
    bounds = gw.list_partition_offsets(keys)
    ranges: dict[tuple[str, int], tuple[int, int]] = {}
    if mode == "newest":
        for tp in keys:
            b = bounds.get(tp)
            if b is not None:
                ranges[tp] = (max(b.start, b.end - count), b.end)
    elif mode == "offset" and start_offset is not None:
        for tp in keys:
            b = bounds.get(tp)
            if b is not None:
                first = max(start_offset, b.start)
                ranges[tp] = (first, min(b.end, first + count))
    elif ts is not None:  # mode == "timestamp"
        found = gw.offsets_for_timestamp(keys, ts)
        for tp in keys:
            b, first = bounds.get(tp), found.get(tp, -1)
            if b is not None and first >= 0:
                first = max(first, b.start)
                ranges[tp] = (first, min(b.end, first + count))
    notices: list[str] = []
    wanted = sum(stop - start for start, stop in ranges.values())
    raw = (
        gw.fetch_messages(
            ranges,
            max_messages=wanted if mode == "newest" else count * len(ranges) or 1,
            max_bytes=PAGE_BYTES,
        )
        if ranges
        else []
    )
    if mode == "newest":
        raw.sort(key=lambda m: (m.timestamp_ms or 0, m.offset), reverse=True)
    else:
        raw.sort(key=lambda m: (m.timestamp_ms or 0, m.partition, m.offset))
    if len(raw) > count:
        raw = raw[:count]
    fetched_bytes = sum(len(m.value or b"") + len(m.key or b"") for m in raw)
    if fetched_bytes >= PAGE_BYTES:
        notices.append(
            f"This page stopped at {PAGE_BYTES // (1024 * 1024)} MiB of messages; narrow it to "
            "see more."
        )
    messages = [
        BrowsedMessage(
            partition=m.partition,
            offset=m.offset,
            timestamp=(
                datetime.fromtimestamp(m.timestamp_ms / 1000, tz=UTC)
                if m.timestamp_ms is not None
                else None
            ),
            key=render_bytes(m.key),
            value=render_bytes(m.value),
            headers=[(k, render_bytes(v, cap=1024)) for k, v in m.headers],
        )
        for m in raw
    ]
    result = BrowseResult(messages, mode, part, count, len(ids), notices)
    if result.any_truncated:
        notices.append(
            f"Values over {VALUE_DISPLAY_BYTES // 1024} KiB are cut; the full size is shown "
            "next to each."
        )
    return result


def _to_bytes(value: object, name: str, encoding: str) -> bytes | None:
    if value is None:
        return None
    if encoding == "base64":
        try:
            return base64.b64decode(str(value), validate=True)
        except ValueError:
            raise ValidationFailed({name: f"{name} is not valid base64."}) from None
    return str(value).encode("utf-8")


def _too_large_for_topic(
    gw: ClusterGateway, cluster: Cluster, topic: str, size: int
) -> PayloadTooLarge:
    """The cell refused the record as too large: a 413 naming the limit that applies (the
    topic's max.message.bytes, which tenants may lower; the cell's when the topic's is not
    readable)."""
    try:
        entry = gw.describe_topic_configs(topic).get("max.message.bytes")
        limit = int(entry.value) if entry is not None and entry.value else None
    except (KafkaGatewayError, ValueError):
        limit = None
    where = f"Topic '{topic}' of cluster '{cluster.name}'"
    if limit is None:
        message = f"The message is {size:,} bytes; {where} refused it as too large."
    else:
        message = (
            f"The message is {size:,} bytes with its headers; {where} accepts at most "
            f"{limit:,} bytes per record batch (max.message.bytes)."
        )
    return PayloadTooLarge(
        message,
        fields={"value": [message]},
        detail=f"max.message.bytes={limit}",
    )


def message_produce(
    *,
    cluster: Cluster,
    topic: str,
    value: object,
    key: object = None,
    headers: object = None,
    partition: object = None,
    encoding: str = "utf-8",
) -> ProducedRecord:
    """Produce one record with the platform's credential, only to a topic of this cluster."""
    if encoding not in ("utf-8", "base64"):
        raise ValidationFailed({"encoding": "Encoding must be 'utf-8' or 'base64'."})
    value_bytes = _to_bytes(value, "value", encoding)
    key_bytes = _to_bytes(key if key not in ("",) else None, "key", encoding)
    header_list: list[tuple[str, bytes | None]] = []
    if headers not in (None, "", [], {}):
        try:
            if not isinstance(headers, Iterable):
                raise TypeError(headers)
            items = headers.items() if isinstance(headers, dict) else headers
            for name, header_value in items:
                name = str(name).strip()
                if not name:
                    raise ValidationFailed({"headers": "Every header needs a name."})
                header_list.append(
                    (name, None if header_value is None else str(header_value).encode())
                )
        except (TypeError, ValueError):
            raise ValidationFailed(
                {"headers": "Headers must be an object or a list of [name, value] pairs."}
            ) from None
    if len(header_list) > MAX_HEADERS:
        raise ValidationFailed({"headers": f"At most {MAX_HEADERS} headers."})
    size = len(value_bytes or b"") + len(key_bytes or b"")
    size += sum(len(k) + len(v or b"") for k, v in header_list)
    if size > limits.MAX_MESSAGE_BYTES:
        raise PayloadTooLarge(
            f"The message is {size:,} bytes; the service's limit is "
            f"{limits.MAX_MESSAGE_BYTES:,} bytes.",
            fields={"value": [f"At most {limits.MAX_MESSAGE_BYTES:,} bytes."]},
        )
    part = _int(partition, "partition", "Partition must be a whole number.", maximum=MAX_PARTITION)
    gw = _gateway(cluster)
    ids = _topic_partitions(gw, cluster, topic)
    if part is not None and part not in ids:
        raise ValidationFailed(
            {"partition": f"Topic '{topic}' has partitions 0–{len(ids) - 1}; {part} is not one."}
        )
    wire = gw.wire_name(topic)  # the audit trail keeps the wire name
    outgoing = OutgoingRecord(key=key_bytes, value=value_bytes, headers=tuple(header_list))
    with transaction.atomic():
        try:
            [record] = gw.produce(topic, [outgoing], partition=part)
        except MessageTooLarge as exc:
            raise _too_large_for_topic(gw, cluster, topic, size) from exc
        except InvalidKafkaRequest as exc:
            raise ValidationFailed({"value": exc.message}) from exc
        audit_record(
            team=cluster.team,
            action="message.produce",
            target_type="topic",
            target_id=wire,
            target_repr=wire,
            after={
                "partition": record.partition,
                "offset": record.offset,
                "bytes": size,
                "headers": [k for k, _ in header_list],
            },
        )
    topics_changed(cluster)
    return record
