"""GET /readyz: 200 only while the database answers and holds the schema this Maskline needs;
/healthz stays the liveness check."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from maskline.db.migrate import head_revision
from tests.support import Server, new_database_url, postgres_database


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[Server]:
    running = Server(database_url=new_database_url(tmp_path)).start()
    yield running
    running.stop()


def _set_revision(database_url: str, revision: str) -> None:
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    finally:
        engine.dispose()


def test_ready_only_while_the_schema_is_current(srv: Server) -> None:
    ready = httpx.get(srv.base_url + "/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok"}

    _set_revision(srv.database_url, "0006")
    behind = httpx.get(srv.base_url + "/readyz")
    assert behind.status_code == 503
    body = behind.json()
    assert body["status"] == "unavailable"
    assert "0006" in body["reason"] and head_revision() in body["reason"]
    # Alive all the same: the process is fine, its database is not ready for it.
    assert httpx.get(srv.base_url + "/healthz").status_code == 200

    _set_revision(srv.database_url, head_revision())
    assert httpx.get(srv.base_url + "/readyz").status_code == 200


def test_not_ready_once_the_database_is_gone() -> None:
    """Runs on PostgreSQL in both halves of the suite: a SQLite file cannot go away under the
    connections that hold it open."""
    import psycopg

    database_url = postgres_database()
    server = Server(database_url=database_url).start()
    try:
        assert httpx.get(server.base_url + "/readyz").status_code == 200
        name = database_url.rsplit("/", 1)[1]
        admin = database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        started = time.monotonic()
        gone = httpx.get(server.base_url + "/readyz", timeout=30)
        assert time.monotonic() - started < 10
        assert gone.status_code == 503
        body = gone.json()
        assert body["status"] == "unavailable"
        assert "cannot be reached" in body["reason"]
        # The reason names the failure, never where the database is.
        assert "127.0.0.1" not in body["reason"] and name not in body["reason"]
        # Alive all the same: restarting it would not bring the database back.
        assert httpx.get(server.base_url + "/healthz").status_code == 200
    finally:
        server.stop()
