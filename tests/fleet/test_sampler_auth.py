"""Metrics behind authentication (issue 13): the sampler sends each cell's metrics credential."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleet.models import Broker
from fleet.services.sampler import Sampler, metrics_credentials
from tests.factories import CellFactory
from tests.fleet.metrics_texts import exporter_text


@pytest.mark.django_db
def test_each_cells_credential_goes_with_its_brokers_scrapes(tmp_path: Path) -> None:
    credentials = tmp_path / "cell.json"
    credentials.write_text(
        json.dumps({"admin_password": "x", "metrics_username": "metrics", "metrics_password": "s"})
    )
    secured = CellFactory(credentials_path=str(credentials))
    legacy = CellFactory()  # no readable credentials file: scraped without a credential
    for cell, url in ((secured, "http://a/metrics"), (legacy, "http://b/metrics")):
        Broker.objects.create(cell=cell, node_id=1, host="h", port=1, metrics_url=url)

    assert metrics_credentials([secured.pk, legacy.pk]) == {secured.pk: ("metrics", "s")}

    calls: dict[str, tuple] = {}

    def fetch(url: str, timeout: float, *auth: tuple[str, str]) -> str:
        calls[url] = auth
        return exporter_text({})

    sampler = Sampler(timeout=1.0, fetch=fetch)
    targets = sampler.targets()
    assert "'s'" not in repr(targets)  # the credential stays out of reprs and logs
    sampler.run_once()
    assert calls == {"http://a/metrics": (("metrics", "s"),), "http://b/metrics": ()}
