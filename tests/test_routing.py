"""Routing through the sandbox network: texts and calls relayed between two masked handsets.

A real `maskline serve` (fast carrier steps) is driven with the twilio SDK for the Proxy API
and with raw HTTP for the sandbox's handsets and Maskline's event log.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from twilio.rest import Client

from tests.conftest import next_number
from tests.receiver import Receiver
from tests.support import Server
from tests.traffic import (
    Conversation,
    Sandbox,
    data,
    new_service,
    open_conversation,
    start_server,
    wait_until,
)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory, "routing")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def sdk(srv: Server) -> Client:
    return srv.client()


@pytest.fixture(scope="module")
def http(srv: Server) -> Iterator[httpx.Client]:
    with srv.http() as client:
        yield client


@pytest.fixture(scope="module")
def sandbox(http: httpx.Client) -> Sandbox:
    return Sandbox(http)


@pytest.fixture
def conversation(sdk: Client) -> Conversation:
    return open_conversation(sdk, new_service(sdk, 2))


def delivered(sandbox: Sandbox, device: str, count: int = 1) -> list[dict[str, Any]]:
    """The device's messages once `count` have arrived and all reached `delivered`."""
    return wait_until(
        lambda: (
            (got := sandbox.messages(device))
            and len(got) >= count
            and all(m["status"] == "delivered" for m in got)
            and got
        ),
        what=f"{count} delivered message(s) on {device}",
    )


def settled(interaction: Any, status: str) -> Any:
    """The interaction fetched again until its outbound leg has `status`."""
    return wait_until(
        lambda: (row := interaction.fetch()).outbound_resource_status == status and row,
        what=f"outbound leg {status}",
    )


def assert_resource_url(http: httpx.Client, url: str, sid: str) -> None:
    assert url.startswith("http://127.0.0.1:"), url
    response = http.get(url)
    assert response.status_code == 200, response.text
    assert response.json()["sid"] == sid


# -- messages ---------------------------------------------------------------------------------


def test_two_way_sms_conversation(
    conversation: Conversation, sandbox: Sandbox, http: httpx.Client
) -> None:
    a, b, session = conversation.a, conversation.b, conversation.session
    before = session.fetch()
    assert before.status == "open"
    assert before.date_last_interaction is None
    assert a.proxy_identifier != b.proxy_identifier

    sent = sandbox.send(a.identifier, a.proxy_identifier, "Where are you?")
    assert sent["routing"]["result"] == "forwarded"
    assert sent["routing"]["session_sid"] == conversation.session_sid
    first_sid = sent["routing"]["interaction_sid"]
    on_b = delivered(sandbox, b.identifier)
    assert [(m["from"], m["to"], m["body"]) for m in on_b] == [
        (b.proxy_identifier, b.identifier, "Where are you?")
    ]
    assert on_b[0]["sid"] == sent["routing"]["outbound_resource_sid"]

    after = session.fetch()
    assert after.status == "in-progress"
    assert after.date_last_interaction is not None

    reply = sandbox.send(b.identifier, b.proxy_identifier, "Around the corner")
    assert reply["routing"]["result"] == "forwarded"
    on_a = delivered(sandbox, a.identifier)
    assert [(m["from"], m["to"], m["body"]) for m in on_a] == [
        (a.proxy_identifier, a.identifier, "Around the corner")
    ]
    # Nobody saw the other's real number.
    assert all(m["from"] != a.identifier for m in on_b)
    assert all(m["from"] != b.identifier for m in on_a)

    first = settled(session.interactions(first_sid), "delivered")
    second = settled(session.interactions(reply["routing"]["interaction_sid"]), "delivered")
    listed = {i.sid for i in session.interactions.list()}
    assert listed == {first.sid, second.sid}
    for row, (sender, recipient), inbound, body in (
        (first, (a, b), sent, "Where are you?"),
        (second, (b, a), reply, "Around the corner"),
    ):
        assert row.type == "message"
        assert data(row) == {"body": body}
        assert row.inbound_participant_sid == sender.sid
        assert row.outbound_participant_sid == recipient.sid
        assert row.inbound_resource_sid == inbound["sid"]
        assert row.inbound_resource_sid.startswith("SM")
        assert row.outbound_resource_sid.startswith("SM")
        assert row.outbound_resource_sid != row.inbound_resource_sid
        assert row.inbound_resource_type == row.outbound_resource_type == "Message"
        assert row.outbound_resource_status == "delivered"
        assert row.inbound_resource_status == "received"
        assert_resource_url(http, row.inbound_resource_url, row.inbound_resource_sid)
        assert_resource_url(http, row.outbound_resource_url, row.outbound_resource_sid)
        assert http.get(row.url).json()["sid"] == row.sid
        carried = http.get(row.outbound_resource_url).json()
        assert (carried["from"], carried["to"], carried["body"]) == (
            recipient.proxy_identifier,
            recipient.identifier,
            body,
        )


def test_mms_media_reach_the_other_handset(conversation: Conversation, sandbox: Sandbox) -> None:
    a, b = conversation.a, conversation.b
    media = ["https://example.com/a.jpg", "https://example.com/b.png?size=2"]
    sent = sandbox.send(a.identifier, a.proxy_identifier, "photos", media)
    assert sent["media_urls"] == media
    assert sent["routing"]["result"] == "forwarded"
    only_media = sandbox.send(a.identifier, a.proxy_identifier, None, media[:1])
    assert only_media["routing"]["result"] == "forwarded"

    on_b = delivered(sandbox, b.identifier, 2)
    assert [(m["from"], m["body"], m["media_urls"]) for m in on_b] == [
        (b.proxy_identifier, "photos", media),
        (b.proxy_identifier, None, media[:1]),
    ]
    row = conversation.session.interactions(sent["routing"]["interaction_sid"]).fetch()
    assert data(row)["body"] == "photos"
    assert data(row)["media_urls"] == media


def test_session_open_until_first_interaction(sdk: Client, sandbox: Sandbox) -> None:
    conversation = open_conversation(sdk, new_service(sdk, 2))
    assert conversation.session.fetch().status == "open"
    voice = sandbox.call(conversation.b.identifier, conversation.b.proxy_identifier)
    assert voice["routing"]["result"] == "forwarded"
    session = conversation.session.fetch()
    assert session.status == "in-progress"
    assert session.date_last_interaction is not None
    assert session.date_last_interaction >= session.date_started


# -- calls ------------------------------------------------------------------------------------


def test_call_relayed_with_duration(
    conversation: Conversation, sandbox: Sandbox, http: httpx.Client
) -> None:
    a, b = conversation.a, conversation.b
    placed = sandbox.call(b.identifier, b.proxy_identifier, "answered", duration=7)
    routing = placed["routing"]
    assert routing["result"] == "forwarded"
    assert routing["outbound_resource_sid"].startswith("CA")
    interaction = conversation.session.interactions(routing["interaction_sid"])
    ringing = wait_until(lambda: sandbox.calls(a.identifier), what="a call on A's handset")
    assert [(c["from"], c["to"], c["sid"]) for c in ringing] == [
        (a.proxy_identifier, a.identifier, routing["outbound_resource_sid"])
    ]
    wait_until(
        lambda: interaction.fetch().outbound_resource_status == "in-progress",
        what="the call answered",
    )
    assert data(interaction.fetch()) == {"duration": "0"}

    sandbox.advance(8)  # the call lasts 7 s of sandbox time
    row = settled(interaction, "completed")
    assert row.type == "voice"
    assert data(row) == {"duration": "7"}
    assert row.inbound_participant_sid == b.sid
    assert row.outbound_participant_sid == a.sid
    assert row.inbound_resource_type == row.outbound_resource_type == "Call"
    assert row.inbound_resource_sid == placed["sid"]
    wait_until(lambda: interaction.fetch().inbound_resource_status == "completed")
    assert_resource_url(http, row.inbound_resource_url, placed["sid"])
    assert_resource_url(http, row.outbound_resource_url, row.outbound_resource_sid)
    on_a = sandbox.calls(a.identifier)
    assert [(c["status"], c["duration"]) for c in on_a] == [("completed", 7)]
    assert on_a[0]["parent_call_sid"] == placed["sid"]


@pytest.mark.parametrize("answer", ["busy", "no-answer", "failed"])
def test_call_outcomes_follow_the_answer(sdk: Client, sandbox: Sandbox, answer: str) -> None:
    conversation = open_conversation(sdk, new_service(sdk, 2))
    a, b = conversation.a, conversation.b
    placed = sandbox.call(a.identifier, a.proxy_identifier, answer, duration=30)
    assert placed["routing"]["result"] == "forwarded"
    row = settled(conversation.session.interactions(placed["routing"]["interaction_sid"]), answer)
    assert row.type == "voice"
    assert data(row) == {"duration": "0"}
    assert [(c["status"], c["from"]) for c in sandbox.calls(b.identifier)] == [
        (answer, b.proxy_identifier)
    ]
    wait_until(lambda: sandbox.http.get(placed["url"]).json()["status"] == "completed")


# -- what is not forwarded --------------------------------------------------------------------


def event_of(sandbox: Sandbox, resource_sid: str) -> dict[str, Any]:
    found = sandbox.events_for(resource_sid)
    assert len(found) == 1, found
    return found[0]


def test_message_to_voice_only_session_is_rejected(sdk: Client, sandbox: Sandbox) -> None:
    conversation = open_conversation(sdk, new_service(sdk, 2), mode="voice-only")
    a, b = conversation.a, conversation.b
    sent = sandbox.send(a.identifier, a.proxy_identifier, "hello?")
    assert sent["routing"]["result"] == "rejected"
    assert sent["routing"]["event_code"] == 80910
    event = event_of(sandbox, sent["sid"])
    assert event["code"] == 80910
    assert event["session_sid"] == conversation.session_sid
    assert event["more_info"].endswith("/80910")
    assert event in sandbox.events(80910)
    assert sandbox.messages(b.identifier) == []
    assert conversation.interactions.list() == []
    # Calls still go through.
    assert sandbox.call(a.identifier, a.proxy_identifier)["routing"]["result"] == "forwarded"


def test_call_to_message_only_session_is_rejected(sdk: Client, sandbox: Sandbox) -> None:
    conversation = open_conversation(sdk, new_service(sdk, 2), mode="message-only")
    a, b = conversation.a, conversation.b
    placed = sandbox.call(a.identifier, a.proxy_identifier)
    assert placed["routing"]["result"] == "rejected"
    assert placed["routing"]["event_code"] == 80911
    event = event_of(sandbox, placed["sid"])
    assert (event["code"], event["session_sid"]) == (80911, conversation.session_sid)
    assert placed["status"] not in ("in-progress", "ringing")
    assert sandbox.calls(b.identifier) == []
    assert conversation.interactions.list() == []
    assert sandbox.send(a.identifier, a.proxy_identifier, "hi")["routing"]["result"] == "forwarded"


def test_session_with_one_participant_reaches_nobody(sdk: Client, sandbox: Sandbox) -> None:
    service = new_service(sdk, 1)
    alone = next_number("212")
    sessions = sdk.proxy.v1.services(service.sid).sessions
    created = sessions.create(participants=[{"Identifier": alone}])
    (participant,) = sessions(created.sid).participants.list()
    for outcome in (
        sandbox.send(alone, participant.proxy_identifier, "anyone?"),
        sandbox.call(alone, participant.proxy_identifier),
    ):
        assert outcome["routing"]["result"] == "dropped"
        assert outcome["routing"]["event_code"] == 80614
        event = event_of(sandbox, outcome["sid"])
        assert (event["code"], event["session_sid"]) == (80614, created.sid)
    assert sessions(created.sid).interactions.list() == []


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.mark.parametrize("word", ["STOP", "stop ", "Unsubscribe", "arret", "  optout\n"])
def test_opt_out_words_are_not_forwarded(
    sdk: Client, sandbox: Sandbox, receiver: Receiver, word: str
) -> None:
    service = new_service(
        sdk,
        2,
        callback_url=receiver.url("/optout/cb"),
        intercept_callback_url=receiver.url("/optout/intercept"),
    )
    receiver.clear()
    conversation = open_conversation(sdk, service)
    a, b = conversation.a, conversation.b
    stopped = sandbox.send(a.identifier, a.proxy_identifier, word)
    assert stopped["routing"]["result"] == "opt-out"
    assert stopped["routing"]["interaction_sid"] is None
    # A sentence that merely contains the word is a normal message.
    normal = sandbox.send(a.identifier, a.proxy_identifier, f"please {word.strip()} by later")
    assert normal["routing"]["result"] == "forwarded"
    delivered(sandbox, b.identifier)
    got = receiver.wait_for(
        "/optout/cb", lambda got: any(r.form["outboundResourceStatus"] == "delivered" for r in got)
    )
    assert {r.form["interactionSid"] for r in got} == {normal["routing"]["interaction_sid"]}
    assert {r.form["interactionSid"] for r in receiver.received("/optout/intercept")} == {
        normal["routing"]["interaction_sid"]
    }
    assert [m["body"] for m in sandbox.messages(b.identifier)] == [
        f"please {word.strip()} by later"
    ]
    assert [i.sid for i in conversation.interactions.list()] == [
        normal["routing"]["interaction_sid"]
    ]
    assert sandbox.events_for(stopped["sid"]) == []


def test_traffic_to_a_number_in_no_service_is_not_routed(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    owned = next_number("503")
    assert http.post("/sandbox/v1/PhoneNumbers", data={"PhoneNumber": owned}).status_code == 201
    stranger = next_number("212")
    for to in (owned, next_number("503")):  # owned but in no service; not owned at all
        sent = sandbox.send(stranger, to, "hello")
        placed = sandbox.call(stranger, to)
        for outcome in (sent, placed):
            assert outcome["routing"]["result"] == "dropped"
            assert outcome["routing"]["event_code"] == 80901
            assert event_of(sandbox, outcome["sid"])["code"] == 80901
        assert sandbox.http.get(placed["url"]).json()["status"] == "failed"
    assert sandbox.messages(stranger) == []


# -- bad input --------------------------------------------------------------------------------


def assert_error(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["code"], int)
    assert body["message"]
    return dict(body)


@pytest.mark.parametrize(
    "form",
    [
        {"From": "not-a-number", "To": "+14155550100", "Body": "x"},
        {"From": "+1234", "To": "+14155550100", "Body": "x"},
        {"From": "+14155550101", "To": "+999999999999999", "Body": "x"},
        {"To": "+14155550100", "Body": "x"},
        {"From": "+14155550101", "Body": "x"},
        {"From": "+14155550101", "To": "+14155550100"},
        {"From": "+14155550101", "To": "+14155550100", "Body": ""},
        {"From": "+14155550101", "To": "+14155550100", "Body": "x" * 1601},
        {"From": "+14155550101", "To": "+14155550100", "MediaUrl": "not a url"},
    ],
)
def test_bad_sandbox_messages_are_400(http: httpx.Client, form: dict[str, str]) -> None:
    assert_error(http.post("/sandbox/v1/Messages", data=form))


@pytest.mark.parametrize(
    "form",
    [
        {"From": "nobody", "To": "+14155550100"},
        {"From": "+14155550101", "To": "+14155550100", "Answer": "maybe"},
        {"From": "+14155550101", "To": "+14155550100", "Duration": "-1"},
        {"From": "+14155550101", "To": "+14155550100", "Duration": "soon"},
    ],
)
def test_bad_sandbox_calls_are_400(http: httpx.Client, form: dict[str, str]) -> None:
    assert_error(http.post("/sandbox/v1/Calls", data=form))


def test_longest_body_is_accepted(sandbox: Sandbox) -> None:
    sent = sandbox.send(next_number("212"), next_number("503"), "x" * 1600)
    assert len(sent["body"]) == 1600
    assert sent["routing"]["result"] == "dropped"


def test_unknown_sandbox_resources_are_404(http: httpx.Client) -> None:
    assert_error(http.get("/sandbox/v1/Messages/SM" + "0" * 32), 404)
    assert_error(http.get("/sandbox/v1/Calls/CA" + "0" * 32), 404)
    assert_error(http.post("/sandbox/v1/Clock", data={"Advance": "-5"}))
