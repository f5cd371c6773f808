"""Everything a running Maskline shares: settings, database, clock, credentials and carrier."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import Connection, Engine

from maskline.accounts.rules import Authenticator
from maskline.carriers.base import Carrier
from maskline.clock import Clock
from maskline.db.checkpoint import Checkpointer
from maskline.db.engine import create_db_engine, sqlite_path
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
        # Each thread keeps one connection for its transactions: requests and the in-process
        # worker run one transaction at a time on the event loop's thread, and a checkout from
        # the pool for each would cost more than a small query.
        self._held = threading.local()
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
        self._release_held()
        self.engine.dispose()

    def _release_held(self) -> None:
        held: _Held | None = getattr(self._held, "conn", None)
        self._held.conn = None
        if held is not None:
            held.close()

    @contextmanager
    def transaction(self, writes: bool = True) -> Iterator[Connection]:
        """One transaction, committed when the block ends and rolled back if it raises.

        The thread's held connection stays inside one SQLAlchemy transaction for its whole
        life, and each of these transactions is begun and ended on the driver itself: the
        round of events and objects SQLAlchemy spends on BEGIN and COMMIT costs more than a
        small request's query. Savepoints (`begin_nested`) work as usual inside.
        """
        held: _Held | None = getattr(self._held, "conn", None)
        if held is None or not held.usable():
            if held is not None:
                self._release_held()
            held = _Held(self.engine)
            self._held.conn = held
        elif held.busy:
            # A transaction inside another on this thread: it gets a connection of its own.
            with self.engine.connect() as other:
                other.info["writes"] = writes
                with other.begin():
                    yield other
            return
        held.busy = True
        driver = held.driver
        try:
            if held.sqlite:
                driver.execute("BEGIN IMMEDIATE" if writes else "BEGIN")
            yield held.conn
        except BaseException:
            held.busy = False
            try:
                if held.usable():
                    driver.rollback()
            except Exception:
                log.exception("rollback failed; the connection is dropped")
                self._release_held()
            raise
        held.busy = False
        try:
            driver.commit()
        except Exception:
            # The outcome is unknown to us: give the connection up rather than reuse it.
            self._release_held()
            raise


class _Held:
    """A connection kept by one thread, in a SQLAlchemy transaction that never ends."""

    def __init__(self, engine: Engine) -> None:
        self.conn = engine.connect()
        # SQLite's BEGIN is ours to issue from now on (db/engine.py skips its own).
        self.conn.info["driver_transactions"] = True
        self.sqlite = engine.dialect.name == "sqlite"
        self.root = self.conn.begin()
        self.driver: Any = self.conn.connection.driver_connection
        self.busy = False

    def usable(self) -> bool:
        conn = self.conn
        return not (conn.closed or conn.invalidated) and self.root.is_active

    def close(self) -> None:
        # The flag lives with the pooled driver connection: the pool's next user needs it gone.
        self.conn.info.pop("driver_transactions", None)
        try:
            self.root.rollback()
        finally:
            self.conn.close()
