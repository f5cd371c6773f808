"""Each account's sandbox clock, kept in the database so that every process and restart agrees.

`POST /sandbox/v1/Clock` moves the caller's clock only: one call by at most MAX_ADVANCE_S, and
an account's clock never more than MAX_OFFSET_MS ahead of wall time, so no date Maskline
computes from it (a session's expiry, a TTL, a status step) can pass what the API can show.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from maskline.db import fast
from maskline.db.inserts import insert_unless_present
from maskline.errors import InvalidParameter
from maskline.sandbox.tables import sandbox_clocks

MAX_ADVANCE_S = 366 * 86_400
MAX_OFFSET_DAYS = 3_660
MAX_OFFSET_MS = MAX_OFFSET_DAYS * 86_400_000

# Read by every round of the worker: the table holds a row per account that moved its clock.
_OFFSETS = select(sandbox_clocks.c.account_sid, sandbox_clocks.c.offset_ms)


def load_offsets(conn: Connection) -> dict[str, int]:
    rows = fast.all_rows(conn, _OFFSETS, {})
    return {str(row.account_sid): int(row.offset_ms) for row in rows}


def advance(conn: Connection, account_sid: str, seconds: int) -> int:
    """Move the account's clock forward in the database; its new offset in ms. Two calls at
    once both count: the row is made if missing, then moved in one statement that also checks
    the bound. The process's clock learns the move from its caller once it is committed: the
    worker must not act on a time that may yet be rolled back."""
    insert_unless_present(conn, sandbox_clocks, account_sid=account_sid, offset_ms=0)
    delta = seconds * 1000
    moved = conn.execute(
        update(sandbox_clocks)
        .where(
            sandbox_clocks.c.account_sid == account_sid,
            sandbox_clocks.c.offset_ms + delta <= MAX_OFFSET_MS,
        )
        .values(offset_ms=sandbox_clocks.c.offset_ms + delta)
        .returning(sandbox_clocks.c.offset_ms)
    ).scalar()
    if moved is None:
        raise InvalidParameter(
            "Advance", f"would take the account's clock more than {MAX_OFFSET_DAYS} days ahead"
        )
    return int(moved)
