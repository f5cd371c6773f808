"""The hot paths' statements on PostgreSQL, run on libpq under psycopg's connection.

psycopg's cursor is built for every use a program may make of it, and a statement through it
costs about 40 µs of CPU on top of the round trip: more than PostgreSQL takes to answer a
lookup by key. The statements `db/fast.py` runs go to libpq here instead, on the same
connection and in the same transaction:

- each is prepared once per connection, under a name of its own (psycopg's own prepared
  statements are named apart, so the two never meet), unless the connection was set up not
  to (`MASKLINE_DATABASE_PREPARE=0`, for poolers that cannot carry prepared statements);
- its parameters go as text with no declared type, so PostgreSQL reads each as the type its
  place in the statement calls for (SQLAlchemy's psycopg dialect casts the ones it cannot
  infer);
- its rows are read by psycopg's own loaders, so values come back as psycopg's cursor would
  return them;
- a failure raises psycopg's exception for its SQLSTATE, as psycopg would.

When the connection is not in autocommit and no transaction is open, psycopg would send a
BEGIN and wait for it before the statement. Here BEGIN goes in one pipeline with the
statement (and with its PREPARE, the first time): one round trip instead of two or three.

Writes whose outcome nobody reads (`defer`: a counter's update, a record's insert) do not
wait for a round trip of their own either. They are queued on the connection and go out in
the pipeline of its next statement, or of its COMMIT, ahead of it and in the order they were
made, so every later statement sees them. A deferred write that fails fails the statement it
went out with (the transaction is lost either way); a rollback drops the queue. Statements
psycopg runs itself (SQLAlchemy's) send the queue first (db/engine.py).

Every wait, to send or for an answer, goes to the event loop where the caller cooperates
(db/cooperative.py), so that other requests run while this one waits; elsewhere it blocks.
"""

from __future__ import annotations

import itertools
import re
import select
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import OperationalError, errors, pq, waiting
from psycopg.adapt import PyFormat, Transformer

from maskline.db.cooperative import cooperating, readable, wait_for, writable

_TUPLES_OK = pq.ExecStatus.TUPLES_OK
_COMMAND_OK = pq.ExecStatus.COMMAND_OK
_PIPELINE_SYNC = pq.ExecStatus.PIPELINE_SYNC
_IDLE = pq.TransactionStatus.IDLE
_BAD = pq.ConnStatus.BAD
_OFF = pq.PipelineStatus.OFF
# SQLSTATEs: no prepared statement of that name; one of that name exists already.
_UNKNOWN_STATEMENT = b"26000"
_STATEMENT_EXISTS = b"42P05"


def _result(pgconn: Any) -> Any:
    """The next result, once it is all in: None after a command's last one."""
    while pgconn.is_busy():
        if cooperating():
            readable(pgconn.socket)
        else:
            select.select([pgconn.socket], [], [])
        pgconn.consume_input()
    return pgconn.get_result()


def _flush(pgconn: Any) -> None:
    """Send what libpq holds for the server (the connection does not block on sending)."""
    while pgconn.flush():
        if cooperating():
            writable(pgconn.socket)
        else:
            select.select([], [pgconn.socket], [])


def _answer(pgconn: Any) -> Any:
    """The outcome of the one command just sent (outside a pipeline): its last result."""
    _flush(pgconn)
    last = None
    while True:
        result = _result(pgconn)
        if result is None:
            return last
        last = result


class CooperativeConnection(psycopg.Connection[Any]):
    """psycopg's connection, waiting on the event loop where the caller cooperates."""

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        if not cooperating():
            return super().wait(gen, interval, timeout)
        try:
            return wait_for(waiting.wait_async(gen, self.pgconn.socket, interval, timeout))
        except BaseException:
            # Cut short mid-exchange (a cancelled task): what the server is still sending
            # cannot be told from the next statement's answer, so the connection is given up.
            if self.pgconn.transaction_status == pq.TransactionStatus.ACTIVE:
                self.pgconn.finish()
            raise


_PLACEHOLDER = re.compile(r"%\(([^)]+)\)s|%%")
_names = itertools.count(1)


class Statement:
    """A statement compiled for psycopg (`%(name)s` placeholders) in libpq's form: `$1`, `$2`
    in the order `names` gives, and the name it is prepared under."""

    __slots__ = ("name", "names", "sql")

    def __init__(self, sql: str) -> None:
        names: list[str] = []

        def number(found: re.Match[str]) -> str:
            if found.group(0) == "%%":
                return "%"
            name = found.group(1)
            if name not in names:
                names.append(name)
            return f"${names.index(name) + 1}"

        self.sql = _PLACEHOLDER.sub(number, sql).encode()
        self.names = tuple(names)
        self.name = f"_maskline_{next(_names)}".encode()

    def execute(self, driver: Any, values: Sequence[Any]) -> Rows:
        return execute(driver, self, values)

    def execute_many(self, driver: Any, value_sets: Sequence[Sequence[Any]]) -> None:
        execute_many(driver, self, value_sets)

    def defer(self, driver: Any, value_sets: Sequence[Sequence[Any]]) -> None:
        defer(driver, self, value_sets)


# A statement with the sets of parameters to run it with, as a pipeline sends it.
_Command = tuple[Statement, list[list[bytes | None]]]


class Rows:
    """What a statement returned, read the way `db/fast.py` reads a DB-API cursor."""

    __slots__ = ("_at", "_result", "_rows", "rowcount")

    def __init__(self, result: pq.abc.PGresult, rows: list[tuple[Any, ...]]) -> None:
        self._result = result
        self._rows = rows
        self._at = 0
        tuples = result.command_tuples
        self.rowcount = len(rows) if tuples is None else tuples

    @property
    def description(self) -> list[tuple[str]]:
        result = self._result
        return [((result.fname(i) or b"").decode(),) for i in range(result.nfields)]

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows = self._rows[self._at :]
        self._at = len(self._rows)
        return rows


class _Link:
    """What one connection keeps: whether it prepares statements, the ones prepared on it,
    and its loaders."""

    __slots__ = ("encoding", "loader", "pending", "prepare", "prepared")

    def __init__(self, driver: Any, prepare: bool) -> None:
        self.prepare = prepare
        self.prepared: set[bytes] = set()
        self.loader = Transformer(driver)
        self.encoding: str = driver.info.encoding
        # Deferred writes, in order: each statement with its sets of parameters.
        self.pending: list[_Command] = []


def attach(driver: Any, prepare: bool) -> None:
    """Set up a new connection. Without `prepare`, each statement is sent whole (unnamed)
    every time: a pooler that hands each transaction another server connection, such as
    PgBouncer before 1.21 in transaction mode, cannot carry named statements over."""
    driver._maskline_link = _Link(driver, prepare)


def _link(driver: Any) -> _Link:
    link: _Link | None = getattr(driver, "_maskline_link", None)
    if link is None:
        link = driver._maskline_link = _Link(driver, True)
    return link


def _text(value: Any, link: _Link) -> bytes | None:
    if value is None:
        return None
    kind = type(value)
    if kind is str:
        return value.encode()  # type: ignore[no-any-return]
    if kind is bool:
        return b"t" if value else b"f"
    if kind is int:
        return str(value).encode()
    # Anything else as psycopg would write it.
    dumped = link.loader.dump_sequence([value], [PyFormat.TEXT])[0]
    return None if dumped is None else bytes(dumped)


def execute(driver: Any, statement: Statement, values: Sequence[Any]) -> Rows:
    """Run the statement with these values (in `statement.names` order) on the driver's
    connection, after its deferred writes, beginning a transaction first when psycopg would
    have."""
    pgconn = driver.pgconn
    link = _link(driver)
    params = [_text(value, link) for value in values]
    begin = pgconn.transaction_status == _IDLE and not driver.autocommit
    if begin or link.pending:
        result = _pipelined(pgconn, link, _with_pending(link, statement, [params]), begin)
    elif not link.prepare:
        pgconn.send_query_params(statement.sql, params)
        result = _answer(pgconn)
    elif statement.name in link.prepared:
        pgconn.send_query_prepared(statement.name, params)
        result = _answer(pgconn)
        if result is not None and result.status not in (_TUPLES_OK, _COMMAND_OK):
            _note_failure(result, link, statement.name)
    else:
        result = _pipelined(pgconn, link, [(statement, [params])], begin)
    return _rows(pgconn, link, result)


def execute_many(driver: Any, statement: Statement, value_sets: Sequence[Sequence[Any]]) -> None:
    """Run the statement once per set of values, all in one round trip."""
    pgconn = driver.pgconn
    link = _link(driver)
    param_sets = [[_text(value, link) for value in values] for values in value_sets]
    begin = pgconn.transaction_status == _IDLE and not driver.autocommit
    commands = _with_pending(link, statement, param_sets)
    _rows(pgconn, link, _pipelined(pgconn, link, commands, begin))


def defer(driver: Any, statement: Statement, value_sets: Sequence[Sequence[Any]]) -> None:
    """Queue a write, once per set of values, to go out with the connection's next statement
    or COMMIT (see the module's docstring). In autocommit there is no transaction to carry
    it: it runs now."""
    if driver.autocommit:
        execute_many(driver, statement, value_sets)
        return
    link = _link(driver)
    param_sets = [[_text(value, link) for value in values] for values in value_sets]
    link.pending.append((statement, param_sets))


def flush(driver: Any) -> None:
    """Send the deferred writes now, if any: before a statement that does not go through
    here."""
    link = _link(driver)
    if not link.pending:
        return
    pgconn = driver.pgconn
    begin = pgconn.transaction_status == _IDLE and not driver.autocommit
    commands = link.pending
    link.pending = []
    _rows(pgconn, link, _pipelined(pgconn, link, commands, begin))


def discard(driver: Any) -> None:
    """Forget the deferred writes: the transaction they belong to is rolled back."""
    link: _Link | None = getattr(driver, "_maskline_link", None)
    if link is not None:
        link.pending = []


def _with_pending(
    link: _Link, statement: Statement, param_sets: list[list[bytes | None]]
) -> list[_Command]:
    """The deferred writes, then this statement: the queue is handed over (and emptied)."""
    commands = link.pending
    link.pending = []
    commands.append((statement, param_sets))
    return commands


def _rows(pgconn: Any, link: _Link, result: Any) -> Rows:
    if result is None or pgconn.status == _BAD:
        raise OperationalError(_lost(pgconn))
    status = result.status
    if status == _TUPLES_OK:
        loader = link.loader
        loader.set_pgresult(result)
        return Rows(result, loader.load_rows(0, result.ntuples, tuple))
    if status == _COMMAND_OK:
        return Rows(result, [])
    raise _error(result, link)


def _pipelined(
    pgconn: Any,
    link: _Link,
    commands: list[_Command],
    begin: bool,
    tail: bytes | None = None,
) -> pq.abc.PGresult | None:
    """BEGIN (when asked), then each statement (with its PREPARE, when not done yet) once per
    set of its parameters, then `tail` (COMMIT) if any, all in one round trip: the result of
    the last, or the first failure. None when the connection failed: it is then closed, so
    that it is given up rather than reused in an unknown state."""
    # For each command sent: the statement name it prepares or runs (None for BEGIN and the
    # tail), and whether it is that statement's PREPARE.
    sent: list[tuple[bytes | None, bool]] = []
    results: list[pq.abc.PGresult] = []
    pgconn.enter_pipeline_mode()
    try:
        if begin:
            pgconn.send_query_params(b"BEGIN", None)
            sent.append((None, False))
        preparing: set[bytes] = set()
        for statement, param_sets in commands:
            name = statement.name
            if link.prepare and name not in link.prepared and name not in preparing:
                pgconn.send_prepare(name, statement.sql)
                sent.append((name, True))
                preparing.add(name)
            for params in param_sets:
                if link.prepare:
                    pgconn.send_query_prepared(name, params)
                else:
                    pgconn.send_query_params(statement.sql, params)
                sent.append((name, False))
        if tail is not None:
            pgconn.send_query_params(tail, None)
            sent.append((None, False))
        pgconn.pipeline_sync()
        _flush(pgconn)
        for _ in sent:
            result = _result(pgconn)
            if result is None:
                break
            results.append(result)
            _result(pgconn)  # the end of that command's results
        synced = _result(pgconn)
        if len(results) == len(sent) and synced is not None and synced.status == _PIPELINE_SYNC:
            pgconn.exit_pipeline_mode()
    except OperationalError:
        pass
    if pgconn.pipeline_status != _OFF:
        pgconn.finish()
        return None
    for (owner, is_prepare), result in zip(sent, results, strict=False):
        if result.status in (_COMMAND_OK, _TUPLES_OK):
            # A PREPARE that succeeded is kept, whatever came after it: prepared statements
            # outlive a rollback.
            if is_prepare and owner is not None:
                link.prepared.add(owner)
            continue
        # The first failure (the commands after it were skipped): this one is reported.
        _note_failure(result, link, owner)
        return result
    return results[-1]


def _note_failure(result: pq.abc.PGresult, link: _Link, name: bytes | None) -> None:
    """Keep the list of prepared statements true to the server after `name` failed."""
    if name is None:
        return
    sqlstate = result.error_field(pq.DiagnosticField.SQLSTATE)
    if sqlstate == _UNKNOWN_STATEMENT:
        # The server no longer knows the statement (say, a pooler gave us another backend):
        # it is prepared again on its next run.
        link.prepared.discard(name)
    elif sqlstate == _STATEMENT_EXISTS:
        # The server has it already (a pooler's backend can outlive our record of it): it
        # is run from now on.
        link.prepared.add(name)


def _error(result: pq.abc.PGresult, link: _Link) -> Exception:
    return errors.error_from_result(result, encoding=link.encoding)


def _lost(pgconn: Any) -> str:
    message = pgconn.error_message.decode(errors="replace").strip()
    return message or "the connection to PostgreSQL was lost"


def commit(driver: Any) -> None:
    """COMMIT the open transaction, if any, as psycopg's `commit()` does; deferred writes go
    out in the same round trip, ahead of it."""
    pgconn = driver.pgconn
    link = _link(driver)
    if link.pending:
        begin = pgconn.transaction_status == _IDLE and not driver.autocommit
        commands = link.pending
        link.pending = []
        result = _pipelined(pgconn, link, commands, begin, tail=b"COMMIT")
    elif pgconn.transaction_status == _IDLE:
        return
    else:
        pgconn.send_query(b"COMMIT")
        result = _answer(pgconn)
    if result is None or pgconn.status == _BAD:
        raise OperationalError(_lost(pgconn))
    if result.status != _COMMAND_OK:
        raise _error(result, link)
    if result.command_status == b"ROLLBACK":
        # COMMIT on a transaction an earlier error had aborted: PostgreSQL rolls it back and
        # says so only in the command tag.
        raise errors.InFailedSqlTransaction("the transaction had failed; COMMIT rolled it back")
