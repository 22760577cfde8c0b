"""Formatting for the fleet pages: byte rates, fractions, badges' colours."""

from django import template
from django.template.defaultfilters import filesizeformat

register = template.Library()

_STATUS_COLOURS = {
    "up": "bg-green-lt",
    "healthy": "bg-green-lt",
    "open": "bg-green-lt",
    "succeeded": "bg-green-lt",
    "degraded": "bg-yellow-lt",
    "draining": "bg-yellow-lt",
    "fenced": "bg-yellow-lt",
    "running": "bg-blue-lt",
    "planned": "bg-blue-lt",
    "cancelling": "bg-yellow-lt",
    "scale_up": "bg-blue-lt",
    "scale_down": "bg-blue-lt",
    "down": "bg-red-lt",
    "failed": "bg-red-lt",
    "closed": "bg-secondary-lt",
    "cancelled": "bg-secondary-lt",
    "unregistered": "bg-secondary-lt",
}


@register.filter
def status_colour(value: object) -> str:
    return _STATUS_COLOURS.get(str(value).lower(), "bg-secondary-lt")


@register.filter
def byte_rate(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{filesizeformat(value)}/s".replace("\xa0", " ")


@register.filter
def bytes_or_dash(value: int | None) -> str:
    if value is None:
        return "—"
    return filesizeformat(value).replace("\xa0", " ")


def _number(value: object) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


@register.filter
def percent(value: object) -> str:
    number = _number(value)
    return "—" if number is None else f"{number * 100:.0f}%"


@register.filter
def percent_number(value: object) -> int:
    """0-100 for a meter's value."""
    number = _number(value)
    return 0 if number is None else max(0, min(100, round(number * 100)))


@register.filter
def roles_text(value: str) -> str:
    """KRaft roles as people read them: "broker,controller" -> "broker + controller"."""
    return " + ".join(part.strip() for part in str(value or "").split(",") if part.strip())
