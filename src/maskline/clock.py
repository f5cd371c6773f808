"""The one source of time. The sandbox can move it forward; everything else reads it."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    """Wall-clock time plus an offset that the sandbox's Clock call can advance.

    Times are integer milliseconds since the epoch, the form the database stores.
    """

    def __init__(self, offset_ms: int = 0) -> None:
        self.offset_ms = offset_ms

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.offset_ms

    def advance(self, seconds: float) -> None:
        self.offset_ms += int(seconds * 1000)


_format_cache: dict[int, str] = {}


def iso(ms: int | None) -> str | None:
    """`2015-07-30T20:00:00Z`, or None for an unset time."""
    if ms is None:
        return None
    second = ms // 1000
    text = _format_cache.get(second)
    if text is None:
        text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if len(_format_cache) > 4096:
            _format_cache.clear()
        _format_cache[second] = text
    return text


def parse_iso(text: str) -> int:
    """Milliseconds for an ISO 8601 date-time with `Z` or an offset; ValueError otherwise."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("a time zone is required")
    return int(parsed.timestamp() * 1000)
