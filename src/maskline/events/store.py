"""Queries on the event log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, insert, select

from maskline.db.paging import fetch_page
from maskline.db.pruning import delete_some
from maskline.events.tables import events
from maskline.web.paging import PageRequest


def insert_event(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(events).values(**values))


def list_events(
    conn: Connection, account_sid: str, request: PageRequest, code: int | None = None
) -> tuple[list[Row[Any]], bool]:
    stmt = select(events).where(events.c.account_sid == account_sid)
    if code is not None:
        stmt = stmt.where(events.c.code == code)
    return fetch_page(conn, stmt, events.c.id, request)


def delete_before(conn: Connection, cutoff: int, limit: int, account_sid: str | None = None) -> int:
    """Delete up to `limit` events made before `cutoff`."""
    return delete_some(conn, events, events.c.date_created < cutoff, limit, account_sid)
