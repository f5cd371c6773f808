"""Owning numbers: the sandbox's inventory calls, and finding what an account owns."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row
from sqlalchemy.exc import IntegrityError

from maskline import sids
from maskline.clock import Clock
from maskline.errors import InvalidParameter, PhoneNumberNotAvailable, PhoneNumberNotOwned
from maskline.numbers import geo, store
from maskline.numbers.tables import PHONE_NUMBER, SHORT_CODE


def provision_phone_number(
    conn: Connection,
    clock: Clock,
    *,
    account_sid: str,
    phone_number: str,
    friendly_name: str | None = None,
    voice: bool = True,
    sms: bool = True,
    mms: bool = True,
) -> tuple[Row[Any], bool]:
    """The account owns `phone_number` from now on; (the number, whether it is new).

    Owning it again updates its name and capabilities.
    """
    facts = geo.phone_facts(phone_number)
    if facts is None:
        raise InvalidParameter("PhoneNumber", "must be a valid E.164 phone number")
    now = clock.now_ms()
    existing = store.get_number_by_value(conn, PHONE_NUMBER, facts.e164)
    if existing is not None:
        if existing.account_sid != account_sid:
            raise PhoneNumberNotAvailable("The phone number is not available")
        changes: dict[str, Any] = {"voice": voice, "sms": sms, "mms": mms, "date_updated": now}
        if friendly_name is not None:
            changes["friendly_name"] = friendly_name
        store.update_number(conn, existing.sid, changes)
        row = store.get_number(conn, existing.sid)
        assert row is not None
        return row, False
    sid = sids.new_sid(sids.PHONE_NUMBER)
    values = {
        "sid": sid,
        "account_sid": account_sid,
        "kind": PHONE_NUMBER,
        "phone_number": facts.e164,
        "friendly_name": friendly_name if friendly_name is not None else facts.e164,
        "iso_country": facts.iso_country,
        "calling_code": facts.calling_code,
        "area_code": facts.area_code,
        "voice": voice,
        "sms": sms,
        "mms": mms,
        "fax": False,
        "date_created": now,
        "date_updated": now,
        "is_reserved": False,
        "in_use": 0,
    }
    _insert(conn, values)
    row = store.get_number(conn, sid)
    assert row is not None
    return row, True


def provision_short_code(
    conn: Connection, clock: Clock, *, account_sid: str, short_code: str, iso_country: str
) -> tuple[Row[Any], bool]:
    if not short_code.isdigit() or not short_code.isascii() or not 3 <= len(short_code) <= 8:
        raise InvalidParameter("ShortCode", "must be 3 to 8 digits")
    country = iso_country.upper()
    if not geo.is_country(country):
        raise InvalidParameter("IsoCountry", "must be an ISO 3166-1 alpha-2 country code")
    now = clock.now_ms()
    existing = store.get_number_by_value(conn, SHORT_CODE, short_code + "@" + country)
    if existing is not None:
        if existing.account_sid != account_sid:
            raise PhoneNumberNotAvailable("The short code is not available")
        return existing, False
    sid = sids.new_sid(sids.SHORT_CODE)
    values = {
        "sid": sid,
        "account_sid": account_sid,
        "kind": SHORT_CODE,
        # Short codes are unique per country, not worldwide.
        "phone_number": short_code + "@" + country,
        "friendly_name": short_code,
        "iso_country": country,
        "calling_code": geo.calling_code_for_country(country),
        "area_code": None,
        "voice": False,
        "sms": True,
        "mms": False,
        "fax": False,
        "date_created": now,
        "date_updated": now,
        "is_reserved": False,
        "in_use": 0,
    }
    _insert(conn, values)
    row = store.get_number(conn, sid)
    assert row is not None
    return row, True


def _insert(conn: Connection, values: dict[str, Any]) -> None:
    try:
        with conn.begin_nested():
            store.insert_number(conn, values)
    except IntegrityError as error:
        # Another request provisioned the same number a moment ago.
        raise PhoneNumberNotAvailable(
            "The number was just provisioned by another request"
        ) from error


def short_code_digits(row: Any) -> str:
    return str(row.phone_number).split("@", 1)[0]


def adopt_phone_number(
    conn: Connection,
    clock: Clock,
    *,
    account_sid: str,
    sid: str,
    phone_number: str,
    friendly_name: str | None,
    voice: bool,
    sms: bool,
    mms: bool,
    fax: bool,
) -> Any:
    """Record a number the carrier says the account owns, under the carrier's own SID.

    A number already recorded takes the carrier's latest name and capabilities.
    """
    facts = geo.phone_facts(phone_number)
    now = clock.now_ms()
    existing = store.get_number(conn, sid) or store.get_number_by_value(
        conn, PHONE_NUMBER, phone_number
    )
    if existing is not None:
        if existing.account_sid != account_sid:
            # Answered as a number the Twilio account lacks: no word of another account.
            raise PhoneNumberNotOwned("The Twilio account has no such phone number")
        store.update_number(
            conn,
            existing.sid,
            {
                "voice": voice,
                "sms": sms,
                "mms": mms,
                "fax": fax,
                "date_updated": now,
                "friendly_name": friendly_name or existing.friendly_name,
            },
        )
        row = store.get_number(conn, existing.sid)
        assert row is not None
        return row
    _insert(
        conn,
        {
            "sid": sid,
            "account_sid": account_sid,
            "kind": PHONE_NUMBER,
            "phone_number": phone_number,
            "friendly_name": friendly_name or phone_number,
            "iso_country": facts.iso_country if facts else None,
            "calling_code": facts.calling_code if facts else None,
            "area_code": facts.area_code if facts else None,
            "voice": voice,
            "sms": sms,
            "mms": mms,
            "fax": fax,
            "date_created": now,
            "date_updated": now,
            "is_reserved": False,
            "in_use": 0,
        },
    )
    row = store.get_number(conn, sid)
    assert row is not None
    return row
