"""A topic page's socket sends its topic's share of each push, parsed once per push for all of
a process's topic sockets (the socket itself is tested in test_throughput_consumer.py)."""

from __future__ import annotations

import datetime as dt
import json

from clusters import consumers
from clusters.consumers import _topic_share_text
from fleet.services.sampler import throughput_document, throughput_message


def _pushed(rates: dict[str, float]) -> str:
    document = throughput_document(
        ts=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        topic_rates={
            name: {"bytes_in_per_sec": rate, "bytes_out_per_sec": 0.0, "messages_in_per_sec": 1.0}
            for name, rate in rates.items()
        },
        topic_storage_bytes={name: 10 for name in rates},
    )
    return throughput_message(document)["text"]


def test_each_topic_gets_its_own_share_and_an_absent_topic_zeros():
    text = _pushed({"orders": 100.0, "payments": 7.5})
    orders = json.loads(_topic_share_text(text, "orders"))
    assert set(orders["topics"]) == {"orders"}
    assert orders["cluster"]["bytes_in_per_sec"] == 100.0
    assert orders["ts"] == "2026-01-01T00:00:00Z"
    assert json.loads(_topic_share_text(text, "payments"))["cluster"]["bytes_in_per_sec"] == 7.5
    gone = json.loads(_topic_share_text(text, "gone"))
    assert gone["cluster"]["bytes_in_per_sec"] == 0.0
    assert set(gone["topics"]) == {"gone"}


def test_a_push_is_parsed_once_for_all_sockets_even_when_clusters_interleave(monkeypatch):
    consumers._pushed_document.cache_clear()
    parsed: list[int] = []
    real_loads = json.loads

    def counting_loads(text, *args, **kwargs):
        parsed.append(len(text))
        return real_loads(text, *args, **kwargs)

    monkeypatch.setattr(consumers.json, "loads", counting_loads)
    first = _pushed({f"t{i}": float(i) for i in range(100)})
    second = _pushed({"other": 1.0})
    # 200 sockets of two clusters, served in turn; with Redis each receives its own equal copy.
    for n in range(100):
        share = _topic_share_text("".join(first), f"t{n % 10}")
        assert real_loads(share)["cluster"]["bytes_in_per_sec"] == float(n % 10)
        assert real_loads(_topic_share_text("".join(second), "other"))["topics"] == {
            "other": {
                "bytes_in_per_sec": 1.0,
                "bytes_out_per_sec": 0.0,
                "messages_in_per_sec": 1.0,
                "storage_bytes": 10,
            }
        }
    assert len(parsed) == 2, parsed
