"""Adding short codes to a pool, reserving them and taking them out."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row

from maskline.clock import Clock
from maskline.errors import NotFound, ShortCodeAlreadyInService, ShortCodeNotOwned
from maskline.numbers import pool, store
from maskline.numbers.tables import SHORT_CODE


def create_short_code(
    conn: Connection,
    clock: Clock,
    *,
    account_sid: str,
    service_sid: str,
    sid: str,
    max_pool_numbers: int,
) -> Row[Any]:
    number = store.get_number(conn, sid)
    if number is None or number.account_sid != account_sid or number.kind != SHORT_CODE:
        raise ShortCodeNotOwned(f"Short code {sid} was not found on this account")
    pool.add_to_pool(
        conn,
        clock,
        service_sid=service_sid,
        number=number,
        is_reserved=False,
        already_here=ShortCodeAlreadyInService,
        max_pool_numbers=max_pool_numbers,
    )
    return fetch_short_code(conn, service_sid=service_sid, sid=sid)


def fetch_short_code(conn: Connection, *, service_sid: str, sid: str) -> Row[Any]:
    row = store.get_pool_number(conn, service_sid, SHORT_CODE, sid)
    if row is None:
        raise NotFound(f"The requested ShortCode {sid} was not found")
    return row


def update_short_code(
    conn: Connection, clock: Clock, *, service_sid: str, sid: str, is_reserved: bool | None
) -> Row[Any]:
    number = fetch_short_code(conn, service_sid=service_sid, sid=sid)
    if is_reserved is not None:
        pool.set_reserved(conn, clock, number=number, is_reserved=is_reserved)
    return fetch_short_code(conn, service_sid=service_sid, sid=sid)


def delete_short_code(conn: Connection, *, service_sid: str, sid: str) -> None:
    number = fetch_short_code(conn, service_sid=service_sid, sid=sid)
    pool.remove_from_pool(conn, number=number)
