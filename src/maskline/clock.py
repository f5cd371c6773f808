"""The one source of time. The sandbox moves it forward for one account at a time; everything
else reads it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

# The account whose data is being handled: set once a request is authenticated, and by the
# worker around each piece of work. Its sandbox clock is the one `now_ms()` reads.
current_account: ContextVar[str | None] = ContextVar("maskline_clock_account", default=None)
# A move of one account's clock that the current task made and has not committed yet: the task
# reads its clock moved, every other reads it where it was (`Clock.moving`).
_moving: ContextVar[tuple[str, int] | None] = ContextVar("maskline_clock_moving", default=None)


class Clock:
    """Wall-clock time plus offsets that the sandbox's Clock call advances, one per account.

    Times are integer milliseconds since the epoch, the form the database stores. `offsets`
    holds only the accounts whose clock was moved (sandbox/clock.py keeps them in the
    database); every other account, and work for no account, reads wall-clock time.
    """

    def __init__(self, offset_ms: int = 0) -> None:
        # Added to every account's time: for tools and tests that run a whole server ahead.
        self.offset_ms = offset_ms
        self.offsets: dict[str, int] = {}
        # How many tasks are inside `moving` now: while none is, `now_ms` need not look.
        self._moves = 0

    def now_ms(self) -> int:
        offsets = self.offsets
        account = current_account.get() or ""
        extra = offsets.get(account, 0) if offsets else 0
        if self._moves:
            moving = _moving.get()
            if moving is not None and moving[0] == account:
                extra = moving[1]
        return int(time.time() * 1000) + self.offset_ms + extra

    @contextlib.contextmanager
    def moving(self, account_sid: str, offset_ms: int) -> Iterator[None]:
        """Inside the block, this task reads `account_sid`'s clock at `offset_ms`; the others
        go on reading it where it was until the move is committed and `offsets` has it."""
        token = _moving.set((account_sid, offset_ms))
        self._moves += 1
        try:
            yield
        finally:
            self._moves -= 1
            _moving.reset(token)

    def learn(self, offsets: dict[str, int]) -> None:
        """Committed moves, this process's or another's. A clock only moves forward, so the
        later offset of each account is kept: an older read, or a move committed earlier whose
        caller came back later, never takes a clock back."""
        known = self.offsets
        self.offsets = {
            **known,
            **{account: max(offset, known.get(account, 0)) for account, offset in offsets.items()},
        }

    def wall_ms(self) -> int:
        """The time of an account whose clock was never moved."""
        return int(time.time() * 1000) + self.offset_ms

    def ahead(self) -> list[tuple[str, int]]:
        """The accounts whose clock runs ahead, with the time each one reads now."""
        wall = self.wall_ms()
        return [(account, wall + offset) for account, offset in self.offsets.items() if offset > 0]


@contextlib.contextmanager
def account_time(account_sid: str | None) -> Iterator[None]:
    """Read the clock as `account_sid` does inside the block."""
    token = current_account.set(account_sid)
    try:
        yield
    finally:
        current_account.reset(token)


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
