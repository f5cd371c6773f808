"""Fixtures: one Maskline server per test process, SDK clients and fresh services."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from twilio.rest import Client

from maskline.db import migrate
from maskline.runtime import Runtime
from maskline.settings import Settings
from tests.support import ENGINE, Server, new_database_url, postgres, unique

_NUMBER_COUNTER = iter(range(10**6))


def pytest_sessionstart(session: pytest.Session) -> None:
    """On the PostgreSQL run, start the server first: skip (locally) or fail (CI) without one."""
    if ENGINE != "postgresql":
        return
    try:
        postgres()
    except Exception as exc:
        reason = f"PostgreSQL half skipped: no PostgreSQL server could be started ({exc})"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            raise pytest.UsageError("CI needs PostgreSQL: " + reason) from exc
        pytest.exit(reason, returncode=0)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("db")
    running = Server(database_url=new_database_url(folder)).start()
    yield running
    running.stop()


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    """Maskline's runtime in the test process, on a fresh, migrated database: for what the
    HTTP surface cannot reach (the database layer, the worker's jobs)."""
    runtime = Runtime(Settings(database_url=new_database_url(tmp_path)))
    migrate.upgrade(runtime.engine)
    yield runtime
    runtime.dispose()


@pytest.fixture(scope="session")
def client(server: Server) -> Client:
    return server.client()


@pytest.fixture(scope="session")
def api(server: Server) -> Iterator[httpx.Client]:
    with server.http() as http:
        yield http


@pytest.fixture
def service(client: Client) -> Any:
    return client.proxy.v1.services.create(unique_name=unique("svc"))


def next_number(area: str = "415") -> str:
    """A valid US number nobody in this test run has used yet."""
    n = next(_NUMBER_COUNTER)
    # 555-01xx is fictional but 555-02xx.. are not allowed: use real-looking exchange digits.
    return f"+1{area}{200 + n // 10000:03d}{n % 10000:04d}"


def add_numbers(client: Client, service_sid: str, count: int, area: str = "415") -> list[Any]:
    pool = client.proxy.v1.services(service_sid).phone_numbers
    return [pool.create(phone_number=next_number(area)) for _ in range(count)]


def participants_json(*identifiers: str) -> list[str]:
    return [json.dumps({"Identifier": value}) for value in identifiers]
