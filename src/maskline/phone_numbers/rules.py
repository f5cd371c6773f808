"""Adding phone numbers to a pool by SID or by number, and the rest of their life there."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row

from maskline.clock import Clock
from maskline.errors import (
    InvalidParameter,
    MissingParameter,
    NotFound,
    PhoneNumberAlreadyInService,
    PhoneNumberNotOwned,
)
from maskline.numbers import geo, pool, store
from maskline.numbers.rules import provision_phone_number
from maskline.numbers.tables import PHONE_NUMBER


def _owned_number(
    conn: Connection,
    clock: Clock,
    *,
    account_sid: str,
    sid: str | None,
    phone_number: str | None,
    provision: bool,
) -> Any:
    if sid is not None:
        row = store.get_number(conn, sid)
        if row is None or row.account_sid != account_sid or row.kind != PHONE_NUMBER:
            raise PhoneNumberNotOwned(f"Phone number {sid} was not found on this account")
        return row
    if phone_number is None:
        raise MissingParameter("Sid")
    facts = geo.phone_facts(phone_number)
    if facts is None:
        raise InvalidParameter("PhoneNumber", "must be a valid E.164 phone number")
    row = store.get_number_by_value(conn, PHONE_NUMBER, facts.e164)
    if row is not None and row.account_sid != account_sid:
        # The answer for a number this account does not own, whoever else may: nothing here
        # tells one account what another holds.
        raise PhoneNumberNotOwned(f"Phone number {phone_number} is not owned by this account")
    if row is None:
        if not provision:
            raise PhoneNumberNotOwned(f"Phone number {phone_number} is not owned by this account")
        # The sandbox hands out any valid number on first use, with every capability.
        row, _ = provision_phone_number(
            conn, clock, account_sid=account_sid, phone_number=facts.e164
        )
    return row


def create_phone_number(
    conn: Connection,
    clock: Clock,
    *,
    account_sid: str,
    service_sid: str,
    sid: str | None,
    phone_number: str | None,
    is_reserved: bool | None,
    provision: bool,
    max_pool_numbers: int,
) -> Row[Any]:
    number = _owned_number(
        conn,
        clock,
        account_sid=account_sid,
        sid=sid,
        phone_number=phone_number,
        provision=provision,
    )
    pool.add_to_pool(
        conn,
        clock,
        service_sid=service_sid,
        number=number,
        is_reserved=bool(is_reserved),
        already_here=PhoneNumberAlreadyInService,
        max_pool_numbers=max_pool_numbers,
    )
    return fetch_phone_number(conn, service_sid=service_sid, sid=number.sid)


def fetch_phone_number(conn: Connection, *, service_sid: str, sid: str) -> Row[Any]:
    row = store.get_pool_number(conn, service_sid, PHONE_NUMBER, sid)
    if row is None:
        # Twilio also fetches a pool number by its E.164 value.
        found = store.get_number_by_value(conn, PHONE_NUMBER, sid)
        if found is not None and found.service_sid == service_sid:
            return found
        raise NotFound(f"The requested PhoneNumber {sid} was not found")
    return row


def update_phone_number(
    conn: Connection, clock: Clock, *, service_sid: str, sid: str, is_reserved: bool | None
) -> Row[Any]:
    number = fetch_phone_number(conn, service_sid=service_sid, sid=sid)
    if is_reserved is not None:
        pool.set_reserved(conn, clock, number=number, is_reserved=is_reserved)
    return fetch_phone_number(conn, service_sid=service_sid, sid=number.sid)


def delete_phone_number(conn: Connection, *, service_sid: str, sid: str) -> None:
    number = fetch_phone_number(conn, service_sid=service_sid, sid=sid)
    pool.remove_from_pool(conn, number=number)
