"""The database engine: SQLite (WAL) by default, PostgreSQL through psycopg 3."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from maskline.db.checkpoint import FALLBACK_PAGES


def normalise_url(url: str) -> str:
    """Pick Maskline's driver for the plain URLs operators have (`postgresql://...`)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> str | None:
    """The database file of a SQLite URL; None for other engines and in-memory databases."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return os.path.abspath(parsed.database)


def create_db_engine(
    url: str, *, prepare: bool = True, pool_size: int = 10, **kwargs: Any
) -> Engine:
    """The engine for this URL. PostgreSQL: `prepare` the hot statements once per connection
    (db/libpq.py) rather than send them whole each time; `pool_size`, the connections lent to
    transactions (db/transactions.py), which the engine's pool holds with a few more."""
    url = normalise_url(url)
    if is_sqlite(url):
        engine = _sqlite_engine(url, **kwargs)
    else:
        # The hot statements are prepared by db/libpq.py. psycopg's own automatic preparing
        # stays off: after any ROLLBACK it deallocates every statement of the connection,
        # ours included.
        engine = create_engine(
            url,
            # An error's text never holds the statement's values (numbers, bodies, tokens),
            # wherever it is logged.
            hide_parameters=True,
            pool_pre_ping=True,
            # Lent ones, the thread's held one, the readiness check's.
            pool_size=pool_size + 2,
            max_overflow=20,
            connect_args={"prepare_threshold": None},
            **kwargs,
        )

        from maskline.db import libpq  # here: a SQLite server never loads psycopg

        # psycopg's connection, with its waits on the event loop where the caller cooperates.
        @event.listens_for(engine, "do_connect")
        def _do_connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
            return libpq.CooperativeConnection.connect(*cargs, **cparams)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            libpq.attach(dbapi_connection, prepare)

        # Writes deferred on a connection (db/libpq.py) go out before any statement psycopg
        # runs on it and before its commit, and are forgotten when it rolls back.
        @event.listens_for(engine, "before_cursor_execute")
        def _before_execute(_conn: Any, cursor: Any, *_args: Any) -> None:
            libpq.flush(cursor.connection)

        @event.listens_for(engine, "commit")
        def _on_commit(conn: Connection) -> None:
            libpq.flush(conn.connection.dbapi_connection)

        def _discard(conn: Connection) -> None:
            if not (conn.closed or conn.invalidated):
                libpq.discard(conn.connection.dbapi_connection)

        @event.listens_for(engine, "rollback")
        def _on_rollback(conn: Connection) -> None:
            _discard(conn)

        # What is still queued at a ROLLBACK TO was written after the SAVEPOINT (which sent
        # the queue): it is undone, so it is dropped rather than sent first.
        @event.listens_for(engine, "rollback_savepoint")
        def _on_rollback_savepoint(conn: Connection, _name: str, _context: Any) -> None:
            _discard(conn)

        @event.listens_for(engine, "reset")
        def _on_reset(dbapi_connection: Any, _record: Any, _state: Any) -> None:
            libpq.discard(dbapi_connection)

    _plain_savepoints(engine)
    return engine


def _plain_savepoints(engine: Engine) -> None:
    """Savepoints as plain statements.

    SQLAlchemy emits them as clause objects without a cache key, so each one is compiled anew,
    which costs several times the statement; every insert that a savepoint guards pays it.
    """
    dialect = engine.dialect
    dialect.do_savepoint = _savepoint  # type: ignore[method-assign]
    dialect.do_release_savepoint = _release_savepoint  # type: ignore[method-assign]
    dialect.do_rollback_to_savepoint = _rollback_to_savepoint  # type: ignore[method-assign]


def _savepoint(connection: Connection, name: str) -> None:
    connection.exec_driver_sql(f"SAVEPOINT {name}")


def _release_savepoint(connection: Connection, name: str) -> None:
    connection.exec_driver_sql(f"RELEASE SAVEPOINT {name}")


def _rollback_to_savepoint(connection: Connection, name: str) -> None:
    connection.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {name}")


def _same(value: Any) -> Any:
    return value


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    # sqlite3 binds None (as NULL) and a bool (as the integer it is) only after looking for
    # an adapter the slow way, through two failed attribute lookups whose errors it formats
    # and drops: about half a microsecond a value, and an insert binds several Nones. A
    # registered adapter is found at once; SQLite stores the same NULL, 0 or 1.
    import sqlite3  # here: a PostgreSQL server need not load it

    sqlite3.register_adapter(type(None), _same)
    sqlite3.register_adapter(bool, int)
    database = make_url(url).database
    if database and database != ":memory:":
        folder = os.path.dirname(os.path.abspath(database))
        os.makedirs(folder, exist_ok=True)
    engine = create_engine(
        url, hide_parameters=True, connect_args={"check_same_thread": False}, **kwargs
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event issue BEGIN itself, so that write transactions can take
        # the write lock up front (BEGIN IMMEDIATE) instead of failing to upgrade later.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL loses nothing on a process crash; only a power cut can take the
        # last commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        # Serving processes checkpoint on a thread of their own (db/checkpoint.py).
        cursor.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_PAGES}")
        # Savepoints keep the pages they change in a statement journal, a temporary file once
        # it passes 64 KiB. A batch of requests (each in its own savepoint, db/transactions.py)
        # passes that at once, and every page it touched became two write system calls. In
        # memory, it is a copy. Maskline's queries walk indexes in pages of at most 1,000 rows,
        # so the sorts and temporary tables this also moves to memory stay small.
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.info.get("driver_transactions"):
            return  # Runtime.transaction begins each transaction itself
        # Straight to the driver: every request begins a transaction, and a statement through
        # SQLAlchemy's execution machinery costs several times the BEGIN itself.
        conn.connection.driver_connection.execute(
            "BEGIN IMMEDIATE" if conn.info.get("writes") else "BEGIN"
        )

    return engine
