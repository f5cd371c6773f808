"""When new work falls due: noted by the transaction that makes it, told to the worker after.

A transaction that schedules a job or a callback notes its due time on its connection; the
request that ran it passes the earliest one to `Runtime.wake_for`, which wakes the in-process
worker at once for work due now and remembers later times, so the worker sleeps until the
next of them instead of running a round after every write.
"""

from __future__ import annotations

from sqlalchemy import Connection

_KEY = "maskline_work_due"


def note_due(conn: Connection, due_at_ms: int) -> None:
    """Work this transaction made falls due at `due_at_ms` (the clock's milliseconds)."""
    info = conn.info
    current = info.get(_KEY)
    if current is None or due_at_ms < current:
        info[_KEY] = due_at_ms


def take_due(conn: Connection) -> int | None:
    """The earliest due time noted on the connection since the last call, if any."""
    value = conn.info.pop(_KEY, None)
    return None if value is None else int(value)
