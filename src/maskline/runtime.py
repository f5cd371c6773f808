"""Everything a running Maskline shares: settings, database, clock, credentials and carrier."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractContextManager

import httpx
from sqlalchemy import Connection, Engine

from maskline.accounts.rules import Authenticator
from maskline.carriers.base import Carrier
from maskline.clock import Clock
from maskline.db.checkpoint import Checkpointer
from maskline.db.engine import create_db_engine, sqlite_path
from maskline.db.transactions import Transactions
from maskline.settings import Settings

log = logging.getLogger("maskline")


class Runtime:
    def __init__(
        self,
        settings: Settings,
        engine: Engine | None = None,
        clock: Clock | None = None,
        carrier: Carrier | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine or create_db_engine(settings.database_url)
        self.clock = clock or Clock()
        self.authenticator = Authenticator()
        if carrier is None:
            from maskline.carriers import make_carrier

            carrier = make_carrier(settings)
        self.carrier = carrier
        self._wake: asyncio.Event | None = None
        self._http: httpx.AsyncClient | None = None
        self.transactions = Transactions(self.engine)
        self._checkpointer: Checkpointer | None = None

    def start_checkpointer(self) -> None:
        """On SQLite, checkpoint the write-ahead log on a thread (db/checkpoint.py)."""
        path = sqlite_path(self.settings.database_url)
        if path is not None and self._checkpointer is None:
            self._checkpointer = Checkpointer(path)
            self._checkpointer.start()

    def wake(self) -> None:
        """Tell the in-process worker that new work may be due (it also polls)."""
        if self._wake is not None:
            self._wake.set()

    def wake_event(self) -> asyncio.Event:
        if self._wake is None:
            self._wake = asyncio.Event()
        return self._wake

    def http(self) -> httpx.AsyncClient:
        """The shared client for outbound callbacks; made on first use inside the event loop."""
        if self._http is None:
            self._http = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20)
            )
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

    def transaction(self, writes: bool = True) -> AbstractContextManager[Connection]:
        """One transaction, committed when the block ends and rolled back if it raises
        (db/transactions.py: held connections, and group commit on SQLite servers)."""
        return self.transactions.transaction(writes)
