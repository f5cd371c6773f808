"""The one query shape behind every list: a keyset range on a table's `id`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Connection, Select

from maskline.web.paging import PageRequest


def fetch_page(
    conn: Connection, stmt: Select[Any], id_column: Column[Any], request: PageRequest
) -> tuple[list[Any], bool]:
    """The rows of one page in ascending `id` order, and whether more lie beyond it."""
    limit = request.size + 1
    if request.before is not None:
        stmt = stmt.where(id_column < request.before).order_by(id_column.desc()).limit(limit)
        rows = list(conn.execute(stmt))
        has_more = len(rows) > request.size
        rows = rows[: request.size]
        rows.reverse()
        return rows, has_more
    if request.after is not None:
        stmt = stmt.where(id_column > request.after)
    rows = list(conn.execute(stmt.order_by(id_column).limit(limit)))
    has_more = len(rows) > request.size
    return rows[: request.size], has_more
