"""The queries routing needs: which session a sender has on a number, and the other party."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, bindparam, select

from maskline.db import fast
from maskline.numbers.tables import PHONE_NUMBER, SHORT_CODE, numbers
from maskline.participants.tables import IS_ACTIVE, participants

# Every routed text or call runs these: built once, with bound parameters. Each reads the
# columns routing uses and no more: every column read costs the driver a conversion.
_PHONE_NUMBER = (
    select(numbers.c.sid, numbers.c.service_sid)
    .where(
        numbers.c.kind == PHONE_NUMBER,
        numbers.c.phone_number == bindparam("to"),
        numbers.c.account_sid == bindparam("account_sid"),
    )
    .limit(1)
)
_ACTIVE = select(participants.c.sid, participants.c.session_sid).where(
    participants.c.identifier == bindparam("identifier"),
    participants.c.proxy_number_sid == bindparam("number_sid"),
    IS_ACTIVE,
)
_OTHER = (
    select(
        participants.c.sid,
        participants.c.identifier,
        participants.c.friendly_name,
        participants.c.proxy_identifier,
        participants.c.proxy_number_sid,
    )
    .where(
        participants.c.session_sid == bindparam("session_sid"),
        participants.c.sid != bindparam("sid"),
        participants.c.date_deleted.is_(None),
    )
    .limit(1)
)


def number_called(conn: Connection, account_sid: str, to: str) -> Row[Any] | None:
    """The account's phone number (E.164) or short code (digits) that traffic was sent to:
    at least its `sid` and `service_sid`."""
    if to.isdigit():
        stmt = select(numbers).where(
            numbers.c.kind == SHORT_CODE,
            numbers.c.phone_number.like(to + "@%"),
            numbers.c.account_sid == account_sid,
        )
        return conn.execute(stmt.limit(1)).first()
    return fast.first(conn, _PHONE_NUMBER, {"to": to, "account_sid": account_sid})


def active_participant(conn: Connection, identifier: str, number_sid: str) -> Row[Any] | None:
    """The sender's participant in its one active session on this number (the pair index):
    its `sid` and `session_sid`."""
    return fast.first(conn, _ACTIVE, {"identifier": identifier, "number_sid": number_sid})


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
    """The session's other participant still in it: its `sid`, `identifier`, `friendly_name`,
    `proxy_identifier` and `proxy_number_sid`."""
    return fast.first(conn, _OTHER, {"session_sid": session_sid, "sid": sid})
