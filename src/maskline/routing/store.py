"""The queries routing needs: which session a sender has on a number, and the other party."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, select, true

from maskline.numbers.tables import PHONE_NUMBER, SHORT_CODE, numbers
from maskline.participants.tables import participants


def number_called(conn: Connection, account_sid: str, to: str) -> Row[Any] | None:
    """The account's phone number (E.164) or short code (digits) that traffic was sent to."""
    if to.isdigit():
        stmt = select(numbers).where(
            numbers.c.kind == SHORT_CODE,
            numbers.c.phone_number.like(to + "@%"),
            numbers.c.account_sid == account_sid,
        )
    else:
        stmt = select(numbers).where(
            numbers.c.kind == PHONE_NUMBER,
            numbers.c.phone_number == to,
            numbers.c.account_sid == account_sid,
        )
    return conn.execute(stmt.limit(1)).first()


def active_participant(conn: Connection, identifier: str, number_sid: str) -> Row[Any] | None:
    """The sender's participant in its one active session on this number (the pair index)."""
    stmt = select(participants).where(
        participants.c.identifier == identifier,
        participants.c.proxy_number_sid == number_sid,
        participants.c.active == true(),
    )
    return conn.execute(stmt).first()


def last_participant(conn: Connection, identifier: str, number_sid: str) -> Row[Any] | None:
    """The sender's most recent participant on this number, in any session state."""
    stmt = (
        select(participants)
        .where(
            participants.c.identifier == identifier,
            participants.c.proxy_number_sid == number_sid,
        )
        .order_by(participants.c.id.desc())
        .limit(1)
    )
    return conn.execute(stmt).first()


def other_participant(conn: Connection, session_sid: str, sid: str) -> Row[Any] | None:
    stmt = select(participants).where(
        participants.c.session_sid == session_sid,
        participants.c.sid != sid,
        participants.c.date_deleted.is_(None),
    )
    return conn.execute(stmt.limit(1)).first()
