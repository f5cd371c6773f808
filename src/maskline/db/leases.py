"""Leasing claimed rows of an outbox table (jobs, callbacks) to the worker that claimed them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, update


def lease(conn: Connection, table: Table, rows: list[Any], until: int) -> None:
    """Other workers skip these rows until `until` (clock ms); each counts one more attempt."""
    if rows:
        conn.execute(
            update(table)
            .where(table.c.id.in_([row.id for row in rows]))
            .values(leased_until=until, attempts=table.c.attempts + 1)
        )
