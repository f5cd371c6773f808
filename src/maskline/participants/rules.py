"""Adding and removing participants, under the pair rule.

The pair rule (one active session per identifier and proxy number) is a unique index; this
module turns the database's refusal into the right Twilio error, and retries an automatic
choice that lost a race to another request.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from maskline import sids
from maskline.clock import Clock
from maskline.errors import (
    AllNumbersInUse,
    IdentifierAlreadyParticipant,
    IdentifierNotAllowedInMode,
    NoNumberMatchesGeo,
    NoSmsCapableNumber,
    NotFound,
    NoVoiceCapableNumber,
    PairAlreadyActive,
    PairConflict,
    ProxyIdentifierNotInService,
    ProxyIdentifierNotOwned,
    SessionClosed,
    TooManyParticipants,
)
from maskline.metrics.families import metrics
from maskline.numbers import store as numbers_store
from maskline.numbers.tables import PHONE_NUMBER
from maskline.participants import store
from maskline.participants.identifiers import Identifier, parse_identifier
from maskline.participants.selection import choose_number, needs
from maskline.sessions.tables import ACTIVE

# How many other numbers an automatic choice tries after losing one to a concurrent request.
SELECTION_ATTEMPTS = 8


def fetch_participant(conn: Connection, *, session_sid: str, sid: str) -> Any:
    row = store.get_participant(conn, session_sid, sid)
    if row is None:
        raise NotFound(f"The requested Participant {sid} was not found")
    return row


def _explicit_number(
    conn: Connection,
    *,
    account_sid: str,
    service_sid: str,
    proxy_identifier: str | None,
    proxy_identifier_sid: str | None,
) -> Any:
    row = None
    if proxy_identifier_sid:
        row = numbers_store.get_number(conn, proxy_identifier_sid)
    elif proxy_identifier:
        row = numbers_store.get_number_by_value(conn, PHONE_NUMBER, proxy_identifier)
        if row is None and proxy_identifier.isdigit():
            # A short code, in the pool's own country.
            row = store.pool_short_code(conn, service_sid, proxy_identifier)
    if row is None or row.account_sid != account_sid:
        raise ProxyIdentifierNotOwned()
    if row.service_sid != service_sid:
        raise ProxyIdentifierNotInService()
    return row


def add_participant(
    conn: Connection,
    clock: Clock,
    *,
    account_sid: str,
    service: Any,
    session: Any,
    identifier: str,
    friendly_name: str | None = None,
    proxy_identifier: str | None = None,
    proxy_identifier_sid: str | None = None,
    present: list[Any] | None = None,
) -> Any:
    """Add a participant to an active session; the caller holds the session row's lock.

    `present` is the session's participants when the caller knows them (a session it is
    creating); otherwise they are read here.
    """
    if session.status not in ACTIVE:
        raise SessionClosed()
    who = parse_identifier(identifier)
    if not who.is_phone and session.mode != "message-only":
        raise IdentifierNotAllowedInMode()
    if present is None:
        present = store.session_participants(conn, session.sid)
    if any(p.identifier == who.value for p in present):
        raise IdentifierAlreadyParticipant()
    taken = {p.slot for p in present if p.slot is not None}
    if len(taken) >= 2:
        raise TooManyParticipants()
    slot = 1 if 1 not in taken else 2
    now = clock.now_ms()
    values = {
        "account_sid": account_sid,
        "service_sid": service.sid,
        "session_sid": session.sid,
        "identifier": who.value,
        "friendly_name": friendly_name,
        "slot": slot,
        "active": True,
        "date_created": now,
        "date_updated": now,
        "date_deleted": None,
    }
    shared_numbers = {p.proxy_number_sid for p in present if p.active}
    explicit = bool(proxy_identifier or proxy_identifier_sid)
    if explicit:
        number = _explicit_number(
            conn,
            account_sid=account_sid,
            service_sid=service.sid,
            proxy_identifier=proxy_identifier,
            proxy_identifier_sid=proxy_identifier_sid,
        )
        _check_capabilities(number, session.mode)
        row = _insert(conn, values, number, explicit=True)
    else:
        try:
            row = _insert_chosen(conn, values, service, who, session.mode)
        except (NoNumberMatchesGeo, AllNumbersInUse):
            # The pool is exhausted for this identifier: what operators most need to see.
            metrics().pool_exhausted.labels(service.sid).inc()
            raise
    if row.proxy_number_sid not in shared_numbers:
        numbers_store.change_in_use(conn, row.proxy_number_sid, +1)
    return row


def _check_capabilities(number: Any, mode: str) -> None:
    voice, sms = needs(mode)
    if voice and not number.voice:
        raise NoVoiceCapableNumber("The proxy identifier cannot carry calls")
    if sms and not number.sms:
        raise NoSmsCapableNumber("The proxy identifier cannot carry messages")


def _insert_chosen(
    conn: Connection, values: dict[str, Any], service: Any, who: Identifier, mode: str
) -> Any:
    lost: set[str] = set()
    for _ in range(SELECTION_ATTEMPTS):
        number = choose_number(conn, service=service, identifier=who, mode=mode, exclude=lost)
        try:
            return _insert(conn, values, number, explicit=False)
        except PairConflict:
            # Another request paired this identifier with that number a moment ago.
            lost.add(number.sid)
    raise PairConflict()


def _insert(conn: Connection, values: dict[str, Any], number: Any, *, explicit: bool) -> Any:
    """Insert the participant on `number`; its row, or the error for the constraint that
    refused it."""
    row = {
        **values,
        "sid": sids.new_sid(sids.PARTICIPANT),
        "proxy_number_sid": number.sid,
        "proxy_identifier": str(number.phone_number).split("@", 1)[0],
    }
    inserted = store.insert_participant(conn, row)
    if inserted is not None:
        return inserted
    constraint = store.refusal(conn, row)
    if constraint == "uq_participants_session_sid_identifier":
        raise IdentifierAlreadyParticipant()
    if constraint == "uq_participants_session_sid_slot":
        raise TooManyParticipants()
    if explicit:
        raise PairAlreadyActive()
    raise PairConflict()


def remove_participant(conn: Connection, clock: Clock, *, session: Any, sid: str) -> None:
    """Remove a participant: it stays listed with `date_deleted`, and frees its pair."""
    row = fetch_participant(conn, session_sid=session.sid, sid=sid)
    if row.date_deleted is not None:
        return
    now = clock.now_ms()
    store.update_participant(
        conn, row.sid, {"date_deleted": now, "date_updated": now, "active": False, "slot": None}
    )
    if row.active:
        others = store.session_participants(conn, session.sid)
        if not any(p.active and p.proxy_number_sid == row.proxy_number_sid for p in others):
            numbers_store.change_in_use(conn, row.proxy_number_sid, -1)


def numbers_in_use(participants: list[Any]) -> list[str]:
    """The distinct proxy numbers that active participants of one session hold, in SID order.

    Closing or re-opening a session changes their `in_use` counters in this order, so two
    transactions that change the same numbers take the rows' locks in the same order and do
    not wait for each other in a circle (PostgreSQL would end one as a deadlock, after a
    second's wait). Number selection locks the numbers it picks (participants/store.py).
    """
    return sorted({p.proxy_number_sid for p in participants if p.active})
