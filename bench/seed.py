"""Bulk seeding straight into Maskline's tables: a pool of numbers and active sessions.

The rows are those the API would have written, and keep every invariant the rules rely on:

- each session is active (`open`), with no TTL and no DateExpiry (`expires_at` NULL), so the
  worker's expiry sweep never closes it, and `ttl_base` is its creation time;
- each has two participants in slots 1 and 2, `active`, on two different pool numbers, each
  with its own identifier, so the pair index (identifier, proxy number, while active) holds;
- each number's `in_use` counts the active sessions that use it, as `change_in_use` keeps it.

SQLite gets SQLAlchemy Core executemany; PostgreSQL gets COPY through psycopg. Both write in
batches, one transaction each.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update

from maskline.db.engine import create_db_engine, is_sqlite
from maskline.numbers.tables import PHONE_NUMBER, numbers
from maskline.participants.tables import participants
from maskline.sessions.tables import ACTIVE, sessions

BATCH = 25_000  # sessions per executemany or COPY
# Sessions per transaction: the random SIDs land all over their indexes, so a transaction
# rewrites most index pages; few large transactions write each page once.
TRANSACTION = 250_000
# Pool numbers: +1212300XXXX. Seeded participants: +1646NXXXXXX (slot 1), +1312NXXXXXX (slot 2).
POOL_PREFIX = "+1212300"
SLOT_AREAS = ("646", "312")
FIRST_SUBSCRIBER = 2_000_000

SESSION_COLUMNS = [c.name for c in sessions.columns if c.name != "id"]
PARTICIPANT_COLUMNS = [c.name for c in participants.columns if c.name != "id"]


def open_engine(url: str) -> Engine:
    return create_db_engine(url)


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """One write transaction; on SQLite with a big page cache, as bulk loading wants."""
    with engine.connect() as conn:
        conn.info["writes"] = True
        if is_sqlite(str(engine.url)):
            # On this connection only (it goes back to the pool as is, and this engine serves
            # the seeding alone): 2 GB of page cache, and no fsync. A bulk load that a crash
            # interrupts is simply run again.
            driver = conn.connection.driver_connection
            assert driver is not None
            driver.execute("PRAGMA cache_size=-2000000")
            driver.execute("PRAGMA synchronous=OFF")
            # The rows are consistent by construction (sessions before their participants,
            # numbers already in the pool): checking each foreign key again is wasted work.
            driver.execute("PRAGMA foreign_keys=OFF")
        with conn.begin():
            if not is_sqlite(str(engine.url)) and _superuser(conn):
                # The same on PostgreSQL: without the per-row RI triggers, a superuser only.
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            yield conn


def _superuser(conn: Connection) -> bool:
    return bool(
        conn.exec_driver_sql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").scalar()
    )


def _sids(prefix: str, count: int) -> list[str]:
    raw = os.urandom(16 * count).hex()
    return [prefix + raw[32 * i : 32 * i + 32] for i in range(count)]


def seed_pool(engine: Engine, *, account_sid: str, service_sid: str, count: int) -> list[Any]:
    """`count` phone numbers the account owns, in the service's pool, none in use yet."""
    now = int(time.time() * 1000)
    rows = [
        {
            "sid": sid,
            "account_sid": account_sid,
            "kind": PHONE_NUMBER,
            "phone_number": f"{POOL_PREFIX}{k:04d}",
            "friendly_name": f"{POOL_PREFIX}{k:04d}",
            "iso_country": "US",
            "calling_code": 1,
            "area_code": "212",
            "voice": True,
            "sms": True,
            "mms": True,
            "fax": False,
            "date_created": now,
            "date_updated": now,
            "service_sid": service_sid,
            "is_reserved": False,
            "in_use": 0,
            "date_added": now,
            "date_pool_updated": now,
        }
        for k, sid in enumerate(_sids("PN", count))
    ]
    with writing(engine) as conn:
        conn.execute(insert(numbers), rows)
    return pool_numbers(engine, service_sid)


def pool_numbers(engine: Engine, service_sid: str) -> list[Any]:
    with engine.connect() as conn:
        stmt = (
            select(numbers.c.sid, numbers.c.phone_number)
            .where(numbers.c.service_sid == service_sid)
            .order_by(numbers.c.id)
        )
        return list(conn.execute(stmt))


def active_sessions(engine: Engine, service_sid: str) -> int:
    with engine.connect() as conn:
        stmt = (
            select(func.count())
            .select_from(sessions)
            .where(sessions.c.service_sid == service_sid, sessions.c.status.in_(ACTIVE))
        )
        return int(conn.execute(stmt).scalar_one())


def _batch(
    *, account_sid: str, service_sid: str, pool: list[Any], start: int, count: int, now: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Counter[str]]:
    session_sids = _sids("KC", count)
    participant_sids = _sids("KP", 2 * count)
    session_rows: list[dict[str, Any]] = []
    participant_rows: list[dict[str, Any]] = []
    used: Counter[str] = Counter()
    size = len(pool)
    for j in range(count):
        i = start + j
        session_sid = session_sids[j]
        session_rows.append(
            {
                "sid": session_sid,
                "account_sid": account_sid,
                "service_sid": service_sid,
                "unique_name": None,
                "mode": "voice-and-message",
                "status": "open",
                "ttl": 0,
                "date_expiry": None,
                "date_started": now,
                "date_ended": None,
                "date_last_interaction": None,
                "closed_reason": None,
                "date_created": now,
                "date_updated": now,
                "ttl_base": now,
                "expires_at": None,
            }
        )
        for slot in (1, 2):
            # Round robin over the pool: the two participants of a session get neighbours,
            # and every number ends up with the same share, as least-used selection does.
            number = pool[(2 * i + slot - 1) % size]
            used[number.sid] += 1
            participant_rows.append(
                {
                    "sid": participant_sids[2 * j + slot - 1],
                    "account_sid": account_sid,
                    "service_sid": service_sid,
                    "session_sid": session_sid,
                    "identifier": f"+1{SLOT_AREAS[slot - 1]}{FIRST_SUBSCRIBER + i}",
                    "friendly_name": None,
                    "proxy_identifier": number.phone_number,
                    "proxy_number_sid": number.sid,
                    "slot": slot,
                    "active": True,
                    "date_created": now,
                    "date_updated": now,
                    "date_deleted": None,
                }
            )
    return session_rows, participant_rows, used


_IN_USE = (
    update(numbers)
    .where(numbers.c.sid == bindparam("number_sid"))
    .values(in_use=numbers.c.in_use + bindparam("delta"))
)


def _copy(conn: Connection, table: str, columns: list[str], rows: list[dict[str, Any]]) -> None:
    driver = conn.connection.driver_connection
    assert driver is not None
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def seed_sessions(
    engine: Engine,
    *,
    account_sid: str,
    service_sid: str,
    pool: list[Any],
    start: int,
    count: int,
    progress: Any = None,
) -> float:
    """Add `count` active sessions of two participants (seeded numbering from `start`).

    Returns the seconds it took.
    """
    if count <= 0:
        return 0.0
    if FIRST_SUBSCRIBER + start + count > 10_000_000:
        raise ValueError("seeded identifiers would run out of subscriber numbers")
    sqlite = is_sqlite(str(engine.url))
    began = time.monotonic()
    now = int(time.time() * 1000)
    done = 0
    while done < count:
        end = min(done + TRANSACTION, count)
        used: Counter[str] = Counter()
        with writing(engine) as conn:
            while done < end:
                size = min(BATCH, end - done)
                session_rows, participant_rows, batch_used = _batch(
                    account_sid=account_sid,
                    service_sid=service_sid,
                    pool=pool,
                    start=start + done,
                    count=size,
                    now=now,
                )
                used.update(batch_used)
                if sqlite:
                    conn.execute(insert(sessions), session_rows)
                    conn.execute(insert(participants), participant_rows)
                else:
                    _copy(conn, "sessions", SESSION_COLUMNS, session_rows)
                    _copy(conn, "participants", PARTICIPANT_COLUMNS, participant_rows)
                done += size
                if progress is not None:
                    progress(done, count)
            conn.execute(
                _IN_USE, [{"number_sid": sid, "delta": delta} for sid, delta in used.items()]
            )
    if not sqlite:
        # What autovacuum would do soon after a bulk load: fresh statistics for the planner.
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "ANALYZE sessions, participants, numbers"
            )
    return time.monotonic() - began
