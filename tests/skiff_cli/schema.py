"""Validate the CLI's `--output json` against the API's own OpenAPI components."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 → JSON Schema: `nullable: true` becomes "or null"; the rest is the same."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


class ApiSchema:
    def __init__(self, base_url: str, token: str) -> None:
        response = httpx.get(
            f"{base_url}/api/schema/",
            params={"format": "json"},
            headers={"Authorization": f"Token {token}"},
            timeout=60,
        )
        response.raise_for_status()
        self.document = response.json()
        self.components = _json_schema(self.document["components"]["schemas"])

    def validate(self, instance: Any, component: str, *, many: bool = False) -> None:
        assert component in self.components, f"no OpenAPI component {component!r}"
        ref = {"$ref": f"#/components/schemas/{component}"}
        schema = {
            **({"type": "array", "items": ref} if many else ref),
            "components": {"schemas": self.components},
        }
        try:
            jsonschema.validate(instance, schema)
        except jsonschema.ValidationError as exc:
            raise AssertionError(
                f"--output json does not match the API's {component}: {exc.message} "
                f"at {list(exc.absolute_path)}"
            ) from exc
