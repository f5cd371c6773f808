"""GET /openapi.json: Maskline's own OpenAPI document.

- it is served without credentials, parses as OpenAPI 3.0 (schemathesis loads it), and names
  the server it came from, or MASKLINE_PUBLIC_URL when that is set;
- it lists every route the application serves, on either carrier, and nothing else;
- on every Proxy operation it agrees with the Proxy v1 wire facts (tests/data): the same
  operation ids, methods and paths, path and query parameters, form fields with their types,
  enums and required ones, success statuses, and answers with exactly the same fields of the
  same types, formats, patterns and enums. Parameters marked `x-maskline-extension` are
  Maskline's additions and are left out of that comparison;
- every operation that is not Twilio's is marked `x-maskline-extension`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis

from maskline.app import routes
from maskline.openapi.operations import EXTENSION, shape
from maskline.runtime import Runtime
from maskline.settings import Settings
from tests.support import Server, new_database_url, spec

SUCCESS = ("200", "201", "204")


@pytest.fixture(scope="module")
def document(server: Server) -> dict[str, Any]:
    response = httpx.get(server.base_url + "/openapi.json", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def _resolve(node: Any, root: dict[str, Any], depth: int = 0) -> Any:
    """The schema with every `$ref` replaced by what it names."""
    assert depth < 20, "references loop"
    if isinstance(node, dict):
        if "$ref" in node:
            target = root
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node = {**_resolve(target, root, depth + 1), **siblings}
        return {k: _resolve(v, root, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, root, depth + 1) for v in node]
    return node


# What two documents must agree on in a schema: no prose, no examples.
_FACTS = ("type", "format", "nullable", "pattern", "minLength", "maxLength", "minimum", "maximum")


def _facts(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    found: dict[str, Any] = {k: schema[k] for k in _FACTS if k in schema}
    if "enum" in schema:
        found["enum"] = sorted(schema["enum"])
    if "properties" in schema:
        found["properties"] = {
            name: _facts(value)
            for name, value in schema["properties"].items()
            if not (isinstance(value, dict) and value.get(EXTENSION))
        }
    if "items" in schema:
        found["items"] = _facts(schema["items"])
    if schema.get("required"):
        found["required"] = sorted(schema["required"])
    return found


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each operation by id, `$ref`s resolved, with its method and its path's shape."""
    found = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            operation = _resolve(operation, document)
            found[operation["operationId"]] = {
                **operation,
                "method": method,
                "path": path,
                "shape": shape(path),
            }
    return found


def _wire(operation: dict[str, Any], *, path_schemas: bool) -> dict[str, Any]:
    """The facts of one operation that a client of the Proxy API relies on."""
    parameters = sorted(
        (
            p["name"],
            p["in"],
            bool(p.get("required")),
            str(_facts(p["schema"])) if path_schemas or p["in"] != "path" else "",
        )
        for p in operation.get("parameters", [])
    )
    form = (
        operation.get("requestBody", {})
        .get("content", {})
        .get("application/x-www-form-urlencoded", {})
        .get("schema")
    )
    answers = {
        status: _facts(answer.get("content", {}).get("application/json", {}).get("schema"))
        for status, answer in operation["responses"].items()
        if status in SUCCESS
    }
    return {
        "method": operation["method"],
        "path": operation["path"],
        "parameters": parameters,
        "form": _facts(form) if form else None,
        "answers": answers,
    }


def test_the_document_is_served_without_credentials_and_parses(
    document: dict[str, Any], server: Server
) -> None:
    assert document["openapi"].startswith("3.0")
    assert document["servers"] == [{"url": server.base_url}]
    loaded = schemathesis.openapi.from_dict(document)
    assert len(list(loaded.get_all_operations())) == sum(len(i) for i in document["paths"].values())


def _served(tmp_path: Path) -> set[tuple[str, str]]:
    runtime = Runtime(Settings(database_url=f"sqlite:///{tmp_path / 'routes.db'}"))
    try:
        return {(route.method.lower(), shape(route.path)) for route in routes(runtime)}
    finally:
        runtime.dispose()


def _listed(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m, shape(path)) for path, item in document["paths"].items() for m in item}


def test_the_document_lists_every_route_served_on_the_sandbox(
    document: dict[str, Any], tmp_path: Path
) -> None:
    assert _listed(document) == _served(tmp_path)


def test_the_document_lists_every_route_served_on_the_twilio_carrier(tmp_path: Path) -> None:
    from maskline.openapi.document import build

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'twilio.db'}",
        carrier="twilio",
        twilio_account_sid="AC" + "2" * 32,
        twilio_auth_token="x" * 32,
        public_url="https://maskline.example",
    )
    runtime = Runtime(settings)
    try:
        table = routes(runtime)
    finally:
        runtime.dispose()
    document = build(table)
    assert _listed(document) == {(r.method.lower(), shape(r.path)) for r in table}
    webhooks = [p for p in document["paths"] if p.startswith("/webhooks/twilio/")]
    assert len(webhooks) == 4
    assert not any(p.startswith("/sandbox/") for p in document["paths"])


def test_every_proxy_operation_agrees_with_the_wire_facts(document: dict[str, Any]) -> None:
    twilio = _operations(spec())
    ours = _operations(document)
    assert len(twilio) == 30
    assert set(twilio) <= set(ours), f"missing: {sorted(set(twilio) - set(ours))}"
    for operation_id, expected in twilio.items():
        # Maskline also accepts a unique name where Twilio's path names a Service or a Session
        # by SID, so path parameters agree on name, place and being required.
        got = _wire(ours[operation_id], path_schemas=False)
        want = _wire(expected, path_schemas=False)
        assert got == want, operation_id
        assert EXTENSION not in ours[operation_id], operation_id


def test_maskline_s_own_operations_and_parameters_are_marked(document: dict[str, Any]) -> None:
    twilio = set(_operations(spec()))
    ours = _operations(document)
    own = {op_id for op_id, op in ours.items() if op.get(EXTENSION)}
    assert own == set(ours) - twilio
    assert {ours[op_id]["shape"].split("/")[1] for op_id in own} >= {
        "sandbox",
        "maskline",
        "healthz",
        "openapi.json",
    }
    service_form = ours["CreateService"]["requestBody"]["content"][
        "application/x-www-form-urlencoded"
    ]["schema"]["properties"]
    assert service_form["SessionCallbackUrl"][EXTENSION] is True


def test_the_servers_entry_is_the_public_url_when_set(tmp_path: Path) -> None:
    public = "https://proxy.maskline.example"
    running = Server(
        database_url=new_database_url(tmp_path), env={"MASKLINE_PUBLIC_URL": public}
    ).start()
    try:
        body = httpx.get(running.base_url + "/openapi.json", timeout=10).json()
    finally:
        running.stop()
    assert body["servers"] == [{"url": public}]
