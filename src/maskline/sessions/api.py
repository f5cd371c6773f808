"""HTTP handlers of /v1/Services/{service}/Sessions."""

from __future__ import annotations

from typing import Any

from maskline.errors import InvalidParameter
from maskline.services.api import fetch_service_row, fetch_session_settings, service_sid_of
from maskline.sessions import rules
from maskline.sessions.render import render_session
from maskline.sessions.store import get_session_in_account
from maskline.sessions.store import list_sessions as query_sessions
from maskline.sids import SERVICE, SESSION, is_sid
from maskline.web import params
from maskline.web.paging import page_request, render_page
from maskline.web.request import Request
from maskline.web.response import Response, json_response, no_content
from maskline.web.routing import Route


def fetch_session_row(req: Request, *, for_update: bool = False) -> Any:
    """The session named in the path, within the service named in the path."""
    service, key = req.params["service"], req.params["session"]
    if is_sid(service, SERVICE) and is_sid(key, SESSION):
        # The usual case, both named by SID: one query. Anything else (unique names, not
        # found) takes the two lookups below, which give the same row or the right error.
        row = get_session_in_account(req.conn, req.account_sid, service, key, for_update=for_update)
        if row is not None:
            return row
    return rules.fetch_session(
        req.conn,
        service_sid=service_sid_of(req),
        sid=key,
        for_update=for_update,
    )


def create_session(req: Request) -> Response:
    form = req.form
    service = fetch_session_settings(req)
    unique_name = params.name(form, "UniqueName", max_length=191, unique=True)
    if unique_name is not None and unique_name.startswith(SESSION) and len(unique_name) == 34:
        raise InvalidParameter("UniqueName", "must not look like a Session SID")
    row = rules.create_session(
        req.conn,
        req.runtime.clock,
        account_sid=req.account_sid,
        service=service,
        unique_name=unique_name or None,
        mode=params.choice(form, "Mode", rules.MODES),
        status=params.choice(form, "Status", rules.STATUSES),
        ttl=params.integer(form, "Ttl", minimum=0),
        date_expiry=params.date_time(form, "DateExpiry"),
        participants=rules.parse_participants(form.get("Participants", [])),
    )
    return json_response(render_session(row, req.base_url), 201)


def fetch_session(req: Request) -> Response:
    return json_response(render_session(fetch_session_row(req), req.base_url))


def update_session(req: Request) -> Response:
    form = req.form
    row = rules.update_session(
        req.conn,
        req.runtime.clock,
        service=fetch_service_row(req),
        sid=req.params["session"],
        ttl=params.integer(form, "Ttl", minimum=0),
        date_expiry=params.date_time(form, "DateExpiry"),
        status=params.choice(form, "Status", rules.STATUSES),
    )
    return json_response(render_session(row, req.base_url))


def delete_session(req: Request) -> Response:
    rules.delete_session(req.conn, service_sid=service_sid_of(req), sid=req.params["session"])
    return no_content()


def list_sessions(req: Request) -> Response:
    service_sid = service_sid_of(req)
    page = page_request(req)
    rows, more = query_sessions(req.conn, service_sid, page)
    items = [render_session(row, req.base_url) for row in rows]
    return json_response(render_page(req, "sessions", page, rows, items, more))


PATH = "/v1/Services/{service}/Sessions"
ROUTES = [
    Route("GET", PATH, list_sessions),
    Route("POST", PATH, create_session, writes=True),
    Route("GET", PATH + "/{session}", fetch_session),
    Route("POST", PATH + "/{session}", update_session, writes=True),
    Route("DELETE", PATH + "/{session}", delete_session, writes=True),
]
