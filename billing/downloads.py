"""Invoice files as HTTP responses, shared by the pages and the API."""

import datetime as dt

from django.http import HttpResponse, StreamingHttpResponse

from billing.models import Invoice
from billing.services.exports import (
    finance_export_chunks,
    finance_export_filename,
    invoice_csv,
    invoice_csv_filename,
    invoice_pdf,
    invoice_pdf_filename,
)

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
PDF_CONTENT_TYPE = "application/pdf"


def _attachment(response, filename: str):
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # A draft changes; a finalized invoice does not, but it is still private to the team.
    response["Cache-Control"] = "private, no-store"
    return response


def invoice_csv_response(invoice: Invoice) -> HttpResponse:
    return _attachment(
        HttpResponse(invoice_csv(invoice), content_type=CSV_CONTENT_TYPE),
        invoice_csv_filename(invoice),
    )


def invoice_pdf_response(invoice: Invoice) -> HttpResponse:
    return _attachment(
        HttpResponse(invoice_pdf(invoice), content_type=PDF_CONTENT_TYPE),
        invoice_pdf_filename(invoice),
    )


def finance_export_response(period: dt.date) -> StreamingHttpResponse:
    """The month's finance CSV, streamed: a month of 10,000 teams is not built in memory."""
    return _attachment(
        StreamingHttpResponse(finance_export_chunks(period), content_type=CSV_CONTENT_TYPE),
        finance_export_filename(period),
    )
