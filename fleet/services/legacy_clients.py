"""Old librdkafka clients failing SCRAM (issue 17): from the brokers' metrics to the key's page.

librdkafka before 2.6.1 sends the SCRAM nonce twice; Kafka 4 checks it (RFC 5802,
CVE-2024-56128) and answers "invalid credentials", and the broker's own log names only the
address. Skiff's broker-side watch (io.skiff.auth.LegacyScramWatch in fleet/policy/) recognises
that exact message, and publishes per key username the time of the last such failure and the
old librdkafka versions connected then (KIP-511 client software version):

    skiff_legacy_scram_last_failure_seconds{user="…",versions="2.0.2"} 1.7963929E9
    skiff_legacy_scram_failures_total{user="…",versions="2.0.2"} 3.0

`legacy_scram_scan` (a periodic task, every minute) asks every broker for these two families
only and keeps the newest failure per (cell, username) in `LegacyScramFailure`.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import re
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from fleet.models import Broker, LegacyScramFailure
from fleet.services.sampler import metrics_credentials

logger = logging.getLogger(__name__)

LAST_FAILURE = "skiff_legacy_scram_last_failure_seconds"
FAILURES = "skiff_legacy_scram_failures_total"
MAX_BYTES = 4 * 1024 * 1024
_LINE = re.compile(r'(\w+)\{user="([^"]*)",versions="([^"]*)"\}\s+(\S+)')


@dataclass
class Seen:
    last_failed_at: dt.datetime
    versions: str
    failures: int


def parse_legacy_scram(text: str) -> dict[str, Seen]:
    """Per username: the newest failure in one broker's answer, its versions, the count."""
    last: dict[tuple[str, str], float] = {}
    counts: dict[tuple[str, str], float] = {}
    for match in _LINE.finditer(text):
        family, user, versions, value = match.groups()
        try:
            number = float(value)
        except ValueError:
            continue
        target = last if family == LAST_FAILURE else counts if family == FAILURES else None
        if target is not None:
            target[(user, versions)] = number
    seen: dict[str, Seen] = {}
    for (user, versions), seconds in last.items():
        moment = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        count = int(counts.get((user, versions), 0))
        known = seen.get(user)
        if known is None:
            seen[user] = Seen(moment, _versions(versions), count)
        else:
            known.failures += count
            if moment > known.last_failed_at:
                known.last_failed_at, known.versions = moment, _versions(versions)
    return seen


def _versions(label: str) -> str:
    return "" if label == "unknown" else label.replace("+", ", ")


def _fetch(url: str, auth: tuple[str, str] | None, timeout: float) -> str:
    parts = urllib.parse.urlsplit(url)
    query = [*urllib.parse.parse_qsl(parts.query), ("name[]", LAST_FAILURE), ("name[]", FAILURES)]
    request = urllib.request.Request(  # noqa: S310  # the broker's metrics URL we registered
        urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query))),
        headers={"Accept": "text/plain"},
    )
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return response.read(MAX_BYTES).decode("utf-8", errors="replace")


def legacy_scram_scan(*, timeout: float | None = None) -> int:
    """Read every broker's record of old-librdkafka SCRAM failures; keep the newest per
    (cell, username). A broker that does not answer is skipped (the next pass reads it).
    Returns how many (cell, username) records changed."""
    timeout = settings.SKIFF_SAMPLER_TIMEOUT if timeout is None else timeout
    rows = list(
        Broker.objects.exclude(metrics_url="")
        .exclude(state=Broker.State.UNREGISTERED)
        .values_list("cell_id", "metrics_url")
    )
    auth = metrics_credentials({cell_id for cell_id, _ in rows})

    def one(row: tuple[int, str]) -> tuple[int, dict[str, Seen]]:
        cell_id, url = row
        try:
            return cell_id, parse_legacy_scram(_fetch(url, auth.get(cell_id), timeout))
        except (OSError, ValueError) as exc:
            logger.info("legacy SCRAM scan: %s did not answer: %s", url, exc)
            return cell_id, {}

    per_cell: dict[int, dict[str, Seen]] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(rows)))) as pool:
        for cell_id, seen in pool.map(one, rows):
            merged = per_cell.setdefault(cell_id, {})
            for user, found in seen.items():
                known = merged.get(user)
                if known is None:
                    merged[user] = found
                else:
                    known.failures += found.failures
                    if found.last_failed_at > known.last_failed_at:
                        known.last_failed_at, known.versions = found.last_failed_at, found.versions
    changed = 0
    with transaction.atomic():
        for cell_id, seen in per_cell.items():
            existing = {
                f.username: f
                for f in LegacyScramFailure.objects.select_for_update().filter(
                    cell_id=cell_id, username__in=list(seen)
                )
            }
            for user, found in seen.items():
                record = existing.get(user)
                if record is None:
                    LegacyScramFailure.objects.create(
                        cell_id=cell_id,
                        username=user,
                        client_versions=found.versions[:200],
                        last_failed_at=found.last_failed_at,
                        failures=found.failures,
                    )
                    changed += 1
                elif found.last_failed_at > record.last_failed_at:
                    record.last_failed_at = found.last_failed_at
                    record.client_versions = found.versions[:200] or record.client_versions
                    record.failures = max(found.failures, record.failures)
                    record.save(update_fields=["last_failed_at", "client_versions", "failures"])
                    changed += 1
    return changed
