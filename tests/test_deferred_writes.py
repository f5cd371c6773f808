"""Writes whose outcome nobody reads wait for the transaction's next statement or its COMMIT.

On PostgreSQL `fast.write_later` queues the write on the connection and sends it in one round
trip with whatever goes out next (db/libpq.py); on SQLite it runs at once. Either way a later
statement of the transaction sees it, a failure in it fails the transaction and leaves
nothing of it, and a rollback forgets it, so it can never land in the next transaction.
"""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from maskline.db import fast
from maskline.jobs.tables import jobs
from maskline.runtime import Runtime
from tests.support import ENGINE

_INSERT = insert(jobs)
_COUNT = select(func.count()).select_from(jobs).where(jobs.c.kind.like("test.%"))
NOT_NULL = "(?i)not[ -]null"  # SQLite: NOT NULL constraint failed; PostgreSQL: not-null


def job(kind: str | None, n: int = 0) -> dict[str, object]:
    return {"kind": kind, "payload": f'{{"n":{n}}}', "due_at": 0, "attempts": 0, "date_created": 0}


def count(conn: Connection) -> int:
    return int(fast.scalar(conn, _COUNT, {}) or 0)


def committed(runtime: Runtime) -> int:
    with runtime.transaction(writes=False) as conn:
        return count(conn)


def test_later_statements_see_deferred_writes_and_the_commit_keeps_them(
    runtime: Runtime,
) -> None:
    with runtime.transaction() as conn:
        fast.write_later(conn, _INSERT, job("test.a"))
        fast.write_many_later(conn, _INSERT, [job("test.b", 1), job("test.b", 2)])
        assert count(conn) == 3
        # A statement through SQLAlchemy (psycopg's own cursor) sees them too.
        fast.write_later(conn, _INSERT, job("test.c"))
        assert conn.execute(_COUNT).scalar_one() == 4
        fast.write_later(conn, _INSERT, job("test.d"))  # goes out with the COMMIT
    assert committed(runtime) == 5


def test_a_failing_deferred_write_fails_its_transaction_and_leaves_nothing(
    runtime: Runtime,
) -> None:
    with pytest.raises(Exception, match=NOT_NULL), runtime.transaction() as conn:
        fast.write(conn, _INSERT, job("test.kept-only-if-all-is"))
        fast.write_later(conn, _INSERT, job(None))
        count(conn)  # on PostgreSQL the failure surfaces here, with this statement
    assert committed(runtime) == 0
    # The connection serves the next transaction.
    with runtime.transaction() as conn:
        fast.write_later(conn, _INSERT, job("test.after"))
    assert committed(runtime) == 1


def test_a_deferred_write_that_fails_at_the_commit_leaves_nothing(runtime: Runtime) -> None:
    with pytest.raises(Exception, match=NOT_NULL), runtime.transaction() as conn:
        fast.write_later(conn, _INSERT, job("test.first"))
        fast.write_later(conn, _INSERT, job(None))
    assert committed(runtime) == 0
    with runtime.transaction() as conn:
        fast.write_later(conn, _INSERT, job("test.after"))
    assert committed(runtime) == 1


def test_a_rollback_forgets_deferred_writes(runtime: Runtime) -> None:
    with pytest.raises(RuntimeError), runtime.transaction() as conn:
        fast.write_later(conn, _INSERT, job("test.rolled-back"))
        raise RuntimeError("the request failed after its write")
    # Had the write stayed queued, it would go out with this transaction's first statement.
    with runtime.transaction() as conn:
        assert count(conn) == 0
        fast.write_later(conn, _INSERT, job("test.after"))
    assert committed(runtime) == 1


def test_a_rolled_back_savepoint_drops_what_was_queued_inside_it(runtime: Runtime) -> None:
    with runtime.transaction() as conn:
        fast.write_later(conn, _INSERT, job("test.before"))
        try:
            with conn.begin_nested():
                fast.write_later(conn, _INSERT, job("test.undone"))
                fast.write_later(conn, _INSERT, job(None))  # would fail, were it sent
                raise RuntimeError("the savepoint's work failed")
        except RuntimeError:
            pass
        except IntegrityError:
            # SQLite runs the write at once: it fails there, and the savepoint is undone.
            assert ENGINE == "sqlite"
        fast.write_later(conn, _INSERT, job("test.after"))
    with runtime.transaction(writes=False) as conn:
        kinds = sorted(conn.execute(select(jobs.c.kind).where(jobs.c.kind.like("test.%"))))
    assert [kind for (kind,) in kinds] == ["test.after", "test.before"]


def test_a_commit_never_reports_a_transaction_postgresql_rolled_back(runtime: Runtime) -> None:
    """A statement that failed inside a transaction, its error swallowed by the caller."""
    failed = False
    try:
        with runtime.transaction() as conn:
            fast.write(conn, _INSERT, job("test.kept-only-if-committed"))
            with contextlib.suppress(IntegrityError):
                fast.write(conn, _INSERT, job(None))
    except Exception as exc:
        failed = True
        assert ENGINE == "postgresql", exc
    if ENGINE == "postgresql":
        # The failure aborted the transaction: its COMMIT rolls back, and says so.
        assert failed
        assert committed(runtime) == 0
    else:
        # SQLite undoes the failed statement alone; the transaction goes on and commits.
        assert committed(runtime) == 1
