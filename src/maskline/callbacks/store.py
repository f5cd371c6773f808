"""Queries on the callback outbox: enqueue, claim with a lease, record attempts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, or_, select, update

from maskline.callbacks.tables import DELIVERED, FAILED, PENDING, callback_attempts, callbacks
from maskline.db import fast
from maskline.db.leases import lease
from maskline.db.paging import fetch_page
from maskline.db.pruning import delete_some
from maskline.wakeups import note_due
from maskline.web.paging import PageRequest


def insert_callback(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(callbacks).values(**values))
    note_due(conn, values["due_at"])


# Run by every round of the worker.
_DUE = (
    select(callbacks)
    .where(
        callbacks.c.status == PENDING,
        callbacks.c.due_at <= bindparam("now"),
        or_(callbacks.c.leased_until.is_(None), callbacks.c.leased_until < bindparam("now")),
    )
    .order_by(callbacks.c.due_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)


_DUE_IN_ACCOUNT = _DUE.where(callbacks.c.account_sid == bindparam("account"))


def claim_due(
    conn: Connection, now: int, lease_ms: int, limit: int, account_sid: str | None = None
) -> list[Any]:
    """Take up to `limit` due callbacks for this worker (of one account's, with `account_sid`:
    its sandbox clock may run ahead); others skip them until the lease ends.

    PostgreSQL skips rows another worker is claiming at the same moment (SKIP LOCKED); SQLite
    serialises writers, so the same statement is safe there too.
    """
    if account_sid is None:
        rows = fast.all_rows(conn, _DUE, {"now": now, "limit": limit})
    else:
        values = {"now": now, "limit": limit, "account": account_sid}
        rows = fast.all_rows(conn, _DUE_IN_ACCOUNT, values)
    lease(conn, callbacks, rows, now + lease_ms)
    return rows


def put_back(conn: Connection, callback_ids: list[int], due_at: int) -> None:
    """Release claimed callbacks unattempted, due again at `due_at`: their claim counted an
    attempt (db/leases.py), which is taken back."""
    conn.execute(
        update(callbacks)
        .where(callbacks.c.id.in_(callback_ids))
        .values(due_at=due_at, leased_until=None, attempts=callbacks.c.attempts - 1)
    )
    note_due(conn, due_at)


def record_attempt(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(callback_attempts).values(**values))


def finish(conn: Connection, callback_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(callbacks).where(callbacks.c.id == callback_id).values(**values))


def next_due(conn: Connection) -> int | None:
    stmt = (
        select(callbacks.c.due_at).where(callbacks.c.status == PENDING).order_by(callbacks.c.due_at)
    )
    value = conn.execute(stmt.limit(1)).scalar()
    return int(value) if value is not None else None


def list_callbacks(
    conn: Connection, account_sid: str, request: PageRequest, session_sid: str | None = None
) -> tuple[list[Row[Any]], bool]:
    stmt = select(callbacks).where(callbacks.c.account_sid == account_sid)
    if session_sid:
        stmt = stmt.where(callbacks.c.session_sid == session_sid)
    return fetch_page(conn, stmt, callbacks.c.id, request)


def attempts_of(conn: Connection, callback_ids: list[int]) -> dict[int, list[Row[Any]]]:
    found: dict[int, list[Row[Any]]] = {cid: [] for cid in callback_ids}
    if not callback_ids:
        return found
    stmt = (
        select(callback_attempts)
        .where(callback_attempts.c.callback_id.in_(callback_ids))
        .order_by(callback_attempts.c.id)
    )
    for row in conn.execute(stmt):
        found[row.callback_id].append(row)
    return found


def delete_finished_before(
    conn: Connection, cutoff: int, limit: int, account_sid: str | None = None
) -> int:
    """Delete up to `limit` callbacks delivered or failed for good before `cutoff`, with their
    attempts (ix_callbacks_due finds them)."""
    finished = callbacks.c.status.in_((DELIVERED, FAILED)) & (callbacks.c.due_at < cutoff)
    return delete_some(conn, callbacks, finished, limit, account_sid)
