"""A service's pool: adding numbers to it, reserving them, taking them out."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, update

from maskline.clock import Clock
from maskline.errors import NumberInAnotherService, NumberInUse, PoolFull, ProxyError
from maskline.numbers import store
from maskline.numbers.tables import numbers


def add_to_pool(
    conn: Connection,
    clock: Clock,
    *,
    service_sid: str,
    number: Any,
    is_reserved: bool,
    already_here: type[ProxyError],
    max_pool_numbers: int,
) -> None:
    if number.service_sid == service_sid:
        raise already_here()
    if number.service_sid is not None:
        raise NumberInAnotherService()
    if max_pool_numbers and store.pool_size(conn, service_sid) >= max_pool_numbers:
        raise PoolFull(f"The service's pool already holds {max_pool_numbers} numbers")
    now = clock.now_ms()
    # The `service_sid IS NULL` guard makes a concurrent add of the same number lose cleanly.
    result = conn.execute(
        update(numbers)
        .where(numbers.c.sid == number.sid, numbers.c.service_sid.is_(None))
        .values(
            service_sid=service_sid,
            is_reserved=is_reserved,
            in_use=0,
            date_added=now,
            date_pool_updated=now,
        )
    )
    if result.rowcount != 1:
        raise NumberInAnotherService()


def set_reserved(conn: Connection, clock: Clock, *, number: Any, is_reserved: bool) -> None:
    store.update_number(
        conn, number.sid, {"is_reserved": is_reserved, "date_pool_updated": clock.now_ms()}
    )


def remove_from_pool(conn: Connection, *, number: Any) -> None:
    # `in_use = 0` in the statement, not a check before it, so a session taking the number at
    # the same moment cannot slip between.
    result = conn.execute(
        update(numbers)
        .where(numbers.c.sid == number.sid, numbers.c.in_use == 0)
        .values(service_sid=None, is_reserved=False, date_added=None, date_pool_updated=None)
    )
    if result.rowcount != 1:
        raise NumberInUse()


def capabilities(row: Any) -> dict[str, bool]:
    return {
        "fax": bool(row.fax),
        "mms": bool(row.mms),
        "sms": bool(row.sms),
        "voice": bool(row.voice),
    }
