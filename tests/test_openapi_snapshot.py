"""The API's OpenAPI schema is today's, except for the documented error body (issue 12).

`tests/snapshots/openapi-a20cf6a.yaml` is the schema of a20cf6a, main before the issue 12
refactor. The schema generated now must equal it after one allowance, and only that one:

* components that are new and used by nothing but 4xx/5xx responses (and by each other) are
  the documented error body (`ErrorResponse` and what it nests): they are left out;
* a 4xx/5xx response entry whose schema references only those components is left out, in
  both schemas (such an entry may replace one that had no body, e.g. the month's 400).

Everything else (paths, operations, parameters, request bodies, 2xx responses, every other
component) must be identical. A failure prints a unified diff of the two, normalised.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import yaml
from django.core.management import call_command

SNAPSHOT = Path(__file__).resolve().parent / "snapshots" / "openapi-a20cf6a.yaml"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
MAX_DIFF_LINES = 400

Ref = tuple[str, str]  # ("schemas", "ErrorResponse") for "#/components/schemas/ErrorResponse"


def _refs(node) -> set[Ref]:
    found: set[Ref] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/"):
                kind, _, name = value.removeprefix("#/components/").partition("/")
                found.add((kind, name))
            else:
                found |= _refs(value)
    elif isinstance(node, list):
        for item in node:
            found |= _refs(item)
    return found


def _is_error_status(status) -> bool:
    return str(status)[:1] in {"4", "5"}


def _operations(schema: dict):
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def _components(schema: dict) -> set[Ref]:
    return {
        (kind, name) for kind, entries in schema.get("components", {}).items() for name in entries
    }


def error_components(current: dict, snapshot: dict) -> set[Ref]:
    """New components that nothing but 4xx/5xx responses (and other such components) use."""
    candidates = _components(current) - _components(snapshot)
    from_errors: set[Ref] = set()
    from_elsewhere: set[Ref] = set()
    for item in current.get("paths", {}).values():
        for key, value in item.items():
            if key not in HTTP_METHODS:  # path-level parameters and the like
                from_elsewhere |= _refs(value)
                continue
            for part, content in value.items():
                if part != "responses":
                    from_elsewhere |= _refs(content)
                    continue
                for status, response in content.items():
                    target = from_errors if _is_error_status(status) else from_elsewhere
                    target |= _refs(response)
    used_by = {
        (kind, name): _refs(entry)
        for kind, entries in current.get("components", {}).items()
        for name, entry in entries.items()
    }
    changed = True
    while changed:  # a candidate used by anything that is not a candidate is not the error body
        changed = False
        for ref in sorted(candidates):
            users = {other for other, refs in used_by.items() if ref in refs and other != ref}
            if ref in from_elsewhere or users - candidates:
                candidates.discard(ref)
                changed = True
    # ...and it is used by at least one error response, directly or through another one.
    reached = set(from_errors & candidates)
    frontier = set(reached)
    while frontier:
        frontier = {ref for parent in frontier for ref in used_by.get(parent, set())} & (
            candidates - reached
        )
        reached |= frontier
    return reached


def normalise(current: dict, snapshot: dict) -> tuple[dict, dict, set[Ref], list[str]]:
    """Both schemas with the error-body allowance applied (copies), the error components and
    the response entries that were left out."""
    current = yaml.safe_load(yaml.safe_dump(current))
    snapshot = yaml.safe_load(yaml.safe_dump(snapshot))
    errors = error_components(current, snapshot)
    for kind, name in errors:
        del current["components"][kind][name]
    left_out = []
    snapshot_paths = snapshot.get("paths", {})
    for path, method, operation in _operations(current):
        responses = operation.get("responses", {})
        for status in [s for s in responses if _is_error_status(s)]:
            refs = _refs(responses[status])
            if refs and refs <= errors:
                del responses[status]
                left_out.append(f"{method.upper()} {path} {status}")
                old = snapshot_paths.get(path, {}).get(method, {}).get("responses", {})
                old.pop(status, None)
    return current, snapshot, errors, left_out


def _dump(schema: dict) -> list[str]:
    return yaml.safe_dump(schema, sort_keys=True, width=100, allow_unicode=True).splitlines()


def test_openapi_schema_is_todays_except_the_documented_error_body(tmp_path):
    out = tmp_path / "openapi.yaml"
    call_command("spectacular", "--file", str(out))
    current = yaml.safe_load(out.read_text())
    snapshot = yaml.safe_load(SNAPSHOT.read_text())

    current, snapshot, errors, left_out = normalise(current, snapshot)

    if current != snapshot:
        diff = list(
            difflib.unified_diff(
                _dump(snapshot),
                _dump(current),
                fromfile=f"{SNAPSHOT.name} (a20cf6a)",
                tofile="schema now",
                lineterm="",
                n=4,
            )
        )
        shown = "\n".join(diff[:MAX_DIFF_LINES])
        more = (
            f"\n… {len(diff) - MAX_DIFF_LINES} more diff lines"
            if len(diff) > MAX_DIFF_LINES
            else ""
        )
        allowed = ", ".join(f"{kind}/{name}" for kind, name in sorted(errors)) or "none"
        raise AssertionError(
            "The OpenAPI schema changed beyond the documented error body.\n"
            f"Recognised as the error body: {allowed}; 4xx/5xx entries left out: "
            f"{len(left_out)}.\n{shown}{more}"
        )


# --- the allowance itself ------------------------------------------------------------------

BEFORE = {
    "paths": {
        "/api/v1/usage/": {
            "get": {
                "responses": {
                    "200": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Usage"}}
                        }
                    },
                    "400": {"description": "A month that is not YYYY-MM."},
                }
            }
        }
    },
    "components": {"schemas": {"Usage": {"type": "object"}}},
}


def _with_error_body() -> dict:
    schema = yaml.safe_load(yaml.safe_dump(BEFORE))
    error = {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    }
    responses = schema["paths"]["/api/v1/usage/"]["get"]["responses"]
    responses["400"] = {"description": "Invalid month.", **error}
    responses["504"] = {"description": "The cell did not answer.", **error}
    schema["components"]["schemas"]["ErrorResponse"] = {
        "type": "object",
        "properties": {"detail": {"$ref": "#/components/schemas/ErrorDetail"}},
    }
    schema["components"]["schemas"]["ErrorDetail"] = {"type": "object"}
    return schema


def test_allowance_accepts_only_the_error_body():
    current, snapshot, errors, left_out = normalise(_with_error_body(), BEFORE)
    assert errors == {("schemas", "ErrorResponse"), ("schemas", "ErrorDetail")}
    assert sorted(left_out) == ["GET /api/v1/usage/ 400", "GET /api/v1/usage/ 504"]
    assert current == snapshot


def test_allowance_rejects_other_changes():
    # A success response that changed is a difference, error body or not.
    changed = _with_error_body()
    changed["paths"]["/api/v1/usage/"]["get"]["responses"]["200"]["description"] = "new"
    current, snapshot, _, _ = normalise(changed, BEFORE)
    assert current != snapshot

    # A new component that a success response uses is not the error body.
    leaked = _with_error_body()
    ok = leaked["paths"]["/api/v1/usage/"]["get"]["responses"]["200"]
    ok["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/ErrorResponse"}
    _, _, errors, _ = normalise(leaked, BEFORE)
    assert ("schemas", "ErrorResponse") not in errors

    # An error response that returns an existing component is compared, not left out.
    existing = yaml.safe_load(yaml.safe_dump(BEFORE))
    existing["paths"]["/api/v1/usage/"]["get"]["responses"]["409"] = {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Usage"}}}
    }
    current, snapshot, _, left_out = normalise(existing, BEFORE)
    assert left_out == [] and current != snapshot
