"""Twilio-style SIDs: a two-letter prefix and 32 lowercase hex digits."""

from __future__ import annotations

import os
import re
import time

ACCOUNT = "AC"
API_KEY = "SK"
SERVICE = "KS"
SESSION = "KC"
PARTICIPANT = "KP"
INTERACTION = "KI"
PHONE_NUMBER = "PN"
SHORT_CODE = "SC"
MESSAGE = "SM"
CALL = "CA"

_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}\Z")


def new_sid(prefix: str) -> str:
    """The prefix, the time in milliseconds (12 hex digits), then 80 random bits (20).

    Starting with the time keeps new SIDs together at the end of every index on a SID column,
    so an insert dirties the same few pages as the one before it instead of a random page per
    index; the random part keeps them unguessable and distinct.
    """
    return f"{prefix}{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"


def is_sid(value: str, prefix: str) -> bool:
    return len(value) == 34 and value.startswith(prefix) and _SID.match(value) is not None
