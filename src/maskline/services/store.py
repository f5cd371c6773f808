"""Queries on services."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, insert, select, update

from maskline.db import fast
from maskline.db.paging import fetch_page
from maskline.services.tables import services
from maskline.sids import SERVICE, is_sid
from maskline.web.paging import PageRequest

_BY_SID = select(services).where(
    services.c.sid == bindparam("sid"), services.c.account_sid == bindparam("account_sid")
)
_BY_NAME = select(services).where(
    services.c.unique_name == bindparam("name"),
    services.c.account_sid == bindparam("account_sid"),
)


# What opening a session reads of its service: the default TTL and number selection's
# settings. Every column read costs the driver a conversion, and a service has fifteen.
_SESSION_SETTINGS = select(
    services.c.sid,
    services.c.default_ttl,
    services.c.geo_match_level,
    services.c.number_selection_behavior,
).where(services.c.sid == bindparam("sid"), services.c.account_sid == bindparam("account_sid"))


def get_session_settings(conn: Connection, account_sid: str, sid: str) -> Any:
    """The account's service by SID, with only what creating a session reads of it (`sid`,
    `default_ttl`, `geo_match_level`, `number_selection_behavior`); None if there is none."""
    return fast.first(conn, _SESSION_SETTINGS, {"sid": sid, "account_sid": account_sid})


def get_service(conn: Connection, account_sid: str, key: str) -> Any:
    """A service of the account by SID or, failing that, by unique name."""
    if is_sid(key, SERVICE):
        row = fast.first(conn, _BY_SID, {"sid": key, "account_sid": account_sid})
        if row is not None:
            return row
    return fast.first(conn, _BY_NAME, {"name": key, "account_sid": account_sid})


_BY_SID_ONLY = select(services).where(services.c.sid == bindparam("sid"))


def get_service_by_sid(conn: Connection, sid: str) -> Row[Any] | None:
    return fast.first(conn, _BY_SID_ONLY, {"sid": sid})


def insert_service(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(services).values(**values))


def update_service(conn: Connection, sid: str, values: dict[str, Any]) -> None:
    conn.execute(update(services).where(services.c.sid == sid).values(**values))


def delete_service(conn: Connection, sid: str) -> None:
    conn.execute(delete(services).where(services.c.sid == sid))


_OF_ACCOUNT = select(services).where(services.c.account_sid == bindparam("account_sid"))


def list_services(
    conn: Connection, account_sid: str, request: PageRequest
) -> tuple[list[Row[Any]], bool]:
    return fetch_page(conn, _OF_ACCOUNT, services.c.id, request, {"account_sid": account_sid})
