"""Queries on scheduled jobs: add, claim with a lease, finish."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson
from sqlalchemy import Connection, Row, bindparam, delete, insert, or_, select, update

from maskline.db import fast
from maskline.jobs.tables import jobs
from maskline.wakeups import note_due

_INSERT = insert(jobs)


def schedule(
    conn: Connection, *, kind: str, payload: dict[str, Any], due_at: int, now: int
) -> None:
    schedule_all(conn, kind=kind, steps=[(due_at, payload)], now=now)


def schedule_all(
    conn: Connection, *, kind: str, steps: list[tuple[int, dict[str, Any]]], now: int
) -> None:
    """Schedule jobs of one kind: (due_at, payload) each, in one statement."""
    rows = [
        {
            "kind": kind,
            "payload": orjson.dumps(payload).decode(),
            "due_at": due_at,
            "attempts": 0,
            "date_created": now,
        }
        for due_at, payload in steps
    ]
    fast.write_many(conn, _INSERT, rows)
    for due_at, _ in steps:
        note_due(conn, due_at)


def claim_due(
    conn: Connection, now: int, lease_ms: int, limit: int, kinds: Collection[str]
) -> list[Row[Any]]:
    """Take up to `limit` due jobs of these kinds; others skip them until the lease ends."""
    stmt = (
        select(jobs)
        .where(
            jobs.c.due_at <= now,
            or_(jobs.c.leased_until.is_(None), jobs.c.leased_until < now),
            jobs.c.kind.in_(sorted(kinds)),
        )
        .order_by(jobs.c.due_at, jobs.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(conn.execute(stmt))
    if rows:
        conn.execute(
            update(jobs)
            .where(jobs.c.id.in_([row.id for row in rows]))
            .values(leased_until=now + lease_ms, attempts=jobs.c.attempts + 1)
        )
    return rows


_FINISH = delete(jobs).where(jobs.c.id == bindparam("job_id"))


def finish(conn: Connection, job_id: int) -> None:
    fast.write(conn, _FINISH, {"job_id": job_id})


def finish_all(conn: Connection, job_ids: list[int]) -> None:
    if job_ids:
        conn.execute(delete(jobs).where(jobs.c.id.in_(job_ids)))


def reschedule(conn: Connection, job_id: int, *, due_at: int, payload: dict[str, Any]) -> None:
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id)
        .values(due_at=due_at, leased_until=None, payload=orjson.dumps(payload).decode())
    )
