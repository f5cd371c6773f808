"""The sandbox clock's offset, kept in the database so that every process and restart agrees."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from maskline.clock import Clock
from maskline.db import fast
from maskline.sandbox.tables import sandbox_clock

# Read by every round of the worker.
_OFFSET = select(sandbox_clock.c.offset_ms).where(sandbox_clock.c.id == 1)


def load_offset(conn: Connection) -> int:
    value = fast.scalar(conn, _OFFSET, {})
    return int(value or 0)


def advance(conn: Connection, clock: Clock, seconds: float) -> int:
    """Move the shared clock forward; the new offset in ms."""
    delta = int(seconds * 1000)
    result = conn.execute(
        update(sandbox_clock)
        .where(sandbox_clock.c.id == 1)
        .values(offset_ms=sandbox_clock.c.offset_ms + delta)
    )
    if result.rowcount == 0:
        conn.execute(insert(sandbox_clock).values(id=1, offset_ms=delta))
    offset = load_offset(conn)
    clock.offset_ms = offset
    return offset
