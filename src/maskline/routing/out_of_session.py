"""Traffic from someone with no active session on the number: ask the user's server.

Its answer is TwiML (carried out: a reply, or call verbs) or JSON (a session is created and the
traffic routed in it); anything else, or no URL, drops the traffic with an event.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import httpx
import orjson

from maskline.callbacks.delivery import Answer, call_now
from maskline.clock import iso
from maskline.errors import ApiError
from maskline.events import rules as events
from maskline.participants.store import session_participants
from maskline.routing.inbound import (
    Inbound,
    InSession,
    Outcome,
    OutOfSession,
    _event,
    forward,
    resolve,
)
from maskline.routing.store import other_participant
from maskline.runtime import Runtime
from maskline.sandbox.calls import end_inbound_call
from maskline.sessions import rules as session_rules
from maskline.sessions import store as sessions_store
from maskline.web import params


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def callback_params(conn: Any, inbound: Inbound, found: OutOfSession) -> dict[str, str]:
    params = {"AccountSid": inbound.account_sid, "From": inbound.from_, "To": inbound.to}
    if inbound.kind == "message":
        params.update(
            Body=inbound.body or "",
            MessageSid=inbound.resource_sid,
            SmsSid=inbound.resource_sid,
            NumMedia=str(len(inbound.media_urls)),
        )
        for index, url in enumerate(inbound.media_urls):
            params[f"MediaUrl{index}"] = url
    else:
        params.update(CallSid=inbound.resource_sid, CallStatus="ringing", Direction="inbound")
    previous = found.previous
    if previous is None:
        return params
    session = sessions_store.get_session_by_sid(conn, previous.session_sid)
    if session is not None:
        params.update(
            sessionSid=session.sid,
            sessionUniqueName=_text(session.unique_name),
            sessionStatus=_text(session.status),
            sessionClosedReason=_text(session.closed_reason),
            sessionMode=_text(session.mode),
            sessionTtl=_text(session.ttl),
            sessionDateStarted=_text(iso(session.date_started)),
            sessionDateEnded=_text(iso(session.date_ended)),
            sessionDateLastInteraction=_text(iso(session.date_last_interaction)),
            sessionDateExpiry=_text(iso(session.date_expiry)),
            sessionDateCreated=_text(iso(session.date_created)),
        )
    _participant_params(params, "inboundParticipant", previous)
    other = other_participant(conn, previous.session_sid, previous.sid)
    if other is None:
        # A removed participant is still the other party of that earlier session.
        for row in session_participants(conn, previous.session_sid):
            if row.sid != previous.sid:
                other = row
    if other is not None:
        _participant_params(params, "outboundParticipant", other)
    return params


def _participant_params(params: dict[str, str], prefix: str, row: Any) -> None:
    params[prefix + "Sid"] = row.sid
    params[prefix + "Identifier"] = row.identifier
    params[prefix + "ProxyIdentifier"] = row.proxy_identifier
    params[prefix + "ProxyIdentifierSid"] = row.proxy_number_sid
    params[prefix + "FriendlyName"] = _text(row.friendly_name)


async def handle(
    runtime: Runtime, client: httpx.AsyncClient, inbound: Inbound, found: OutOfSession
) -> Outcome:
    url = found.service.out_of_session_callback_url
    where = {"service_sid": found.service.sid}
    if not url:
        with runtime.transaction() as conn:
            outcome = _event(
                conn,
                runtime.clock,
                inbound,
                events.NOT_ROUTED,
                detail="no active session and no out-of-session callback URL",
                **where,
            )
        return outcome
    with runtime.transaction(writes=False) as conn:
        params = callback_params(conn, inbound, found)
    answer = await call_now(
        runtime, client, account_sid=inbound.account_sid, url=url, params=params
    )
    if not answer.ok:
        detail = answer.error or f"HTTP {answer.status_code}"
        with runtime.transaction() as conn:
            return _event(
                conn,
                runtime.clock,
                inbound,
                events.OUT_OF_SESSION_CALLBACK_FAILED,
                detail=detail,
                **where,
            )
    if answer.truncated:
        limit = runtime.settings.callback_max_answer_bytes
        return _unusable(runtime, inbound, found, f"the answer is larger than {limit} bytes")
    kind = answer.content_type.split(";", 1)[0].strip().lower()
    if kind in ("application/xml", "text/xml"):
        if runtime.carrier.name != "sandbox":
            # A real network carries the TwiML out itself: hand it over as it is.
            return Outcome("twiml", twiml=answer.body, session_sid=None)
        return await _twiml(runtime, inbound, found, answer)
    if kind == "application/json":
        return await _auto_create(runtime, client, inbound, found, answer)
    return _unusable(
        runtime, inbound, found, f"content type {kind or 'missing'} is not TwiML or JSON"
    )


def _unusable(runtime: Runtime, inbound: Inbound, found: OutOfSession, detail: str) -> Outcome:
    with runtime.transaction() as conn:
        return _event(
            conn,
            runtime.clock,
            inbound,
            events.OUT_OF_SESSION_ANSWER_UNUSABLE,
            detail=detail,
            service_sid=found.service.sid,
        )


async def _twiml(
    runtime: Runtime, inbound: Inbound, found: OutOfSession, answer: Answer
) -> Outcome:
    try:
        root = ElementTree.fromstring(answer.body)
    except ElementTree.ParseError as exc:
        return _unusable(runtime, inbound, found, f"malformed TwiML: {exc}")
    if root.tag != "Response":
        return _unusable(runtime, inbound, found, "TwiML must have a <Response> root")
    carrier = runtime.carrier
    outcome = Outcome("twiml" if inbound.kind == "voice" else "replied")
    with runtime.transaction() as conn:
        for verb in root:
            if inbound.kind == "message":
                if verb.tag != "Message":
                    continue
                body_el = verb.find("Body")
                body = (body_el.text if body_el is not None else verb.text) or ""
                media = [m.text.strip() for m in verb.findall("Media") if m.text]
                sent = carrier.send_message(
                    conn,
                    runtime.clock,
                    account_sid=inbound.account_sid,
                    from_number=inbound.to,
                    to_number=verb.get("to") or inbound.from_,
                    body=body.strip(),
                    media_urls=media,
                    base_url=inbound.base_url,
                )
                outcome.replies.append(sent.sid)
                continue
            step: dict[str, Any] = {"verb": verb.tag}
            if verb.tag in ("Say", "Play"):
                step["text" if verb.tag == "Say" else "url"] = (verb.text or "").strip()
            elif verb.tag == "Dial":
                number_el = verb.find("Number")
                target = ((number_el.text if number_el is not None else verb.text) or "").strip()
                step["number"] = target
                if target:
                    sent = carrier.place_call(
                        conn,
                        runtime.clock,
                        account_sid=inbound.account_sid,
                        from_number=verb.get("callerId") or inbound.to,
                        to_number=target,
                        parent_sid=inbound.resource_sid,
                        base_url=inbound.base_url,
                        answer=inbound.answer,
                        duration=inbound.duration,
                    )
                    step["call_sid"] = sent.sid
            elif verb.tag not in ("Reject", "Hangup", "Pause"):
                step["ignored"] = True
            outcome.verbs.append(step)
            if verb.tag in ("Reject", "Hangup"):
                break
        if inbound.kind == "voice":
            end_inbound_call(conn, runtime.clock, inbound.resource_sid, outcome.verbs)
    runtime.wake()
    return outcome


async def _auto_create(
    runtime: Runtime,
    client: httpx.AsyncClient,
    inbound: Inbound,
    found: OutOfSession,
    answer: Answer,
) -> Outcome:
    try:
        spec = orjson.loads(answer.body)
    except orjson.JSONDecodeError as exc:
        return _unusable(runtime, inbound, found, f"malformed JSON: {exc}")
    if not isinstance(spec, dict):
        return _unusable(runtime, inbound, found, "the JSON answer must be an object")
    other = spec.get("participantIdentifier")
    if not isinstance(other, str) or not other:
        return _unusable(runtime, inbound, found, "participantIdentifier is required")
    try:
        second: dict[str, str] = {"Identifier": other}
        proxy = spec.get("participantProxyIdentifier")
        if proxy is not None:
            second["ProxyIdentifier"] = str(proxy)
        # Read as the API reads Ttl, UniqueName and DateExpiry, with the same limits.
        fields = {"Ttl": "ttl", "UniqueName": "uniqueName", "DateExpiry": "dateExpiry"}
        form = {k: [str(spec[v])] for k, v in fields.items() if spec.get(v) is not None}
        mode = spec.get("mode")
        if mode is not None and mode not in session_rules.MODES:
            raise ValueError(f"mode {mode!r} is not a session mode")
        with runtime.transaction() as conn:
            session_rules.create_session(
                conn,
                runtime.clock,
                account_sid=inbound.account_sid,
                service=found.service,
                unique_name=params.name(form, "UniqueName", max_length=191, unique=True),
                mode=mode,
                status=None,
                ttl=params.integer(form, "Ttl", minimum=0),
                date_expiry=params.date_time(form, "DateExpiry"),
                # The sender is pinned to the number it dialled, reserved or not.
                participants=[
                    {"Identifier": inbound.from_, "ProxyIdentifierSid": found.number.sid},
                    second,
                ],
            )
    except (ApiError, ValueError, TypeError) as exc:
        detail = exc.message if isinstance(exc, ApiError) else str(exc)
        return _unusable(runtime, inbound, found, f"the session could not be created: {detail}")
    with runtime.transaction() as conn:
        routed = resolve(conn, runtime.clock, inbound)
    if isinstance(routed, InSession):
        return await forward(runtime, client, inbound, routed)
    if isinstance(routed, Outcome):
        return routed
    return _unusable(runtime, inbound, found, "the created session did not take the traffic")
