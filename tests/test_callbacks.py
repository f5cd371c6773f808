"""Callbacks to real local receivers: parameters, signatures, intercept, retries, idempotency."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.receiver import Received, Receiver, Reply
from tests.support import AUTH_TOKEN, Server
from tests.traffic import (
    Sandbox,
    conversation_to,
    new_service,
    open_conversation,
    start_server,
    wait_until,
)

MAX_ATTEMPTS = 8

CALLBACK_PARAMS = {
    "interactionSid",
    "interactionSessionSid",
    "interactionServiceSid",
    "interactionAccountSid",
    "interactionType",
    "interactionData",
    "interactionDateCreated",
    "interactionDateUpdated",
    "inboundParticipantSid",
    "inboundResourceSid",
    "inboundResourceStatus",
    "inboundResourceType",
    "inboundResourceUrl",
    "outboundParticipantSid",
    "outboundResourceSid",
    "outboundResourceStatus",
    "outboundResourceType",
    "outboundResourceUrl",
}
OUTBOUND_PARAMS = {p for p in CALLBACK_PARAMS if p.startswith("outbound")}
INTERCEPT_PARAMS = CALLBACK_PARAMS - OUTBOUND_PARAMS


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(
        tmp_path_factory, "callbacks", MASKLINE_CALLBACK_MAX_ATTEMPTS=str(MAX_ATTEMPTS)
    )
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


def assert_signed(receiver: Receiver, received: Received) -> None:
    validator = RequestValidator(AUTH_TOKEN)
    url = receiver.url_of(received)
    assert received.header("Content-Type") == "application/x-www-form-urlencoded"
    assert received.signature
    assert validator.validate(url, received.form, received.signature), received.form
    # The signature covers the parameters: a changed value no longer matches.
    forged = {**received.form, "interactionData": "{}", "sessionStatus": "forged"}
    assert not validator.validate(url, forged, received.signature)
    assert len(received.token) >= 16


def assert_no_repeated_keys(received: Received) -> None:
    repeated = [key for key, n in Counter(received.keys).items() if n > 1]
    assert repeated == [], repeated


def statuses(got: list[Received], interaction_sid: str) -> list[str]:
    return [
        r.form["outboundResourceStatus"] for r in got if r.form["interactionSid"] == interaction_sid
    ]


MESSAGE_STEPS = ("queued", "sent", "delivered")


def all_steps(
    receiver: Receiver, path: str, interaction_sid: str, steps: tuple[str, ...] = MESSAGE_STEPS
) -> list[Received]:
    """The callbacks to `path` once each of `steps` came for the interaction.

    Status callbacks are delivered concurrently, so they may arrive in any order.
    """
    return receiver.wait_for(path, lambda got: set(steps) <= set(statuses(got, interaction_sid)))


def callbacks_of(sandbox: Sandbox, session_sid: str, kind: str = "interaction") -> list[Any]:
    return [c for c in sandbox.callbacks(session_sid) if c["kind"] == kind]


# -- parameters and signatures ----------------------------------------------------------------


def test_message_callbacks_have_the_18_parameters_and_a_valid_signature(
    sdk: Client, sandbox: Sandbox, receiver: Receiver
) -> None:
    conversation = conversation_to(sdk, receiver, callback_url="/status")
    a, b = conversation.a, conversation.b
    sent = sandbox.send(a.identifier, a.proxy_identifier, "hi & welcome = 100% ✓")
    sid = sent["routing"]["interaction_sid"]
    got = all_steps(receiver, "/status", sid)
    assert sorted(statuses(got, sid)) == sorted(MESSAGE_STEPS)
    for received in got:
        assert set(received.keys) == CALLBACK_PARAMS
        assert len(received.keys) == 18
        assert_no_repeated_keys(received)
        assert_signed(receiver, received)
        form = received.form
        assert form["interactionSid"] == sid
        assert form["interactionSessionSid"] == conversation.session_sid
        assert form["interactionServiceSid"] == conversation.service.sid
        assert form["interactionAccountSid"] == sdk.account_sid
        assert form["interactionType"] == "message"
        assert json.loads(form["interactionData"]) == {"body": "hi & welcome = 100% ✓"}
        assert form["inboundParticipantSid"] == a.sid
        assert form["outboundParticipantSid"] == b.sid
        assert form["inboundResourceSid"] == sent["sid"]
        assert form["inboundResourceType"] == form["outboundResourceType"] == "Message"
        assert form["inboundResourceUrl"] == sent["url"]
        assert form["outboundResourceSid"] == sent["routing"]["outbound_resource_sid"]
        assert form["outboundResourceUrl"].endswith("/" + form["outboundResourceSid"])
        assert form["interactionDateCreated"].endswith("Z")
    # One token per event: every status change is its own delivery.
    assert len({r.token for r in got}) == 3


def test_signature_covers_the_query_string_of_the_callback_url(
    sdk: Client, sandbox: Sandbox, receiver: Receiver
) -> None:
    conversation = conversation_to(sdk, receiver, callback_url="/tenant?id=7&note=a%20b")
    a = conversation.a
    sid = sandbox.send(a.identifier, a.proxy_identifier, "hi")["routing"]["interaction_sid"]
    got = all_steps(receiver, "/tenant", sid)
    for received in got:
        assert received.query == "id=7&note=a%20b"
        assert_signed(receiver, received)
        # Signed for the URL with its query: the bare path does not validate.
        assert not RequestValidator(AUTH_TOKEN).validate(
            receiver.url("/tenant"), received.form, received.signature
        )


def test_mms_callbacks_repeat_no_parameter(
    sdk: Client, sandbox: Sandbox, receiver: Receiver
) -> None:
    conversation = conversation_to(sdk, receiver, callback_url="/mms")
    a = conversation.a
    media = ["https://example.com/1.jpg", "https://example.com/2.jpg", "https://example.com/3"]
    sent = sandbox.send(a.identifier, a.proxy_identifier, "look", media)
    sid = sent["routing"]["interaction_sid"]
    got = all_steps(receiver, "/mms", sid)
    for received in got:
        assert_no_repeated_keys(received)
        assert set(received.keys) == CALLBACK_PARAMS
        assert_signed(receiver, received)
        assert json.loads(received.form["interactionData"]) == {"body": "look", "media_urls": media}


def test_call_callbacks_follow_the_call(sdk: Client, sandbox: Sandbox, receiver: Receiver) -> None:
    conversation = conversation_to(sdk, receiver, callback_url="/voice")
    b = conversation.b
    placed = sandbox.call(b.identifier, b.proxy_identifier, duration=4)
    sid = placed["routing"]["interaction_sid"]
    all_steps(receiver, "/voice", sid, ("initiated", "ringing", "in-progress"))
    sandbox.advance(5)
    got = all_steps(receiver, "/voice", sid, ("initiated", "ringing", "in-progress", "completed"))
    # The outbound leg's four steps; the inbound leg's end may add one more.
    assert 4 <= len(statuses(got, sid)) <= 5
    for received in got:
        assert set(received.keys) == CALLBACK_PARAMS
        assert received.form["interactionType"] == "voice"
        assert received.form["outboundResourceType"] == "Call"
        assert_signed(receiver, received)
    (last,) = [r.form for r in got if r.form["outboundResourceStatus"] == "completed"][-1:]
    assert json.loads(last["interactionData"]) == {"duration": "4"}
    assert last["inboundParticipantSid"] == b.sid
    assert last["outboundParticipantSid"] == conversation.a.sid


def test_message_interactions_fire_callbacks(
    sdk: Client, sandbox: Sandbox, receiver: Receiver
) -> None:
    conversation = conversation_to(sdk, receiver, callback_url="/app")
    a = conversation.a
    sent = conversation.session.participants(a.sid).message_interactions.create(
        body="Your driver is here", media_url=["https://example.com/car.jpg"]
    )
    got = all_steps(receiver, "/app", sent.sid)
    assert sorted(statuses(got, sent.sid)) == sorted(MESSAGE_STEPS)
    for received in got:
        assert set(received.keys) == CALLBACK_PARAMS
        assert_no_repeated_keys(received)
        assert_signed(receiver, received)
        form = received.form
        assert form["outboundParticipantSid"] == a.sid
        assert form["outboundResourceSid"] == sent.outbound_resource_sid
        for name in (
            "ParticipantSid",
            "ResourceSid",
            "ResourceStatus",
            "ResourceType",
            "ResourceUrl",
        ):
            assert form["inbound" + name] == ""
        assert json.loads(form["interactionData"])["body"] == "Your driver is here"
    assert [m["body"] for m in sandbox.messages(a.identifier)] == ["Your driver is here"]


# -- intercept --------------------------------------------------------------------------------


def test_intercept_has_13_parameters_and_403_blocks(
    sdk: Client, sandbox: Sandbox, receiver: Receiver
) -> None:
    conversation = conversation_to(
        sdk, receiver, callback_url="/after", intercept_callback_url="/intercept"
    )
    a, b = conversation.a, conversation.b
    receiver.answer("/intercept", 403, body="no")
    blocked = sandbox.send(a.identifier, a.proxy_identifier, "my number is 555")
    assert blocked["routing"]["result"] == "blocked"
    assert blocked["routing"]["outbound_resource_sid"] is None
    (asked,) = receiver.received("/intercept")
    assert set(asked.keys) == INTERCEPT_PARAMS
    assert len(asked.keys) == 13
    assert_signed(receiver, asked)
    assert asked.form["interactionSid"] == blocked["routing"]["interaction_sid"]
    assert asked.form["inboundParticipantSid"] == a.sid
    assert asked.form["inboundResourceSid"] == blocked["sid"]
    assert json.loads(asked.form["interactionData"]) == {"body": "my number is 555"}

    blocked_call = sandbox.call(b.identifier, b.proxy_identifier)
    assert blocked_call["routing"]["result"] == "blocked"
    assert receiver.received("/intercept")[-1].form["interactionType"] == "voice"

    receiver.answer("/intercept", 200)
    allowed = sandbox.send(a.identifier, a.proxy_identifier, "see you at 5")
    assert allowed["routing"]["result"] == "forwarded"
    wait_until(lambda: sandbox.messages(b.identifier), what="the allowed text")
    assert [m["body"] for m in sandbox.messages(b.identifier)] == ["see you at 5"]
    assert sandbox.calls(a.identifier) == []
    all_steps(receiver, "/after", allowed["routing"]["interaction_sid"])
    # The blocked interaction produced no status callbacks: it had no outbound leg.
    after = {r.form["interactionSid"] for r in receiver.received("/after")}
    assert blocked["routing"]["interaction_sid"] not in after


@pytest.mark.parametrize(
    "reply",
    [
        Reply(500, body="oops"),
        Reply(404),
        Reply(200, "application/xml", "<Response/>", delay=1.5),  # past the 1 s sync timeout
    ],
    ids=["500", "404", "timeout"],
)
def test_intercept_failure_lets_the_traffic_through(
    sdk: Client, sandbox: Sandbox, receiver: Receiver, reply: Reply
) -> None:
    conversation = conversation_to(sdk, receiver, intercept_callback_url="/intercept")
    a, b = conversation.a, conversation.b
    receiver.answers("/intercept", [reply])
    sent = sandbox.send(a.identifier, a.proxy_identifier, "through")
    assert sent["routing"]["result"] == "forwarded"
    assert len(receiver.received("/intercept")) == 1
    assert wait_until(lambda: sandbox.messages(b.identifier))[0]["body"] == "through"


def test_intercept_receiver_down_lets_the_traffic_through(
    sdk: Client, sandbox: Sandbox, receiver: Receiver
) -> None:
    conversation = conversation_to(sdk, receiver, intercept_callback_url="/intercept")
    receiver.stop()
    a, b = conversation.a, conversation.b
    assert sandbox.send(a.identifier, a.proxy_identifier, "hi")["routing"]["result"] == "forwarded"
    assert sandbox.call(a.identifier, a.proxy_identifier)["routing"]["result"] == "forwarded"
    assert wait_until(lambda: sandbox.messages(b.identifier))[0]["body"] == "hi"
    assert len(sandbox.calls(b.identifier)) == 1


# -- delivery: retries, idempotency, failure --------------------------------------------------


def test_callbacks_are_delivered_after_the_receiver_was_down(
    sdk: Client, sandbox: Sandbox, receiver: Receiver
) -> None:
    conversation = conversation_to(sdk, receiver, callback_url="/late")
    receiver.stop()
    a, b = conversation.a, conversation.b
    sent = [
        sandbox.send(a.identifier, a.proxy_identifier, "one"),
        sandbox.send(b.identifier, b.proxy_identifier, "two"),
    ]
    expected = 3 * len(sent)  # queued, sent, delivered for each

    def failing_twice() -> list[Any]:
        rows = callbacks_of(sandbox, conversation.session_sid)
        ok = len(rows) == expected and all(len(row["attempts"]) >= 2 for row in rows)
        return rows if ok else []

    rows = wait_until(failing_twice, what="every callback tried twice against a closed port")
    for row in rows:
        assert row["status"] == "pending"
        assert row["last_error"]
        assert row["next_attempt_at"] is not None
        for attempt in row["attempts"]:
            assert attempt["status_code"] is None
            assert attempt["response"]  # the network error, recorded
    assert receiver.received() == []

    receiver.start()  # the same port again
    got = receiver.wait_for("/late", lambda got: len({r.token for r in got}) == expected)
    rows = wait_until(
        lambda: (
            (rows := callbacks_of(sandbox, conversation.session_sid))
            and all(row["status"] == "delivered" for row in rows)
            and rows
        ),
        what="every callback delivered",
    )
    assert {row["idempotency_token"] for row in rows} == {r.token for r in got}
    for row in rows:
        assert row["attempts"][-1]["status_code"] == 200
        assert all(a["status_code"] is None for a in row["attempts"][:-1])
        assert row["last_error"] is None
    for received in got:
        assert_signed(receiver, received)
    delivered = {
        s["routing"]["interaction_sid"]: statuses(got, s["routing"]["interaction_sid"])
        for s in sent
    }
    assert all(sorted(v) == ["delivered", "queued", "sent"] for v in delivered.values()), delivered


def test_each_callback_keeps_its_token_across_attempts(
    sdk: Client, sandbox: Sandbox, receiver: Receiver
) -> None:
    conversation = conversation_to(sdk, receiver, callback_url="/flaky")
    receiver.answers("/flaky", [Reply(500), Reply(500), Reply(200)], per_token=True)
    a = conversation.a
    sent = sandbox.send(a.identifier, a.proxy_identifier, "retry me")
    sid = sent["routing"]["interaction_sid"]
    got = receiver.wait_for(
        "/flaky", lambda got: len(got) == 9 and statuses(got, sid).count("delivered") == 3
    )
    by_token: dict[str, list[Received]] = {}
    for received in got:
        by_token.setdefault(received.token, []).append(received)
    assert len(by_token) == 3
    for token, attempts in by_token.items():
        assert len(attempts) == 3, token
        # The same event each time: same parameters, same signature.
        assert len({r.raw for r in attempts}) == 1
        assert len({r.signature for r in attempts}) == 1
        assert_signed(receiver, attempts[0])
    rows = wait_until(
        lambda: (
            (rows := callbacks_of(sandbox, conversation.session_sid))
            and all(row["status"] == "delivered" for row in rows)
            and rows
        )
    )
    assert {row["idempotency_token"] for row in rows} == set(by_token)
    for row in rows:
        assert [a["status_code"] for a in row["attempts"]] == [500, 500, 200]
        assert row["attempts"][0]["response"] is not None


def test_session_closed_callback_is_retried_with_one_token(
    sdk: Client, sandbox: Sandbox, receiver: Receiver, srv: Server
) -> None:
    service = new_service(sdk, 2)
    with srv.http() as http:
        response = http.post(
            f"/v1/Services/{service.sid}", data={"SessionCallbackUrl": receiver.url("/closed")}
        )
        assert response.status_code == 200, response.text
    conversation = open_conversation(sdk, service)
    receiver.answers("/closed", [Reply(500), Reply(500), Reply(200)])
    conversation.session.update(status="closed")
    got = receiver.wait_for("/closed", lambda got: len(got) == 3)
    assert len({r.token for r in got}) == 1
    for received in got:
        assert_signed(receiver, received)
        assert received.form["sessionSid"] == conversation.session_sid
        assert received.form["sessionClosedReason"] == "api"
    (row,) = callbacks_of(sandbox, conversation.session_sid, "session-closed")
    wait_until(
        lambda: (
            callbacks_of(sandbox, conversation.session_sid, "session-closed")[0]["status"]
            == "delivered"
        )
    )
    assert row["idempotency_token"] == got[0].token


def test_a_receiver_that_always_fails_ends_failed(
    sdk: Client, sandbox: Sandbox, receiver: Receiver
) -> None:
    conversation = conversation_to(sdk, receiver, callback_url="/broken")
    receiver.answer("/broken", 503, body="down for maintenance")
    a = conversation.a
    sandbox.send(a.identifier, a.proxy_identifier, "nobody listens")
    rows = wait_until(
        lambda: (
            (rows := callbacks_of(sandbox, conversation.session_sid))
            and len(rows) == 3
            and all(row["status"] == "failed" for row in rows)
            and rows
        ),
        timeout=15,
        what="every callback failed",
    )
    for row in rows:
        assert len(row["attempts"]) == MAX_ATTEMPTS
        assert {a["status_code"] for a in row["attempts"]} == {503}
        assert row["attempts"][0]["response"] == "down for maintenance"
        assert row["last_error"] == "HTTP 503"
        assert row["next_attempt_at"] is None
    counts = Counter(r.token for r in receiver.received("/broken"))
    assert counts == {row["idempotency_token"]: MAX_ATTEMPTS for row in rows}
    # Nothing more is tried once failed, even when any retry would long be due: by the time a
    # later message's first callback arrives, the old ones have not come again.
    sandbox.advance(3600)
    sandbox.send(a.identifier, a.proxy_identifier, "still nobody")
    receiver.wait_for("/broken", lambda got: len({r.token for r in got}) > len(rows))
    counts = Counter(r.token for r in receiver.received("/broken"))
    assert all(counts[row["idempotency_token"]] == MAX_ATTEMPTS for row in rows)
