"""The API's one pagination: `?limit=` and `?offset=`, bounded, and refused (400) when not.

DRF's `LimitOffsetPagination` quietly falls back to the default on a limit it cannot read, and
passes any offset and (without `max_limit`) any limit to the database: `?limit=2**63` reached
SQL as an out-of-range LIMIT (an IntegrityError, a 500). Here a limit or offset that is not a
whole number in range is a 400 naming the parameter, and the schema documents the ranges.
"""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import LimitOffsetPagination

from console.errors import ValidationFailed

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# Far beyond any list the API holds, and inside every database's 64-bit range.
MAX_OFFSET = 1_000_000_000


def bounded_int(
    value: object, *, name: str, minimum: int, maximum: int, default: int | None = None
) -> int | None:
    """A query parameter as a whole number in [minimum, maximum]; a 400 naming it otherwise.

    Empty or missing gives `default`. Shared by every API view that reads a number from the
    query string (pages, offsets, partitions), so none can reach the database or Kafka out of
    range.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    text = str(value).strip()
    if len(text) > 20 or not text.lstrip("+-").isdigit():
        raise ValidationFailed(
            {name: f"{name} must be a whole number from {minimum} to {maximum:,}."}
        )
    number = int(text)
    if not minimum <= number <= maximum:
        raise ValidationFailed(
            {name: f"{name} must be a whole number from {minimum} to {maximum:,}."}
        )
    return number


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT

    def get_limit(self, request) -> int:
        limit = bounded_int(
            request.query_params.get(self.limit_query_param),
            name=self.limit_query_param,
            minimum=1,
            maximum=self.max_limit,
            default=self.default_limit,
        )
        assert limit is not None
        return limit

    def get_offset(self, request) -> int:
        offset = bounded_int(
            request.query_params.get(self.offset_query_param),
            name=self.offset_query_param,
            minimum=0,
            maximum=MAX_OFFSET,
            default=0,
        )
        assert offset is not None
        return offset

    def get_schema_operation_parameters(self, view) -> list[dict[str, Any]]:
        limit, offset = super().get_schema_operation_parameters(view)
        limit["schema"] = {
            "type": "integer",
            "minimum": 1,
            "maximum": self.max_limit,
            "default": self.default_limit,
        }
        limit["description"] = f"Number of results to return per page (1–{self.max_limit})."
        offset["schema"] = {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}
        return [limit, offset]
