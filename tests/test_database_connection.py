"""A PostgreSQL server that drops Maskline's connections: requests fail cleanly, then recover.

Maskline runs its hot statements on libpq directly, prepared once per connection
(`db/libpq.py`). When PostgreSQL ends those connections (a restart, a failover,
`pg_terminate_backend`), a request caught in between answers a Twilio-style error, the
connection is given up, and the next requests run on a new one, where the statements are
prepared again. This runs on PostgreSQL in both halves of the suite: SQLite has no connection
to lose.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import next_number
from tests.support import Server, postgres, unique


@pytest.fixture
def server() -> Iterator[Server]:
    try:
        database_url = str(postgres().create_database())
    except Exception as exc:
        reason = f"no PostgreSQL server could be started ({exc})"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI needs PostgreSQL: " + reason)
        pytest.skip(reason)
    running = Server(database_url=database_url).start()
    yield running
    running.stop()


def terminate_backends(database_url: str) -> int:
    """End every PostgreSQL backend serving this database; how many there were."""
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (name,),
        ).fetchall()
    return len(rows)


def create_session(http: httpx.Client, service_sid: str) -> httpx.Response:
    identifiers = [next_number("628"), next_number("628")]
    return http.post(
        f"/v1/Services/{service_sid}/Sessions",
        data={"Participants": [json.dumps({"Identifier": i}) for i in identifiers]},
    )


def test_requests_recover_after_postgresql_ends_the_connections(
    server: Server, tmp_path: Path
) -> None:
    http = server.http()
    service = http.post("/v1/Services", data={"UniqueName": unique("svc")}).json()
    for _ in range(3):
        added = http.post(
            f"/v1/Services/{service['sid']}/PhoneNumbers", data={"PhoneNumber": next_number()}
        )
        assert added.status_code == 201, added.text
    # Every statement of these requests is prepared on the server's connection.
    first = create_session(http, service["sid"])
    assert first.status_code == 201, first.text
    session_path = f"/v1/Services/{service['sid']}/Sessions/{first.json()['sid']}"
    assert http.get(session_path).status_code == 200

    assert terminate_backends(server.database_url) >= 1

    answers: list[httpx.Response] = []
    for _ in range(6):
        answers.append(http.get(session_path))
        answers.append(create_session(http, service["sid"]))
    failures = [a for a in answers if a.status_code >= 500]
    # The request that meets the dead connection may fail, with an error body; at most one
    # per connection the server held (the request's and the worker's).
    assert len(failures) <= 2, [a.text for a in failures]
    for failure in failures:
        body: Any = failure.json()
        assert body["status"] == failure.status_code and "message" in body
    # Then everything works, and what was written before is all there.
    assert [a.status_code for a in answers[-6:]] == [200, 201] * 3
    assert http.get(session_path).json()["status"] in ("open", "in-progress")
    assert http.get("/healthz").status_code == 200
    assert server.process is not None and server.process.poll() is None
