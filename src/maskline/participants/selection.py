"""Choosing a proxy number for a participant, as PROXY_BEHAVIOUR.md lays out.

The fast path is one indexed query; the reasons for a failure are only worked out when there
is no number to give.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from maskline.errors import (
    AllNumbersInUse,
    NoNumberInCountry,
    NoNumberMatchesGeo,
    NoSmsCapableNumber,
    NoVoiceCapableNumber,
    OnlyReservedNumbers,
    ServiceHasNoNumbers,
)
from maskline.numbers.geo import NANP
from maskline.participants import store
from maskline.participants.identifiers import Identifier

VOICE_MODES = ("voice-only", "voice-and-message")
MESSAGE_MODES = ("message-only", "voice-and-message")
# Until overlay complexes and coordinates ship with Maskline, these match like area-code.
AREA_LEVELS = ("area-code", "overlay", "radius")


def needs(mode: str) -> tuple[bool, bool]:
    """(voice, sms) capabilities a number needs for a session mode."""
    return mode in VOICE_MODES, mode in MESSAGE_MODES


def choose_number(
    conn: Connection,
    *,
    service: Any,
    identifier: Identifier,
    mode: str,
    exclude: set[str],
) -> Any:
    voice, sms = needs(mode)
    facts = identifier.facts
    calling_code = facts.calling_code if facts is not None else None
    area_code = None
    if service.geo_match_level in AREA_LEVELS and facts is not None and facts.calling_code == NANP:
        area_code = facts.area_code
    query = {
        "service_sid": service.sid,
        "identifier": identifier.value,
        "calling_code": calling_code,
        "area_code": area_code,
        "voice": voice,
        "sms": sms,
        "exclude": exclude,
    }
    behaviour = service.number_selection_behavior
    if behaviour == "prefer-sticky":
        row = store.find_candidate(conn, **query, prefer_last=True)
        if row is not None:
            return row
    elif behaviour == "avoid-sticky":
        row = store.find_candidate(conn, **query, never_had=True)
        if row is not None:
            return row
    row = store.find_candidate(conn, **query)
    if row is not None:
        return row
    raise _why_none(conn, service.sid, calling_code, area_code, voice, sms)


def _why_none(
    conn: Connection,
    service_sid: str,
    calling_code: int | None,
    area_code: str | None,
    voice: bool,
    sms: bool,
) -> Exception:
    if store.count_pool(conn, service_sid=service_sid) == 0:
        return ServiceHasNoNumbers()

    def count(voice: bool = False, sms: bool = False, unreserved: bool = False) -> int:
        return store.count_pool(
            conn,
            service_sid=service_sid,
            calling_code=calling_code,
            voice=voice,
            sms=sms,
            unreserved=unreserved,
        )

    if count() == 0:
        return NoNumberInCountry()
    if voice and count(voice=True) == 0:
        return NoVoiceCapableNumber()
    if sms and count(voice=voice, sms=True) == 0:
        return NoSmsCapableNumber()
    if count(voice=voice, sms=sms, unreserved=True) == 0:
        return OnlyReservedNumbers()
    if area_code is not None:
        # Either nothing in the area code, or everything there is in use by this identifier.
        return NoNumberMatchesGeo()
    return AllNumbersInUse()
