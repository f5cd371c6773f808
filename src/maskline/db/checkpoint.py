"""Copying SQLite's write-ahead log back into the database, off the request path.

In WAL mode a commit appends pages to the log; a checkpoint copies them into the database file
and syncs it to disk. SQLite runs one inside whichever commit pushes the log past its limit,
so that request waits for the sync: on an ordinary disk, milliseconds every few dozen writes.
A server process instead runs checkpoints here, on a thread with its own connection (the
driver lets other threads run meanwhile), and its own connections only checkpoint by
themselves when the log is far past that limit: a safety net if this thread falls behind or
is not running, as in the command-line tools.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("maskline.db")

# Pages in the log after which a serving connection checkpoints by itself (about 40 MB).
FALLBACK_PAGES = 10_000
# How often the thread checkpoints, in seconds.
INTERVAL_S = 0.1


class Checkpointer:
    """A daemon thread that checkpoints one SQLite database's log every INTERVAL_S."""

    def __init__(self, path: str, interval_s: float = INTERVAL_S) -> None:
        self._path = path
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="maskline-checkpoint", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        import sqlite3  # here: only a SQLite server runs this thread

        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=1000")
            while not self._stop.wait(self._interval_s):
                try:
                    # PASSIVE copies what it can without waiting for readers or writers.
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:
                    log.warning("checkpoint failed: %s", exc)
        finally:
            conn.close()
