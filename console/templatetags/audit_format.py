"""An audit event's before/after as rows a person reads, not Python dicts."""

import json
from typing import Any

from django import template

register = template.Library()


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value) or "—"
    return json.dumps(value, sort_keys=True)


@register.filter
def audit_changes(event) -> list[tuple[str, str, str]]:
    """(field, before, after) for each field either side names; fields that kept their value
    between a before and an after are left out. A side that is not a dict is one row."""
    before, after = event.before, event.after
    if not isinstance(before, dict | None) or not isinstance(after, dict | None):
        return [("value", _text(before), _text(after))]
    before, after = before or {}, after or {}
    rows = []
    for name in list(before) + [k for k in after if k not in before]:
        b, a = before.get(name), after.get(name)
        if name in before and name in after and b == a:
            continue
        rows.append((name, _text(b) if name in before else "—", _text(a) if name in after else "—"))
    return rows
