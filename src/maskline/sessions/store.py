"""Queries on sessions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Row,
    bindparam,
    case,
    cast,
    delete,
    insert,
    or_,
    select,
    update,
)

from maskline.db import fast
from maskline.db.paging import fetch_page
from maskline.db.pruning import delete_some
from maskline.services.tables import services
from maskline.sessions.tables import ACTIVE, sessions
from maskline.sids import SESSION, is_sid
from maskline.web.paging import PageRequest

_BY_SID = select(sessions).where(
    sessions.c.sid == bindparam("sid"), sessions.c.service_sid == bindparam("service_sid")
)
_BY_NAME = select(sessions).where(
    sessions.c.unique_name == bindparam("name"),
    sessions.c.service_sid == bindparam("service_sid"),
)
_BY_SID_LOCKED = _BY_SID.with_for_update()
_BY_NAME_LOCKED = _BY_NAME.with_for_update()
_BY_SID_ONLY = select(sessions).where(sessions.c.sid == bindparam("sid"))
_BY_SID_ONLY_LOCKED = _BY_SID_ONLY.with_for_update()
_INSERT = insert(sessions)
_INSERT_UNLESS_TAKEN = fast.InsertUnlessTaken(sessions)
# A session row made from the values just inserted, read like the rows queries return.
SessionRow = fast.row_type(sessions)
# SET comes from the parameters' keys; the session's SID travels under another name.
_UPDATE = update(sessions).where(sessions.c.sid == bindparam("where_sid"))
_IN_ACCOUNT = (
    select(sessions)
    .join(services, services.c.sid == sessions.c.service_sid)
    .where(
        sessions.c.sid == bindparam("sid"),
        services.c.sid == bindparam("service_sid"),
        services.c.account_sid == bindparam("account_sid"),
    )
)
_IN_ACCOUNT_LOCKED = _IN_ACCOUNT.with_for_update(of=sessions)


def get_session(
    conn: Connection, service_sid: str, key: str, *, for_update: bool = False
) -> Row[Any] | None:
    """A session of the service by SID or by unique name; locked for update when asked."""
    by_sid = is_sid(key, SESSION)
    by_name = _BY_NAME_LOCKED if for_update else _BY_NAME
    stmt = (_BY_SID_LOCKED if for_update else _BY_SID) if by_sid else by_name
    values = {"service_sid": service_sid, "sid" if by_sid else "name": key}
    row = fast.first(conn, stmt, values)
    if row is None and by_sid:
        row = fast.first(conn, by_name, {"service_sid": service_sid, "name": key})
    return row


def get_session_in_account(
    conn: Connection, account_sid: str, service_sid: str, sid: str, *, for_update: bool = False
) -> Row[Any] | None:
    """The session by SID, in the account's service by SID: both lookups in one query."""
    stmt = _IN_ACCOUNT_LOCKED if for_update else _IN_ACCOUNT
    values = {"sid": sid, "service_sid": service_sid, "account_sid": account_sid}
    return fast.first(conn, stmt, values)


def get_session_by_sid(conn: Connection, sid: str, *, for_update: bool = False) -> Row[Any] | None:
    stmt = _BY_SID_ONLY_LOCKED if for_update else _BY_SID_ONLY
    return fast.first(conn, stmt, {"sid": sid})


_DUE = (
    select(sessions)
    .where(sessions.c.expires_at <= bindparam("now"))
    .order_by(sessions.c.expires_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)


_DUE_IN_ACCOUNT = (
    select(sessions)
    .where(
        sessions.c.expires_at <= bindparam("now"), sessions.c.account_sid == bindparam("account")
    )
    .order_by(sessions.c.expires_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
# The same, for the one who moved the account's clock: rows another transaction is closing
# are waited for (and, closed by then, are no longer due), not skipped.
_DUE_IN_ACCOUNT_WAITING = _DUE_IN_ACCOUNT.with_for_update()


def due_sessions(
    conn: Connection, now: int, limit: int, account_sid: str | None = None, wait: bool = False
) -> list[Any]:
    """Active sessions whose deadline has passed, oldest deadline first, locked for closing;
    with `account_sid`, that account's only (its sandbox clock may run ahead). A session
    another transaction is closing is left to it, or with `wait` (and an account), waited
    for: the caller answers once they are all closed.

    Closed sessions have no deadline, and the index on `expires_at` holds only sessions that
    have one: live sessions with a TTL or a DateExpiry.
    """
    if account_sid is None:
        return fast.all_rows(conn, _DUE, {"now": now, "limit": limit})
    return fast.all_rows(
        conn,
        _DUE_IN_ACCOUNT_WAITING if wait else _DUE_IN_ACCOUNT,
        {"now": now, "limit": limit, "account": account_sid},
    )


def insert_session(conn: Connection, values: dict[str, Any]) -> Any | None:
    """Insert a session; its row, or None when its unique name is taken in its service."""
    new_id = _INSERT_UNLESS_TAKEN.run(conn, values)
    if new_id is None:
        return None
    return SessionRow(id=new_id, **values)


def update_session(conn: Connection, sid: str, values: dict[str, Any]) -> None:
    fast.write_later(conn, _UPDATE, {**values, "where_sid": sid})


def _activity(opens: bool, deadline: bool) -> Any:
    """An interaction's mark on its session, written only while the session is active: a
    session that closed meanwhile stays closed. The deadline is worked out from the row as it
    stands when the update runs (as sessions/rules.py's `expires_at` would, the interaction
    being the last), so that a TTL changed meanwhile counts."""
    now: Any = bindparam("now")
    values: dict[str, Any] = {"date_last_interaction": now, "date_updated": now}
    if opens:
        values["status"] = "in-progress"
    if deadline:
        c = sessions.c
        since = case((c.ttl_base > now, c.ttl_base), else_=now)
        values["expires_at"] = case(
            (c.date_expiry.is_not(None), c.date_expiry),
            # In 64 bits: a TTL over 24.8 days, in milliseconds, overflows PostgreSQL's integer.
            (c.ttl > 0, since + cast(c.ttl, BigInteger) * 1000),
            else_=None,
        )
    active = or_(sessions.c.status == ACTIVE[0], sessions.c.status == ACTIVE[1])
    return update(sessions).where(sessions.c.sid == bindparam("where_sid"), active).values(values)


# By (whether it opens the session, whether the session has a deadline to move).
_ACTIVITY = {(o, d): _activity(o, d) for o in (False, True) for d in (False, True)}


def record_activity(conn: Connection, sid: str, now: int, *, opens: bool, deadline: bool) -> None:
    """An interaction at `now`: its time, in-progress if it `opens` the session, and the
    session's deadline moved if it has one (see `_activity`). Deferred: its row lock is taken
    with the transaction's commit, not held through the transaction's other round trips."""
    fast.write_later(conn, _ACTIVITY[(opens, deadline)], {"where_sid": sid, "now": now})


def delete_session(conn: Connection, sid: str) -> None:
    conn.execute(delete(sessions).where(sessions.c.sid == sid))


_OF_SERVICE = select(sessions).where(sessions.c.service_sid == bindparam("service_sid"))


def list_sessions(
    conn: Connection, service_sid: str, request: PageRequest
) -> tuple[list[Row[Any]], bool]:
    return fetch_page(conn, _OF_SERVICE, sessions.c.id, request, {"service_sid": service_sid})


def delete_closed_before(
    conn: Connection, cutoff: int, limit: int, account_sid: str | None = None
) -> int:
    """Delete up to `limit` sessions closed before `cutoff`; their participants and
    interactions go with them (ON DELETE CASCADE)."""
    closed = (sessions.c.status == "closed") & (sessions.c.date_ended < cutoff)
    return delete_some(conn, sessions, closed, limit, account_sid)
