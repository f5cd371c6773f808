"""Twilio-style SIDs: a two-letter prefix and 32 lowercase hex digits."""

from __future__ import annotations

import os
import re
import threading
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


# Random bytes are read from the operating system this many at a time: a request makes
# several SIDs, and one system call for each cost more than the rest of making it.
_RANDOM_CHUNK = 4000


class _RandomBytes(threading.local):
    """A thread's unread share of bytes from os.urandom; each thread reads its own."""

    def __init__(self) -> None:
        self.buffer = b""
        self.at = 0

    def take(self, count: int) -> bytes:
        at = self.at
        if at + count > len(self.buffer):
            self.buffer = os.urandom(_RANDOM_CHUNK)
            at = 0
        self.at = at + count
        return self.buffer[at : at + count]


_random = _RandomBytes()


def _forget_random() -> None:
    # A forked process must not hand out the bytes its parent hands out too.
    global _random
    _random = _RandomBytes()


os.register_at_fork(after_in_child=_forget_random)


def new_sid(prefix: str) -> str:
    """The prefix, the time in milliseconds (12 hex digits), then 80 random bits (20).

    Starting with the time keeps new SIDs together at the end of every index on a SID column,
    so an insert dirties the same few pages as the one before it instead of a random page per
    index; the random part keeps them unguessable and distinct.
    """
    return f"{prefix}{time.time_ns() // 1_000_000:012x}{_random.take(10).hex()}"


def is_sid(value: str, prefix: str) -> bool:
    return len(value) == 34 and value.startswith(prefix) and _SID.match(value) is not None
