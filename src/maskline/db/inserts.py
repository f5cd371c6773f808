"""An INSERT that leaves an existing row alone, on either engine."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def insert_unless_present(conn: Connection, table: Table, **values: Any) -> None:
    """Insert the row, or nothing when one with the same key is there already (two callers at
    once both succeed). Both dialects spell it `ON CONFLICT DO NOTHING`, through their own
    construct."""
    dialect_insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(dialect_insert(table).values(**values).on_conflict_do_nothing())
