"""Queries on interactions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, insert, select, update

from maskline.db import fast
from maskline.db.paging import fetch_page
from maskline.interactions.tables import interactions
from maskline.services.tables import services
from maskline.web.paging import PageRequest

# Hot statements, built once with bound parameters.
_MESSAGE_INTERACTION = select(interactions).where(
    interactions.c.sid == bindparam("sid"),
    interactions.c.participant_sid == bindparam("participant_sid"),
)
_BY_SID = select(interactions).where(interactions.c.sid == bindparam("sid"))
# The legs a status change touches, with the service's callback_url: what it needs to decide,
# and no more (the whole row is read only for a callback).
_WITH_RESOURCE = (
    select(
        interactions.c.sid,
        interactions.c.type,
        interactions.c.inbound_resource_sid,
        interactions.c.outbound_resource_sid,
        services.c.callback_url.label("service_callback_url"),
    )
    .outerjoin(services, services.c.sid == interactions.c.service_sid)
    .where(
        (interactions.c.inbound_resource_sid == bindparam("resource_sid"))
        | (interactions.c.outbound_resource_sid == bindparam("resource_sid"))
    )
)
_INSERT = insert(interactions)
# An interaction's row made from the values just inserted, read like the rows queries return.
InteractionRow = fast.row_type(interactions)
_UNSET = dict.fromkeys(column.name for column in interactions.c)
# SET comes from the parameters' keys; the interaction's SID travels under another name.
_UPDATE = update(interactions).where(interactions.c.sid == bindparam("where_sid"))


def get_interaction(conn: Connection, session_sid: str, sid: str) -> Row[Any] | None:
    stmt = select(interactions).where(
        interactions.c.sid == sid, interactions.c.session_sid == session_sid
    )
    return conn.execute(stmt).first()


def get_message_interaction(conn: Connection, participant_sid: str, sid: str) -> Row[Any] | None:
    values = {"sid": sid, "participant_sid": participant_sid}
    return fast.first(conn, _MESSAGE_INTERACTION, values)


def insert_interaction(conn: Connection, values: dict[str, Any]) -> None:
    fast.write_later(conn, _INSERT, values)


def inserted_interaction(values: dict[str, Any]) -> Any:
    """The row `insert_interaction` wrote with these values, without reading it back (its
    `id` is not known, and nothing reads it)."""
    return InteractionRow(**{**_UNSET, **values})


def update_interaction(conn: Connection, sid: str, values: dict[str, Any]) -> None:
    fast.write_later(conn, _UPDATE, {**values, "where_sid": sid})


def delete_interaction(conn: Connection, sid: str) -> None:
    conn.execute(delete(interactions).where(interactions.c.sid == sid))


_OF_SESSION = select(interactions).where(interactions.c.session_sid == bindparam("session_sid"))


def list_interactions(
    conn: Connection, session_sid: str, request: PageRequest
) -> tuple[list[Row[Any]], bool]:
    return fetch_page(conn, _OF_SESSION, interactions.c.id, request, {"session_sid": session_sid})


_OF_PARTICIPANT = select(interactions).where(
    interactions.c.participant_sid == bindparam("participant_sid")
)


def list_message_interactions(
    conn: Connection, participant_sid: str, request: PageRequest
) -> tuple[list[Row[Any]], bool]:
    values = {"participant_sid": participant_sid}
    return fetch_page(conn, _OF_PARTICIPANT, interactions.c.id, request, values)


def interactions_with_resource(conn: Connection, resource_sid: str) -> list[Any]:
    """Interactions whose inbound or outbound leg is this carrier message or call: `sid`,
    `type`, the two legs' resource SIDs and the service's callback_url (`service_callback_url`,
    None once the service is gone)."""
    return fast.all_rows(conn, _WITH_RESOURCE, {"resource_sid": resource_sid})


def get_interaction_by_sid(conn: Connection, sid: str) -> Any | None:
    return fast.first(conn, _BY_SID, {"sid": sid})
