"""Queries on participants, and the pool queries of number selection."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    and_,
    bindparam,
    exists,
    func,
    insert,
    select,
    true,
    update,
)

from maskline.db.paging import fetch_page
from maskline.numbers.tables import SHORT_CODE, numbers
from maskline.participants.tables import participants
from maskline.web.paging import PageRequest


def get_participant(conn: Connection, session_sid: str, sid: str) -> Row[Any] | None:
    stmt = select(participants).where(
        participants.c.sid == sid, participants.c.session_sid == session_sid
    )
    return conn.execute(stmt).first()


def session_participants(conn: Connection, session_sid: str) -> list[Row[Any]]:
    stmt = (
        select(participants)
        .where(participants.c.session_sid == session_sid)
        .order_by(participants.c.id)
    )
    return list(conn.execute(stmt))


def insert_participant(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(participants).values(**values))


def update_participant(conn: Connection, sid: str, values: dict[str, Any]) -> None:
    conn.execute(update(participants).where(participants.c.sid == sid).values(**values))


def set_session_active(conn: Connection, session_sid: str, active: bool, now: int) -> None:
    """Activate (re-open) or deactivate (close) every participant still in the session."""
    conn.execute(
        update(participants)
        .where(
            participants.c.session_sid == session_sid,
            participants.c.date_deleted.is_(None),
        )
        .values(active=active, date_updated=now)
    )


def list_participants(
    conn: Connection, session_sid: str, request: PageRequest
) -> tuple[list[Row[Any]], bool]:
    stmt = select(participants).where(participants.c.session_sid == session_sid)
    return fetch_page(conn, stmt, participants.c.id, request)


def pool_short_code(conn: Connection, service_sid: str, digits: str) -> Row[Any] | None:
    """A short code of the service's pool by its digits."""
    stmt = select(numbers).where(
        numbers.c.service_sid == service_sid,
        numbers.c.kind == SHORT_CODE,
        numbers.c.phone_number.like(digits + "@%"),
    )
    return conn.execute(stmt).first()


_LAST_NUMBER = (
    select(participants.c.proxy_number_sid)
    .where(
        participants.c.service_sid == bindparam("service_sid"),
        participants.c.identifier == bindparam("identifier"),
    )
    .order_by(participants.c.id.desc())
    .limit(1)
)


def last_number_of(conn: Connection, service_sid: str, identifier: str) -> str | None:
    """The proxy number this identifier had most recently in the service (for stickiness)."""
    value = conn.execute(
        _LAST_NUMBER, {"service_sid": service_sid, "identifier": identifier}
    ).scalar()
    return str(value) if value is not None else None


def find_candidate(
    conn: Connection,
    *,
    service_sid: str,
    identifier: str,
    calling_code: int | None,
    area_code: str | None,
    voice: bool,
    sms: bool,
    exclude: set[str],
    only: str | None = None,
    never_had: bool = False,
) -> Row[Any] | None:
    """The least used unreserved number that fits and that `identifier` does not use now.

    Walks the pool index in `in_use` order and stops at the first fit, so its cost does not
    grow with the number of sessions.
    """
    in_use_by_identifier = exists().where(
        participants.c.identifier == identifier,
        participants.c.proxy_number_sid == numbers.c.sid,
        participants.c.active == true(),
    )
    conditions = [
        numbers.c.service_sid == service_sid,
        numbers.c.is_reserved == False,  # noqa: E712  (SQL, not Python)
        ~in_use_by_identifier,
    ]
    if calling_code is not None:
        conditions.append(numbers.c.calling_code == calling_code)
    if area_code is not None:
        conditions.append(numbers.c.area_code == area_code)
    if voice:
        conditions.append(numbers.c.voice == true())
    if sms:
        conditions.append(numbers.c.sms == true())
    if exclude:
        conditions.append(numbers.c.sid.not_in(sorted(exclude)))
    if only is not None:
        conditions.append(numbers.c.sid == only)
    if never_had:
        conditions.append(
            ~exists().where(
                participants.c.service_sid == service_sid,
                participants.c.identifier == identifier,
                participants.c.proxy_number_sid == numbers.c.sid,
            )
        )
    stmt = select(numbers).where(and_(*conditions)).order_by(numbers.c.in_use, numbers.c.id)
    return conn.execute(stmt.limit(1)).first()


def count_pool(
    conn: Connection,
    *,
    service_sid: str,
    calling_code: int | None = None,
    area_code: str | None = None,
    voice: bool = False,
    sms: bool = False,
    unreserved: bool = False,
) -> int:
    """How many pool numbers pass the given filters; used only to explain a failed selection."""
    conditions = [numbers.c.service_sid == service_sid]
    if calling_code is not None:
        conditions.append(numbers.c.calling_code == calling_code)
    if area_code is not None:
        conditions.append(numbers.c.area_code == area_code)
    if voice:
        conditions.append(numbers.c.voice == true())
    if sms:
        conditions.append(numbers.c.sms == true())
    if unreserved:
        conditions.append(numbers.c.is_reserved == False)  # noqa: E712
    stmt = select(func.count()).select_from(numbers).where(and_(*conditions))
    return int(conn.execute(stmt).scalar_one())
