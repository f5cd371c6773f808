"""Queries on participants, and the pool queries of number selection."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Connection,
    Integer,
    Row,
    Select,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    select,
    true,
    union_all,
    update,
)

from maskline.db import fast
from maskline.db.paging import fetch_page
from maskline.numbers.tables import SHORT_CODE, numbers
from maskline.participants.tables import IS_ACTIVE, participants
from maskline.web.paging import PageRequest

# The statements of hot paths are built once, with bound parameters: building one per call and
# working out its cache key costs SQLAlchemy more than running it.
_GET = select(participants).where(
    participants.c.sid == bindparam("sid"), participants.c.session_sid == bindparam("session_sid")
)
_OF_SESSION = (
    select(participants)
    .where(participants.c.session_sid == bindparam("session_sid"))
    .order_by(participants.c.id)
)
_INSERT_UNLESS_TAKEN = fast.InsertUnlessTaken(participants)
# A participant row made from the values just inserted, read like the rows queries return.
ParticipantRow = fast.row_type(participants)
_SLOT_OR_IDENTIFIER_TAKEN = select(participants.c.identifier, participants.c.slot).where(
    participants.c.session_sid == bindparam("session_sid"),
    (participants.c.identifier == bindparam("identifier"))
    | (participants.c.slot == bindparam("slot")),
)


def get_participant(conn: Connection, session_sid: str, sid: str) -> Any | None:
    return fast.first(conn, _GET, {"sid": sid, "session_sid": session_sid})


def session_participants(conn: Connection, session_sid: str) -> list[Any]:
    return fast.all_rows(conn, _OF_SESSION, {"session_sid": session_sid})


def insert_participant(conn: Connection, values: dict[str, Any]) -> Any | None:
    """Insert a participant; its row, or None when a unique constraint refused it."""
    new_id = _INSERT_UNLESS_TAKEN.run(conn, values)
    return None if new_id is None else ParticipantRow(id=new_id, **values)


def refusal(conn: Connection, values: dict[str, Any]) -> str:
    """Which constraint refused a participant insert: the constraint's name."""
    params = {k: values[k] for k in ("session_sid", "identifier", "slot")}
    for identifier, slot in fast.all_rows(conn, _SLOT_OR_IDENTIFIER_TAKEN, params):
        if identifier == values["identifier"]:
            return "uq_participants_session_sid_identifier"
        if slot == values["slot"]:
            return "uq_participants_session_sid_slot"
    return "uq_participants_active_pair"


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


_LIST = select(participants).where(participants.c.session_sid == bindparam("session_sid"))


def list_participants(
    conn: Connection, session_sid: str, request: PageRequest
) -> tuple[list[Row[Any]], bool]:
    return fetch_page(conn, _LIST, participants.c.id, request, {"session_sid": session_sid})


def pool_short_code(conn: Connection, service_sid: str, digits: str) -> Row[Any] | None:
    """A short code of the service's pool by its digits."""
    stmt = select(numbers).where(
        numbers.c.service_sid == service_sid,
        numbers.c.kind == SHORT_CODE,
        numbers.c.phone_number.like(digits + "@%"),
    )
    return conn.execute(stmt).first()


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
    never_had: bool = False,
    prefer_last: bool = False,
) -> Any | None:
    """The least used unreserved number that fits and that `identifier` does not use now: its
    `sid` and `phone_number`.

    Walks the pool index in `in_use` order and stops at the first fit, so its cost does not
    grow with the number of sessions. With `prefer_last`, the number the identifier had most
    recently in the service comes first when it fits (prefer-sticky).
    """
    values: dict[str, Any] = {"service_sid": service_sid, "identifier": identifier}
    if calling_code is not None:
        values["calling_code"] = calling_code
    if area_code is not None:
        values["area_code"] = area_code
    if exclude:
        values["exclude"] = sorted(exclude)
    shape = (calling_code is not None, area_code is not None, voice, sms, bool(exclude), never_had)
    best = _first(conn, _candidate_query(*shape, prefer_last=prefer_last), values)
    if best is None and conn.dialect.name == "postgresql":
        # Every fitting number is locked by a transaction under way: wait for one.
        best = _first(conn, _candidate_query(*shape, prefer_last=False, wait=True), values)
    return best


_Candidates = Select[Any] | CompoundSelect[Any]


def _first(conn: Connection, stmt: _Candidates, values: dict[str, Any]) -> Any | None:
    if "exclude" in values:
        # A retry after losing a number to a concurrent request: the list varies, so
        # SQLAlchemy expands it.
        return conn.execute(stmt, values).first()
    return fast.first(conn, stmt, values)


_CANDIDATE_QUERIES: dict[tuple[bool, ...], _Candidates] = {}
_ONE = literal_column("1", Integer)
# What a chosen number is needed for: the participant's row. Reading no more of the number's
# columns keeps the selection query cheap.
_CHOSEN = (numbers.c.sid, numbers.c.phone_number)


def _candidate_query(
    calling_code: bool,
    area_code: bool,
    voice: bool,
    sms: bool,
    exclude: bool,
    never_had: bool,
    *,
    prefer_last: bool,
    wait: bool = False,
) -> _Candidates:
    """find_candidate's statement for one combination of filters, built once: the best fit,
    or (`prefer_last`) the identifier's last number in the service if it fits, else the best.

    On PostgreSQL the best fit is locked as it is read, skipping numbers that transactions
    under way have locked (unless `wait`): the `in_use` update that follows never waits, so
    concurrent requests cannot lock two numbers in opposite orders and deadlock, and they
    spread over the pool instead of queueing for its least used number. (SQLite has one
    writer at a time; there the clause is left out.)
    """
    key = (calling_code, area_code, voice, sms, exclude, never_had, prefer_last, wait)
    cached = _CANDIDATE_QUERIES.get(key)
    if cached is not None:
        return cached
    in_use_by_identifier = exists().where(
        participants.c.identifier == bindparam("identifier"),
        participants.c.proxy_number_sid == numbers.c.sid,
        IS_ACTIVE,
    )
    conditions = [
        numbers.c.service_sid == bindparam("service_sid"),
        numbers.c.is_reserved == False,  # noqa: E712  (SQL, not Python)
        ~in_use_by_identifier,
    ]
    if calling_code:
        conditions.append(numbers.c.calling_code == bindparam("calling_code"))
    if area_code:
        conditions.append(numbers.c.area_code == bindparam("area_code"))
    if voice:
        conditions.append(numbers.c.voice == true())
    if sms:
        conditions.append(numbers.c.sms == true())
    if exclude:
        conditions.append(numbers.c.sid.not_in(bindparam("exclude", expanding=True)))
    if never_had:
        conditions.append(
            ~exists().where(
                participants.c.service_sid == bindparam("service_sid"),
                participants.c.identifier == bindparam("identifier"),
                participants.c.proxy_number_sid == numbers.c.sid,
            )
        )
    # LIMIT written as a literal: with a parameter there, PostgreSQL cannot tell that a
    # generic plan stops at the first row, keeps planning the statement anew on every call
    # (about 0.3 ms, five times what running it takes), and never caches it.
    best = (
        select(*_CHOSEN)
        .where(and_(*conditions))
        .order_by(numbers.c.in_use, numbers.c.id)
        .limit(_ONE)
        .with_for_update(of=numbers, key_share=True, skip_locked=not wait)
    )
    stmt: _Candidates = best
    if prefer_last:
        # The number the identifier had most recently in the service, active or not.
        last = (
            select(participants.c.proxy_number_sid)
            .where(
                participants.c.service_sid == bindparam("service_sid"),
                participants.c.identifier == bindparam("identifier"),
            )
            .order_by(participants.c.id.desc())
            .limit(_ONE)
            .scalar_subquery()
        )
        sticky = select(*_CHOSEN).where(numbers.c.sid == last, *conditions)
        # One statement, not a lookup of the last number and then a query: both databases
        # run the parts of a UNION ALL in order and stop at the first row, so the best fit is
        # only looked for (and, on PostgreSQL, locked) when the last number does not fit or
        # there is none, which is the usual case. (A query that locks rows never runs in
        # parallel on PostgreSQL, so its parts keep their order.) In SQLite this costs less
        # than the two statements did; on PostgreSQL it saves a round trip.
        stmt = union_all(select(sticky.subquery("sticky")), select(best.subquery("best"))).limit(
            _ONE
        )
    _CANDIDATE_QUERIES[key] = stmt
    return stmt


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
