"""The life of a session: create, update (close, re-open, TTL), expire, delete."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from maskline import sids
from maskline.callbacks.rules import enqueue_session_closed
from maskline.clock import Clock, account_time
from maskline.db.errors import violated_constraint
from maskline.errors import (
    InvalidParameter,
    NotFound,
    PairAlreadyActive,
    ProxyIdentifierNotInService,
    SessionClosed,
    SessionUniqueNameTaken,
    StatusChangeNotSupported,
    TooManyParticipants,
)
from maskline.names import name_problem
from maskline.numbers import store as numbers_store
from maskline.participants import rules as participant_rules
from maskline.participants import store as participants_store
from maskline.services.store import get_service_by_sid
from maskline.sessions import store
from maskline.sessions.tables import ACTIVE

MODES = ("message-only", "voice-only", "voice-and-message")
STATUSES = ("open", "in-progress", "closed", "failed", "unknown")
PARTICIPANT_KEYS = ("Identifier", "FriendlyName", "ProxyIdentifier", "ProxyIdentifierSid")


def expires_at(
    *, date_expiry: int | None, ttl: int, ttl_base: int, last_interaction: int | None
) -> int | None:
    """When an active session closes by itself: DateExpiry wins, else the TTL, else never."""
    if date_expiry is not None:
        return date_expiry
    if ttl > 0:
        return max(ttl_base, last_interaction or 0) + ttl * 1000
    return None


def fetch_session(conn: Connection, *, service_sid: str, sid: str, for_update: bool = False) -> Any:
    row = store.get_session(conn, service_sid, sid, for_update=for_update)
    if row is None:
        raise NotFound(f"The requested Session {sid} was not found")
    return row


def parse_participants(values: list[str]) -> list[dict[str, str]]:
    """Each `Participants` value is a JSON object; keys vary in order and spacing by SDK."""
    if len(values) > 2:
        raise TooManyParticipants()
    parsed = []
    for raw in values:
        try:
            item = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidParameter("Participants", "each value must be a JSON object") from exc
        if not isinstance(item, dict):
            raise InvalidParameter("Participants", "each value must be a JSON object")
        unknown = set(item) - set(PARTICIPANT_KEYS)
        if unknown:
            raise InvalidParameter(
                "Participants", "unknown key " + ", ".join(sorted(map(str, unknown)))
            )
        for key, value in item.items():
            if not isinstance(value, str):
                raise InvalidParameter("Participants", f"{key} must be a string")
            if "\x00" in value:
                raise InvalidParameter("Participants", f"{key} must not contain NUL characters")
        identifier = item.get("Identifier")
        if not identifier:
            raise InvalidParameter("Participants", "each participant needs an Identifier")
        if len(identifier) > 191:
            raise InvalidParameter("Participants", "Identifier must be at most 191 characters")
        if len(item.get("FriendlyName") or "") > 255:
            raise InvalidParameter("Participants", "FriendlyName must be at most 255 characters")
        problem = name_problem(item.get("FriendlyName") or "", unique=False)
        if problem is not None:
            raise InvalidParameter("Participants", f"FriendlyName {problem}")
        parsed.append(item)
    return parsed


def create_session(
    conn: Connection,
    clock: Clock,
    *,
    account_sid: str,
    service: Any,
    unique_name: str | None,
    mode: str | None,
    status: str | None,
    ttl: int | None,
    date_expiry: int | None,
    participants: list[dict[str, str]],
) -> Any:
    now = clock.now_ms()
    if status not in (None, "open", "in-progress"):
        raise StatusChangeNotSupported("A session starts open or in-progress")
    if date_expiry is not None and date_expiry <= now:
        raise InvalidParameter("DateExpiry", "must be in the future")
    ttl = service.default_ttl if ttl is None else ttl
    values = {
        "sid": sids.new_sid(sids.SESSION),
        "account_sid": account_sid,
        "service_sid": service.sid,
        "unique_name": unique_name,
        "mode": mode or "voice-and-message",
        "status": status or "open",
        "ttl": ttl,
        "date_expiry": date_expiry,
        "date_started": now,
        "date_ended": None,
        "date_last_interaction": None,
        "closed_reason": None,
        "date_created": now,
        "date_updated": now,
        "ttl_base": now,
        "expires_at": expires_at(
            date_expiry=date_expiry, ttl=ttl, ttl_base=now, last_interaction=None
        ),
    }
    session = store.insert_session(conn, values)
    if session is None:
        raise SessionUniqueNameTaken()
    # All or nothing: a participant that fails raises, and the request's transaction rolls the
    # session back with it.
    present: list[Any] = []
    for item in participants:
        added = participant_rules.add_participant(
            conn,
            clock,
            account_sid=account_sid,
            service=service,
            session=session,
            identifier=item["Identifier"],
            friendly_name=item.get("FriendlyName"),
            proxy_identifier=item.get("ProxyIdentifier"),
            proxy_identifier_sid=item.get("ProxyIdentifierSid"),
            present=present,
        )
        present.append(added)
    return session


def update_session(
    conn: Connection,
    clock: Clock,
    *,
    service: Any,
    sid: str,
    ttl: int | None,
    date_expiry: int | None,
    status: str | None,
) -> Any:
    session = fetch_session(conn, service_sid=service.sid, sid=sid, for_update=True)
    now = clock.now_ms()
    reopening = status == "in-progress" and session.status not in ACTIVE
    if status is not None and status != session.status:
        if status == "closed" and session.status in ACTIVE:
            close_session(conn, clock, session=session, reason="api")
            session = fetch_session(conn, service_sid=service.sid, sid=session.sid)
        elif reopening and session.status == "closed":
            _reopen(conn, now, session)
            session = fetch_session(conn, service_sid=service.sid, sid=session.sid)
        else:
            raise StatusChangeNotSupported(f"A session cannot go from {session.status} to {status}")
    if ttl is None and date_expiry is None:
        return session
    if session.status not in ACTIVE:
        raise SessionClosed("Re-open the session to change its Ttl or DateExpiry")
    if date_expiry is not None and date_expiry <= now:
        raise InvalidParameter("DateExpiry", "must be in the future")
    new_ttl = session.ttl if ttl is None else ttl
    new_expiry = session.date_expiry if date_expiry is None else date_expiry
    store.update_session(
        conn,
        session.sid,
        {
            "ttl": new_ttl,
            "date_expiry": new_expiry,
            "date_updated": now,
            "expires_at": expires_at(
                date_expiry=new_expiry,
                ttl=new_ttl,
                ttl_base=session.ttl_base,
                last_interaction=session.date_last_interaction,
            ),
        },
    )
    return fetch_session(conn, service_sid=service.sid, sid=session.sid)


def _reopen(conn: Connection, now: int, session: Any) -> None:
    try:
        with conn.begin_nested():
            participants_store.set_session_active(conn, session.sid, True, now)
    except IntegrityError as error:
        if violated_constraint(error) == "uq_participants_active_pair":
            raise PairAlreadyActive(
                "Re-opening would make a participant's pair active in two sessions"
            ) from error
        raise
    for number_sid in participant_rules.numbers_in_use(
        participants_store.session_participants(conn, session.sid)
    ):
        # A number taken out of the pool while the session was closed cannot come back with it.
        if not numbers_store.use_pool_number(conn, number_sid, session.service_sid):
            raise ProxyIdentifierNotInService(
                "Re-opening needs a proxy number that is no longer in this service's pool"
            )
    store.update_session(
        conn,
        session.sid,
        {
            "status": "in-progress",
            "closed_reason": None,
            "date_ended": None,
            "date_updated": now,
            "ttl_base": now,
            "expires_at": expires_at(
                date_expiry=session.date_expiry,
                ttl=session.ttl,
                ttl_base=now,
                last_interaction=session.date_last_interaction,
            ),
        },
    )


def close_session(conn: Connection, clock: Clock, *, session: Any, reason: str) -> None:
    """Close an active session: its pairs and numbers are free again at once."""
    now = clock.now_ms()
    _release_numbers(conn, session.sid)
    participants_store.set_session_active(conn, session.sid, False, now)
    store.update_session(
        conn,
        session.sid,
        {
            "status": "closed",
            "closed_reason": reason,
            "date_ended": now,
            "date_updated": now,
            "expires_at": None,
        },
    )
    closed = store.get_session_by_sid(conn, session.sid)
    service = get_service_by_sid(conn, session.service_sid)
    if closed is not None and service is not None:
        enqueue_session_closed(conn, now=now, service=service, session=closed)


def closing_reason(session: Any, now: int) -> str | None:
    """Why an active session is due to close at `now`, or None while it is not."""
    if session.expires_at is None or session.expires_at > now:
        return None
    if session.date_expiry is not None and session.date_expiry <= now:
        return "date-expiry"
    return "ttl"


def expire_due(
    conn: Connection, clock: Clock, *, limit: int = 500, account_sid: str | None = None
) -> int:
    """Close the active sessions whose deadline has passed, each by its account's clock; how
    many were closed. Everything due by wall time first, then, for each account whose
    sandbox clock runs ahead, what is due by that clock. `account_sid` looks at one account,
    whose clock was just moved: sessions the worker is closing at the same moment are waited
    for, so that every session due is closed when this returns."""
    passes: list[tuple[str | None, int]]
    if account_sid is not None:
        with account_time(account_sid):
            passes = [(account_sid, clock.now_ms())]
    else:
        passes = [(None, clock.wall_ms()), *clock.ahead()]
    closed = 0
    done: set[str] = set()
    for account, due_by in passes:
        for session in store.due_sessions(conn, due_by, limit, account, account_sid is not None):
            if session.sid in done:
                continue
            done.add(session.sid)
            with account_time(session.account_sid):
                now = clock.now_ms()
                reason = closing_reason(session, now)
                if reason is not None and session.status in ACTIVE:
                    close_session(conn, clock, session=session, reason=reason)
                    closed += 1
    return closed


def _release_numbers(conn: Connection, session_sid: str) -> None:
    for number_sid in participant_rules.numbers_in_use(
        participants_store.session_participants(conn, session_sid)
    ):
        numbers_store.change_in_use(conn, number_sid, -1)


def delete_session(conn: Connection, *, service_sid: str, sid: str) -> None:
    session = fetch_session(conn, service_sid=service_sid, sid=sid, for_update=True)
    if session.status in ACTIVE:
        _release_numbers(conn, session.sid)
    store.delete_session(conn, session.sid)


def record_interaction(conn: Connection, *, session: Any, now: int) -> None:
    """An interaction happened: open becomes in-progress and the TTL starts again, unless the
    session closed meanwhile (so the caller need not hold its row: sessions/store.py).

    Only what changes is written: each column set also rewrites the index entries that hold
    it, and most sessions have no expiry to move (`expires_at` stays NULL).
    """
    deadline = expires_at(
        date_expiry=session.date_expiry,
        ttl=session.ttl,
        ttl_base=session.ttl_base,
        last_interaction=now,
    )
    store.record_activity(
        conn,
        session.sid,
        now,
        opens=session.status == "open",
        deadline=deadline != session.expires_at,
    )
