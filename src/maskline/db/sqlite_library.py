"""Process-wide settings of the SQLite library, made before a server opens its database.

SQLite keeps memory statistics (for `sqlite3_memory_used()` and the soft heap limit) by
taking a process-wide mutex around every allocation it makes. Maskline reads neither, and a
routed text cost about a thousand of those lock and unlock pairs: 3% of its instructions.
`sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0)` turns the statistics off, but only while the
library is not initialized, and Python's `sqlite3` module initializes it when imported. So the
library is shut down, set, and initialized again: allowed only while no connection is open,
which is why only the commands that serve call this, first thing.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from pathlib import Path

from maskline.db.engine import is_sqlite

log = logging.getLogger("maskline.db")

_SQLITE_OK = 0
_SQLITE_CONFIG_MEMSTATUS = 9

_applied = False


def _loaded_library() -> str | None:
    """The file of the SQLite library Python's sqlite3 module runs on, if it is a shared
    library of its own (not built into the module, as on some platforms)."""
    if not sys.platform.startswith("linux"):
        return None
    import sqlite3  # noqa: F401  (here, not at the top: it maps the library read of below)

    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    for line in maps.splitlines():
        path = line.split(maxsplit=5)[-1]
        if "/libsqlite3" in path and path.startswith("/"):
            return path
    return None


def skip_memory_statistics(database_url: str) -> bool:
    """Turn SQLite's memory statistics off for this process, if it serves this SQLite
    database; whether it took.

    Call it before anything opens a database in this process. It does nothing for
    PostgreSQL (whose server never loads SQLite's library), where the library cannot be reached
    (another platform, SQLite built into Python), or twice.
    """
    global _applied
    if _applied:
        return True
    if not is_sqlite(database_url):
        return False
    import sqlite3  # here, past the check: a PostgreSQL server never loads SQLite's library

    path = _loaded_library()
    if path is None:
        return False
    library = ctypes.CDLL(path)
    # The same library the sqlite3 module uses, not another copy found by name.
    version = sqlite3.sqlite_version_info
    expected = version[0] * 1_000_000 + version[1] * 1_000 + version[2]
    if library.sqlite3_libversion_number() != expected:
        return False
    if library.sqlite3_shutdown() != _SQLITE_OK:
        return False
    took: bool = library.sqlite3_config(_SQLITE_CONFIG_MEMSTATUS, ctypes.c_int(0)) == _SQLITE_OK
    if library.sqlite3_initialize() != _SQLITE_OK:
        raise RuntimeError("the SQLite library did not initialize again")
    _applied = took
    log.debug("SQLite memory statistics %s", "off" if took else "left on")
    return took
