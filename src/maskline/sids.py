"""Twilio-style SIDs: a two-letter prefix and 32 lowercase hex digits."""

from __future__ import annotations

import os
import re

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
    return prefix + os.urandom(16).hex()


def is_sid(value: str, prefix: str) -> bool:
    return len(value) == 34 and value.startswith(prefix) and _SID.match(value) is not None
