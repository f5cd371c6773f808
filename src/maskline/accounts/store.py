"""Queries on accounts and API keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from maskline.accounts.tables import accounts, api_keys


def get_account(conn: Connection, sid: str) -> Row[Any] | None:
    return conn.execute(select(accounts).where(accounts.c.sid == sid)).first()


def get_api_key(conn: Connection, sid: str) -> Row[Any] | None:
    return conn.execute(select(api_keys).where(api_keys.c.sid == sid)).first()


def insert_account(conn: Connection, **values: object) -> None:
    conn.execute(insert(accounts).values(**values))


def insert_api_key(conn: Connection, **values: object) -> None:
    conn.execute(insert(api_keys).values(**values))


def list_accounts(conn: Connection) -> list[Row[Any]]:
    return list(conn.execute(select(accounts).order_by(accounts.c.date_created, accounts.c.sid)))


def list_api_keys(conn: Connection, account_sid: str) -> list[Row[Any]]:
    query = (
        select(api_keys.c.sid, api_keys.c.friendly_name, api_keys.c.date_created)
        .where(api_keys.c.account_sid == account_sid)
        .order_by(api_keys.c.date_created, api_keys.c.sid)
    )
    return list(conn.execute(query))


def delete_api_key(conn: Connection, sid: str) -> bool:
    """Delete the key; False when there was none."""
    return conn.execute(delete(api_keys).where(api_keys.c.sid == sid)).rowcount > 0


def set_auth_token(conn: Connection, sid: str, auth_token: str) -> None:
    conn.execute(update(accounts).where(accounts.c.sid == sid).values(auth_token=auth_token))
