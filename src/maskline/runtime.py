"""Everything a running Maskline shares: settings, database, clock, credentials and carrier."""

from __future__ import annotations

import asyncio
import heapq
import logging
from contextlib import AbstractContextManager

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
            settings.database_url,
            prepare=bool(settings.database_prepare),
            pool_size=settings.database_pool_size,
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

    def start(self) -> None:
        """Set up the database for a process about to serve requests or run a worker, on its
        running event loop: on SQLite, group commit for requests (db/transactions.py) and a
        checkpoint thread (db/checkpoint.py); on PostgreSQL, every task made from now on
        waits for the database on the loop, on connections lent from a pool of
        MASKLINE_DATABASE_POOL_SIZE (db/cooperative.py), so that a far database holds up
        only the request that waits."""
        if self.engine.dialect.name == "sqlite":
            self.transactions.batching = True
            self.start_checkpointer()
            return
        from maskline.db import cooperative

        cooperative.install(asyncio.get_running_loop())
        self.transactions.lend_connections(self.settings.database_pool_size)

    def start_checkpointer(self) -> None:
        """On SQLite, checkpoint the write-ahead log on a thread (db/checkpoint.py)."""
        path = sqlite_path(self.settings.database_url)
        if path is not None and self._checkpointer is None:
            self._checkpointer = Checkpointer(path)
            self._checkpointer.start()

    def wake(self, due_at_ms: int | None = None) -> None:
        """Tell the in-process worker that work is due now, or at `due_at_ms` (it also polls)."""
        if self._wake is None:
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
