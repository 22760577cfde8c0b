"""Money and quantities as the billing pages show them (the files keep the exact values)."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

register = template.Library()

CENT = Decimal("0.01")


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None


@register.filter
def usd(value) -> str:
    """`Decimal("1234.5")` → `$1,234.50`; negative amounts as `-$5.00`."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


@register.filter
def quantity(value) -> str:
    """A quantity with thousands separators and no trailing zeros past two places."""
    number = _decimal(value)
    if number is None:
        return "—"
    text = f"{number:,f}"
    if "." in text:
        whole, frac = text.split(".")
        frac = frac.rstrip("0").ljust(2, "0")
        text = f"{whole}.{frac}"
    return text


@register.filter
def unit_price(value) -> str:
    """A unit price in USD with as many places as it has (at least two): `$0.0015`."""
    number = _decimal(value)
    if number is None:
        return "—"
    return f"${quantity(number)}"
