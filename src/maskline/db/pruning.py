"""Deleting old rows a batch at a time (the retention sweep, retention.py).

`DELETE ... WHERE id IN (SELECT id ... LIMIT n)` bounds each transaction, so a sweep never
holds SQLite's write lock, or PostgreSQL's row locks, for long. The condition is repeated
outside the subquery: on PostgreSQL a row changed by another transaction meanwhile (a closed
session opened again) is checked afresh before it is deleted.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, Table, delete, select


def delete_some(
    conn: Connection,
    table: Table,
    condition: ColumnElement[bool],
    limit: int,
    account_sid: str | None = None,
) -> int:
    """Delete at most `limit` rows of `table` that meet `condition` (and belong to
    `account_sid`, when given); how many went."""
    if account_sid is not None:
        condition = condition & (table.c.account_sid == account_sid)
    chosen = select(table.c.id).where(condition).limit(limit).scalar_subquery()
    result = conn.execute(delete(table).where(table.c.id.in_(chosen), condition))
    return int(result.rowcount)
