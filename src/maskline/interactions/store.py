"""Queries on interactions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Text,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal_column,
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
# in the row. Nothing is written for them when an interaction is made (its legs' first
# statuses are those of its row, at `date_created`): an update that changes a leg's status
# notes the status it had, if it was the first, then the new one. A repeated status is not
# noted again, and a history stops growing past HISTORY_MAX characters (a carrier could
# report without end). The statement works it out from the row as it stands, so that two
# changes at once both count.
HISTORY_MAX = 1000


def _noted(leg: str) -> Any:
    """The leg's history with the status being set (`<leg>_status_new`) noted as
    `<leg>_status_entry`, unless it is the status the leg already has. (Its constants are
    written into the statement: bound, each would be one more value to pass per update.)"""
    history = interactions.c[f"{leg}_status_history"]
    status = interactions.c[f"{leg}_resource_status"]
    # Typed, so that PostgreSQL reads the parameter as one type wherever it stands.
    entry: Any = bindparam(f"{leg}_status_entry", type_=Text())
    space, semicolon = literal_column("' '", Text()), literal_column("';'", Text())
    first = status + space + cast(interactions.c.date_created, Text())
    return case(
        (status == bindparam(f"{leg}_status_new"), history),
        (and_(history.is_(None), status.is_(None)), entry),
        (history.is_(None), first + semicolon + entry),
        (func.length(history) > literal_column(str(HISTORY_MAX)), history),
        else_=history + semicolon + entry,
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


def legs_history(row: Any, leg: str) -> list[tuple[str, int]]:
    """A leg's statuses as (status, ms) pairs, oldest first: its history, or, before its
    first change, the status it was made with."""
    found = []
    for entry in (getattr(row, f"{leg}_status_history") or "").split(";"):
        status, _, at = entry.partition(" ")
        if status and at.isdigit():
            found.append((status, int(at)))
    if not found:
        status = getattr(row, f"{leg}_resource_status")
        if status:
            found.append((status, row.date_created))
    return found


def insert_interaction(conn: Connection, values: dict[str, Any]) -> None:
    fast.write_later(conn, _INSERT, values)


def inserted_interaction(values: dict[str, Any]) -> Any:
    """The row `insert_interaction` wrote with these values, without reading it back (its
    `id` is not known, and nothing reads it)."""
    return InteractionRow(**{**_UNSET, **values})


def update_interaction(conn: Connection, sid: str, values: dict[str, Any]) -> None:
    """Update an interaction; a leg status set is noted in that leg's history, at the
    update's `date_updated`."""
    params = {**values, "where_sid": sid}
    inbound = values.get("inbound_resource_status")
    outbound = values.get("outbound_resource_status")
    if inbound is None and outbound is None:
        fast.write_later(conn, _UPDATE, params)
        return
    at = values.get("date_updated", 0)
    if inbound is not None:
        params["inbound_status_new"] = inbound
        params["inbound_status_entry"] = f"{inbound} {at}"
    if outbound is not None:
        params["outbound_status_new"] = outbound
        params["outbound_status_entry"] = f"{outbound} {at}"
    fast.write_later(conn, _UPDATE_NOTING[(inbound is not None, outbound is not None)], params)


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
