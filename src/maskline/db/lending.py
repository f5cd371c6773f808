"""A PostgreSQL server's pool of connections lent to transactions (db/transactions.py): each
transaction of a cooperating task (db/cooperative.py) borrows one for as long as it lasts."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Engine

from maskline.db.cooperative import cooperating, wait_for

log = logging.getLogger("maskline.db")


class Held(Protocol):
    """A connection as db/transactions.py keeps it."""

    def usable(self) -> bool: ...

    def close(self) -> None: ...


H = TypeVar("H", bound=Held)


class Lender(Generic[H]):
    """A PostgreSQL server's pool of connections lent to one transaction at a time. A
    transaction that finds every one of them out waits on the event loop, first come first
    served: a connection given back goes straight to the longest waiter."""

    def __init__(self, engine: Engine, size: int, opener: Callable[[Engine], H]) -> None:
        self.engine = engine
        self.size = size
        self._opener = opener
        self._free: list[H] = []
        self._open = 0  # lent, free, or being opened for a waiter
        # Each waiter is handed a connection, or None: a place to open one of its own.
        self._waiting: deque[asyncio.Future[H | None]] = deque()

    @staticmethod
    def cooperating() -> bool:
        """Whether the calling task borrows (db/cooperative.py): else it uses its thread's."""
        return cooperating()

    def lend(self) -> H:
        while self._free:
            held = self._free.pop()  # the last given back: its server process is warm
            if held.usable():
                return held
            self._discard(held)
        if self._open < self.size and not self._waiting:
            self._open += 1
            return self._opened()
        waiter: asyncio.Future[H | None] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            handed = wait_for(waiter)
        except BaseException:
            # Cancelled: what was handed to it, if anything, goes to the next in line.
            if waiter.done() and not waiter.cancelled():
                given = waiter.result()
                if given is None:
                    self._open -= 1
                self._hand_on(given)
            raise
        return handed if handed is not None else self._opened()

    def _opened(self) -> H:
        """A new connection, in a place already counted in `_open`. Opened on a thread:
        psycopg's connect waits in its own way, and the server's set-up takes several round
        trips, which the event loop need not wait for."""
        opening = asyncio.ensure_future(asyncio.to_thread(self._opener, self.engine))
        try:
            # Shielded: a transaction cancelled meanwhile leaves the thread to finish, and
            # the connection it opens is closed rather than lost.
            return wait_for(asyncio.shield(opening))
        except BaseException:
            self._open -= 1
            self._hand_on(None)  # so that a waiter tries too, rather than wait forever
            opening.add_done_callback(_close_if_opened)
            raise

    def give_back(self, held: H) -> None:
        if held.usable() and self.size:
            self._hand_on(held)
        else:
            self._discard(held)
            self._hand_on(None)

    def _hand_on(self, held: H | None) -> None:
        """To the longest waiter (a cancelled one is skipped), or back to the free list."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if waiter.done():
                continue
            if held is None:
                if self._open >= self.size:
                    self._waiting.appendleft(waiter)
                    return
                self._open += 1
            waiter.set_result(held)
            return
        if held is not None:
            self._free.append(held)

    def _discard(self, held: H) -> None:
        self._open -= 1
        try:
            held.close()
        except Exception:
            log.exception("closing a lent connection failed")

    def close(self) -> None:
        """Close the connections not lent out; the ones lent are closed when given back."""
        self.size = 0
        free, self._free = self._free, []
        for held in free:
            self._discard(held)


def _close_if_opened(opening: asyncio.Future[Any]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        try:
            opening.result().close()
        except Exception:
            log.exception("closing a connection opened for a cancelled transaction failed")
