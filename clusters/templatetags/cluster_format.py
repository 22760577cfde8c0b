"""Quantities as the cluster pages show them: with their units, never a raw 66666666."""

from django import template

register = template.Library()

_BINARY = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]


def byte_size(value: float) -> str:
    """`66666666` → `63.6 MiB` (binary units, one decimal past bytes)."""
    x = float(value)
    i = 0
    while abs(x) >= 1024 and i < len(_BINARY) - 1:
        x /= 1024
        i += 1
    return f"{x:.0f} {_BINARY[i]}" if i == 0 else f"{x:.1f} {_BINARY[i]}"


def _number(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}".rstrip("0").rstrip(".")


@register.filter
def quota_value(value, name: str) -> str:
    """A Kafka client quota in its unit: byte rates as `63.6 MiB/s`, request time as `%`."""
    if value is None or value == "":
        return "—"
    if name.endswith("_byte_rate"):
        return f"{byte_size(value)}/s"
    if name == "request_percentage":
        return f"{_number(value)} %"
    if name.endswith("_rate"):
        return f"{_number(value)}/s"
    return _number(value)
