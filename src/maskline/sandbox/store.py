"""Queries on the sandbox carrier's records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, bindparam, select

from maskline.db import fast
from maskline.db.pruning import delete_some
from maskline.sandbox.tables import carrier_calls, carrier_messages

_MESSAGE = select(carrier_messages).where(
    carrier_messages.c.sid == bindparam("sid"),
    carrier_messages.c.account_sid == bindparam("account_sid"),
)


def get_message(conn: Connection, account_sid: str, sid: str) -> Any | None:
    return fast.first(conn, _MESSAGE, {"sid": sid, "account_sid": account_sid})


def messages_received(
    conn: Connection, account_sid: str, number: str, limit: int = 1000
) -> list[Row[Any]]:
    """What Maskline delivered to the handset `number`, oldest first."""
    stmt = (
        select(carrier_messages)
        .where(
            carrier_messages.c.to_number == number,
            carrier_messages.c.account_sid == account_sid,
            carrier_messages.c.direction == "outbound",
        )
        .order_by(carrier_messages.c.id.desc())
        .limit(limit)
    )
    rows = list(conn.execute(stmt))
    rows.reverse()
    return rows


def get_call(conn: Connection, account_sid: str, sid: str) -> Row[Any] | None:
    stmt = select(carrier_calls).where(
        carrier_calls.c.sid == sid, carrier_calls.c.account_sid == account_sid
    )
    return conn.execute(stmt).first()


def calls_received(
    conn: Connection, account_sid: str, number: str, limit: int = 1000
) -> list[Row[Any]]:
    """Calls that rang the handset `number`, oldest first."""
    stmt = (
        select(carrier_calls)
        .where(
            carrier_calls.c.to_number == number,
            carrier_calls.c.account_sid == account_sid,
            carrier_calls.c.direction == "outbound",
        )
        .order_by(carrier_calls.c.id.desc())
        .limit(limit)
    )
    rows = list(conn.execute(stmt))
    rows.reverse()
    return rows


def delete_before(conn: Connection, cutoff: int, limit: int, account_sid: str | None = None) -> int:
    """Delete up to `limit` of the sandbox network's messages, then calls, made before
    `cutoff`."""
    deleted = delete_some(
        conn, carrier_messages, carrier_messages.c.date_created < cutoff, limit, account_sid
    )
    if deleted < limit:
        deleted += delete_some(
            conn, carrier_calls, carrier_calls.c.date_created < cutoff, limit - deleted, account_sid
        )
    return deleted
