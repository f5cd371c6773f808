"""Queries on the numbers table: inventory, pool membership and the pool's usage counters."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, select, update

from maskline.db import fast
from maskline.db.paging import fetch_page
from maskline.numbers.tables import numbers
from maskline.web.paging import PageRequest

_BY_SID = select(numbers).where(numbers.c.sid == bindparam("sid"))
_IN_USE_DELTA = (
    update(numbers)
    .where(numbers.c.sid == bindparam("number_sid"))
    .values(in_use=numbers.c.in_use + bindparam("delta"))
)


def get_number(conn: Connection, sid: str) -> Any | None:
    return fast.first(conn, _BY_SID, {"sid": sid})


def get_number_by_value(conn: Connection, kind: str, value: str) -> Row[Any] | None:
    stmt = select(numbers).where(numbers.c.kind == kind, numbers.c.phone_number == value)
    return conn.execute(stmt).first()


def insert_number(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(numbers).values(**values))


def update_number(conn: Connection, sid: str, values: dict[str, Any]) -> None:
    conn.execute(update(numbers).where(numbers.c.sid == sid).values(**values))


def pool_size(conn: Connection, service_sid: str) -> int:
    stmt = select(func.count()).select_from(numbers).where(numbers.c.service_sid == service_sid)
    return int(conn.execute(stmt).scalar_one())


def get_pool_number(conn: Connection, service_sid: str, kind: str, sid: str) -> Row[Any] | None:
    stmt = select(numbers).where(
        numbers.c.sid == sid, numbers.c.service_sid == service_sid, numbers.c.kind == kind
    )
    return conn.execute(stmt).first()


_POOL = select(numbers).where(
    numbers.c.service_sid == bindparam("service_sid"), numbers.c.kind == bindparam("kind")
)


def list_pool(
    conn: Connection, service_sid: str, kind: str, request: PageRequest
) -> tuple[list[Row[Any]], bool]:
    values = {"service_sid": service_sid, "kind": kind}
    return fetch_page(conn, _POOL, numbers.c.id, request, values)


def release_service_numbers(conn: Connection, service_sid: str) -> None:
    conn.execute(
        update(numbers)
        .where(numbers.c.service_sid == service_sid)
        .values(
            service_sid=None, is_reserved=False, in_use=0, date_added=None, date_pool_updated=None
        )
    )


def change_in_use(conn: Connection, number_sid: str, delta: int) -> None:
    fast.write_later(conn, _IN_USE_DELTA, {"number_sid": number_sid, "delta": delta})


def use_pool_number(conn: Connection, number_sid: str, service_sid: str) -> bool:
    """Count one more active session on a number, only while it is in `service_sid`'s pool.

    One guarded statement, so a concurrent removal from the pool either sees the new count
    (and refuses, 80611) or wins, and then this returns False.
    """
    result = conn.execute(
        update(numbers)
        .where(numbers.c.sid == number_sid, numbers.c.service_sid == service_sid)
        .values(in_use=numbers.c.in_use + 1)
    )
    return result.rowcount == 1
