"""Everything a running Maskline shares: settings, database, clock, credentials and carrier."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import TypeVar

import httpx
from sqlalchemy import Connection, Engine

from maskline.accounts.authenticator import Authenticator
from maskline.carriers.base import Carrier
from maskline.clock import Clock
from maskline.db.checkpoint import Checkpointer
from maskline.db.engine import create_db_engine, sqlite_path
from maskline.db.transactions import Transactions
from maskline.settings import Settings
from maskline.wakeups import take_due

log = logging.getLogger("maskline")

# Due times the runtime remembers for the worker's sleep; beyond this it falls back to polling.
MAX_DUE_TIMES = 10_000

T = TypeVar("T")


class Runtime:
    def __init__(
        self,
        settings: Settings,
        engine: Engine | None = None,
        clock: Clock | None = None,
        carrier: Carrier | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine or create_db_engine(
            settings.database_url, prepare=bool(settings.database_prepare)
        )
        self.clock = clock or Clock()
        self.authenticator = Authenticator(settings.auth_failure_limit)
        if carrier is None:
            from maskline.carriers import make_carrier

            carrier = make_carrier(settings)
        self.carrier = carrier
        self._wake: asyncio.Event | None = None
        # Times (clock ms) when work noted by requests falls due: a heap, for the worker's sleep.
        self._due: list[int] = []
        self._http: httpx.AsyncClient | None = None
        self.transactions = Transactions(self.engine)
        self._checkpointer: Checkpointer | None = None
        # On PostgreSQL, transactions run on threads of their own (in_thread): a round trip
        # to a database on another host then holds up only its own request.
        self.offload = self.engine.dialect.name == "postgresql" and settings.database_threads > 0
        self._threads: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0

    async def in_thread(self, work: Callable[..., T], *args: object) -> T:
        """Run `work` (which runs its own transactions) where waiting for the database blocks
        nothing else: on PostgreSQL a thread of a pool of MASKLINE_DATABASE_THREADS, each with
        its held connection (db/transactions.py), with the caller's context variables; on
        SQLite, whose group commit lives on the event loop, right here."""
        if not self.offload:
            return work(*args)
        if self._threads is None:
            self._threads = ThreadPoolExecutor(
                self.settings.database_threads, thread_name_prefix="maskline-db"
            )
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, context.run, work, *args)

    def start_checkpointer(self) -> None:
        """On SQLite, checkpoint the write-ahead log on a thread (db/checkpoint.py)."""
        path = sqlite_path(self.settings.database_url)
        if path is not None and self._checkpointer is None:
            self._checkpointer = Checkpointer(path)
            self._checkpointer.start()

    def wake(self, due_at_ms: int | None = None) -> None:
        """Tell the in-process worker that work is due now, or at `due_at_ms` (it also polls).
        From a database thread the news goes through the event loop."""
        if self._wake is None:
            return
        if self._loop is not None and threading.get_ident() != self._loop_thread:
            self._loop.call_soon_threadsafe(self.wake, due_at_ms)
            return
        if due_at_ms is None or due_at_ms <= self.clock.now_ms():
            self._wake.set()
        elif len(self._due) < MAX_DUE_TIMES:
            heapq.heappush(self._due, due_at_ms)

    def wake_for(self, conn: Connection) -> None:
        """Wake the worker for the work this connection's transaction noted (wakeups.py)."""
        due = take_due(conn)
        if due is not None:
            self.wake(due)

    def seconds_to_next_due(self, since_ms: int, limit_s: float) -> float:
        """How long the worker may sleep: until the next noted due time, at most `limit_s`.

        Times up to `since_ms` (when its last round began) were covered by that round.
        """
        due = self._due
        while due and due[0] <= since_ms:
            heapq.heappop(due)
        if not due:
            return limit_s
        return max(0.0, min(limit_s, (due[0] - self.clock.now_ms()) / 1000))

    def wake_event(self) -> asyncio.Event:
        if self._wake is None:
            self._loop = asyncio.get_running_loop()
            self._loop_thread = threading.get_ident()
            self._wake = asyncio.Event()
        return self._wake

    def http(self) -> httpx.AsyncClient:
        """The shared client for outbound callbacks; made on first use inside the event loop."""
        if self._http is None:
            from maskline.callbacks.http import make_client

            self._http = make_client(allow_private=self.settings.allows_private_callbacks)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._threads is not None:
            # Each thread gives its held connection back before the pool is closed.
            threads, self._threads = self._threads, None
            size = self.settings.database_threads
            barrier = threading.Barrier(size, timeout=5)

            def release() -> None:
                self.transactions.release()
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait()  # so that every thread takes one

            for _ in range(size):
                threads.submit(release)
            threads.shutdown(wait=True)
        self.dispose()

    def dispose(self) -> None:
        """Close every database connection (the calling thread's held one included)."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.transactions.release()
        self.engine.dispose()

    def transaction(
        self, writes: bool = True, replayable: bool = False
    ) -> AbstractContextManager[Connection]:
        """One transaction, committed when the block ends and rolled back if it raises
        (db/transactions.py: held connections, and group commit on SQLite servers).
        `replayable`: the caller runs it again from the start on `Replay`."""
        return self.transactions.transaction(writes, replayable)
