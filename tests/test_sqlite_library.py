"""SQLite's memory statistics are off in a serving process, and the library still works.

The setting is process-wide and can only change while no connection is open, so each check
runs in a fresh Python process of its own.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from maskline.db.sqlite_library import _loaded_library
from tests.support import Server

pytestmark = pytest.mark.skipif(
    _loaded_library() is None,
    reason="Python's sqlite3 runs on no separate SQLite library here (not Linux, or built in)",
)

# Work on a database file, then what SQLite's statistics say it has allocated.
_PROGRAM = """
import ctypes, sqlite3, sys
from maskline.db.sqlite_library import _loaded_library, skip_memory_statistics
urls = {"skip": "sqlite:///" + sys.argv[2], "postgresql": "postgresql://localhost/maskline"}
took = skip_memory_statistics(urls[sys.argv[1]]) if sys.argv[1] in urls else None
library = ctypes.CDLL(_loaded_library())
library.sqlite3_memory_used.restype = ctypes.c_int64
db = sqlite3.connect(sys.argv[2])
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
db.executemany("INSERT INTO t (v) VALUES (?)", [(str(i) * 20,) for i in range(5000)])
db.commit()
count, = db.execute("SELECT count(*) FROM t WHERE v LIKE '1%'").fetchone()
print(took, count, library.sqlite3_memory_used())
"""


def _run(mode: str, path: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, mode, path],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.split()


def test_memory_statistics_are_off_and_queries_still_run(tmp_path: Path) -> None:
    took, count, used = _run("skip", f"{tmp_path}/off.db")
    assert took == "True"
    assert count == "1111"  # 1, 10-19, 100-199, 1000-1999
    assert used == "0"


def test_statistics_count_allocations_when_left_on(tmp_path: Path) -> None:
    # The measure above means something: without the call, SQLite counts what it holds.
    took, count, used = _run("keep", f"{tmp_path}/on.db")
    assert took == "None"
    assert count == "1111"
    assert int(used) > 0


def test_a_sqlite_server_turns_the_statistics_off(tmp_path: Path) -> None:
    # `maskline serve` on SQLite makes the call before it opens the database, and says so.
    server = Server(
        database_url=f"sqlite:///{tmp_path / 'served.db'}", env={"MASKLINE_LOG_LEVEL": "debug"}
    ).start()
    try:
        service = server.client().proxy.v1.services.create(unique_name="statistics")
        assert service.sid.startswith("KS")
    finally:
        server.stop()
    assert "SQLite memory statistics off" in server.log()


def test_a_postgresql_server_leaves_the_library_alone(tmp_path: Path) -> None:
    took, count, used = _run("postgresql", f"{tmp_path}/pg.db")
    assert took == "False"
    assert count == "1111"
    assert int(used) > 0
