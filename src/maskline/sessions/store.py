"""Queries on sessions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, insert, select, update

from maskline.db.paging import fetch_page
from maskline.sessions.tables import sessions
from maskline.sids import SESSION, is_sid
from maskline.web.paging import PageRequest

_BY_SID = select(sessions).where(
    sessions.c.sid == bindparam("sid"), sessions.c.service_sid == bindparam("service_sid")
)
_BY_NAME = select(sessions).where(
    sessions.c.unique_name == bindparam("name"),
    sessions.c.service_sid == bindparam("service_sid"),
)


def get_session(
    conn: Connection, service_sid: str, key: str, *, for_update: bool = False
) -> Row[Any] | None:
    """A session of the service by SID or by unique name; locked for update when asked."""
    by_sid = is_sid(key, SESSION)
    stmt = _BY_SID if by_sid else _BY_NAME
    if for_update:
        stmt = stmt.with_for_update()
    values = {"service_sid": service_sid, "sid" if by_sid else "name": key}
    row = conn.execute(stmt, values).first()
    if row is None and by_sid:
        stmt = _BY_NAME.with_for_update() if for_update else _BY_NAME
        row = conn.execute(stmt, {"service_sid": service_sid, "name": key}).first()
    return row


def get_session_by_sid(conn: Connection, sid: str, *, for_update: bool = False) -> Row[Any] | None:
    stmt = select(sessions).where(sessions.c.sid == sid)
    if for_update:
        stmt = stmt.with_for_update()
    return conn.execute(stmt).first()


def due_sessions(conn: Connection, now: int, limit: int) -> list[Row[Any]]:
    """Active sessions whose deadline has passed, oldest deadline first, locked for closing.

    Closed sessions have no deadline, so the index on `expires_at` holds only live ones.
    """
    stmt = (
        select(sessions)
        .where(sessions.c.expires_at <= now)
        .order_by(sessions.c.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(conn.execute(stmt))


def insert_session(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(sessions).values(**values))


def update_session(conn: Connection, sid: str, values: dict[str, Any]) -> None:
    conn.execute(update(sessions).where(sessions.c.sid == sid).values(**values))


def delete_session(conn: Connection, sid: str) -> None:
    conn.execute(delete(sessions).where(sessions.c.sid == sid))


def list_sessions(
    conn: Connection, service_sid: str, request: PageRequest
) -> tuple[list[Row[Any]], bool]:
    stmt = select(sessions).where(sessions.c.service_sid == service_sid)
    return fetch_page(conn, stmt, sessions.c.id, request)
