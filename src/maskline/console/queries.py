"""What the console's pages read. Every query is scoped to the signed-in account and walks an
index the API walks too; lists are newest first, keyset-paged by row id, never by offset."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, case, func, or_, select, text

from maskline.callbacks.tables import callbacks
from maskline.events.tables import events
from maskline.interactions.tables import interactions
from maskline.numbers.tables import numbers
from maskline.participants.tables import participants
from maskline.sandbox import store as sandbox_store
from maskline.sandbox.tables import carrier_calls, carrier_messages
from maskline.services.tables import services
from maskline.sessions.tables import sessions

PAGE = 50
# The interactions a session's page shows; the API lists them all.
TIMELINE = 500
# A handset's sent texts have no index of their own to walk (the sandbox indexes its messages
# by recipient): they are looked for among the latest this many messages of the sandbox.
RECENT_MESSAGES = 5000
# A search by proxy number has no index of its own to walk (participants are indexed by
# identifier): it looks through this many of the service's latest sessions per page.
SCAN = 2000
DAY_MS = 86_400_000


def services_overview(conn: Connection, account_sid: str, now: int) -> list[dict[str, Any]]:
    rows = list(
        conn.execute(
            select(services.c.sid, services.c.unique_name)
            .where(services.c.account_sid == account_sid)
            .order_by(services.c.id)
        )
    )
    sids = [row.sid for row in rows]
    state = case(
        (numbers.c.is_reserved, "reserved"), (numbers.c.in_use > 0, "in_use"), else_="free"
    )
    pool: dict[str, dict[str, int]] = defaultdict(dict)
    if sids:
        query = (
            select(numbers.c.service_sid, state, func.count())
            .where(numbers.c.service_sid.in_(sids))
            .group_by(numbers.c.service_sid, state)
        )
        for service_sid, name, count in conn.execute(query):
            pool[service_sid][name] = count
    active: dict[str, dict[str, int]] = defaultdict(dict)
    closed: dict[str, int] = {}
    if sids:
        query = (
            select(sessions.c.service_sid, sessions.c.status, func.count())
            .where(sessions.c.service_sid.in_(sids), sessions.c.status.in_(("open", "in-progress")))
            .group_by(sessions.c.service_sid, sessions.c.status)
        )
        for service_sid, status, count in conn.execute(query):
            active[service_sid][status] = count
        # ix_sessions_closed_ended: the sessions closed since a day ago, and no others. SQLite
        # takes a partial index only for a condition written as the index's own.
        query = (
            select(sessions.c.service_sid, func.count())
            .where(
                text("sessions.status = 'closed'"),
                sessions.c.date_ended >= now - DAY_MS,
                sessions.c.service_sid.in_(sids),
            )
            .group_by(sessions.c.service_sid)
        )
        closed = {service_sid: count for service_sid, count in conn.execute(query)}
    return [
        {
            "sid": row.sid,
            "unique_name": row.unique_name,
            "free": pool[row.sid].get("free", 0),
            "in_use": pool[row.sid].get("in_use", 0),
            "reserved": pool[row.sid].get("reserved", 0),
            "open": active[row.sid].get("open", 0),
            "in_progress": active[row.sid].get("in-progress", 0),
            "closed_today": closed.get(row.sid, 0),
        }
        for row in rows
    ]


def service(conn: Connection, account_sid: str, sid: str) -> Any | None:
    query = select(services).where(services.c.sid == sid, services.c.account_sid == account_sid)
    return conn.execute(query).first()


def pool(conn: Connection, service_sid: str) -> list[Any]:
    query = select(numbers).where(numbers.c.service_sid == service_sid).order_by(numbers.c.id)
    return list(conn.execute(query))


def sessions_page(
    conn: Connection,
    service_sid: str,
    *,
    status: str | None,
    name: str | None,
    who: str | None,
    before: int | None,
) -> tuple[list[Any], int | None, bool]:
    """A page of the service's sessions, newest first: (rows, the id to continue before,
    whether that continuation is a bounded search going on rather than a full page)."""
    query = select(sessions).where(sessions.c.service_sid == service_sid)
    if status:
        query = query.where(sessions.c.status == status)
    if name:
        # uq (service_sid, unique_name): one session at most.
        query = query.where(sessions.c.unique_name == name)
    if who:
        return _sessions_of(conn, service_sid, query, who, before)
    if before is not None:
        query = query.where(sessions.c.id < before)
    rows = list(conn.execute(query.order_by(sessions.c.id.desc()).limit(PAGE + 1)))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return rows, (rows[-1].id if more else None), False


def _sessions_of(
    conn: Connection, service_sid: str, query: Any, who: str, before: int | None
) -> tuple[list[Any], int | None, bool]:
    """Sessions where `who` is a participant (ix_participants_history: service, identifier)
    or, when it is one of the service's proxy numbers, sessions that use it (a bounded walk
    of the latest sessions: see SCAN)."""
    number = conn.execute(
        select(numbers.c.sid).where(
            numbers.c.service_sid == service_sid,
            or_(numbers.c.phone_number == who, numbers.c.phone_number.like(who + "@%")),
        )
    ).first()
    if number is None:
        # First the participant rows, down ix_participants_history (service, identifier, id),
        # newest first; then their sessions by SID. Left to one statement, a planner may walk
        # the service's sessions instead and test each one, which grows with the service.
        joined = (
            select(participants.c.id, participants.c.session_sid)
            .where(participants.c.service_sid == service_sid, participants.c.identifier == who)
            .order_by(participants.c.id.desc())
            .limit(PAGE + 1)
        )
        if before is not None:
            joined = joined.where(participants.c.id < before)
        found = list(conn.execute(joined))
        more = len(found) > PAGE
        found = found[:PAGE]
        order = {row.session_sid: row.id for row in found}
        rows = list(conn.execute(query.where(sessions.c.sid.in_(list(order))))) if order else []
        rows.sort(key=lambda row: order[row.sid], reverse=True)
        return rows, (found[-1].id if more else None), False
    window = select(sessions.c.id).where(sessions.c.service_sid == service_sid)
    if before is not None:
        window = window.where(sessions.c.id < before)
    ids = [row.id for row in conn.execute(window.order_by(sessions.c.id.desc()).limit(SCAN))]
    if not ids:
        return [], None, False
    using = select(participants.c.session_sid).where(
        participants.c.proxy_number_sid == number.sid,
        participants.c.session_sid == sessions.c.sid,
    )
    rows = list(
        conn.execute(
            query.where(sessions.c.id.in_(ids), using.exists()).order_by(sessions.c.id.desc())
        )
    )
    more = len(ids) == SCAN
    return rows, (ids[-1] if more else None), more


def participants_of(conn: Connection, session_sid: str) -> list[Any]:
    query = (
        select(participants)
        .where(participants.c.session_sid == session_sid)
        .order_by(participants.c.id)
    )
    return list(conn.execute(query))


def interactions_of(conn: Connection, session_sid: str) -> tuple[list[Any], bool]:
    """The session's first TIMELINE interactions, oldest first, and whether it has more."""
    query = (
        select(interactions)
        .where(interactions.c.session_sid == session_sid)
        .order_by(interactions.c.id)
        .limit(TIMELINE + 1)
    )
    rows = list(conn.execute(query))
    return rows[:TIMELINE], len(rows) > TIMELINE


def callbacks_of(conn: Connection, account_sid: str, session_sid: str) -> list[Any]:
    query = (
        select(callbacks)
        .where(callbacks.c.account_sid == account_sid, callbacks.c.session_sid == session_sid)
        .order_by(callbacks.c.id)
        .limit(1000)
    )
    return list(conn.execute(query))


def call_durations(conn: Connection, account_sid: str, call_sids: list[str]) -> dict[str, int]:
    if not call_sids:
        return {}
    query = select(carrier_calls.c.sid, carrier_calls.c.duration).where(
        carrier_calls.c.account_sid == account_sid, carrier_calls.c.sid.in_(call_sids)
    )
    return {row.sid: row.duration for row in conn.execute(query) if row.duration is not None}


def events_page(
    conn: Connection, account_sid: str, code: int | None, before: int | None
) -> tuple[list[Any], int | None]:
    query = select(events).where(events.c.account_sid == account_sid)
    if code is not None:
        query = query.where(events.c.code == code)
    if before is not None:
        query = query.where(events.c.id < before)
    rows = list(conn.execute(query.order_by(events.c.id.desc()).limit(PAGE + 1)))
    return rows[:PAGE], (rows[PAGE - 1].id if len(rows) > PAGE else None)


def callbacks_page(
    conn: Connection, account_sid: str, status: str | None, before: int | None
) -> tuple[list[Any], int | None]:
    query = select(callbacks).where(callbacks.c.account_sid == account_sid)
    if status:
        query = query.where(callbacks.c.status == status)
    if before is not None:
        query = query.where(callbacks.c.id < before)
    rows = list(conn.execute(query.order_by(callbacks.c.id.desc()).limit(PAGE + 1)))
    return rows[:PAGE], (rows[PAGE - 1].id if len(rows) > PAGE else None)


def handset(conn: Connection, account_sid: str, device: str, limit: int = 50) -> list[Any]:
    """A simulated handset's texts, both ways, oldest first: what it received (the sandbox's
    own query, indexed by recipient) and what it sent among the sandbox's latest
    RECENT_MESSAGES messages (a walk down the primary key, bounded whatever the table holds)."""
    latest = conn.execute(select(func.max(carrier_messages.c.id))).scalar() or 0
    sent = (
        select(carrier_messages)
        .where(
            carrier_messages.c.id > latest - RECENT_MESSAGES,
            carrier_messages.c.account_sid == account_sid,
            carrier_messages.c.from_number == device,
            carrier_messages.c.direction == "inbound",
        )
        .order_by(carrier_messages.c.id.desc())
        .limit(limit)
    )
    rows = sandbox_store.messages_received(conn, account_sid, device, limit)
    rows += list(conn.execute(sent))
    return sorted(rows, key=lambda row: row.id)[-limit:]


def handset_calls(conn: Connection, account_sid: str, device: str, limit: int = 20) -> list[Any]:
    """The calls that rang a simulated handset, newest first."""
    return sandbox_store.calls_received(conn, account_sid, device, limit)[::-1]
