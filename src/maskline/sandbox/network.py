"""HTTP handlers of the sandbox network: handsets text and call, and the clock moves."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from maskline import sids
from maskline.clock import account_time, iso
from maskline.errors import InvalidParameter, NotFound
from maskline.numbers.geo import phone_facts
from maskline.routing.inbound import Inbound, route
from maskline.runtime import Runtime
from maskline.sandbox import store
from maskline.sandbox.calls import end_inbound_call
from maskline.sandbox.carrier import (
    ANSWERS,
    RecordedMessage,
    SandboxCarrier,
    call_url,
    message_url,
)
from maskline.sandbox.clock import MAX_ADVANCE_S, advance
from maskline.sandbox.render import render_call, render_message
from maskline.sessions.rules import expire_due
from maskline.web import params
from maskline.web.request import Request
from maskline.web.response import Response, json_response
from maskline.web.routing import Route

MAX_BODY = 1600


def _address(form: dict[str, list[str]], name: str) -> str:
    value = params.text(form, name, required=True, max_length=200) or ""
    value = value.strip()
    if value.startswith("+"):
        if phone_facts(value) is None:
            raise InvalidParameter(name, "must be a valid E.164 phone number")
    elif not (value.isdigit() or ":" in value):
        raise InvalidParameter(name, "must be an E.164 number, a short code or a channel address")
    return value


def _carrier(req: Request) -> SandboxCarrier:
    carrier = req.runtime.carrier
    assert isinstance(carrier, SandboxCarrier)
    return carrier


async def send_sandbox_message(req: Request) -> Response:
    """A handset `From` texts `To`."""
    form = req.form
    from_, to = _address(form, "From"), _address(form, "To")
    body = params.text(form, "Body", max_length=MAX_BODY)
    media = params.urls(form, "MediaUrl")
    if not body and not media:
        raise InvalidParameter("Body", "Body or MediaUrl is required")
    runtime = req.runtime
    carrier = _carrier(req)
    sid = sids.new_sid(sids.MESSAGE)
    recorded: list[RecordedMessage] = []

    def record(conn: Connection) -> None:
        recorded[:] = [
            carrier.record_message(
                conn,
                runtime.clock,
                account_sid=req.account_sid,
                from_number=from_,
                to_number=to,
                body=body,
                media_urls=media,
                direction="inbound",
                status="received",
                sid=sid,
            )
        ]

    inbound = Inbound(
        kind="message",
        account_sid=req.account_sid,
        from_=from_,
        to=to,
        resource_sid=sid,
        resource_url=message_url(req.base_url, sid),
        base_url=req.base_url,
        body=body,
        media_urls=media,
    )
    outcome = await route(runtime, runtime.http(), inbound, record=record, replayable=True)
    # Routing records the message once, whatever the outcome; it is answered as written.
    (message,) = recorded
    return json_response(
        {**render_message(message, req.base_url), "routing": outcome.as_dict()}, 201
    )


async def place_sandbox_call(req: Request) -> Response:
    """A handset `From` calls `To`; `Answer` and `Duration` say what the rung handset does."""
    form = req.form
    from_, to = _address(form, "From"), _address(form, "To")
    answer = params.choice(form, "Answer", ANSWERS) or "answered"
    duration = params.integer(form, "Duration", minimum=0, maximum=4 * 3600) or 0
    runtime = req.runtime
    with runtime.transaction() as conn:
        sid = _carrier(req).record_call(
            conn,
            runtime.clock,
            account_sid=req.account_sid,
            from_number=from_,
            to_number=to,
            direction="inbound",
            status="in-progress",
        )
    inbound = Inbound(
        kind="voice",
        account_sid=req.account_sid,
        from_=from_,
        to=to,
        resource_sid=sid,
        resource_url=call_url(req.base_url, sid),
        base_url=req.base_url,
        answer=answer,
        duration=duration,
    )
    outcome = await route(runtime, runtime.http(), inbound)
    if outcome.result in ("rejected", "dropped", "blocked", "opt-out"):
        with runtime.transaction() as conn:
            end_inbound_call(conn, runtime.clock, sid)
    runtime.wake()
    with runtime.transaction(writes=False) as conn:
        row = store.get_call(conn, req.account_sid, sid)
    return json_response({**render_call(row, req.base_url), "routing": outcome.as_dict()}, 201)


def fetch_sandbox_call(req: Request) -> Response:
    row = store.get_call(req.conn, req.account_sid, req.params["sid"])
    if row is None:
        raise NotFound(f"The requested Call {req.params['sid']} was not found")
    return json_response(render_call(row, req.base_url))


def list_device_calls(req: Request) -> Response:
    rows = store.calls_received(req.conn, req.account_sid, req.params["device"])
    return json_response({"calls": [render_call(row, req.base_url) for row in rows]})


async def advance_clock(req: Request) -> Response:
    """Move the caller's sandbox clock forward; its sessions past their deadline close before
    it answers. Other accounts' clocks do not move."""
    seconds = params.integer(req.form, "Advance", required=True, minimum=0, maximum=MAX_ADVANCE_S)
    offset, closed, now = await move_clock(req.runtime, req.account_sid, seconds or 0)
    body: dict[str, Any] = {
        "offset_seconds": offset / 1000,
        "now": iso(now),
        "sessions_closed": closed,
    }
    return json_response(body)


async def move_clock(runtime: Runtime, account_sid: str, seconds: int) -> tuple[int, int, int]:
    """Move the account's clock and close its sessions past their deadline at the new time,
    in one transaction; then, once it is committed, every task of the process reads the moved
    clock. (offset ms, sessions closed, the account's time now.)"""
    clock = runtime.clock
    with runtime.transaction() as conn:
        offset = advance(conn, account_sid, seconds)
        with clock.moving(account_sid, offset), account_time(account_sid):
            closed = expire_due(conn, clock, account_sid=account_sid)
            now = clock.now_ms()
    await runtime.transactions.settled()
    clock.learn({account_sid: offset})
    runtime.wake()
    return offset, closed, now


ROUTES = [
    Route("POST", "/sandbox/v1/Messages", send_sandbox_message, is_async=True),
    Route("POST", "/sandbox/v1/Calls", place_sandbox_call, is_async=True),
    Route("GET", "/sandbox/v1/Calls/{sid}", fetch_sandbox_call),
    Route("GET", "/sandbox/v1/Devices/{device}/Calls", list_device_calls),
    Route("POST", "/sandbox/v1/Clock", advance_clock, is_async=True),
]
