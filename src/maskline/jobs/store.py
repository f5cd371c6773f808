"""Queries on scheduled jobs: add, claim with a lease, finish."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson
from sqlalchemy import Connection, Select, bindparam, delete, insert, or_, select, update

from maskline.db import fast
from maskline.db.leases import lease
from maskline.jobs.tables import jobs
from maskline.wakeups import note_due

_INSERT = insert(jobs)


def schedule(
    conn: Connection, *, kind: str, payload: dict[str, Any], due_at: int, now: int
) -> None:
    schedule_all(conn, kind=kind, steps=[(due_at, payload)], now=now)


def schedule_all(
    conn: Connection,
    *,
    kind: str,
    steps: list[tuple[int, dict[str, Any]]],
    now: int,
    account_sid: str | None = None,
) -> None:
    """Schedule jobs of one kind: (due_at, payload) each, in one statement. `account_sid`
    names the account whose sandbox clock the due times are read on."""
    rows = [
        {
            "kind": kind,
            "account_sid": account_sid,
            "payload": orjson.dumps(payload).decode(),
            "due_at": due_at,
            "attempts": 0,
            "date_created": now,
        }
        for due_at, payload in steps
    ]
    fast.write_many_later(conn, _INSERT, rows)
    for due_at, _ in steps:
        note_due(conn, due_at)


def claim_due(
    conn: Connection,
    now: int,
    lease_ms: int | None,
    limit: int,
    kinds: Collection[str],
    account_sid: str | None = None,
) -> list[Any]:
    """Take up to `limit` due jobs of these kinds (of one account's, with `account_sid`).

    With `lease_ms`, other workers skip them until the lease ends, even once this transaction
    has committed: for jobs run after it. Without, only this transaction holds them (SQLite
    runs one writer at a time; PostgreSQL's row locks make other workers skip them), which is
    enough when the jobs are run and finished in it: they are gone when it commits, and
    nothing is left behind when it rolls back.
    """
    query = _due_query(tuple(sorted(kinds)), by_account=account_sid is not None)
    values: dict[str, Any] = {"now": now, "limit": limit}
    if account_sid is not None:
        values["account"] = account_sid
    rows = fast.all_rows(conn, query, values)
    if lease_ms is not None:
        lease(conn, jobs, rows, now + lease_ms)
    return rows


_DUE_QUERIES: dict[tuple[tuple[str, ...], bool], Select[Any]] = {}


def _due_query(kinds: tuple[str, ...], *, by_account: bool) -> Select[Any]:
    """The due jobs of these kinds, oldest first: built once for each set of kinds."""
    stmt = _DUE_QUERIES.get((kinds, by_account))
    if stmt is None:
        conditions = [
            jobs.c.due_at <= bindparam("now"),
            or_(jobs.c.leased_until.is_(None), jobs.c.leased_until < bindparam("now")),
            or_(*(jobs.c.kind == kind for kind in kinds)),
        ]
        if by_account:
            conditions.append(jobs.c.account_sid == bindparam("account"))
        stmt = _DUE_QUERIES[kinds, by_account] = (
            select(jobs)
            .where(*conditions)
            .order_by(jobs.c.due_at, jobs.c.id)
            .limit(bindparam("limit"))
            .with_for_update(skip_locked=True)
        )
    return stmt


_FINISH = delete(jobs).where(jobs.c.id == bindparam("job_id"))


def finish(conn: Connection, job_id: int) -> None:
    fast.write(conn, _FINISH, {"job_id": job_id})


def finish_all(conn: Connection, job_ids: list[int]) -> None:
    fast.write_many_later(conn, _FINISH, [{"job_id": job_id} for job_id in job_ids])


def reschedule(conn: Connection, job_id: int, *, due_at: int, payload: dict[str, Any]) -> None:
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id)
        .values(due_at=due_at, leased_until=None, payload=orjson.dumps(payload).decode())
    )
