"""Invoices as files: one CSV per invoice, the finance CSV of a month, and the PDF.

The CSV columns are a contract with whoever imports them (finance, spreadsheets, an ERP): they
are listed once here, documented in the README ("Billing"), and only ever extended at the end.
Money and quantities are written exactly as stored (plain decimals, '.' separator, no
thousands separator, no currency sign); dates as ISO 8601; months as YYYY-MM.

The finance export holds every invoice of the month that has a number — finalized, paid and
void — and no drafts: a draft is an estimate that still changes, while a void invoice keeps
its number and must stay visible for the numbering to be gap-free. An invoice without lines
still gets one row (line columns empty), so every number appears.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import os
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from django.db.models import Prefetch
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from billing.models import Invoice, InvoiceLine, Meter
from billing.periods import format_month, month_bounds

INVOICE_CSV_COLUMNS: tuple[str, ...] = (
    "invoice_number",  # empty for a draft
    "invoice_id",
    "team",  # the team's slug (stable); team_name is what people read
    "team_name",
    "period",  # YYYY-MM, the billed month
    "status",  # draft | finalized | paid | void
    "currency",
    "line",  # position of the line on the invoice, from 1
    "cluster",  # the cluster's name when the invoice was computed
    "meter",  # cluster_hours | partition_hours | storage | data_in | data_out
    "description",
    "usage_period",  # YYYY-MM the usage belongs to (earlier than period for adjustments)
    "is_adjustment",  # true | false
    "quantity",  # in unit, 6 decimal places
    "unit",
    "unit_price",
    "amount",  # quantity * unit_price, rounded half-up to the cent
    "subtotal",  # the invoice's subtotal (sum of its amounts), repeated on each row
)

# The statuses the finance export contains.
FINANCE_EXPORT_STATUSES: tuple[str, ...] = (
    Invoice.Status.FINALIZED,
    Invoice.Status.PAID,
    Invoice.Status.VOID,
)

# Characters a spreadsheet reads as the start of a formula. Text a user typed (team and cluster
# names, descriptions) is prefixed with "'" when it starts with one; numbers are never touched.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(value: str) -> str:
    return "'" + value if value[:1] in _FORMULA_START else value


def _invoice_cells(invoice: Invoice) -> list[str]:
    return [
        invoice.number or "",
        str(invoice.pk),
        invoice.team.slug,
        _text_cell(invoice.team.name),
        format_month(invoice.period),
        invoice.status,
        invoice.currency,
    ]


def _line_cells(line: InvoiceLine) -> list[str]:
    return [
        str(line.position),
        _text_cell(line.cluster_name),
        line.meter,
        _text_cell(line.description),
        format_month(line.usage_period),
        "true" if line.is_adjustment else "false",
        str(line.quantity),
        line.unit,
        str(line.unit_price),
        str(line.amount),
    ]


_EMPTY_LINE = [""] * 10


def invoice_rows(invoice: Invoice) -> Iterator[list[str]]:
    """The CSV rows (no header) of one invoice: one per line, or one with empty line cells."""
    head = _invoice_cells(invoice)
    subtotal = [str(invoice.subtotal)]
    lines = list(invoice.lines.all())
    if not lines:
        yield [*head, *_EMPTY_LINE, *subtotal]
    for line in lines:
        yield [*head, *_line_cells(line), *subtotal]


def write_csv(rows: Iterable[list[str]], out: TextIO) -> None:
    writer = csv.writer(out)
    writer.writerow(INVOICE_CSV_COLUMNS)
    writer.writerows(rows)


def invoice_csv(invoice: Invoice) -> str:
    """One invoice as CSV text: the header, then one row per line."""
    out = io.StringIO()
    write_csv(invoice_rows(invoice), out)
    return out.getvalue()


def invoice_csv_filename(invoice: Invoice) -> str:
    name = invoice.number or f"draft-{invoice.team.slug}-{format_month(invoice.period)}"
    return f"skiff-invoice-{name}.csv"


def finance_export_invoices(period: dt.date):
    """Invoices of the month in the finance export, ordered by number, lines prefetched."""
    return (
        Invoice.objects.filter(period=period, status__in=FINANCE_EXPORT_STATUSES)
        .select_related("team")
        .prefetch_related(Prefetch("lines", queryset=InvoiceLine.objects.order_by("position")))
        .order_by("number")
    )


def finance_export_rows(period: dt.date, *, chunk_size: int = 500) -> Iterator[list[str]]:
    """Every row of the finance export for a month, read in chunks (no header)."""
    for invoice in finance_export_invoices(period).iterator(chunk_size=chunk_size):
        yield from invoice_rows(invoice)


def write_finance_export(period: dt.date, out: TextIO) -> int:
    """Write the month's finance CSV to `out`; returns the number of invoices written."""
    invoices = 0
    seen: str | None = None

    def counted() -> Iterator[list[str]]:
        nonlocal invoices, seen
        for row in finance_export_rows(period):
            if row[1] != seen:
                seen, invoices = row[1], invoices + 1
            yield row

    write_csv(counted(), out)
    return invoices


class _Echo:
    """A file-like whose write returns the text: csv.writer then yields one row at a time."""

    def write(self, value: str) -> str:
        return value


def finance_export_chunks(period: dt.date) -> Iterator[str]:
    """The month's finance CSV as text rows, header first (for a streaming response)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(INVOICE_CSV_COLUMNS)
    for row in finance_export_rows(period):
        yield writer.writerow(row)


def finance_export_csv(period: dt.date) -> str:
    """All finalized, paid and void invoices of a month with their lines, as CSV text."""
    out = io.StringIO()
    write_finance_export(period, out)
    return out.getvalue()


def finance_export_filename(period: dt.date) -> str:
    return f"skiff-invoices-{format_month(period)}.csv"


# --- PDF -----------------------------------------------------------------------------------

_WATERMARKS: dict[str, str] = {Invoice.Status.DRAFT: "DRAFT", Invoice.Status.VOID: "VOID"}
_INK = colors.HexColor("#1d273b")
_MUTED = colors.HexColor("#667382")
_RULE = colors.HexColor("#dce1e7")


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def _plain(value: Decimal) -> str:
    """A quantity or unit price without trailing zeros beyond what it needs (min. 2 places)."""
    text = f"{value:,f}"
    if "." in text:
        whole, frac = text.split(".")
        frac = frac.rstrip("0").ljust(2, "0")
        text = f"{whole}.{frac}"
    return text


def _when(moment: dt.datetime | None) -> str:
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC" if moment else "—"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def invoice_pdf_filename(invoice: Invoice) -> str:
    return invoice_csv_filename(invoice).removesuffix(".csv") + ".pdf"


# Names beyond Latin-1 (Greek, Cyrillic, Arabic, Hebrew…; not CJK) need an embedded font: the
# standard PDF fonts only cover Latin-1. DejaVu Sans is in Debian's fonts-dejavu-core (the
# image installs it); without it the PDF falls back to Helvetica.
_FONT_DIRS = (
    Path(os.environ.get("SKIFF_PDF_FONT_DIR", "/usr/share/fonts/truetype/dejavu")),
    Path("/usr/share/fonts/dejavu"),
)
_FONT_FILES = {
    "regular": "DejaVuSans.ttf",
    "bold": "DejaVuSans-Bold.ttf",
    "italic": "DejaVuSans-Oblique.ttf",
    "boldItalic": "DejaVuSans-BoldOblique.ttf",
}


@functools.cache
def pdf_fonts() -> tuple[str, str]:
    """(regular, bold) font names for invoices: embedded DejaVu Sans if found, else Helvetica."""
    for directory in _FONT_DIRS:
        paths = {style: directory / name for style, name in _FONT_FILES.items()}
        if all(path.is_file() for path in paths.values()):
            names = {style: f"SkiffSans-{style}" for style in paths}
            for style, path in paths.items():
                pdfmetrics.registerFont(TTFont(names[style], str(path)))
            pdfmetrics.registerFontFamily(
                "SkiffSans",
                normal=names["regular"],
                **{style: names[style] for style in ("bold", "italic", "boldItalic")},
            )
            return names["regular"], names["bold"]
    return "Helvetica", "Helvetica-Bold"


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as a PDF: team, period, number, status, the lines, subtotal and total.

    Drafts and void invoices carry a large diagonal watermark and a status line saying what
    they are, so a printed draft is never mistaken for a bill. Greek, Cyrillic and more print when
    DejaVu Sans is installed (`pdf_fonts`).
    """
    regular, bold = pdf_fonts()
    styles = getSampleStyleSheet()
    body = ParagraphStyle(
        "body", parent=styles["Normal"], fontName=regular, fontSize=9, leading=12, textColor=_INK
    )
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=10, textColor=_MUTED)
    title = ParagraphStyle(
        "title", parent=styles["Title"], fontName=bold, alignment=0, fontSize=20, leading=24
    )
    cell = ParagraphStyle("cell", parent=body, fontSize=8, leading=10)

    start, end = month_bounds(invoice.period)
    last_day = (end - dt.timedelta(days=1)).date()
    number = invoice.number or "Not yet assigned (draft)"
    status_texts: dict[str, str] = {
        Invoice.Status.DRAFT: "DRAFT — an estimate of usage so far; amounts change until the "
        "month is closed. This is not a bill.",
        Invoice.Status.FINALIZED: "Finalized — due for payment.",
        Invoice.Status.PAID: f"Paid on {_when(invoice.paid_at)}.",
        Invoice.Status.VOID: f"VOID since {_when(invoice.voided_at)}"
        + (f": {invoice.void_reason}" if invoice.void_reason else ".")
        + " Do not pay this invoice.",
    }
    status_text = status_texts[invoice.status]

    story: list = [
        Paragraph("Skiff", small),
        Paragraph("Invoice" if not invoice.is_draft else "Invoice (draft)", title),
        Spacer(1, 3 * mm),
    ]
    facts = [
        ("Invoice number", number),
        ("Billed to", f"{invoice.team.name} ({invoice.team.slug})"),
        ("Period", f"{format_month(invoice.period)} ({start:%Y-%m-%d} to {last_day:%Y-%m-%d} UTC)"),
        ("Status", status_text),
        ("Currency", invoice.currency),
        ("Issued", _when(invoice.finalized_at)),
        ("Usage through", _when(invoice.usage_through)),
    ]
    if invoice.replaces is not None:
        facts.append(("Replaces", invoice.replaces.number or f"invoice {invoice.replaces_id}"))
    fact_table = Table(
        [
            [Paragraph(f"<b>{label}</b>", body), Paragraph(_escape(value), body)]
            for label, value in facts
        ],
        colWidths=[35 * mm, 135 * mm],
        hAlign="LEFT",
    )
    fact_table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    story += [fact_table, Spacer(1, 6 * mm)]

    # Header cells wrap inside their column (plain strings overflowed into the next one:
    # "Unit priceAmount (USD)"); numeric columns are right-aligned like their figures.
    head_left = ParagraphStyle("head", parent=cell, fontName=bold)
    head_right = ParagraphStyle("head_right", parent=head_left, alignment=2)
    head = [
        Paragraph("Cluster", head_left),
        Paragraph("Description", head_left),
        Paragraph("Quantity", head_right),
        Paragraph("Unit", head_left),
        Paragraph("Unit price", head_right),
        Paragraph(f"Amount ({invoice.currency})", head_right),
    ]
    rows: list[list] = [head]
    lines = list(invoice.lines.order_by("position"))
    for line in lines:
        description = _escape(line.description)
        if line.is_adjustment:
            description += f" <i>(adjustment for {format_month(line.usage_period)})</i>"
        rows.append(
            [
                Paragraph(_escape(line.cluster_name or "—"), cell),
                Paragraph(description, cell),
                _plain(line.quantity),
                line.unit,
                _plain(line.unit_price),
                _money(line.amount),
            ]
        )
    if not lines:
        rows.append(
            ["", Paragraph("No usage in this period.", cell), "", "", "", _money(Decimal(0))]
        )
    subtotal_row = len(rows)
    rows.append(["", "", "", "", "Subtotal", _money(invoice.subtotal)])
    rows.append(["", "", "", "", f"Total ({invoice.currency})", _money(invoice.subtotal)])
    lines_table = Table(
        rows,
        colWidths=[26 * mm, 56 * mm, 24 * mm, 22 * mm, 20 * mm, 22 * mm],  # 170 mm: the frame
        repeatRows=1,
        hAlign="LEFT",
    )
    lines_table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), bold, 8),
                ("FONT", (0, 1), (-1, -1), regular, 8),
                ("TEXTCOLOR", (0, 0), (-1, -1), _INK),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, _INK),
                ("LINEBELOW", (0, 1), (-1, subtotal_row - 1), 0.25, _RULE),
                ("ALIGN", (2, 0), (2, -1), "RIGHT"),
                ("ALIGN", (4, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEABOVE", (4, subtotal_row), (-1, subtotal_row), 0.8, _INK),
                ("FONT", (4, -1), (-1, -1), bold, 10),
                ("LINEABOVE", (4, -1), (-1, -1), 0.8, _INK),
            ]
        )
    )
    story += [lines_table, Spacer(1, 8 * mm)]
    story.append(
        Paragraph(
            "Amounts are quantity × unit price rounded half-up to the cent per line; the total "
            "is the exact sum of the line amounts. Storage is billed per GiB-month "
            "(GiB-hours ÷ hours in the month); 1 GiB = 2<super>30</super> bytes. "
            f"Meters: {', '.join(label for _, label in Meter.choices)}.",
            small,
        )
    )

    watermark = _WATERMARKS.get(invoice.status)

    def decorate(canvas, doc) -> None:
        canvas.saveState()
        if watermark:
            canvas.setFont(bold, 110)
            canvas.setFillColor(colors.Color(0.85, 0.2, 0.2, alpha=0.12))
            canvas.translate(A4[0] / 2, A4[1] / 2)
            canvas.rotate(45)
            canvas.drawCentredString(0, -40, watermark)
            canvas.rotate(-45)
            canvas.translate(-A4[0] / 2, -A4[1] / 2)
        canvas.setFont(regular, 7)
        canvas.setFillColor(_MUTED)
        canvas.drawString(20 * mm, 10 * mm, f"Skiff · {number} · {format_month(invoice.period)}")
        canvas.drawRightString(A4[0] - 20 * mm, 10 * mm, f"Page {doc.page}")
        canvas.restoreState()

    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"Skiff invoice {number}",
        author="Skiff",
        subject=f"{invoice.team.slug} {format_month(invoice.period)}",
        invariant=True,  # same input, same bytes (no creation timestamp or random id)
    )
    document.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return out.getvalue()
