"""Scheduled jobs: a batch runs in one transaction, and a job that fails is rolled back alone."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from maskline import worker
from maskline.clock import Clock
from maskline.jobs import store as jobs_store
from maskline.jobs.tables import jobs
from maskline.runtime import Runtime


def _schedule(runtime: Runtime, kind: str, payload: dict[str, Any]) -> None:
    now = runtime.clock.now_ms()
    with runtime.transaction() as conn:
        jobs_store.schedule(conn, kind=kind, payload=payload, due_at=now, now=now)


def _count(runtime: Runtime, kind: str) -> int:
    with runtime.transaction(writes=False) as conn:
        stmt = select(func.count()).select_from(jobs).where(jobs.c.kind == kind)
        return int(conn.execute(stmt).scalar_one())


def _leased(runtime: Runtime, kind: str) -> list[Any]:
    with runtime.transaction(writes=False) as conn:
        return list(conn.execute(select(jobs.c.leased_until).where(jobs.c.kind == kind)))


def _succeed(conn: Connection, clock: Clock, payload: dict[str, Any]) -> None:
    # A write the job's transaction must keep exactly once: a job of another kind.
    now = clock.now_ms()
    jobs_store.schedule(conn, kind="test.done", payload=payload, due_at=now + 3_600_000, now=now)


def _fail(conn: Connection, clock: Clock, payload: dict[str, Any]) -> None:
    _succeed(conn, clock, payload)  # written, then rolled back with the failure
    raise RuntimeError("this job always fails")


HANDLERS = {"test.ok": _succeed, "test.boom": _fail}


def test_a_batch_of_jobs_runs_and_each_is_done_once(runtime: Runtime) -> None:
    for n in range(5):
        _schedule(runtime, "test.ok", {"n": n})
    assert worker.run_due_jobs(runtime, HANDLERS) == 5
    assert _count(runtime, "test.ok") == 0
    assert _count(runtime, "test.done") == 5
    assert worker.run_due_jobs(runtime, HANDLERS) == 0


def test_a_failing_job_is_rolled_back_alone_and_kept_for_later(runtime: Runtime) -> None:
    _schedule(runtime, "test.ok", {"n": 1})
    _schedule(runtime, "test.boom", {"n": 2})
    _schedule(runtime, "test.ok", {"n": 3})
    assert worker.run_due_jobs(runtime, HANDLERS) == 3
    # The two good jobs are done, once each, though their first run was rolled back.
    assert _count(runtime, "test.ok") == 0
    assert _count(runtime, "test.done") == 2
    # The failing one left nothing behind but itself, leased until it is tried again.
    assert _count(runtime, "test.boom") == 1
    (leased,) = _leased(runtime, "test.boom")
    assert leased.leased_until is not None
    assert leased.leased_until > runtime.clock.now_ms()
    # Within its lease it is not claimed again.
    assert worker.run_due_jobs(runtime, HANDLERS) == 0
