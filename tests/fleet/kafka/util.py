"""Small helpers for the Kafka integration tests."""

from __future__ import annotations

import time
import urllib.request
import uuid
from collections.abc import Callable
from typing import TypeVar

from prometheus_client.parser import text_string_to_metric_families

T = TypeVar("T")


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def eventually(fn: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.2) -> T:
    """Retry ``fn`` until it stops raising AssertionError/gateway errors.

    KRaft brokers apply new SCRAM credentials and ACLs when they fetch the metadata log, a few
    milliseconds after the controller acknowledged the change: a request sent at once may still
    hit a broker that has not seen it.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except Exception:
            if time.monotonic() >= deadline:
                raise
            time.sleep(interval)


def scrape(
    url: str, auth: tuple[str, str] | None = None
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus text -> {(sample name, sorted labels): value} (auth: the cell's metrics user)."""
    text = metrics_get(url, auth)
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def topic_counter(samples: dict, name: str, topic: str) -> float:
    return samples.get((name, (("topic", topic),)), 0.0)


def settled_acls(conn, principal: str, expect: Callable[[list], bool], *, timeout: float = 10.0):
    """The principal's ACLs once `expect(acls)` holds: an ACL change reaches every broker's
    metadata a moment after the controller acknowledged it, so a DescribeAcls sent at once may
    still see the old set."""
    from tests.fleet.kafka import gateway

    def check():
        found = gateway.describe_acls(conn, principal)
        assert expect(found), found
        return found

    return eventually(check, timeout=timeout)


def metrics_get(url: str, auth: tuple[str, str] | None = None) -> str:
    """The whole metrics text of a broker, sending the cell's basic-auth credential if given."""
    from fleet.runtime.launcher import basic_auth_header

    request = urllib.request.Request(url)  # noqa: S310 (our broker's http URL)
    if auth is not None:
        request.add_header("Authorization", basic_auth_header(auth))
    with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310
        return resp.read().decode()
