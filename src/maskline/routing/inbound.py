"""Routing inbound traffic, whatever the carrier.

A text or call from A to proxy number P reaches the active session where A has P, and goes out
to the other participant B from B's proxy number: one interaction with two legs. The work is
split in transactions around the network calls (intercept, out-of-session), so that no
database lock is held while a user's server answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import orjson
from sqlalchemy import Connection

from maskline import sids
from maskline.callbacks.delivery import call_now
from maskline.callbacks.rules import enqueue_interaction, intercept_params
from maskline.clock import Clock
from maskline.events import rules as events
from maskline.interactions import store as interactions_store
from maskline.interactions.rules import voice_data
from maskline.routing import store
from maskline.runtime import Runtime
from maskline.sessions import store as sessions_store
from maskline.sessions.rules import close_session, closing_reason, record_interaction
from maskline.sessions.tables import ACTIVE

OPT_OUT_WORDS = frozenset(
    {
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "ARRET",
        "ARRETE",
        "ARRETT",
    }
)


@dataclass(frozen=True)
class Inbound:
    """One text or call arriving at a proxy number, as the carrier recorded it."""

    kind: str  # message or voice
    account_sid: str
    from_: str
    to: str
    resource_sid: str
    resource_url: str
    base_url: str
    body: str | None = None
    media_urls: list[str] = field(default_factory=list)
    # What the rung handset does (sandbox only).
    answer: str = "answered"
    duration: int = 0


@dataclass
class Outcome:
    """What became of the traffic, as the sandbox reports it back."""

    result: str  # forwarded, blocked, opt-out, rejected, dropped, replied, twiml
    interaction_sid: str | None = None
    session_sid: str | None = None
    outbound_resource_sid: str | None = None
    event_code: int | None = None
    detail: str | None = None
    replies: list[str] = field(default_factory=list)
    verbs: list[dict[str, Any]] = field(default_factory=list)
    # For carriers that bridge calls with TwiML: whom to dial, and from which number.
    dial_to: str | None = None
    caller_id: str | None = None
    # An out-of-session TwiML answer, for carriers that hand it to the network as it is.
    twiml: bytes | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "interaction_sid": self.interaction_sid,
            "session_sid": self.session_sid,
            "outbound_resource_sid": self.outbound_resource_sid,
            "event_code": self.event_code,
            "detail": self.detail,
            "replies": self.replies,
            "verbs": self.verbs,
        }


@dataclass(frozen=True)
class InSession:
    service: Any
    session_sid: str
    interaction_sid: str
    recipient: Any
    # The session as resolve() read it, for a forward in the same transaction.
    session: Any = None
    # The interaction's row when resolve() left it for send_on to insert whole, outbound leg
    # included (a forward in the same transaction); None once it is in the table.
    unsaved: dict[str, Any] | None = None


@dataclass(frozen=True)
class OutOfSession:
    service: Any
    number: Any
    previous: Any  # the sender's last participant on this number, or None


def is_opt_out(body: str | None) -> bool:
    return body is not None and body.strip().upper() in OPT_OUT_WORDS


def _event(conn: Connection, clock: Clock, inbound: Inbound, code: int, **where: Any) -> Outcome:
    detail = where.pop("detail", None)
    events.record_event(
        conn,
        now=clock.now_ms(),
        code=code,
        account_sid=inbound.account_sid,
        detail=detail,
        type=inbound.kind,
        resource_sid=inbound.resource_sid,
        **{"from": inbound.from_, "to": inbound.to},
        **where,
    )
    result = (
        "rejected"
        if code in (events.MESSAGE_TO_VOICE_ONLY, events.CALL_TO_MESSAGE_ONLY)
        else "dropped"
    )
    return Outcome(
        result,
        event_code=code,
        detail=detail,
        session_sid=where.get("session_sid"),
    )


def resolve(
    conn: Connection, clock: Clock, inbound: Inbound, *, save: bool = True
) -> InSession | OutOfSession | Outcome:
    """Find the session this traffic belongs to and open its interaction, or say why not.

    Without `save`, the interaction is not inserted yet: send_on, in the same transaction,
    inserts it with its outbound leg in one statement.
    """
    now = clock.now_ms()
    called = store.number_called(conn, inbound.account_sid, inbound.to)
    if called is None:
        return _event(conn, clock, inbound, events.NOT_ROUTED, detail="the number is in no service")
    number, service = called
    sender = store.active_sender(conn, inbound.from_, number.sid)
    session = None
    if sender is not None and sender.session.status in ACTIVE:
        session = sender.session
        if closing_reason(session, now) is not None:
            # Past its deadline: close it now, even if the worker has not run yet. Locked
            # first, and looked at again: the worker or another text may be closing it too.
            locked = sessions_store.get_session_by_sid(conn, session.sid, for_update=True)
            reason = None if locked is None else closing_reason(locked, now)
            if locked is not None and locked.status in ACTIVE and reason is not None:
                close_session(conn, clock, session=locked, reason=reason)
                session = None
            else:  # moved on meanwhile (a text just now, a new TTL): still active, or closed
                session = locked if locked is not None and locked.status in ACTIVE else None
    if session is None or sender is None:
        previous = store.last_participant(conn, inbound.from_, number.sid)
        return OutOfSession(service=service, number=number, previous=previous)
    where = {"service_sid": service.sid, "session_sid": session.sid}
    if inbound.kind == "message" and session.mode == "voice-only":
        return _event(conn, clock, inbound, events.MESSAGE_TO_VOICE_ONLY, **where)
    if inbound.kind == "voice" and session.mode == "message-only":
        return _event(conn, clock, inbound, events.CALL_TO_MESSAGE_ONLY, **where)
    if inbound.kind == "message" and is_opt_out(inbound.body):
        return Outcome("opt-out", session_sid=session.sid)
    recipient = sender.recipient
    if recipient is None:
        return _event(conn, clock, inbound, events.SESSION_HAS_ONE_PARTICIPANT, **where)
    sid = sids.new_sid(sids.INTERACTION)
    if inbound.kind == "message":
        data: dict[str, Any] = {"body": inbound.body or ""}
        if inbound.media_urls:
            data["media_urls"] = inbound.media_urls
        encoded = orjson.dumps(data).decode()
        leg = ("Message", "received")
    else:
        encoded = voice_data(0)
        leg = ("Call", "in-progress")
    values = {
        "sid": sid,
        "account_sid": inbound.account_sid,
        "service_sid": service.sid,
        "session_sid": session.sid,
        "type": inbound.kind,
        "data": encoded,
        "inbound_participant_sid": sender.sid,
        "inbound_resource_sid": inbound.resource_sid,
        "inbound_resource_status": leg[1],
        "inbound_resource_type": leg[0],
        "inbound_resource_url": inbound.resource_url,
        "outbound_participant_sid": recipient.sid,
        "date_created": now,
        "date_updated": now,
    }
    if save:
        interactions_store.insert_interaction(conn, values)
    return InSession(
        service=service,
        session_sid=session.sid,
        interaction_sid=sid,
        recipient=recipient,
        session=session,
        unsaved=None if save else values,
    )


async def route(
    runtime: Runtime,
    client: httpx.AsyncClient,
    inbound: Inbound,
    record: Callable[[Connection], None] | None = None,
    replayable: bool = False,
) -> Outcome:
    """Route inbound traffic. `record` writes the carrier's record of it, in the same
    transaction as the routing.

    `replayable`: the request has written nothing before this, so it can run again from the
    start should its group-commit batch roll back (db/transactions.py); the wait for that
    commit comes before any callback.

    Without an intercept callback to wait for, the traffic is resolved and sent on in one
    transaction; otherwise the callback is made between two.
    """
    outcome = None
    with runtime.transaction(replayable=replayable) as conn:
        if record is not None:
            record(conn)
        found = resolve(conn, runtime.clock, inbound, save=False)
        if isinstance(found, InSession):
            if found.service.intercept_callback_url:
                # The intercept callback reads the interaction: it is saved before the wait.
                assert found.unsaved is not None
                interactions_store.insert_interaction(conn, found.unsaved)
                found = replace(found, unsaved=None)
            else:
                outcome = send_on(conn, runtime, inbound, found)
        runtime.wake_for(conn)
    if outcome is not None:
        return outcome
    if isinstance(found, InSession | OutOfSession):
        # Callbacks from here on: what this request wrote is committed first.
        await runtime.transactions.settled()
    if isinstance(found, InSession):
        return await forward(runtime, client, inbound, found)
    if isinstance(found, OutOfSession):
        from maskline.routing.out_of_session import handle

        return await handle(runtime, client, inbound, found)
    return found


async def forward(
    runtime: Runtime, client: httpx.AsyncClient, inbound: Inbound, found: InSession
) -> Outcome:
    """Through the intercept callback, then on: the session is read again after the wait."""
    if found.service.intercept_callback_url:
        with runtime.transaction(writes=False) as conn:
            row = interactions_store.get_interaction_by_sid(conn, found.interaction_sid)
        assert row is not None
        answer = await call_now(
            runtime,
            client,
            account_sid=inbound.account_sid,
            url=found.service.intercept_callback_url,
            params=intercept_params(row),
        )
        if answer.status_code == 403:
            return Outcome(
                "blocked", interaction_sid=found.interaction_sid, session_sid=found.session_sid
            )
    with runtime.transaction() as conn:
        outcome = send_on(conn, runtime, inbound, replace(found, session=None))
        runtime.wake_for(conn)
    return outcome


def send_on(conn: Connection, runtime: Runtime, inbound: Inbound, found: InSession) -> Outcome:
    """The outbound leg to the other participant, and the interaction's record of it."""
    clock = runtime.clock
    carrier = runtime.carrier
    recipient = found.recipient
    if inbound.kind == "message":
        sent = carrier.send_message(
            conn,
            clock,
            account_sid=inbound.account_sid,
            from_number=recipient.proxy_identifier,
            to_number=recipient.identifier,
            body=inbound.body,
            media_urls=inbound.media_urls,
            base_url=inbound.base_url,
            interaction_sid=found.interaction_sid,
        )
    else:
        sent = carrier.place_call(
            conn,
            clock,
            account_sid=inbound.account_sid,
            from_number=recipient.proxy_identifier,
            to_number=recipient.identifier,
            parent_sid=inbound.resource_sid,
            base_url=inbound.base_url,
            answer=inbound.answer,
            duration=inbound.duration,
        )
    now = clock.now_ms()
    leg = {
        "outbound_resource_sid": sent.sid or None,
        "outbound_resource_status": sent.status,
        "outbound_resource_type": "Message" if inbound.kind == "message" else "Call",
        "outbound_resource_url": sent.url or None,
        "date_updated": now,
    }
    if found.unsaved is not None:
        interactions_store.insert_interaction(conn, {**found.unsaved, **leg})
    else:
        interactions_store.update_interaction(conn, found.interaction_sid, leg)
    session = found.session
    if session is None:
        session = sessions_store.get_session_by_sid(conn, found.session_sid)
    if session is not None:
        record_interaction(conn, session=session, now=now)
    if found.service.callback_url:
        row = interactions_store.get_interaction_by_sid(conn, found.interaction_sid)
        if row is not None:
            enqueue_interaction(
                conn, now=now, callback_url=found.service.callback_url, interaction=row
            )
    return Outcome(
        "forwarded",
        interaction_sid=found.interaction_sid,
        session_sid=found.session_sid,
        outbound_resource_sid=sent.sid or None,
        dial_to=recipient.identifier if inbound.kind == "voice" else None,
        caller_id=recipient.proxy_identifier if inbound.kind == "voice" else None,
    )
