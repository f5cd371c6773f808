"""Queries on interactions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from maskline.db.paging import fetch_page
from maskline.interactions.tables import interactions
from maskline.web.paging import PageRequest


def get_interaction(conn: Connection, session_sid: str, sid: str) -> Row[Any] | None:
    stmt = select(interactions).where(
        interactions.c.sid == sid, interactions.c.session_sid == session_sid
    )
    return conn.execute(stmt).first()


def get_message_interaction(conn: Connection, participant_sid: str, sid: str) -> Row[Any] | None:
    stmt = select(interactions).where(
        interactions.c.sid == sid, interactions.c.participant_sid == participant_sid
    )
    return conn.execute(stmt).first()


def insert_interaction(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(interactions).values(**values))


def update_interaction(conn: Connection, sid: str, values: dict[str, Any]) -> None:
    conn.execute(update(interactions).where(interactions.c.sid == sid).values(**values))


def delete_interaction(conn: Connection, sid: str) -> None:
    conn.execute(delete(interactions).where(interactions.c.sid == sid))


def list_interactions(
    conn: Connection, session_sid: str, request: PageRequest
) -> tuple[list[Row[Any]], bool]:
    stmt = select(interactions).where(interactions.c.session_sid == session_sid)
    return fetch_page(conn, stmt, interactions.c.id, request)


def list_message_interactions(
    conn: Connection, participant_sid: str, request: PageRequest
) -> tuple[list[Row[Any]], bool]:
    stmt = select(interactions).where(interactions.c.participant_sid == participant_sid)
    return fetch_page(conn, stmt, interactions.c.id, request)


def interactions_with_resource(conn: Connection, resource_sid: str) -> list[Row[Any]]:
    """Interactions whose inbound or outbound leg is this carrier message or call."""
    stmt = select(interactions).where(
        (interactions.c.inbound_resource_sid == resource_sid)
        | (interactions.c.outbound_resource_sid == resource_sid)
    )
    return list(conn.execute(stmt))


def get_interaction_by_sid(conn: Connection, sid: str) -> Row[Any] | None:
    return conn.execute(select(interactions).where(interactions.c.sid == sid)).first()
