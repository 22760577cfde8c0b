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


def settled(
    read: Callable[[], T],
    check: Callable[[T], object],
    *,
    what: str,
    timeout: float = 20.0,
    agreeing: int = 2,
) -> T:
    """`read()` once `check(result)` holds on `agreeing` reads in a row; a clear failure naming
    `what` after `timeout` seconds.

    A change the controller acknowledged (a topic created, a config altered, partitions added)
    reaches each broker's metadata a moment later, and each read may be answered by another
    broker: a read right after a write can see the old state on a loaded machine. Reads that
    raise (e.g. the topic is not known to that broker yet) count as not settled.
    """
    deadline = time.monotonic() + timeout
    in_a_row = 0
    last: object = None
    while True:
        try:
            result = read()
            ok = bool(check(result))
            last = result
        except Exception as exc:  # a broker that has not seen the change yet
            ok, last = False, exc
        in_a_row = in_a_row + 1 if ok else 0
        if in_a_row >= agreeing:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"the brokers did not all show {what} within {timeout:.0f} s; last read: {last!r}"[
                    :2000
                ]
            )
        time.sleep(0.1)
