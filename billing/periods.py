"""Billing periods: calendar months and hours, always aware UTC, half-open `[start, end)`."""

from __future__ import annotations

import datetime as dt
import re

UTC = dt.UTC
HOUR = dt.timedelta(hours=1)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> dt.date:
    """`"2026-11"` → `date(2026, 11, 1)`; anything else is a ValueError that says what to send."""
    match = _MONTH.match((text or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise ValueError(f"Month must look like YYYY-MM (e.g. 2026-11), not {text!r}.")
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


def month_of(moment: dt.datetime | dt.date) -> dt.date:
    """The billing period (first day of the UTC month) a moment or date belongs to."""
    if isinstance(moment, dt.datetime):
        moment = moment.astimezone(UTC)
    return dt.date(moment.year, moment.month, 1)


def next_month(period: dt.date) -> dt.date:
    return dt.date(period.year + period.month // 12, period.month % 12 + 1, 1)


def previous_month(period: dt.date) -> dt.date:
    return dt.date(period.year - (period.month == 1), (period.month - 2) % 12 + 1, 1)


def month_bounds(period: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """`[first instant, first instant of the next month)` of a period, aware UTC."""
    start = dt.datetime(period.year, period.month, 1, tzinfo=UTC)
    end_day = next_month(period)
    return start, dt.datetime(end_day.year, end_day.month, 1, tzinfo=UTC)


def hours_in_month(period: dt.date) -> int:
    start, end = month_bounds(period)
    return int((end - start) / HOUR)


def hour_floor(moment: dt.datetime) -> dt.datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def hours_between(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Hour starts h with `start <= h < end` (start rounded down to its hour)."""
    hours, hour = [], hour_floor(start)
    while hour < end:
        hours.append(hour)
        hour += HOUR
    return hours


def format_month(period: dt.date) -> str:
    return f"{period:%Y-%m}"
