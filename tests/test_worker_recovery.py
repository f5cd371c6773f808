"""A server killed while it owes callbacks delivers all of them after a restart."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from twilio.request_validator import RequestValidator

from tests.receiver import Receiver
from tests.support import AUTH_TOKEN, Server, new_database_url
from tests.traffic import FAST_ENV, Sandbox, new_service, open_conversation, wait_until

# Retries must outlast the outage: many attempts, at most a second apart.
ENV = {
    **FAST_ENV,
    "MASKLINE_CALLBACK_MAX_ATTEMPTS": "100",
    "MASKLINE_CALLBACK_RETRY_MAX_MS": "1000",
}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return new_database_url(tmp_path)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()  # not started: the receiver is down at first
    yield running
    running.stop()


def test_callbacks_owed_at_a_crash_are_delivered_after_restart(
    database_url: str, receiver: Receiver
) -> None:
    server = Server(database_url=database_url, env=ENV).start()
    try:
        sdk = server.client()
        service = new_service(sdk, 2, callback_url=receiver.url("/status"))
        with server.http() as http:
            assert (
                http.post(
                    f"/v1/Services/{service.sid}",
                    data={"SessionCallbackUrl": receiver.url("/sessions")},
                ).status_code
                == 200
            )
            sandbox = Sandbox(http)
            conversation = open_conversation(sdk, service)
            a, b = conversation.a, conversation.b
            texts = [
                sandbox.send(a.identifier, a.proxy_identifier, "one"),
                sandbox.send(b.identifier, b.proxy_identifier, "two"),
                sandbox.send(a.identifier, a.proxy_identifier, "three", ["https://e.com/1"]),
            ]
            interactions = {t["routing"]["interaction_sid"] for t in texts}
            assert len(interactions) == 3
            # queued, sent, delivered for each text, and the session's close.
            expected = 3 * len(texts) + 1
            wait_until(
                lambda: (
                    all(m["status"] == "delivered" for m in sandbox.messages(b.identifier))
                    and len(sandbox.messages(b.identifier)) == 2
                ),
                what="the texts delivered",
            )
            conversation.session.update(status="closed")
            rows = wait_until(
                lambda: (
                    (rows := sandbox.callbacks(conversation.session_sid))
                    and len(rows) == expected
                    and all(row["attempts"] for row in rows)
                    and rows
                ),
                what="every callback owed and tried at least once",
            )
            assert all(row["status"] == "pending" for row in rows)
    finally:
        server.stop(signal.SIGKILL)
    assert receiver.received() == []

    receiver.start()
    restarted = Server(database_url=database_url, env=ENV).start()
    try:
        with restarted.http() as http:
            sandbox = Sandbox(http)
            # A callback claimed at the instant of the kill stays leased (30 s and more) before
            # another worker may take it; the sandbox clock skips that wait.
            sandbox.advance(120)
            got = receiver.wait_for(
                "/status",
                lambda got: len({r.token for r in got}) == expected - 1,
                timeout=15,
            )
            closed = receiver.wait_for("/sessions", timeout=15)
            rows = wait_until(
                lambda: (
                    (rows := sandbox.callbacks(conversation.session_sid))
                    and all(row["status"] == "delivered" for row in rows)
                    and rows
                ),
                what="every callback marked delivered",
            )
    finally:
        restarted.stop()

    tokens = {r.token for r in got} | {r.token for r in closed}
    assert len(tokens) == expected
    assert tokens == {row["idempotency_token"] for row in rows}
    for row in rows:
        assert row["attempts"][-1]["status_code"] == 200
        assert row["attempts"][0]["status_code"] is None  # refused while the receiver was down
    statuses = Counter((r.form["interactionSid"], r.form["outboundResourceStatus"]) for r in got)
    assert {key for key in statuses} == {
        (sid, status) for sid in interactions for status in ("queued", "sent", "delivered")
    }
    assert [r.form["sessionClosedReason"] for r in closed][:1] == ["api"]
    validator = RequestValidator(AUTH_TOKEN)
    for received in [*got, *closed]:
        assert validator.validate(receiver.url_of(received), received.form, received.signature)


def test_work_left_undone_at_a_crash_is_finished_after_restart(
    database_url: str, receiver: Receiver
) -> None:
    """Killed right after the texts were accepted: status steps and callbacks still all happen."""
    receiver.start()
    slow = {**ENV, "MASKLINE_SANDBOX_STEP_MS": "2000"}  # the steps are still due at the kill
    server = Server(database_url=database_url, env=slow).start()
    try:
        sdk = server.client()
        service = new_service(sdk, 2, callback_url=receiver.url("/status"))
        conversation = open_conversation(sdk, service)
        a, b = conversation.a, conversation.b
        with server.http() as http:
            sandbox = Sandbox(http)
            texts = [sandbox.send(a.identifier, a.proxy_identifier, f"n{i}") for i in range(4)]
            assert all(m["status"] == "queued" for m in sandbox.messages(b.identifier))
    finally:
        server.stop(signal.SIGKILL)

    restarted = Server(database_url=database_url, env=ENV).start()
    try:
        with restarted.http() as http:
            sandbox = Sandbox(http)
            sandbox.advance(120)
            wait_until(
                lambda: (
                    (got := sandbox.messages(b.identifier))
                    and all(m["status"] == "delivered" for m in got)
                ),
                what="the texts delivered after the restart",
            )
            expected = 3 * len(texts)
            got = receiver.wait_for(
                "/status", lambda got: len({r.token for r in got}) == expected, timeout=15
            )
            rows = wait_until(
                lambda: (
                    (rows := sandbox.callbacks(conversation.session_sid))
                    and all(row["status"] == "delivered" for row in rows)
                    and rows
                )
            )
    finally:
        restarted.stop()
    assert len(rows) == expected
    assert {row["idempotency_token"] for row in rows} == {r.token for r in got}
    for text in texts:
        sid = text["routing"]["interaction_sid"]
        seen = {r.form["outboundResourceStatus"] for r in got if r.form["interactionSid"] == sid}
        assert seen == {"queued", "sent", "delivered"}
