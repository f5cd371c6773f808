"""Turning the console's templates into responses: Jinja2 with autoescaping on, so nothing a
user or a handset typed can become markup, and the same security headers on every page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from maskline.clock import iso
from maskline.interactions.store import legs_history
from maskline.web.response import Response

HERE = Path(__file__).parent
HTML = b"text/html; charset=utf-8"
HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


def _data(value: str | None) -> dict[str, Any]:
    """An interaction's `data` as an object (a text's body and media, a call's details)."""
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["iso"] = lambda millis: iso(millis) if millis is not None else ""
_env.filters["data"] = _data
# A leg's statuses as they came (interactions/store.py), as (status, ms) pairs.
_env.globals["legs_history"] = legs_history


def page(template: str, http_status: int = 200, **context: Any) -> Response:
    """The template rendered with `context`, answered with `http_status` (a name that no
    template's context can take by mistake)."""
    body = _env.get_template(template).render(**context)
    return Response(http_status, body.encode(), HTML, list(HEADERS))


def redirect(location: str, *cookies: bytes) -> Response:
    headers = [(b"location", location.encode()), *((b"set-cookie", c) for c in cookies)]
    return Response(303, b"", b"", [*HEADERS, *headers])


STATIC = {
    "console.css": b"text/css; charset=utf-8",
    "console.js": b"text/javascript; charset=utf-8",
}


def static(name: str) -> Response | None:
    kind = STATIC.get(name)
    if kind is None:
        return None
    body = (HERE / "static" / name).read_bytes()
    return Response(200, body, kind, [(b"cache-control", b"max-age=300")])
