"""Transactions on held connections, and group commit for the requests of a SQLite server.

Each thread keeps one connection. Requests and the in-process worker run one transaction at a
time on the event loop's thread, and checking a connection out of the pool for each would cost
more than a small query. The held connection stays inside one SQLAlchemy transaction for its
whole life; each of our transactions is begun and ended on the driver itself, because the
round of events and objects SQLAlchemy spends on BEGIN and COMMIT costs more than a small
request's query. Savepoints (`begin_nested`) work as usual inside.

Group commit (SQLite servers). A SQLite commit writes every page the transaction changed to
the write-ahead log, and consecutive requests change many of the same pages (the ends of the
tables and of their indexes). So while a server is busy, the requests it handles share one
transaction: each runs inside a savepoint of it (its failure rolls back its own changes
alone), and no request answers before the commit that holds its changes: a response never
reports what a crash could take back. The batch stays open from one turn of the event loop to
the next for as long as each turn brings new requests into it, up to MAX_BATCH requests or
MAX_BATCH_MS: one commit of 30 requests costs far less than six of 5 (much of a commit is
writing pages that all of them changed), and a server that is not busy still commits after
the turn that found nothing new. A transaction begun outside a request (the worker's) commits
any open batch first and runs alone.

Replayable batches. A savepoint is not free: inside one, SQLite copies every page a statement
changes into its statement journal, again for each request, which cost CreateSession about 8%
of its instructions. A request whose work can simply run again (a plain API call: one
transaction, nothing sent anywhere before it commits) says so, and such requests share a
batch without savepoints. When one of them fails after it has written, the batch is rolled
back as a whole: the failing request answers its error, and every other request of the batch
gets `Replay` and runs its transaction again on its own. For a second after that, batches use
savepoints again, so that a run of such failures does not make every request run twice.
Requests that cannot run twice (the ones that call out while they work) use savepoints, in
batches of their own kind.

Lent connections (PostgreSQL servers). A serving process's tasks wait for PostgreSQL on the
event loop (db/cooperative.py), so many transactions are under way at once, and each needs a
connection of its own: it borrows one from the process's pool (`lend_connections`) when it
begins and gives it back when it ends, waiting on the loop when all are out. Between its
transactions a request holds none, so a request that waits for a callback holds up no other.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine

if TYPE_CHECKING:
    from maskline.db.lending import Lender


log = logging.getLogger("maskline.db")

# Set for the task of each request a batching server handles.
in_request: ContextVar[bool] = ContextVar("maskline_in_request", default=False)
# The batch whose commit the current request waits for before it answers.
pending_batch: ContextVar[Batch | None] = ContextVar("maskline_pending_batch", default=None)
# The connection lent to the current task's transaction, while it lasts.
_lent: ContextVar[_Held | None] = ContextVar("maskline_lent_connection", default=None)

# A batch commits once this many transactions joined it, or once it has been open this long.
MAX_BATCH = 64
MAX_BATCH_MS = 10.0
# How long batches keep to savepoints after a replayable one was rolled back.
SAVEPOINTS_AFTER_ROLLBACK_S = 1.0


class Replay(Exception):
    """The batch that held this request's changes was rolled back, because another request in
    it failed after writing: the request runs again, on its own."""


class Batch:
    """One shared transaction: its requests wait on `committed`. In a replayable batch they
    run without savepoints (see the module's docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, replayable: bool) -> None:
        self.committed: asyncio.Future[None] = loop.create_future()
        self.replayable = replayable
        self.size = 0
        self.deadline = loop.time() + MAX_BATCH_MS / 1000

    def rolled_back(self) -> bool:
        """Rolled back for its requests to run again (not committed, nor failed)."""
        committed = self.committed
        return committed.done() and isinstance(committed.exception(), Replay)


class Transactions:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._held = threading.local()
        # Group commit: switched on by a SQLite server once its event loop runs.
        self.batching = False
        self._batch: Batch | None = None
        # After a replayable batch was rolled back, batches use savepoints until this time
        # (time.monotonic()): a run of failing requests must not turn every batch into
        # requests that each run twice.
        self._savepoints_until = 0.0
        # Lent connections: switched on by a PostgreSQL server once its event loop runs.
        self._lender: Lender[_Held] | None = None

    def lend_connections(self, size: int) -> None:
        """From now on, each transaction of a cooperating task (db/cooperative.py) borrows one
        of at most `size` connections while it lasts (see the module's docstring)."""
        # Imported here: a SQLite server never loads greenlet, whose presence alone costs
        # every request about 1% more instructions (bench.cost).
        from maskline.db.lending import Lender

        self._lender = Lender(self.engine, size, _Held)

    def release(self) -> None:
        """Commit any open batch, close the calling thread's held connection and the pool of
        lent ones."""
        self.flush()
        self._drop_held()
        lender, self._lender = self._lender, None
        if lender is not None:
            lender.close()

    def _drop_held(self) -> None:
        held: _Held | None = getattr(self._held, "conn", None)
        self._held.conn = None
        if held is not None:
            try:
                held.close()
            except Exception:
                log.exception("closing a held connection failed")

    def _connection(self) -> _Held:
        held: _Held | None = getattr(self._held, "conn", None)
        if held is None or not held.usable():
            if held is not None:
                self._drop_held()
            held = _Held(self.engine)
            self._held.conn = held
        return held

    def _give_up(self, held: _Held) -> None:
        """Close a connection left in a state we cannot trust."""
        if held is getattr(self._held, "conn", None):
            self._drop_held()
            return
        try:
            held.close()
        except Exception:
            log.exception("closing a connection failed")

    @contextmanager
    def transaction(self, writes: bool = True, replayable: bool = False) -> Iterator[Connection]:
        """One transaction, committed when the block ends and rolled back if it raises.

        `replayable`: the caller can run the same transaction again from the start if it is
        told to (`Replay`, when its batch is rolled back; see the module's docstring).
        """
        if self.batching and in_request.get():
            waiting = pending_batch.get()
            if waiting is not None and waiting.rolled_back():
                # The request must not go on from what it believed written: it runs again
                # from the start.
                raise Replay()
            if replayable and self._savepoints_until > time.monotonic():
                replayable = False
            batch = self._batch
            if batch is not None and batch.replayable and not replayable:
                # What the batch holds commits first: it may be rolled back as a whole, and
                # this transaction could not be run again.
                self.flush()
                batch = None
            if writes or batch is not None:
                with self._in_batch(replayable) as conn:
                    yield conn
                return
        else:
            self.flush()
        # The connection: lent to this transaction by the pool in a cooperating task of a
        # PostgreSQL server, and given back when it ends; else the thread's own.
        lender = self._lender
        lent = None
        if lender is not None and lender.cooperating():
            held = _lent.get()  # inside another transaction of this task: that one's, busy
            if held is None:
                held = lent = lender.lend()
                _lent.set(held)
        else:
            held = self._connection()
        try:
            if held.busy:
                # A transaction inside another of this task: a connection of its own.
                with self.engine.connect() as other:
                    other.info["writes"] = writes
                    with other.begin():
                        yield other
                return
            held.busy = True
            if not writes and not held.sqlite:
                with self._reading(held):
                    yield held.conn
                return
            driver = held.driver
            try:
                if held.sqlite:
                    driver.execute("BEGIN IMMEDIATE" if writes else "BEGIN")
                yield held.conn
            except BaseException:
                held.busy = False
                self._rollback(held)
                raise
            held.busy = False
            try:
                held.commit()
            except Exception:
                # The outcome is unknown to us: give the connection up rather than reuse it.
                self._give_up(held)
                raise
        finally:
            if lent is not None and lender is not None:
                _lent.set(None)
                lender.give_back(lent)

    @contextmanager
    def _reading(self, held: _Held) -> Iterator[None]:
        """A read on PostgreSQL runs in autocommit: under READ COMMITTED each statement reads
        what is committed when it starts, inside a transaction or not, and BEGIN and COMMIT
        were two more round trips for a request that makes one query. (SQLite keeps its read
        transaction, one snapshot for the request, which costs it nothing measurable.)"""
        driver = held.driver
        try:
            driver.autocommit = True
            yield
        finally:
            held.busy = False
            if held.usable():
                try:
                    driver.autocommit = False
                except Exception:
                    log.exception("a connection could not leave autocommit; it is dropped")
                    self._give_up(held)

    def _rollback(self, held: _Held) -> None:
        try:
            if held.usable():
                held.discard()
                held.driver.rollback()
        except Exception:
            log.exception("rollback failed; the connection is dropped")
            self._give_up(held)

    @contextmanager
    def _in_batch(self, replayable: bool) -> Iterator[Connection]:
        """Join the open batch (or open one): in a replayable batch as it is, otherwise inside
        a savepoint of its own."""
        held = self._connection()
        if held.busy:
            raise RuntimeError("a request's transaction inside another of its own")
        driver = held.driver
        batch = self._batch
        if batch is None:
            driver.execute("BEGIN IMMEDIATE")
            loop = asyncio.get_running_loop()
            batch = self._batch = Batch(loop, replayable)
            # Everything already ready to run in this turn of the loop joins, then the turns
            # after it for as long as they bring more.
            loop.call_soon(self._settle, loop, batch, 0)
        pending_batch.set(batch)
        held.busy = True
        if batch.replayable:
            # A failed statement undoes its own changes; only a request that fails after one
            # of its statements changed rows leaves something to undo.
            changes = driver.total_changes
            try:
                yield held.conn
            except BaseException as exc:
                held.busy = False
                if not driver.in_transaction:
                    # SQLite ended the whole transaction itself (a full disk, an I/O error):
                    # what the batch's other requests wrote is gone.
                    self._fail(batch, exc if isinstance(exc, Exception) else _ended())
                elif driver.total_changes != changes:
                    pending_batch.set(None)  # this request answers its error, not a replay
                    self._roll_back(batch)
                raise
            held.busy = False
            if not driver.in_transaction:
                self._fail(batch, _ended())
                raise _ended()
            batch.size += 1
            if batch.size >= MAX_BATCH:
                self.flush()
            return
        driver.execute("SAVEPOINT request")
        try:
            yield held.conn
        except BaseException:
            held.busy = False
            try:
                driver.execute("ROLLBACK TO request")
                driver.execute("RELEASE request")
            except Exception as exc:
                self._fail(batch, exc)
            raise
        held.busy = False
        try:
            driver.execute("RELEASE request")
        except Exception as exc:
            self._fail(batch, exc)
            raise
        batch.size += 1
        if batch.size >= MAX_BATCH:
            self.flush()

    async def settled(self) -> None:
        """Wait for the commit of what this request wrote so far. A request whose transaction
        is replayable calls this before it calls out to anyone: should its batch roll back,
        `Replay` is raised here, and the request runs again from the start having reached no
        one."""
        batch = pending_batch.get()
        if batch is not None:
            await asyncio.shield(batch.committed)

    def _settle(self, loop: asyncio.AbstractEventLoop, batch: Batch, seen: int) -> None:
        """Commit the batch unless the last turn of the loop added to it; then look again
        after the next turn (which reads whatever requests arrived meanwhile)."""
        if self._batch is not batch:
            return  # already committed (full, or a transaction outside requests came)
        if batch.size > seen and loop.time() < batch.deadline:
            loop.call_soon(self._settle, loop, batch, batch.size)
            return
        self.flush()

    def flush(self) -> None:
        """Commit the open batch, if any, and let its requests answer."""
        batch = self._batch
        if batch is None:
            return
        self._batch = None
        held: _Held | None = getattr(self._held, "conn", None)
        try:
            if held is None or not held.usable():
                raise RuntimeError("the connection of a batch was lost before its commit")
            if held.sqlite and not held.driver.in_transaction:
                raise _ended()
            held.driver.commit()
        except Exception as exc:
            self._fail(batch, exc)
            return
        if not batch.committed.done():
            batch.committed.set_result(None)

    def _roll_back(self, batch: Batch) -> None:
        """Undo a replayable batch: its other requests get `Replay` and run again."""
        log.info("a batch of %d transactions is rolled back and run again", batch.size)
        self._savepoints_until = time.monotonic() + SAVEPOINTS_AFTER_ROLLBACK_S
        self._end(batch, Replay())
        held: _Held | None = getattr(self._held, "conn", None)
        try:
            if held is None or not held.usable():
                raise RuntimeError("the connection of a batch was lost before its rollback")
            held.driver.rollback()
        except Exception:
            log.exception("rolling back a batch failed; the connection is dropped")
            self._drop_held()

    def _fail(self, batch: Batch, exc: Exception) -> None:
        """The batch cannot commit: its requests fail, and the connection is given up."""
        log.error("a batch of %d transactions failed to commit: %s", batch.size, exc)
        self._end(batch, exc)
        self._drop_held()

    def _end(self, batch: Batch, exc: Exception) -> None:
        """Close the batch without a commit: its requests get `exc`."""
        if self._batch is batch:
            self._batch = None
        if not batch.committed.done():
            batch.committed.set_exception(exc)
            # Waiters see it; a batch nobody waits for must not warn at garbage collection.
            batch.committed.exception()


def _ended() -> RuntimeError:
    return RuntimeError("the transaction of a batch ended before its commit")


class _Held:
    """A connection kept by one thread (or lent to one transaction at a time), in a
    SQLAlchemy transaction that never ends."""

    def __init__(self, engine: Engine) -> None:
        self.conn = engine.connect()
        # SQLite's BEGIN is ours to issue from now on (db/engine.py skips its own).
        self.conn.info["driver_transactions"] = True
        self.sqlite = engine.dialect.name == "sqlite"
        self.root = self.conn.begin()
        driver: Any = self.conn.connection.driver_connection
        self.driver = driver
        self.busy = False
        # COMMIT: sqlite3's own; on PostgreSQL straight to libpq (db/libpq.py), imported only
        # there so that a SQLite server never loads psycopg.
        self.commit: Callable[[], None] = driver.commit
        self.discard: Callable[[], None] = lambda: None
        if not self.sqlite:
            from maskline.db import libpq

            # Writes deferred in a transaction go out with its COMMIT, or go when it rolls back.
            self.commit = lambda: libpq.commit(driver)
            self.discard = lambda: libpq.discard(driver)

    def usable(self) -> bool:
        conn = self.conn
        if conn.closed or conn.invalidated or not self.root.is_active:
            return False
        # psycopg's connection closes itself when it loses the server or is cut short.
        return self.sqlite or not self.driver.closed

    def close(self) -> None:
        conn = self.conn
        if conn.closed:
            return
        try:
            if not conn.invalidated:  # (a lost connection goes as it is)
                # The flag lives with the pooled driver connection: the pool's next user
                # needs it gone.
                conn.info.pop("driver_transactions", None)
                if self.sqlite and self.driver is not None and self.driver.in_transaction:
                    self.driver.rollback()
                self.root.rollback()
        finally:
            conn.close()
