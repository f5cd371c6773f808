"""HTTP handlers of /v1/Services/{service}/Sessions/{session}/Interactions."""

from __future__ import annotations

from maskline.errors import NotFound
from maskline.interactions import store
from maskline.interactions.render import render_interaction
from maskline.sessions.api import fetch_session_row
from maskline.web.paging import page_request, render_page
from maskline.web.request import Request
from maskline.web.response import Response, json_response, no_content
from maskline.web.routing import Route


def fetch_interaction(req: Request) -> Response:
    session = fetch_session_row(req)
    row = store.get_interaction(req.conn, session.sid, req.params["sid"])
    if row is None:
        raise NotFound(f"The requested Interaction {req.params['sid']} was not found")
    return json_response(render_interaction(row, req.base_url))


def delete_interaction(req: Request) -> Response:
    # Only Maskline's record goes; the carrier's message or call stays.
    session = fetch_session_row(req)
    row = store.get_interaction(req.conn, session.sid, req.params["sid"])
    if row is None:
        raise NotFound(f"The requested Interaction {req.params['sid']} was not found")
    store.delete_interaction(req.conn, row.sid)
    return no_content()


def list_interactions(req: Request) -> Response:
    session = fetch_session_row(req)
    page = page_request(req)
    rows, more = store.list_interactions(req.conn, session.sid, page)
    items = [render_interaction(row, req.base_url) for row in rows]
    return json_response(render_page(req, "interactions", page, rows, items, more))


PATH = "/v1/Services/{service}/Sessions/{session}/Interactions"
ROUTES = [
    Route("GET", PATH, list_interactions),
    Route("GET", PATH + "/{sid}", fetch_interaction),
    Route("DELETE", PATH + "/{sid}", delete_interaction, writes=True),
]
