"""HTTP handlers of /webhooks/twilio: incoming texts and calls, and their status callbacks.

Every request must carry a valid X-Twilio-Signature, computed by Twilio with its auth token over
MASKLINE_PUBLIC_URL and the path; anything else gets 403.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from maskline.carriers.twilio import TwilioCarrier, message_progress
from maskline.errors import Forbidden, InvalidParameter
from maskline.interactions import store as interactions_store
from maskline.interactions.rules import LEG_STATUSES, resource_status_changed
from maskline.interactions.tables import interactions
from maskline.numbers.tables import PHONE_NUMBER, numbers
from maskline.routing.inbound import Inbound, Outcome, route
from maskline.web.request import Request
from maskline.web.response import Response
from maskline.web.routing import Route

XML = b"application/xml"
RESOURCE_STATUSES = frozenset(LEG_STATUSES)


def _carrier(req: Request) -> TwilioCarrier:
    carrier = req.runtime.carrier
    assert isinstance(carrier, TwilioCarrier)
    return carrier


def _signed_params(req: Request) -> dict[str, str]:
    """The webhook's parameters, once its signature is checked."""
    carrier = _carrier(req)
    params = {name: values[-1] for name, values in req.form.items()}
    url = carrier.public_url + req.path
    if req.query_string:
        url += "?" + req.query_string
    signature = req.header("x-twilio-signature") or ""
    validator = RequestValidator(req.runtime.settings.twilio_auth_token)
    if not signature or not validator.validate(url, params, signature):
        raise Forbidden("The X-Twilio-Signature of this request is missing or wrong")
    return params


def _need(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise InvalidParameter(name, "is required")
    return value


def _owner(conn: Connection, to: str) -> str | None:
    stmt = select(numbers.c.account_sid).where(
        numbers.c.kind == PHONE_NUMBER, numbers.c.phone_number == to
    )
    value = conn.execute(stmt.limit(1)).scalar()
    return str(value) if value is not None else None


def _status(value: str | None) -> str:
    # Twilio reports WhatsApp reads as `read`; Proxy's enum stops at delivered.
    status = (value or "unknown").lower()
    if status == "read":
        return "delivered"
    return status if status in RESOURCE_STATUSES else "unknown"


def _xml(body: bytes | str) -> Response:
    return Response(200, body if isinstance(body, bytes) else body.encode(), XML)


async def _route(req: Request, params: dict[str, str], kind: str, sid: str) -> Outcome | None:
    runtime = req.runtime
    carrier = _carrier(req)
    to, from_ = _need(params, "To"), _need(params, "From")
    with runtime.transaction(writes=False, replayable=True) as conn:
        account_sid = _owner(conn, to)
    if account_sid is None:
        return None
    count = int(params.get("NumMedia") or 0) if (params.get("NumMedia") or "0").isdigit() else 0
    media = [params[f"MediaUrl{i}"] for i in range(count) if params.get(f"MediaUrl{i}")]
    inbound = Inbound(
        kind=kind,
        account_sid=account_sid,
        from_=from_,
        to=to,
        resource_sid=sid,
        resource_url=carrier.message_url(sid) if kind == "message" else carrier.call_url(sid),
        base_url=runtime.settings.public_url.rstrip("/"),
        body=params.get("Body"),
        media_urls=media,
    )
    # Nothing has been written or sent for this request yet: it can run again from the start.
    return await route(runtime, runtime.http(), inbound, replayable=True)


async def incoming_message(req: Request) -> Response:
    params = _signed_params(req)
    outcome = await _route(req, params, "message", _need(params, "MessageSid"))
    if outcome is not None and outcome.twiml is not None:
        return _xml(outcome.twiml)
    # The relay goes out through the REST API; Twilio needs no reply here.
    return _xml(str(MessagingResponse()))


async def incoming_call(req: Request) -> Response:
    params = _signed_params(req)
    outcome = await _route(req, params, "voice", _need(params, "CallSid"))
    if outcome is not None and outcome.twiml is not None:
        return _xml(outcome.twiml)
    answer = VoiceResponse()
    if outcome is not None and outcome.result == "forwarded" and outcome.dial_to:
        carrier = _carrier(req)
        status_url = carrier.webhook_url("call-status")
        dial = answer.dial(caller_id=outcome.caller_id, action=status_url, method="POST")
        dial.number(
            outcome.dial_to,
            status_callback=status_url,
            status_callback_event="initiated ringing answered completed",
            status_callback_method="POST",
        )
    else:
        answer.reject()
    return _xml(str(answer))


async def message_status(req: Request) -> Response:
    params = _signed_params(req)
    sid = _need(params, "MessageSid")
    status = _status(params.get("MessageStatus"))
    interaction_sid = (req.query.get("InteractionSid") or [""])[-1]
    runtime = req.runtime
    with runtime.transaction() as conn:
        if interaction_sid:
            # The callback may come before the worker has recorded Twilio's answer to the send.
            conn.execute(
                update(interactions)
                .where(
                    interactions.c.sid == interaction_sid,
                    interactions.c.outbound_resource_sid.is_(None),
                    interactions.c.outbound_resource_type == "Message",
                )
                .values(
                    outbound_resource_sid=sid,
                    outbound_resource_url=_carrier(req).message_url(sid),
                )
            )
        current = conn.execute(
            select(interactions.c.outbound_resource_status)
            .where(interactions.c.outbound_resource_sid == sid)
            .with_for_update()
        ).scalars()
        # Twilio does not promise the order of its callbacks: a status never moves back.
        if any(message_progress(status) > message_progress(value) for value in current):
            resource_status_changed(conn, runtime.clock, resource_sid=sid, status=status)
    runtime.wake()
    return Response(204, b"", b"")


def _attach_outbound_leg(conn: Connection, carrier: TwilioCarrier, parent: str, child: str) -> None:
    """The bridged leg's SID is first known from Twilio's callbacks: put it on the interaction."""
    stmt = select(interactions.c.sid).where(
        interactions.c.inbound_resource_sid == parent,
        interactions.c.outbound_resource_sid.is_(None),
    )
    for (sid,) in conn.execute(stmt):
        interactions_store.update_interaction(
            conn,
            sid,
            {"outbound_resource_sid": child, "outbound_resource_url": carrier.call_url(child)},
        )


def _seconds(value: Any) -> int | None:
    text = str(value or "")
    return int(text) if text.isdigit() else None


async def call_status(req: Request) -> Response:
    """Status of a bridged leg, the <Dial> action at its end, or the inbound call's own."""
    params = _signed_params(req)
    carrier = _carrier(req)
    runtime = req.runtime
    call_sid = _need(params, "CallSid")
    with runtime.transaction() as conn:
        if "DialCallStatus" in params:
            child = params.get("DialCallSid")
            duration = _seconds(params.get("DialCallDuration")) or 0
            if child:
                _attach_outbound_leg(conn, carrier, call_sid, child)
                resource_status_changed(
                    conn,
                    runtime.clock,
                    resource_sid=child,
                    status=_status(params["DialCallStatus"]),
                    duration=duration,
                )
            resource_status_changed(conn, runtime.clock, resource_sid=call_sid, status="completed")
        elif params.get("ParentCallSid"):
            status = _status(params.get("CallStatus"))
            _attach_outbound_leg(conn, carrier, params["ParentCallSid"], call_sid)
            resource_status_changed(
                conn,
                runtime.clock,
                resource_sid=call_sid,
                status=status,
                duration=_seconds(params.get("CallDuration")) if status == "completed" else None,
            )
        else:
            resource_status_changed(
                conn, runtime.clock, resource_sid=call_sid, status=_status(params.get("CallStatus"))
            )
    runtime.wake()
    if "DialCallStatus" in params:
        hangup = VoiceResponse()
        hangup.hangup()
        return _xml(str(hangup))
    return Response(204, b"", b"")


ROUTES = [
    Route("POST", "/webhooks/twilio/messages", incoming_message, auth=False, is_async=True),
    Route("POST", "/webhooks/twilio/voice", incoming_call, auth=False, is_async=True),
    Route("POST", "/webhooks/twilio/message-status", message_status, auth=False, is_async=True),
    Route("POST", "/webhooks/twilio/call-status", call_status, auth=False, is_async=True),
]
