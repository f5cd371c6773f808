"""The OpenAPI 3.0 document of the routes one Maskline process serves.

Built from the route table itself, so a route without a described operation cannot ship: the
build fails, and with it the test that fetches the document.
"""

from __future__ import annotations

from typing import Any

from maskline import __version__
from maskline.openapi.operations import EXTENSION, Operation, catalogue, shape
from maskline.openapi.schemas import components, ref
from maskline.web.routing import Route

Document = dict[str, Any]

_DESCRIPTION = (
    "Maskline is a self-hosted number-masking server that speaks the Twilio Proxy v1 API: two "
    "people call and text each other through pool proxy numbers without seeing each other's "
    "real number. The Proxy operations answer as Twilio's do, so the official SDKs work "
    "unchanged. Operations and parameters marked `x-maskline-extension` are Maskline's own."
)

_SECURITY_SCHEMES = {
    "basic": {
        "type": "http",
        "scheme": "basic",
        "description": "An account SID and its auth token, or an API key SID and its secret.",
    }
}


class UndescribedRoute(LookupError):
    """A served route that no operation of operations.py describes."""


def build(routes: list[Route]) -> Document:
    described = {(op.method, shape(op.path)): op for op in catalogue().values()}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        op = described.get((route.method, shape(route.path)))
        if op is None:
            raise UndescribedRoute(f"{route.method} {route.path} has no OpenAPI operation")
        paths.setdefault(op.path, {})[route.method.lower()] = _operation(op)
    return {
        "openapi": "3.0.3",
        "info": {"title": "Maskline", "version": __version__, "description": _DESCRIPTION},
        "paths": paths,
        "components": {"schemas": components(), "securitySchemes": _SECURITY_SCHEMES},
    }


def _operation(op: Operation) -> dict[str, Any]:
    body: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": schema}
            for name, schema in op.path_params.items()
        ]
        + [{"name": name, "in": "query", "schema": schema} for name, schema in op.query.items()],
        "responses": _responses(op),
    }
    if op.form:
        form: dict[str, Any] = {"type": "object", "properties": op.form}
        if op.required:
            form["required"] = list(op.required)
        body["requestBody"] = {"content": {"application/x-www-form-urlencoded": {"schema": form}}}
    if op.auth == "basic":
        body["security"] = [{"basic": []}]
    elif op.auth == "none":
        body["security"] = []
    elif op.auth == "metrics-token":
        body["security"] = []
        body["description"] = (
            "Open unless MASKLINE_METRICS_TOKEN is set; then it needs "
            "`Authorization: Bearer <token>`."
        )
    else:
        body["security"] = []
        body["description"] = (
            "Called by Twilio, not by clients: the request must carry a valid "
            "X-Twilio-Signature made with the Twilio carrier's auth token."
        )
    if op.extension:
        body[EXTENSION] = True
    return body


def _responses(op: Operation) -> dict[str, Any]:
    done: dict[str, Any] = {"description": "Done."}
    if op.answer is not None:
        done["content"] = {op.answer_type: {"schema": op.answer}}
    error = {
        "description": "Refused, in Twilio's error shape.",
        "content": {"application/json": {"schema": ref("Error")}},
    }
    return {str(op.status): done, "4XX": error}
