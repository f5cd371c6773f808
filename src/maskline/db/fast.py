"""Running the hot paths' statements straight on the driver.

SQLAlchemy Core builds every query in Maskline, and compiles each one once. Running a compiled
statement through a Connection still costs tens of microseconds of machinery (an execution
context, events, a result wrapper) per statement: more than SQLite takes to answer it. The
requests the benchmark measures run several statements each, so their statements go through
here instead: compiled once per dialect, then handed to the driver's cursor with the
parameters in the driver's own style, on the same connection and in the same transaction.

Rows come back as named tuples with the statement's column names, read like SQLAlchemy rows
(`row.sid`). Booleans stay as SQLite stores them (0 or 1), which reads the same in Python.
A driver error is raised as SQLAlchemy's own exception, so callers catch one kind either way.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

if TYPE_CHECKING:
    from maskline.db import libpq

Params = Mapping[str, Any]


class _Plan:
    """One statement compiled for one dialect, with what it takes to run it on the driver."""

    __slots__ = ("defaults", "pick", "postgresql", "row", "sql")

    def __init__(self, statement: ClauseElement, dialect: Dialect, keys: tuple[str, ...]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) or None)
        assert isinstance(compiled, SQLCompiler)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("statements with expanding parameters run through SQLAlchemy")
        self.sql: str = compiled.string
        # Values the statement itself carries (`LIMIT 1`, `kind = 'phone-number'`).
        self.defaults: dict[str, Any] = {
            name: value
            for name, value in (compiled.construct_params(_check=False) or {}).items()
            if value is not None
        }
        if dialect.name == "sqlite":
            # As the integers SQLite stores: sqlite3 binds an int at once, a bool only after
            # looking for an adapter (db/engine.py).
            for name, value in self.defaults.items():
                if type(value) is bool:
                    self.defaults[name] = int(value)
        # qmark drivers (sqlite3) take a tuple in this order; on PostgreSQL, libpq takes the
        # values of `$1`, `$2`... in the order db/libpq.py numbered them.
        names = tuple(compiled.positiontup or ()) if compiled.positional else None
        self.postgresql: libpq.Statement | None = None
        if dialect.name == "postgresql":
            # Imported here: a SQLite server never loads psycopg (about 10 MB).
            from maskline.db import libpq

            self.postgresql = libpq.Statement(self.sql)
            names = self.postgresql.names
        self.pick: Callable[[Params], Any] | None = None
        if names is not None:
            pick = itemgetter(*names) if names else (lambda _params: ())
            # itemgetter of one name gives the value itself, not a tuple of one.
            self.pick = (lambda params: (pick(params),)) if len(names) == 1 else pick
        self.row: type[tuple[Any, ...]] | None = None

    def arguments(self, params: Params) -> Any:
        merged = {**self.defaults, **params} if self.defaults else params
        return merged if self.pick is None else self.pick(merged)


_plans: dict[tuple[int, str, tuple[str, ...]], tuple[ClauseElement, _Plan]] = {}


def _plan(statement: ClauseElement, dialect: Dialect, keys: tuple[str, ...]) -> _Plan:
    key = (id(statement), dialect.name, keys)
    found = _plans.get(key)
    if found is not None and found[0] is statement:
        return found[1]
    plan = _Plan(statement, dialect, keys)
    # The statement is kept with its plan, so its id cannot be reused by another object.
    _plans[key] = (statement, plan)
    return plan


def _run(
    conn: Connection, statement: ClauseElement, params: Params, keys: tuple[str, ...] = ()
) -> tuple[_Plan, Any]:
    plan = _plan(statement, conn.dialect, keys)
    return plan, _execute(conn, plan, params)


def _execute(conn: Connection, plan: _Plan, params: Params) -> Any:
    """Run the plan: the cursor on SQLite, the rows on PostgreSQL."""
    # Both drivers are synchronous: the driver's own connection is the pooled connection's
    # `dbapi_connection`, a plain attribute (`driver_connection` finds the same object
    # through two properties and a call into the dialect, which cost more than the plan's
    # lookup).
    driver: Any = conn.connection.dbapi_connection
    if plan.postgresql is not None:
        try:
            return plan.postgresql.execute(driver, plan.arguments(params))
        except Exception as error:
            raise _wrapped(conn, plan, params, error, driver, None) from error
    cursor = driver.cursor()
    try:
        cursor.execute(plan.sql, plan.arguments(params))
    except Exception as error:
        raise _wrapped(conn, plan, params, error, driver, cursor) from error
    return cursor


def _wrapped(
    conn: Connection, plan: _Plan, params: Params, error: Exception, driver: Any, cursor: Any
) -> Exception:
    dialect = conn.dialect
    dbapi = dialect.loaded_dbapi
    if not isinstance(error, dbapi.Error):
        return error
    if dialect.is_disconnect(error, driver, cursor):
        # The connection is gone: the caller's transaction fails, and the next one reconnects.
        conn.invalidate(error)
    # Without the values, as the engines report errors (db/engine.py): they may be logged.
    return DBAPIError.instance(
        plan.sql, dict(params), error, dbapi.Error, hide_parameters=True, dialect=dialect
    )


def _row_type(plan: _Plan, cursor: Any) -> Any:
    """The statement's row type, named after its result columns on its first run."""
    if plan.row is None:
        names = [column[0] for column in cursor.description]
        plan.row = namedtuple("Row", names, rename=True)  # type: ignore[misc]
    return plan.row


def _rows(plan: _Plan, cursor: Any) -> list[Any]:
    fetched = cursor.fetchall()
    if not fetched:
        return []
    make = _row_type(plan, cursor)._make
    return [make(values) for values in fetched]


def all_rows(conn: Connection, statement: ClauseElement, params: Params) -> list[Any]:
    """Every row the statement returns."""
    plan, cursor = _run(conn, statement, params)
    return _rows(plan, cursor)


def first(conn: Connection, statement: ClauseElement, params: Params) -> Any | None:
    """The first row, or None."""
    plan, cursor = _run(conn, statement, params)
    values = cursor.fetchone()
    if values is None:
        return None
    return _row_type(plan, cursor)._make(values)


def scalar(conn: Connection, statement: ClauseElement, params: Params) -> Any | None:
    """The first column of the first row, or None."""
    cursor = _run(conn, statement, params)[1]
    values = cursor.fetchone()
    return None if values is None else values[0]


def write(conn: Connection, statement: ClauseElement, params: Params) -> int:
    """Run an INSERT, UPDATE or DELETE; how many rows it touched."""
    cursor = _run(conn, statement, params, tuple(params))[1]
    return int(cursor.rowcount)


def write_many(conn: Connection, statement: ClauseElement, rows: Sequence[Params]) -> None:
    """Run an INSERT, UPDATE or DELETE once per parameter set, in one driver call; the sets
    all have the first one's keys."""
    if rows:
        _execute_many(conn, _plan(statement, conn.dialect, tuple(rows[0])), rows)


def _execute_many(conn: Connection, plan: _Plan, rows: Sequence[Params]) -> None:
    driver: Any = conn.connection.dbapi_connection
    value_sets = [plan.arguments(params) for params in rows]
    if plan.postgresql is not None:
        try:
            plan.postgresql.execute_many(driver, value_sets)
        except Exception as error:
            raise _wrapped(conn, plan, rows[0], error, driver, None) from error
        return
    cursor = driver.cursor()
    try:
        cursor.executemany(plan.sql, value_sets)
    except Exception as error:
        raise _wrapped(conn, plan, rows[0], error, driver, cursor) from error


def write_later(conn: Connection, statement: ClauseElement, params: Params) -> None:
    """Run an INSERT, UPDATE or DELETE whose outcome the caller does not read.

    On PostgreSQL it waits on the connection and goes out with the transaction's next
    statement, or its COMMIT, in the same round trip (db/libpq.py): every later statement
    sees it, and should it fail, the statement it went out with fails. Only writes that no
    constraint can refuse in the normal course belong here. On SQLite, which has no round
    trip to save, it runs now.
    """
    plan = _plan(statement, conn.dialect, tuple(params))
    if plan.postgresql is None:
        _execute(conn, plan, params)
        return
    driver: Any = conn.connection.dbapi_connection
    plan.postgresql.defer(driver, [plan.arguments(params)])


def write_many_later(conn: Connection, statement: ClauseElement, rows: Sequence[Params]) -> None:
    """`write_later` once per parameter set; the sets all have the first one's keys."""
    if not rows:
        return
    plan = _plan(statement, conn.dialect, tuple(rows[0]))
    if plan.postgresql is None:
        _execute_many(conn, plan, rows)
        return
    driver: Any = conn.connection.dbapi_connection
    plan.postgresql.defer(driver, [plan.arguments(params) for params in rows])


def insert_returning(conn: Connection, statement: ClauseElement, params: Params) -> Any | None:
    """Run an INSERT ... RETURNING; the first value returned, or None when nothing was inserted
    (`ON CONFLICT DO NOTHING` met a conflict)."""
    cursor = _run(conn, statement, params, tuple(params))[1]
    values = cursor.fetchone()
    return None if values is None else values[0]


class InsertUnlessTaken:
    """Insert a row unless a unique constraint refuses it, without a savepoint around it.

    `run` returns the new row's id, or None when a unique constraint refused the row (the
    caller works out which); the transaction stays usable either way. Other failures (a
    foreign key, a CHECK) raise.

    PostgreSQL: `INSERT ... ON CONFLICT DO NOTHING RETURNING id`, since any error there ends
    the transaction. SQLite: a plain INSERT. A constraint failure there undoes that statement
    alone and the transaction goes on, and the plain statement costs SQLite less than half
    the upsert form: with a conflict clause it probes every unique index before writing, and
    RETURNING buffers the row.
    """

    def __init__(self, table: Table) -> None:
        self._sqlite = insert(table)
        self._postgresql = postgresql_insert(table).on_conflict_do_nothing().returning(table.c.id)

    def run(self, conn: Connection, values: Params) -> int | None:
        if conn.dialect.name == "postgresql":
            new_id = insert_returning(conn, self._postgresql, values)
            return None if new_id is None else int(new_id)
        try:
            cursor = _run(conn, self._sqlite, values, tuple(values))[1]
        except IntegrityError as error:
            if getattr(error.orig, "sqlite_errorname", None) == "SQLITE_CONSTRAINT_UNIQUE":
                return None
            raise
        return int(cursor.lastrowid)


def row_type(table: Table) -> Any:
    """A named tuple of the table's columns: rows made in Python from values just written,
    read like the rows queries return."""
    return namedtuple(f"{table.name}_row", [column.name for column in table.c])
