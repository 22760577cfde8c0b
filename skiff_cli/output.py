"""Tables for people; JSON or YAML with the API's own field names for scripts."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class Format(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


Column = tuple[str, str | Callable[[Any], Any]]  # header, field name or function of the row


def _cell(row: Any, getter: str | Callable[[Any], Any]) -> str:
    value = getter(row) if callable(getter) else row.get(getter)
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def emit(
    data: Any,
    fmt: Format,
    *,
    columns: Sequence[Column] | None = None,
    title: str | None = None,
) -> None:
    """Print `data` (an API object or a list of them) in the chosen format.

    JSON and YAML print exactly what the API returned, so scripts can rely on its field names.
    """
    if fmt is Format.json:
        print(json.dumps(data, indent=2, sort_keys=False, default=str))
        return
    if fmt is Format.yaml:
        print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), end="")
        return
    if isinstance(data, list):
        table = Table(title=title, show_lines=False)
        cols = columns or [(k, k) for k in (data[0].keys() if data else [])]
        for header, _ in cols:
            table.add_column(header)
        for row in data:
            table.add_row(*(_cell(row, getter) for _, getter in cols))
        out.print(table)
        if not data:
            out.print("(none)")
        return
    table = Table(show_header=False, title=title, box=None)
    table.add_column(style="bold")
    table.add_column()
    for header, getter in columns or [(k, k) for k in data]:
        table.add_row(header, _cell(data, getter))
    out.print(table)


def human_bytes(value: float | int | None) -> str:
    if value is None:
        return "–"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"
