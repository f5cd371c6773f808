"""GET /healthz: the process answers and its database does too."""

from __future__ import annotations

from sqlalchemy import text

from maskline.web.request import Request
from maskline.web.response import Response, json_response
from maskline.web.routing import Route


def healthz(req: Request) -> Response:
    req.conn.execute(text("SELECT 1"))
    return json_response({"status": "ok"})


ROUTES = [Route("GET", "/healthz", healthz, auth=False)]
