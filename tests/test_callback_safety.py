"""Hostile and careless receivers cannot hurt the server or other accounts, with real receivers.

- a URL delivery could not use is refused with a 400 when it is set, wherever it is set;
- a callback that cannot be delivered at all (a row from before that check) fails alone: the
  others of the same round are delivered once and recorded;
- a receiver that trickles its answer holds an intercept no longer than its timeout, and holds
  no other service's callback nor any session's expiry;
- a receiver answering hundreds of MiB leaves the server's memory flat, and an out-of-session
  answer past the limit is unusable (80909);
- with MASKLINE_CALLBACK_ALLOW_PRIVATE=0, loopback is refused however it is spelt, the attempt
  says why and the server logs it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert
from twilio.rest import Client

from maskline.callbacks.tables import callbacks
from maskline.db.engine import create_db_engine
from tests.conftest import next_number
from tests.receiver import Receiver, Reply
from tests.support import ACCOUNT_SID, Server
from tests.traffic import (
    Conversation,
    Sandbox,
    conversation_to,
    new_service,
    open_conversation,
    start_server,
)

BAD_URLS = [
    "http://127.0.0.1:abc/cb",
    "http://user:secret@example.com/cb",
    "ftp://example.com/cb",
    "http://example.com:0/cb",
    "http://exa mple.com/cb",
]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Status callbacks may take 6 s here: long enough for a slow receiver to show whether it
    # holds anyone else up.
    running = start_server(tmp_path_factory, "safety", MASKLINE_CALLBACK_TIMEOUT_MS="6000")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def sdk(srv: Server) -> Client:
    return srv.client()


@pytest.fixture(scope="module")
def sandbox(srv: Server) -> Iterator[Sandbox]:
    with srv.http() as http:
        yield Sandbox(http)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def text_a_to_b(sandbox: Sandbox, conversation: Conversation, body: str = "hi") -> dict[str, str]:
    sent = sandbox.send(conversation.a.identifier, conversation.a.proxy_identifier, body)
    return dict(sent["routing"])


@pytest.mark.parametrize("bad", BAD_URLS)
@pytest.mark.parametrize(
    "name",
    ["CallbackUrl", "InterceptCallbackUrl", "OutOfSessionCallbackUrl", "SessionCallbackUrl"],
)
def test_a_service_url_delivery_could_not_use_is_refused(srv: Server, name: str, bad: str) -> None:
    with srv.http() as http:
        created = http.post("/v1/Services", data={"UniqueName": f"bad-{time.time_ns()}", name: bad})
        assert created.status_code == 400, created.text
        assert name in created.json()["message"]
        service = http.post("/v1/Services", data={"UniqueName": f"ok-{time.time_ns()}"}).json()
        updated = http.post(f"/v1/Services/{service['sid']}", data={name: bad})
        assert updated.status_code == 400, updated.text


@pytest.mark.parametrize("bad", BAD_URLS)
def test_a_media_url_delivery_could_not_use_is_refused(
    sdk: Client, srv: Server, sandbox: Sandbox, bad: str
) -> None:
    conversation = open_conversation(sdk, new_service(sdk, 2))
    path = (
        f"/v1/Services/{conversation.service.sid}/Sessions/{conversation.session_sid}"
        f"/Participants/{conversation.a.sid}/MessageInteractions"
    )
    with srv.http() as http:
        sent = http.post(path, data={"Body": "hi", "MediaUrl": bad})
        assert sent.status_code == 400, sent.text
        assert "MediaUrl" in sent.json()["message"]
    texted = sandbox.text(
        conversation.a.identifier, conversation.a.proxy_identifier, "hi", media=[bad]
    )
    assert texted.status_code == 400, texted.text


def test_a_callback_delivery_cannot_use_fails_alone(
    sdk: Client, srv: Server, sandbox: Sandbox, receiver: Receiver
) -> None:
    # Rows written before URLs were checked: no request can make them now.
    engine = create_db_engine(srv.database_url)
    now = int(time.time() * 1000)
    try:
        with engine.begin() as conn:
            conn.info["writes"] = True
            for i, url in enumerate(["http://127.0.0.1:abc/cb", "http://[::1/cb", "not a url"]):
                conn.execute(
                    insert(callbacks).values(
                        token=f"legacy-{now}-{i}",
                        account_sid=ACCOUNT_SID,
                        kind="interaction",
                        url=url,
                        params="{}",
                        status="pending",
                        attempts=0,
                        due_at=now,
                        date_created=now,
                        date_updated=now,
                    )
                )
    finally:
        engine.dispose()
    conversation = conversation_to(sdk, receiver, callback_url="/cb")
    text_a_to_b(sandbox, conversation)
    # The good callbacks of that round arrive, each once, and are recorded as delivered.
    delivered = receiver.wait_for("/cb", lambda got: len(got) >= 1)
    time.sleep(1.5)  # a redelivery, were the outcome not recorded, would show by now
    tokens = [r.token for r in receiver.received("/cb")]
    assert len(tokens) == len(set(tokens)), "a callback was delivered twice"
    assert delivered
    records = sandbox.callbacks(conversation.session_sid)
    assert records and all(r["status"] == "delivered" for r in records[: len(tokens)])
    legacy = [r for r in sandbox.callbacks() if r["idempotency_token"].startswith(f"legacy-{now}")]
    assert len(legacy) == 3
    for record in legacy:
        assert record["attempts"], record
        assert record["attempts"][0]["status_code"] is None
        assert record["last_error"]


def test_a_trickling_intercept_is_cut_at_its_timeout(
    sdk: Client, sandbox: Sandbox, receiver: Receiver
) -> None:
    # One byte every half second: each read is quick, the whole answer would take 60 s.
    receiver.answers("/intercept", [Reply(body=b"x" * 120, trickle=0.5)])
    conversation = conversation_to(sdk, receiver, intercept_callback_url="/intercept")
    started = time.monotonic()
    routing = text_a_to_b(sandbox, conversation)
    took = time.monotonic() - started
    # MASKLINE_SYNC_CALLBACK_TIMEOUT_MS is 1000 here; an intercept that fails lets it through.
    assert took < 3.0, f"the intercept held the text for {took:.1f} s"
    assert routing["result"] == "forwarded"


def test_a_slow_receiver_holds_up_no_other_service_nor_expiry(
    sdk: Client, sandbox: Sandbox, receiver: Receiver
) -> None:
    receiver.answers("/slow", [Reply(body=b"x" * 100, trickle=0.5)])
    slow = conversation_to(sdk, receiver, callback_url="/slow")
    for i in range(12):  # each text makes a few callbacks: far more than one receiver's share
        text_a_to_b(sandbox, slow, f"slow {i}")
    receiver.wait_for("/slow", lambda got: len(got) >= 8)
    with Receiver() as other:  # another receiver: its own host and port
        quick = conversation_to(sdk, other, callback_url="/quick")
        expiring = open_conversation(sdk, new_service(sdk, 2), ttl=1)
        started = time.monotonic()
        text_a_to_b(sandbox, quick)
        other.wait_for("/quick", timeout=5)
        took = time.monotonic() - started
    # The slow receiver's deliveries each take the whole 6 s timeout.
    assert took < 2.5, f"another service's callback waited {took:.1f} s"
    deadline = time.monotonic() + 5
    while expiring.session.fetch().status != "closed":
        assert time.monotonic() < deadline, "the session did not expire on time"
        time.sleep(0.1)
    assert time.monotonic() - started < 4.0


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_a_receiver_answering_hundreds_of_mib_leaves_memory_flat(
    sdk: Client, srv: Server, sandbox: Sandbox, receiver: Receiver
) -> None:
    assert srv.process is not None
    receiver.answers("/huge", [Reply(huge=512 << 20)])
    receiver.answers("/oos-huge", [Reply(content_type="application/json", huge=256 << 20)])
    conversation = conversation_to(sdk, receiver, callback_url="/huge")
    before = _rss_kib(srv.process.pid)
    for i in range(3):
        text_a_to_b(sandbox, conversation, f"big {i}")
    receiver.wait_for("/huge", lambda got: len(got) >= 6, timeout=20)
    deadline = time.monotonic() + 20
    while True:
        records = sandbox.callbacks(conversation.session_sid)
        if len(records) >= 6 and all(r["status"] == "delivered" for r in records):
            break
        assert time.monotonic() < deadline, records
        time.sleep(0.2)
    # What the attempt log keeps is the answer's start.
    assert all(len(r["attempts"][0]["response"]) <= 1000 for r in records)
    # An out-of-session answer past the limit is unusable, and says so.
    lonely = new_service(sdk, 1, out_of_session_callback_url=receiver.url("/oos-huge"))
    number = sdk.proxy.v1.services(lonely.sid).phone_numbers.list()[0].phone_number
    routed = sandbox.send(next_number("212"), number, "anyone?")
    assert routed["routing"]["result"] == "dropped", routed
    (event,) = [e for e in sandbox.events(80909) if e["service_sid"] == lonely.sid]
    assert "larger than 65536 bytes" in event["message"]
    grown = _rss_kib(srv.process.pid) - before
    assert grown < 48 * 1024, f"the server grew by {grown // 1024} MiB"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory, "guarded", MASKLINE_CALLBACK_ALLOW_PRIVATE="0")
    yield running
    running.stop()


def test_the_guard_refuses_loopback_however_it_is_spelt(guarded: Server) -> None:
    sdk = guarded.client()
    with Receiver() as receiver, guarded.http() as http:
        sandbox = Sandbox(http)
        spellings = {
            "/plain": receiver.url("/plain"),
            "/decimal": f"http://2130706433:{receiver.port}/decimal",
            "/hex": f"http://0x7f.0.0.1:{receiver.port}/hex",
            "/mapped": f"http://[::ffff:127.0.0.1]:{receiver.port}/mapped",
            "/name": f"http://localhost:{receiver.port}/name",
        }
        sessions = []
        for url in spellings.values():
            conversation = open_conversation(sdk, new_service(sdk, 2, callback_url=url))
            # The intercept is refused too, and a refused intercept lets the text through.
            sdk.proxy.v1.services(conversation.service.sid).update(intercept_callback_url=url)
            assert text_a_to_b(sandbox, conversation)["result"] == "forwarded"
            sessions.append(conversation.session_sid)
        deadline = time.monotonic() + 10
        for session_sid in sessions:
            while True:
                records = sandbox.callbacks(session_sid)
                if records and all(r["attempts"] for r in records):
                    break
                assert time.monotonic() < deadline, records
                time.sleep(0.1)
            for record in records:
                response = record["attempts"][0]["response"]
                assert record["attempts"][0]["status_code"] is None
                assert "refused" in response and "not a public address" in response, response
        assert receiver.received() == [], "a refused callback reached the receiver"
    assert "refused" in guarded.log()


def test_the_guard_is_on_by_default_only_on_the_twilio_carrier() -> None:
    from maskline.settings import Settings

    base = {"account_sid": "", "auth_token": ""}
    assert Settings(**base).allows_private_callbacks
    twilio = Settings(carrier="twilio", **base)
    assert not twilio.allows_private_callbacks
    assert Settings(carrier="twilio", callback_allow_private="1", **base).allows_private_callbacks
    assert not Settings(callback_allow_private="0", **base).allows_private_callbacks
