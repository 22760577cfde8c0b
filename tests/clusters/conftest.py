import pytest

from clusters.models import Cell
from clusters.services.fleet import cell_record_local


@pytest.fixture
def cell(kafka_cell, db) -> Cell:
    """The session's real 3-node cell, recorded in this test's database as the only cell."""
    return cell_record_local(kafka_cell)
