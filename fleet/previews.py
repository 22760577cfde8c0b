"""A fleet operation's preview as label/value lines, for the page and the API alike."""

from __future__ import annotations

from typing import Any


def preview_lines(preview: Any) -> list[tuple[str, str]]:
    """A preview as label/value lines, whatever shape the operations service gives it."""
    if preview is None:
        return []
    summary = getattr(preview, "summary", None)
    if callable(summary):
        summary = summary()
    if isinstance(summary, dict):
        return [(str(k).replace("_", " "), _text(v)) for k, v in summary.items()]
    if summary:
        return [("summary", str(summary))]
    fields = getattr(preview, "__dataclass_fields__", None)
    if fields:
        return [(name.replace("_", " "), _text(getattr(preview, name))) for name in fields]
    return [("summary", str(preview))]


def _text(value: Any) -> str:
    if isinstance(value, list | tuple) and len(value) > 12:
        return f"{len(value)} items"
    return str(value)
