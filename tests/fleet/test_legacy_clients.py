"""Issue 17: the brokers' record of old-librdkafka SCRAM failures, as the scan reads it."""

import datetime as dt

from fleet.services.legacy_clients import parse_legacy_scram

ANSWER = """\
# HELP skiff_legacy_scram_failures_total Attribute exposed for management
# TYPE skiff_legacy_scram_failures_total counter
skiff_legacy_scram_failures_total{user="acme-orders-k1",versions="2.0.2"} 3.0
skiff_legacy_scram_failures_total{user="acme-orders-k1",versions="unknown"} 1.0
skiff_legacy_scram_failures_total{user="acme-orders-k2",versions="2.0.2+2.3.0"} 2.0
# TYPE skiff_legacy_scram_last_failure_seconds gauge
skiff_legacy_scram_last_failure_seconds{user="acme-orders-k1",versions="2.0.2"} 1.796392969E9
skiff_legacy_scram_last_failure_seconds{user="acme-orders-k1",versions="unknown"} 1.796392900E9
skiff_legacy_scram_last_failure_seconds{user="acme-orders-k2",versions="2.0.2+2.3.0"} 1.7963929E9
"""


def test_newest_failure_per_user_with_its_versions_and_the_summed_count():
    seen = parse_legacy_scram(ANSWER)
    assert set(seen) == {"acme-orders-k1", "acme-orders-k2"}
    k1 = seen["acme-orders-k1"]
    assert k1.last_failed_at == dt.datetime.fromtimestamp(1796392969, tz=dt.UTC)
    assert k1.versions == "2.0.2" and k1.failures == 4
    assert seen["acme-orders-k2"].versions == "2.0.2, 2.3.0"


def test_unknown_versions_and_other_families_and_junk():
    seen = parse_legacy_scram(
        'skiff_legacy_scram_last_failure_seconds{user="u",versions="unknown"} 1.7E9\n'
        'kafka_log_size_bytes{topic="t",partition="0"} 5\n'
        'skiff_legacy_scram_last_failure_seconds{user="v",versions="2.0.2"} notanumber\n'
    )
    assert set(seen) == {"u"} and seen["u"].versions == "" and seen["u"].failures == 0
