"""The API's JSON parser: a body size and a nesting depth, checked before a view sees the data.

`json.load` takes any depth: a policy or a tag map nested 1,000 levels deep went through and
failed later with a RecursionError (a 500). Here one nested deeper than `SKIFF_MAX_JSON_DEPTH`
(or too deep for the parser itself) is a 400, and a body over `DATA_UPLOAD_MAX_MEMORY_SIZE` a
413 naming the limit: checked here on the declared length and the bytes read, and by Django
when DRF reads `request.body` (its `RequestDataTooBig` becomes the same 413 in the API's
exception handler). Form posts to the console's pages get Django's 400 past that limit.
"""

from __future__ import annotations

import codecs
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

from console.errors import PayloadTooLarge, ValidationFailed

DEFAULT_MAX_DEPTH = 32


def max_body_bytes() -> int:
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0) or 2_621_440


def max_json_depth() -> int:
    return int(getattr(settings, "SKIFF_MAX_JSON_DEPTH", DEFAULT_MAX_DEPTH))


def too_large(size: int | None = None) -> PayloadTooLarge:
    limit = max_body_bytes()
    said = f"The request body is {size:,} bytes; " if size else "The request body is over "
    return PayloadTooLarge(
        f"{said}the limit is {limit:,} bytes.", fields={"limit_bytes": [str(limit)]}
    )


def json_depth(value: Any, *, stop_at: int) -> int:
    """Nesting depth of parsed JSON (a scalar is 0), counted without recursion; stops counting
    once past `stop_at`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > stop_at:
            return deepest
        stack.extend((child, depth) for child in children)
    return deepest


def check_depth(value: Any) -> Any:
    limit = max_json_depth()
    if json_depth(value, stop_at=limit) > limit:
        raise _too_deep()
    return value


def _too_deep() -> ValidationFailed:
    return ValidationFailed(
        {"non_field_errors": f"The JSON body is nested more than {max_json_depth()} levels deep."}
    )


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context.get("request")
        limit = max_body_bytes()
        declared = _content_length(request)
        if declared is not None and declared > limit:
            raise too_large(declared)
        if stream is None:
            return {}
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise too_large()
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(raw, encoding)
            parse_constant = json.strict_constant if self.strict else None
            data = json.loads(text, parse_constant=parse_constant)
        except RecursionError:
            raise _too_deep() from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        return check_depth(data)


def _content_length(request: Any) -> int | None:
    meta = getattr(getattr(request, "_request", request), "META", None) or {}
    try:
        return int(meta.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
