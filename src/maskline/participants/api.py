"""HTTP handlers of /v1/Services/{service}/Sessions/{session}/Participants."""

from __future__ import annotations

from typing import Any

from maskline.participants import rules
from maskline.participants.render import render_participant
from maskline.participants.store import list_participants as query_participants
from maskline.services.api import fetch_service_row
from maskline.sessions.api import fetch_session_row
from maskline.sessions.rules import fetch_session
from maskline.sids import PHONE_NUMBER, SHORT_CODE
from maskline.web import params
from maskline.web.paging import page_request, render_page
from maskline.web.request import Request
from maskline.web.response import Response, json_response, no_content
from maskline.web.routing import Route


def fetch_participant_row(req: Request) -> Any:
    session = fetch_session_row(req)
    return rules.fetch_participant(req.conn, session_sid=session.sid, sid=req.params["participant"])


def create_participant(req: Request) -> Response:
    form = req.form
    service = fetch_service_row(req)
    # The session's row lock serialises participant changes to one session.
    session = fetch_session(
        req.conn, service_sid=service.sid, sid=req.params["session"], for_update=True
    )
    row = rules.add_participant(
        req.conn,
        req.runtime.clock,
        account_sid=req.account_sid,
        service=service,
        session=session,
        identifier=params.text(form, "Identifier", required=True, max_length=191) or "",
        friendly_name=params.name(form, "FriendlyName", max_length=255),
        proxy_identifier=params.text(form, "ProxyIdentifier", max_length=32),
        proxy_identifier_sid=params.sid(form, "ProxyIdentifierSid", (PHONE_NUMBER, SHORT_CODE)),
    )
    return json_response(render_participant(row, req.base_url), 201)


def fetch_participant(req: Request) -> Response:
    return json_response(render_participant(fetch_participant_row(req), req.base_url))


def delete_participant(req: Request) -> Response:
    session = fetch_session_row(req, for_update=True)
    rules.remove_participant(
        req.conn, req.runtime.clock, session=session, sid=req.params["participant"]
    )
    return no_content()


def list_participants(req: Request) -> Response:
    session = fetch_session_row(req)
    page = page_request(req)
    rows, more = query_participants(req.conn, session.sid, page)
    items = [render_participant(row, req.base_url) for row in rows]
    return json_response(render_page(req, "participants", page, rows, items, more))


PATH = "/v1/Services/{service}/Sessions/{session}/Participants"
ROUTES = [
    Route("GET", PATH, list_participants),
    Route("POST", PATH, create_participant, writes=True),
    Route("GET", PATH + "/{participant}", fetch_participant),
    Route("DELETE", PATH + "/{participant}", delete_participant, writes=True),
]
