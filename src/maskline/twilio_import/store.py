"""The importer's reads and writes on Maskline's tables that the resources' own stores do not
have: rows go in whole, with their Twilio SIDs. For the rest (a service, a number, a session
by SID) it uses those stores."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from maskline.interactions.tables import interactions
from maskline.numbers.tables import numbers
from maskline.participants.tables import IS_ACTIVE, participants
from maskline.services.tables import services
from maskline.sessions.tables import sessions


def service_named(conn: Connection, account_sid: str, unique_name: str) -> Any | None:
    query = select(services.c.sid).where(
        services.c.account_sid == account_sid, services.c.unique_name == unique_name
    )
    return conn.execute(query).first()


def session_named(conn: Connection, service_sid: str, unique_name: str) -> Any | None:
    query = select(sessions.c.sid).where(
        sessions.c.service_sid == service_sid, sessions.c.unique_name == unique_name
    )
    return conn.execute(query).first()


def insert_session(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(sessions).values(**values))


def participant_sids(conn: Connection, sids: list[str]) -> set[str]:
    if not sids:
        return set()
    query = select(participants.c.sid).where(participants.c.sid.in_(sids))
    return {row.sid for row in conn.execute(query)}


def active_pair_holder(conn: Connection, identifier: str, number_sid: str) -> str | None:
    """The session where this identifier is active on this number, if any."""
    query = select(participants.c.session_sid).where(
        participants.c.identifier == identifier,
        participants.c.proxy_number_sid == number_sid,
        IS_ACTIVE,  # as written here, SQLite finds the pair index (participants/tables.py)
    )
    row = conn.execute(query).first()
    return None if row is None else str(row.session_sid)


def insert_participants(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(participants), rows)


def interaction_sids(conn: Connection, sids: list[str]) -> set[str]:
    if not sids:
        return set()
    query = select(interactions.c.sid).where(interactions.c.sid.in_(sids))
    return {row.sid for row in conn.execute(query)}


def insert_interactions(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(interactions), rows)


def count_in_use(conn: Connection, number_sids: set[str]) -> None:
    """One more active session holds each of these numbers: their `in_use`, as the
    participant rules keep it, written with the session so that it is right after every
    commit, an interrupted import's included."""
    if number_sids:
        conn.execute(
            update(numbers)
            .where(numbers.c.sid.in_(sorted(number_sids)))
            .values(in_use=numbers.c.in_use + 1)
        )
