"""`python manage.py export_invoices 2026-11 --out file.csv`."""

import csv
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.services.exports import INVOICE_CSV_COLUMNS
from console.models import Role
from tests.billing.factories import draft_with_lines
from tests.billing.helpers import closed_november, member

pytestmark = pytest.mark.django_db


def test_it_writes_the_months_finance_csv_to_a_file(tmp_path):
    invoices = closed_november(member(Role.OWNER).team, member(Role.OWNER).team)
    draft_with_lines(member(Role.OWNER).team, {})  # a November draft: not exported
    out = tmp_path / "november.csv"
    stdout = StringIO()

    call_command("export_invoices", "2026-11", "--out", str(out), stdout=stdout)

    assert stdout.getvalue().strip() == f"2026-11: 2 invoice(s) written to {out}."
    with out.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert tuple(reader.fieldnames) == INVOICE_CSV_COLUMNS
    assert {r["invoice_number"] for r in rows} == {i.number for i in invoices}
    assert len(rows) == sum(i.lines.count() for i in invoices)
    assert not list(tmp_path.glob(".*.partial"))


def test_it_replaces_an_existing_file_and_writes_stdout_without_out(tmp_path):
    (invoice,) = closed_november(member(Role.OWNER).team)
    out = tmp_path / "export.csv"
    out.write_text("old content\n")
    call_command("export_invoices", "2026-11", "--out", str(out), stdout=StringIO())
    assert "old content" not in out.read_text()

    stdout, stderr = StringIO(), StringIO()
    call_command("export_invoices", "2026-11", stdout=stdout, stderr=stderr)
    rows = list(csv.DictReader(StringIO(stdout.getvalue())))
    assert {r["invoice_number"] for r in rows} == {invoice.number}
    assert "2026-11: 1 invoice(s)." in stderr.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["2026-13"], "Month must look like YYYY-MM"),
        (["November"], "Month must look like YYYY-MM"),
        (
            ["2026-11", "--out", "/nonexistent-dir/x.csv"],
            "Directory /nonexistent-dir does not exist",
        ),
    ],
)
def test_bad_arguments_are_explained_and_write_nothing(tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("export_invoices", *args, stdout=StringIO(), stderr=StringIO())
    assert not list(tmp_path.iterdir())
