"""A server keeps to what it uses: the other database's driver stays out of its process.

Importing psycopg maps its library and libpq into the process, about 10 MB of memory, so
Maskline imports it only once a PostgreSQL database is in use; a PostgreSQL server likewise
never loads SQLite's library. The server's memory map shows whether anything pulled it in.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import next_number, participants_json
from tests.support import ENGINE, Server, new_database_url

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the server's /proc/<pid>/maps"
)


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[Server]:
    # SQLite on both halves of the suite: what is checked is a SQLite server's process.
    server = Server(database_url=f"sqlite:///{tmp_path / 'footprint.db'}").start()
    yield server
    server.stop()


def mapped_files(server: Server) -> set[str]:
    assert server.process is not None
    maps = Path(f"/proc/{server.process.pid}/maps").read_text()
    return {line.split()[-1] for line in maps.splitlines() if "/" in line}


def _serve_traffic(server: Server) -> None:
    """Sessions, a routed text, the sandbox's status steps and the worker's rounds."""
    client = server.client()
    service = client.proxy.v1.services.create(unique_name="footprint")
    pool = client.proxy.v1.services(service.sid).phone_numbers
    pool.create(phone_number=next_number())
    pool.create(phone_number=next_number())
    rider, driver = next_number("628"), next_number("628")
    sessions = client.proxy.v1.services(service.sid).sessions
    session = sessions.create(participants=participants_json(rider, driver))
    listed = sessions(session.sid).participants.list()
    proxy = next(p.proxy_identifier for p in listed if p.identifier == rider)
    with server.http() as http:
        sent = http.post("/sandbox/v1/Messages", data={"From": rider, "To": proxy, "Body": "hi"})
        assert sent.status_code == 201, sent.text
        assert sent.json()["routing"]["result"] == "forwarded"
    assert sessions(session.sid).interactions.list()


def test_sqlite_server_never_loads_postgresql_driver(sqlite_server: Server) -> None:
    _serve_traffic(sqlite_server)
    files = mapped_files(sqlite_server)
    assert any("sqlite" in name for name in files), "the map should show SQLite's library"
    loaded = sorted(name for name in files if "psycopg" in name or "libpq" in name)
    assert loaded == [], f"a SQLite server loaded PostgreSQL's driver: {loaded}"


def test_postgresql_server_never_loads_sqlite(tmp_path: Path) -> None:
    if ENGINE != "postgresql":
        return  # the PostgreSQL half of the suite runs it, on its cluster
    server = Server(database_url=new_database_url(tmp_path)).start()
    try:
        _serve_traffic(server)
        files = mapped_files(server)
    finally:
        server.stop()
    assert any("libpq" in name for name in files), "the map should show libpq"
    loaded = sorted(name for name in files if "sqlite" in name)
    assert loaded == [], f"a PostgreSQL server loaded SQLite's library: {loaded}"
