"""The one query shape behind every list: a keyset range on a table's `id`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Connection, Select, bindparam

from maskline.db import fast
from maskline.web.paging import PageRequest

# Each list's three statements (first page, after a row, before a row), built once per list.
_shapes: dict[tuple[int, str], tuple[Select[Any], Select[Any]]] = {}


def _shape(stmt: Select[Any], id_column: Column[Any], kind: str) -> Select[Any]:
    key = (id(stmt), kind)
    found = _shapes.get(key)
    if found is not None and found[0] is stmt:
        return found[1]
    limit: Any = bindparam("page_limit")
    if kind == "before":
        shaped = stmt.where(id_column < bindparam("page_id")).order_by(id_column.desc())
    elif kind == "after":
        shaped = stmt.where(id_column > bindparam("page_id")).order_by(id_column)
    else:
        shaped = stmt.order_by(id_column)
    shaped = shaped.limit(limit)
    _shapes[key] = (stmt, shaped)
    return shaped


def fetch_page(
    conn: Connection,
    stmt: Select[Any],
    id_column: Column[Any],
    request: PageRequest,
    params: dict[str, Any] | None = None,
) -> tuple[list[Any], bool]:
    """The rows of one page in ascending `id` order, and whether more lie beyond it.

    With `params`, `stmt` is a list's fixed statement (its filters bound parameters, built
    once): its page statements are built once too and run on the driver. Without, `stmt` is
    built for this call and runs through SQLAlchemy.
    """
    limit = request.size + 1
    if params is None:
        return _fetch_built(conn, stmt, id_column, request)
    kind = (
        "before"
        if request.before is not None
        else "after"
        if request.after is not None
        else "first"
    )
    values = {**params, "page_limit": limit}
    if kind != "first":
        values["page_id"] = request.before if kind == "before" else request.after
    rows = fast.all_rows(conn, _shape(stmt, id_column, kind), values)
    has_more = len(rows) > request.size
    rows = rows[: request.size]
    if kind == "before":
        rows.reverse()
    return rows, has_more


def _fetch_built(
    conn: Connection, stmt: Select[Any], id_column: Column[Any], request: PageRequest
) -> tuple[list[Any], bool]:
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
