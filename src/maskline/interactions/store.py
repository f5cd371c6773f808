"""Queries on interactions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Text,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)

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


# Each leg's statuses as they came, for the console: "status ms" entries joined by ";", kept
# in the row (no statement of their own). A repeated status is not noted again, and a history
# stops growing past HISTORY_MAX characters (a carrier could report without end).
_LEGS = ("inbound", "outbound")
HISTORY_MAX = 1000


def _noted(leg: str) -> Any:
    """The leg's history with the status being set (`<leg>_status_new`) noted as
    `<leg>_status_entry`, unless it is the status the leg already has."""
    history = interactions.c[f"{leg}_status_history"]
    # Typed, so that PostgreSQL reads the parameter as one type wherever it stands.
    entry: Any = bindparam(f"{leg}_status_entry", type_=Text())
    return case(
        (interactions.c[f"{leg}_resource_status"] == bindparam(f"{leg}_status_new"), history),
        (history.is_(None), entry),
        (func.length(history) > HISTORY_MAX, history),
        else_=history + literal(";", Text()) + entry,
    )


# By (inbound status set, outbound status set): the update that notes them.
_UPDATE_NOTING = {
    (inbound, outbound): _UPDATE.values(
        {
            f"{leg}_status_history": _noted(leg)
            for leg, noted in (("inbound", inbound), ("outbound", outbound))
            if noted
        }
    )
    for inbound in (False, True)
    for outbound in (False, True)
    if inbound or outbound
}


def history_entries(history: str | None) -> list[tuple[str, int]]:
    """A leg's history as (status, ms) pairs, oldest first."""
    found = []
    for entry in (history or "").split(";"):
        status, _, at = entry.partition(" ")
        if status and at.isdigit():
            found.append((status, int(at)))
    return found


def insert_interaction(conn: Connection, values: dict[str, Any]) -> None:
    """Insert an interaction; its legs' statuses start their histories."""
    for leg in _LEGS:
        status = values.get(f"{leg}_resource_status")
        if status is not None and f"{leg}_status_history" not in values:
            values = {**values, f"{leg}_status_history": f"{status} {values['date_updated']}"}
    fast.write_later(conn, _INSERT, values)


def inserted_interaction(values: dict[str, Any]) -> Any:
    """The row `insert_interaction` wrote with these values, without reading it back (its
    `id` is not known, and nothing reads it)."""
    return InteractionRow(**{**_UNSET, **values})


def update_interaction(conn: Connection, sid: str, values: dict[str, Any]) -> None:
    """Update an interaction; a leg status set is noted in that leg's history, at the
    update's `date_updated`."""
    inbound = "inbound_resource_status" in values
    outbound = "outbound_resource_status" in values
    if not (inbound or outbound):
        fast.write_later(conn, _UPDATE, {**values, "where_sid": sid})
        return
    params = {**values, "where_sid": sid}
    at = values.get("date_updated", 0)
    for leg, noted in (("inbound", inbound), ("outbound", outbound)):
        if noted:
            status = values[f"{leg}_resource_status"]
            params[f"{leg}_status_new"] = status
            params[f"{leg}_status_entry"] = f"{status} {at}"
    fast.write_later(conn, _UPDATE_NOTING[(inbound, outbound)], params)


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
