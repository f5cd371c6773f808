"""The queries routing needs: which session a sender has on a number, and the other party."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, and_, bindparam, literal_column, select

from maskline.db import fast
from maskline.numbers.tables import PHONE_NUMBER, SHORT_CODE, numbers
from maskline.participants.tables import participants
from maskline.services.store import get_service_by_sid
from maskline.services.tables import services
from maskline.sessions.tables import sessions


class Number(NamedTuple):
    """The number traffic was sent to, as routing uses it."""

    sid: str
    service_sid: str | None


class Recipient(NamedTuple):
    """The session's other participant, whom routed traffic goes on to."""

    sid: str
    identifier: str
    friendly_name: str | None
    proxy_identifier: str
    proxy_number_sid: str


class Sender(NamedTuple):
    """The sender's participant in its active session on the number, that session (locked
    for update), and the session's other participant if it has one."""

    sid: str
    session: Any
    recipient: Recipient | None


# Every routed text or call runs these: built once, with bound parameters. Each reads the
# columns routing uses and no more (every column read costs the driver a conversion), and
# each answers in one statement what would take two or three lookups: a statement costs more
# in the driver than the joins cost SQLite, and it is a round trip to PostgreSQL.

# The phone number called, joined to its service: the service's columns and `number_sid`.
_PHONE_NUMBER = (
    select(numbers.c.sid.label("number_sid"), *services.c)
    .join(services, services.c.sid == numbers.c.service_sid)
    .where(
        numbers.c.kind == PHONE_NUMBER,
        numbers.c.phone_number == bindparam("to"),
        numbers.c.account_sid == bindparam("account_sid"),
    )
    .limit(1)
)

_sender = participants.alias("sender")
_other = participants.alias("other")
# The sender's participant through the pair index, which SQLite uses only when the query
# repeats its condition as written (see participants/tables.py), here under the alias.
_SENDER = (
    select(
        _sender.c.sid.label("sender_sid"),
        *sessions.c,
        _other.c.sid.label("other_sid"),
        _other.c.identifier.label("other_identifier"),
        _other.c.friendly_name.label("other_friendly_name"),
        _other.c.proxy_identifier.label("other_proxy_identifier"),
        _other.c.proxy_number_sid.label("other_proxy_number_sid"),
    )
    .select_from(
        _sender.join(sessions, sessions.c.sid == _sender.c.session_sid).outerjoin(
            _other,
            and_(
                _other.c.session_sid == sessions.c.sid,
                _other.c.sid != _sender.c.sid,
                _other.c.date_deleted.is_(None),
            ),
        )
    )
    .where(
        _sender.c.identifier == bindparam("identifier"),
        _sender.c.proxy_number_sid == bindparam("number_sid"),
        literal_column("sender.active"),
    )
    .limit(1)
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


def number_called(conn: Connection, account_sid: str, to: str) -> tuple[Number, Any] | None:
    """The account's phone number (E.164) or short code (digits) that traffic was sent to,
    and the service whose pool holds it; None when it is no number of the account's, or in
    no service."""
    if to.isdigit():
        stmt = select(numbers.c.sid, numbers.c.service_sid).where(
            numbers.c.kind == SHORT_CODE,
            numbers.c.phone_number.like(to + "@%"),
            numbers.c.account_sid == account_sid,
        )
        code = conn.execute(stmt.limit(1)).first()
        if code is None or code.service_sid is None:
            return None
        return Number(code.sid, code.service_sid), get_service_by_sid(conn, code.service_sid)
    row = fast.first(conn, _PHONE_NUMBER, {"to": to, "account_sid": account_sid})
    if row is None:
        return None
    return Number(row.number_sid, row.sid), row


def active_sender(conn: Connection, identifier: str, number_sid: str) -> Sender | None:
    """The sender's participant in its one active session on this number (the pair index),
    with the session and the session's other participant. The session is not locked: routing
    holds no row through its round trips, and what it writes to the session is written only
    while the session is still active (sessions/rules.py, `record_interaction`)."""
    row = fast.first(conn, _SENDER, {"identifier": identifier, "number_sid": number_sid})
    if row is None:
        return None
    recipient = None
    if row.other_sid is not None:
        recipient = Recipient(
            row.other_sid,
            row.other_identifier,
            row.other_friendly_name,
            row.other_proxy_identifier,
            row.other_proxy_number_sid,
        )
    return Sender(row.sender_sid, row, recipient)


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
