"""HTTP handlers of /maskline/v1: the event log and the callback outbox, for the account."""

from __future__ import annotations

from typing import Any

import orjson

from maskline.callbacks import store as callbacks_store
from maskline.clock import iso
from maskline.events import store
from maskline.web import params
from maskline.web.paging import page_request, render_page
from maskline.web.request import Request
from maskline.web.response import Response, json_response
from maskline.web.routing import Route


def render_event(row: Any) -> dict[str, Any]:
    return {
        "sid": row.sid,
        "account_sid": row.account_sid,
        "service_sid": row.service_sid,
        "session_sid": row.session_sid,
        "code": row.code,
        "message": row.message,
        "details": orjson.loads(row.details),
        "more_info": f"https://www.twilio.com/docs/errors/{row.code}",
        "date_created": iso(row.date_created),
    }


def list_events(req: Request) -> Response:
    page = page_request(req)
    code = params.integer(req.query, "Code", minimum=0)
    rows, more = store.list_events(req.conn, req.account_sid, page, code)
    items = [render_event(row) for row in rows]
    return json_response(render_page(req, "events", page, rows, items, more))


def render_callback(row: Any, attempts: list[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "url": row.url,
        "status": row.status,
        "idempotency_token": row.token,
        "service_sid": row.service_sid,
        "session_sid": row.session_sid,
        "interaction_sid": row.interaction_sid,
        "params": orjson.loads(row.params),
        "attempts": [
            {
                "attempted_at": iso(a.attempted_at),
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "response": a.response,
            }
            for a in attempts
        ],
        "next_attempt_at": iso(row.due_at) if row.status == "pending" else None,
        "last_error": row.last_error,
        "date_created": iso(row.date_created),
        "date_updated": iso(row.date_updated),
    }


def list_callbacks(req: Request) -> Response:
    page = page_request(req)
    session_sid = params.text(req.query, "SessionSid", max_length=34)
    rows, more = callbacks_store.list_callbacks(req.conn, req.account_sid, page, session_sid)
    attempts = callbacks_store.attempts_of(req.conn, [row.id for row in rows])
    items = [render_callback(row, attempts[row.id]) for row in rows]
    return json_response(render_page(req, "callbacks", page, rows, items, more))


ROUTES = [
    Route("GET", "/maskline/v1/Events", list_events),
    Route("GET", "/maskline/v1/Callbacks", list_callbacks),
]
