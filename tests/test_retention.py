"""Retention: the worker deletes sessions closed for MASKLINE_RETENTION_DAYS with their
participants and interactions, and finished callbacks, events and sandbox records as old; it
goes by each account's sandbox clock and never touches what is still open."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert, select

from maskline.accounts.rules import create_account
from maskline.retention import DAY_MS, Retention
from maskline.runtime import Runtime
from maskline.services.tables import services
from maskline.sessions.tables import sessions
from maskline.settings import Settings
from tests.conftest import next_number
from tests.receiver import Receiver
from tests.support import Server, other_account
from tests.traffic import Sandbox, new_service, open_conversation, start_server, wait_until

DAY = 86_400


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory, "retention")
    yield running
    running.stop()


def _deleted(server: Server) -> dict[str, float]:
    text = httpx.get(server.base_url + "/metrics").text
    return {
        sample.labels["kind"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "maskline_retention_deleted"
        for sample in family.samples
        if sample.name == "maskline_retention_deleted_total"
    }


def test_a_closed_session_goes_after_the_retention_period(srv: Server) -> None:
    sdk = srv.client()
    b_sid, b_token = other_account(srv)
    with Receiver() as receiver, srv.http() as a, srv.http(b_sid, b_token) as b:
        service = new_service(sdk, 2, callback_url=receiver.url("/cb"))
        closing = open_conversation(sdk, service)
        staying = open_conversation(sdk, service)
        sandbox = Sandbox(a)
        sandbox.send(closing.a.identifier, closing.a.proxy_identifier, "before closing")
        receiver.wait_for("/cb")
        wait_until(
            lambda: all(c["status"] == "delivered" for c in sandbox.callbacks()),
            what="the callbacks delivered",
        )
        # A stranger's text to a proxy number is logged as an event.
        sandbox.text(next_number("312"), closing.a.proxy_identifier, "who is this")
        assert sandbox.events()
        closing.session.update(status="closed")

        # Another account's session, closed at the same time: its clock does not move.
        b_service = b.post("/v1/Services", data={"UniqueName": "kept-by-b"}).json()["sid"]
        b_session = b.post(f"/v1/Services/{b_service}/Sessions", data={}).json()["sid"]
        closed = b.post(f"/v1/Services/{b_service}/Sessions/{b_session}", data={"Status": "closed"})
        assert closed.status_code == 200, closed.text

        path = f"/v1/Services/{service.sid}/Sessions/{closing.session_sid}"
        sandbox.advance(89 * DAY)
        time.sleep(0.5)  # several worker rounds, each one free to sweep
        assert a.get(path).status_code == 200

        sandbox.advance(2 * DAY)
        wait_until(lambda: a.get(path).status_code == 404, what="the closed session deleted")
        assert a.get(path + "/Participants").status_code == 404
        assert a.get(path + "/Interactions").status_code == 404
        wait_until(lambda: not sandbox.callbacks(), what="the finished callbacks deleted")
        # The rows themselves, not only what the API shows: the session's participants and
        # interactions, and its callbacks' attempts.
        wait_until(
            lambda: _rows_of(srv, closing.session_sid) == (0, 0, 0, 0),
            what="the session's rows deleted",
        )
        wait_until(lambda: not sandbox.events(), what="the events deleted")
        wait_until(
            lambda: not sandbox.messages(closing.a.identifier), what="the sandbox's messages"
        )
        # Open sessions stay, however old, with their participants.
        still = a.get(f"/v1/Services/{service.sid}/Sessions/{staying.session_sid}")
        assert still.status_code == 200 and still.json()["status"] == "open"
        assert len(staying.session.participants.list()) == 2
        b_path = f"/v1/Services/{b_service}/Sessions/{b_session}"
        assert b.get(b_path).json()["status"] == "closed"

    deleted = _deleted(srv)
    for kind in ("sessions", "callbacks", "events", "sandbox"):
        assert deleted.get(kind, 0) >= 1, deleted


def _rows_of(server: Server, session_sid: str) -> tuple[int, int, int, int]:
    """(participants, interactions, callbacks) left of a session, and callback attempts left
    without their callback."""
    import sqlalchemy as sa

    engine = sa.create_engine(server.database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            counts = [
                conn.execute(
                    sa.text(f"SELECT count(*) FROM {table} WHERE session_sid = :sid"),
                    {"sid": session_sid},
                ).scalar_one()
                for table in ("participants", "interactions", "callbacks")
            ]
            # Attempts outlive no callback of theirs.
            attempts = conn.execute(
                sa.text(
                    "SELECT count(*) FROM callback_attempts WHERE callback_id NOT IN "
                    "(SELECT id FROM callbacks)"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return counts[0], counts[1], counts[2], attempts


@pytest.fixture
def closed_sessions(runtime: Runtime) -> Runtime:
    """300 sessions closed a year ago, and one open as long, straight into the tables."""
    long_ago = runtime.clock.wall_ms() - 365 * DAY_MS
    with runtime.transaction() as conn:
        account = create_account(conn, runtime.clock).sid
        conn.execute(
            insert(services).values(
                sid="KS" + "a" * 32,
                account_sid=account,
                unique_name="old",
                default_ttl=0,
                geo_match_level="country",
                number_selection_behavior="prefer-sticky",
                date_created=long_ago,
                date_updated=long_ago,
            )
        )
        rows = [
            {
                "sid": f"KC{i:032x}",
                "account_sid": account,
                "service_sid": "KS" + "a" * 32,
                "mode": "voice-and-message",
                "status": "closed" if i else "open",
                "ttl": 0,
                "date_ended": long_ago if i else None,
                "date_created": long_ago,
                "date_updated": long_ago,
                "ttl_base": long_ago,
            }
            for i in range(301)
        ]
        conn.execute(insert(sessions), rows)
    return runtime


def test_a_sweep_deletes_in_batches_and_leaves_open_sessions(
    closed_sessions: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One batch a sweep: 300 closed sessions take three sweeps of a hundred.
    monkeypatch.setattr("maskline.retention.MAX_BATCHES", 1)
    retention = Retention(closed_sessions)
    assert retention.due()
    assert asyncio.run(retention.sweep()) == 100
    assert retention.due(), "a sweep cut short calls for another at once"
    assert asyncio.run(retention.sweep()) == 100
    assert asyncio.run(retention.sweep()) == 100
    assert asyncio.run(retention.sweep()) == 0
    assert not retention.due(), "nothing left: the next sweep waits"
    with closed_sessions.transaction(writes=False) as conn:
        left = list(conn.execute(select(sessions.c.status)))
    assert [row.status for row in left] == ["open"]


def test_no_retention_with_zero_days(tmp_path: Path) -> None:
    runtime = Runtime(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", retention_days=0))
    try:
        assert not Retention(runtime).due()
    finally:
        runtime.dispose()
