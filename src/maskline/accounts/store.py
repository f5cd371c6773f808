"""Queries on accounts and API keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, insert, select

from maskline.accounts.tables import accounts, api_keys


def get_account(conn: Connection, sid: str) -> Row[Any] | None:
    return conn.execute(select(accounts).where(accounts.c.sid == sid)).first()


def get_api_key(conn: Connection, sid: str) -> Row[Any] | None:
    return conn.execute(select(api_keys).where(api_keys.c.sid == sid)).first()


def insert_account(conn: Connection, **values: object) -> None:
    conn.execute(insert(accounts).values(**values))


def insert_api_key(conn: Connection, **values: object) -> None:
    conn.execute(insert(api_keys).values(**values))
