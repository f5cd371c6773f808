"""HTTP handlers of .../Participants/{participant}/MessageInteractions."""

from __future__ import annotations

from maskline.errors import NotFound
from maskline.interactions import store
from maskline.interactions.render import render_message_interaction
from maskline.message_interactions import rules
from maskline.participants.api import fetch_participant_row
from maskline.participants.rules import fetch_participant
from maskline.sessions.api import fetch_session_row
from maskline.web import params
from maskline.web.paging import page_request, render_page
from maskline.web.request import Request
from maskline.web.response import Response, json_response
from maskline.web.routing import Route


def create_message_interaction(req: Request) -> Response:
    session = fetch_session_row(req, for_update=True)
    participant = fetch_participant(
        req.conn, session_sid=session.sid, sid=req.params["participant"]
    )
    row = rules.create_message_interaction(
        req.conn,
        req.runtime.clock,
        req.runtime.carrier,
        session=session,
        participant=participant,
        body=params.text(req.form, "Body"),
        media_urls=params.urls(req.form, "MediaUrl"),
        base_url=req.base_url,
    )
    return json_response(render_message_interaction(row, req.base_url), 201)


def fetch_message_interaction(req: Request) -> Response:
    participant = fetch_participant_row(req)
    row = store.get_message_interaction(req.conn, participant.sid, req.params["sid"])
    if row is None:
        raise NotFound(f"The requested MessageInteraction {req.params['sid']} was not found")
    return json_response(render_message_interaction(row, req.base_url))


def list_message_interactions(req: Request) -> Response:
    participant = fetch_participant_row(req)
    page = page_request(req)
    rows, more = store.list_message_interactions(req.conn, participant.sid, page)
    items = [render_message_interaction(row, req.base_url) for row in rows]
    # Twilio's clients read message interactions under the key `interactions`.
    return json_response(render_page(req, "interactions", page, rows, items, more))


PATH = "/v1/Services/{service}/Sessions/{session}/Participants/{participant}/MessageInteractions"
ROUTES = [
    Route("GET", PATH, list_message_interactions),
    Route("POST", PATH, create_message_interaction, writes=True),
    Route("GET", PATH + "/{sid}", fetch_message_interaction),
]
