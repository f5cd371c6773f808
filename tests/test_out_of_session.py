"""Traffic from someone with no active session: the out-of-session callback and its answers."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.conftest import next_number
from tests.receiver import Received, Receiver, Reply
from tests.support import AUTH_TOKEN, Server, free_port
from tests.traffic import Sandbox, new_service, open_conversation, start_server, wait_until

SYNC_TIMEOUT_MS = 1000
XML = "application/xml"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(
        tmp_path_factory, "oos", MASKLINE_SYNC_CALLBACK_TIMEOUT_MS=str(SYNC_TIMEOUT_MS)
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


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


_paths = iter(range(10**6))


@dataclass(frozen=True)
class Answering:
    """A service whose out-of-session callback goes to `path` on the receiver."""

    sid: str
    path: str
    number: Any  # the first number of its pool


def service_answering(
    sdk: Client, receiver: Receiver, *replies: Reply, numbers: int = 1
) -> Answering:
    """A new service whose out-of-session URL is a fresh receiver path answering `replies`."""
    path = f"/oos/{next(_paths)}"
    receiver.answers(path, list(replies))
    service = new_service(sdk, numbers, out_of_session_callback_url=receiver.url(path))
    first = sdk.proxy.v1.services(service.sid).phone_numbers.list()[0]
    return Answering(service.sid, path, first)


def assert_signed(receiver: Receiver, received: Received) -> None:
    assert RequestValidator(AUTH_TOKEN).validate(
        receiver.url_of(received), received.form, received.signature
    )
    assert [k for k, n in Counter(received.keys).items() if n > 1] == []


def only_event(sandbox: Sandbox, resource_sid: str, code: int) -> dict[str, Any]:
    found = sandbox.events_for(resource_sid)
    assert [e["code"] for e in found] == [code], found
    return found[0]


# -- TwiML ------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/xml", "text/xml; charset=utf-8"])
def test_twiml_message_reply_reaches_the_sender(
    sdk: Client, sandbox: Sandbox, receiver: Receiver, content_type: str
) -> None:
    twiml = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>sorry</Message></Response>'
    service = service_answering(sdk, receiver, Reply(200, content_type, twiml))
    stranger, proxy = next_number("212"), service.number.phone_number
    sent = sandbox.send(stranger, proxy, "hello?")
    assert sent["routing"]["result"] == "replied"
    assert len(sent["routing"]["replies"]) == 1
    got = wait_until(lambda: sandbox.messages(stranger), what="the reply")
    assert [(m["from"], m["to"], m["body"]) for m in got] == [(proxy, stranger, "sorry")]
    assert got[0]["sid"] == sent["routing"]["replies"][0]

    (asked,) = receiver.received(service.path)
    assert_signed(receiver, asked)
    form = asked.form
    assert form["From"] == stranger
    assert form["To"] == proxy
    assert form["Body"] == "hello?"
    assert form["MessageSid"] == sent["sid"]
    assert form["AccountSid"] == sdk.account_sid
    # No earlier session: no session or participant fields.
    assert not [k for k in form if k.startswith(("session", "inbound", "outbound"))]
    assert sandbox.events_for(sent["sid"]) == []


def test_out_of_session_mms_is_carried_without_repeated_keys(
    sdk: Client, sandbox: Sandbox, receiver: Receiver
) -> None:
    twiml = (
        "<Response><Message><Body>got them</Body>"
        "<Media>https://example.com/ack.png</Media></Message></Response>"
    )
    service = service_answering(sdk, receiver, Reply(200, XML, twiml))
    stranger, proxy = next_number("212"), service.number.phone_number
    media = ["https://example.com/x.jpg", "https://example.com/y.jpg"]
    sandbox.send(stranger, proxy, "pics", media)
    (asked,) = receiver.received(service.path)
    assert_signed(receiver, asked)
    assert asked.form["NumMedia"] == "2"
    assert [asked.form["MediaUrl0"], asked.form["MediaUrl1"]] == media
    assert "MediaUrl" not in asked.form
    got = wait_until(lambda: sandbox.messages(stranger))
    assert [(m["body"], m["media_urls"]) for m in got] == [
        ("got them", ["https://example.com/ack.png"])
    ]


@pytest.mark.parametrize(
    ("twiml", "verbs", "status"),
    [
        (
            "<Response><Say>This number is no longer in service</Say><Reject/></Response>",
            [{"verb": "Say", "text": "This number is no longer in service"}, {"verb": "Reject"}],
            "busy",
        ),
        (
            "<Response><Say>Goodbye</Say><Hangup/><Say>never said</Say></Response>",
            [{"verb": "Say", "text": "Goodbye"}, {"verb": "Hangup"}],
            "completed",
        ),
        ("<Response><Reject/></Response>", [{"verb": "Reject"}], "busy"),
    ],
)
def test_twiml_call_verbs_are_carried_out(
    sdk: Client,
    sandbox: Sandbox,
    receiver: Receiver,
    twiml: str,
    verbs: list[dict[str, Any]],
    status: str,
) -> None:
    service = service_answering(sdk, receiver, Reply(200, XML, twiml))
    stranger, proxy = next_number("212"), service.number.phone_number
    placed = sandbox.call(stranger, proxy)
    assert placed["routing"]["result"] == "twiml"
    assert placed["routing"]["verbs"] == verbs
    assert placed["twiml"] == verbs
    assert placed["status"] == status
    (asked,) = receiver.received(service.path)
    assert_signed(receiver, asked)
    assert asked.form["CallSid"] == placed["sid"]
    assert (asked.form["From"], asked.form["To"]) == (stranger, proxy)
    assert asked.form["CallStatus"]
    assert "Body" not in asked.form


def test_twiml_dial_connects_the_call(sdk: Client, sandbox: Sandbox, receiver: Receiver) -> None:
    desk = next_number("646")
    twiml = f"<Response><Say>Connecting you</Say><Dial><Number>{desk}</Number></Dial></Response>"
    service = service_answering(sdk, receiver, Reply(200, XML, twiml))
    stranger, proxy = next_number("212"), service.number.phone_number
    placed = sandbox.call(stranger, proxy, duration=2)
    assert placed["routing"]["result"] == "twiml"
    dialled = wait_until(lambda: sandbox.calls(desk))
    assert [(c["from"], c["to"], c["parent_call_sid"]) for c in dialled] == [
        (proxy, desk, placed["sid"])
    ]
    sandbox.advance(3)
    wait_until(lambda: sandbox.calls(desk)[0]["status"] == "completed")
    assert sandbox.calls(desk)[0]["duration"] == 2


# -- JSON: a session is created ---------------------------------------------------------------


def test_json_answer_creates_a_session_and_routes_the_message(
    sdk: Client, sandbox: Sandbox, receiver: Receiver
) -> None:
    driver = next_number("646")
    answer = json.dumps({"participantIdentifier": driver, "uniqueName": f"ride-{driver}"})
    service = service_answering(sdk, receiver, Reply(200, "application/json", answer), numbers=2)
    pool = {n.phone_number: n for n in sdk.proxy.v1.services(service.sid).phone_numbers.list()}
    # The sender is pinned to the number it dialled, even a reserved one.
    sdk.proxy.v1.services(service.sid).phone_numbers(service.number.sid).update(is_reserved=True)
    rider, dialled = next_number("212"), service.number.phone_number

    sent = sandbox.send(rider, dialled, "I'm at the door")
    routing = sent["routing"]
    assert routing["result"] == "forwarded", routing
    session = sdk.proxy.v1.services(service.sid).sessions(routing["session_sid"])
    created = session.fetch()
    assert created.unique_name == f"ride-{driver}"
    assert created.status == "in-progress"
    assert created.mode == "voice-and-message"
    by_identifier = {p.identifier: p for p in session.participants.list()}
    assert set(by_identifier) == {rider, driver}
    assert by_identifier[rider].proxy_identifier == dialled
    driver_proxy = by_identifier[driver].proxy_identifier
    assert driver_proxy in pool
    assert driver_proxy != dialled  # the reserved one is not picked automatically

    got = wait_until(lambda: sandbox.messages(driver))
    assert [(m["from"], m["body"]) for m in got] == [(driver_proxy, "I'm at the door")]
    (interaction,) = session.interactions.list()
    assert interaction.sid == routing["interaction_sid"]
    assert interaction.inbound_participant_sid == by_identifier[rider].sid
    assert interaction.outbound_participant_sid == by_identifier[driver].sid

    # From now on the conversation is in-session: no more out-of-session callbacks.
    reply = sandbox.send(driver, driver_proxy, "coming down")
    assert reply["routing"]["result"] == "forwarded"
    assert reply["routing"]["session_sid"] == routing["session_sid"]
    assert [m["body"] for m in wait_until(lambda: sandbox.messages(rider))] == ["coming down"]
    assert len(receiver.received(service.path)) == 1


def test_json_answer_routes_a_call(sdk: Client, sandbox: Sandbox, receiver: Receiver) -> None:
    agent = next_number("646")
    answer = json.dumps({"participantIdentifier": agent, "mode": "voice-only", "ttl": 600})
    service = service_answering(sdk, receiver, Reply(200, "application/json", answer), numbers=2)
    caller = next_number("212")
    placed = sandbox.call(caller, service.number.phone_number, duration=1)
    assert placed["routing"]["result"] == "forwarded"
    session = sdk.proxy.v1.services(service.sid).sessions(placed["routing"]["session_sid"])
    fetched = session.fetch()
    assert (fetched.mode, fetched.ttl) == ("voice-only", 600)
    assert [c["from"] for c in wait_until(lambda: sandbox.calls(agent))] == [
        p.proxy_identifier for p in session.participants.list() if p.identifier == agent
    ]


def test_callback_tells_about_the_senders_earlier_session(
    sdk: Client, sandbox: Sandbox, receiver: Receiver
) -> None:
    twiml = "<Response><Message>That conversation has ended</Message></Response>"
    service = service_answering(sdk, receiver, Reply(200, XML, twiml))
    earlier = open_conversation(
        sdk, sdk.proxy.v1.services(service.sid).fetch(), unique_name="order-42", mode="message-only"
    )
    a, b = earlier.a, earlier.b
    assert a.proxy_identifier == b.proxy_identifier  # one number in the pool
    earlier.session.update(status="closed")

    sent = sandbox.send(a.identifier, a.proxy_identifier, "are you still there?")
    assert sent["routing"]["result"] == "replied"
    (asked,) = receiver.received(service.path)
    assert_signed(receiver, asked)
    form = asked.form
    assert form["sessionSid"] == earlier.session_sid
    assert form["sessionStatus"] == "closed"
    assert form["sessionClosedReason"] == "api"
    assert form["sessionUniqueName"] == "order-42"
    assert form["sessionMode"] == "message-only"
    assert form["sessionDateEnded"].endswith("Z")
    assert form["inboundParticipantSid"] == a.sid
    assert form["inboundParticipantIdentifier"] == a.identifier
    assert form["inboundParticipantProxyIdentifier"] == a.proxy_identifier
    assert form["outboundParticipantSid"] == b.sid
    assert form["outboundParticipantIdentifier"] == b.identifier
    assert [m["body"] for m in wait_until(lambda: sandbox.messages(a.identifier))] == [
        "That conversation has ended"
    ]
    assert sandbox.messages(b.identifier) == []


# -- answers that cannot be used, and receivers that fail -------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, XML, "<Response><Message>unclosed</Response>"),
        Reply(200, "text/xml", "<Reply><Message>wrong root</Message></Reply>"),
        Reply(200, "application/json", '{"participantIdentifier": '),
        Reply(200, "application/json", '["+14155550100"]'),
        Reply(200, "application/json", '{"uniqueName": "no participant"}'),
        Reply(200, "application/json", '{"participantIdentifier": "not a number"}'),
        Reply(200, "application/json", '{"participantIdentifier": "+14155550100", "ttl": "x"}'),
        Reply(200, "application/json", '{"participantIdentifier": "+14155550100", "ttl": -5}'),
        Reply(200, "application/json", '{"participantIdentifier": "+14155550100", "ttl": 1.5}'),
        Reply(200, "application/json", '{"participantIdentifier": "+14155550100", "ttl": true}'),
        Reply(200, "application/json", '{"participantIdentifier": "+14155550100", "ttl": 1e30}'),
        Reply(
            200,
            "application/json",
            '{"participantIdentifier": "+14155550100", "ttl": 100000000000000000000000000}',
        ),
        Reply(
            200,
            "application/json",
            json.dumps({"participantIdentifier": "+14155550100", "uniqueName": "u" * 192}),
        ),
        Reply(
            200,
            "application/json",
            '{"participantIdentifier": "+14155550100", "dateExpiry": "2001-01-01T00:00:00Z"}',
        ),
        Reply(
            200, "application/json", '{"participantIdentifier": "+14155550100", "dateExpiry": 5}'
        ),
        Reply(200, "application/json", '{"participantIdentifier": "+14155550100", "mode": "fax"}'),
        Reply(200, "text/plain", "ok"),
        Reply(204),
    ],
    ids=[
        "malformed-xml",
        "not-response",
        "malformed-json",
        "json-array",
        "no-identifier",
        "bad-identifier",
        "bad-ttl",
        "negative-ttl",
        "fractional-ttl",
        "boolean-ttl",
        "float-ttl",
        "huge-ttl",
        "long-unique-name",
        "past-date-expiry",
        "number-date-expiry",
        "bad-mode",
        "text",
        "empty",
    ],
)
def test_unusable_answers_are_80909(
    sdk: Client, sandbox: Sandbox, receiver: Receiver, reply: Reply
) -> None:
    service = service_answering(sdk, receiver, reply, numbers=2)
    stranger, proxy = next_number("212"), service.number.phone_number
    sent = sandbox.send(stranger, proxy, "hi")
    assert sent["routing"]["result"] == "dropped"
    assert sent["routing"]["event_code"] == 80909
    event = only_event(sandbox, sent["sid"], 80909)
    assert event["service_sid"] == service.sid
    placed = sandbox.call(stranger, proxy)
    assert placed["routing"]["event_code"] == 80909
    assert placed["status"] == "failed"
    assert len(receiver.received(service.path)) == 2
    assert sandbox.messages(stranger) == []
    assert sdk.proxy.v1.services(service.sid).sessions.list() == []


@pytest.mark.parametrize(
    "reply",
    [
        Reply(500, XML, "<Response><Message>not this</Message></Response>"),
        Reply(404, "application/json", '{"participantIdentifier": "+14155550100"}'),
        Reply(200, XML, "<Response><Message>too late</Message></Response>", delay=1.6),
    ],
    ids=["500", "404", "hangs"],
)
def test_failing_receivers_are_80913(
    sdk: Client, sandbox: Sandbox, receiver: Receiver, reply: Reply
) -> None:
    service = service_answering(sdk, receiver, reply)
    stranger, proxy = next_number("212"), service.number.phone_number
    sent = sandbox.send(stranger, proxy, "hi")
    assert sent["routing"]["result"] == "dropped"
    event = only_event(sandbox, sent["sid"], 80913)
    assert event["service_sid"] == service.sid
    placed = sandbox.call(stranger, proxy)
    assert placed["routing"]["event_code"] == 80913
    assert placed["status"] == "failed"
    assert sandbox.messages(stranger) == []
    assert sdk.proxy.v1.services(service.sid).sessions.list() == []


def test_refused_connection_is_80913(sdk: Client, sandbox: Sandbox) -> None:
    closed = f"http://127.0.0.1:{free_port()}/nobody"
    service = new_service(sdk, 1, out_of_session_callback_url=closed)
    proxy = sdk.proxy.v1.services(service.sid).phone_numbers.list()[0].phone_number
    sent = sandbox.send(next_number("212"), proxy, "hi")
    assert sent["routing"]["result"] == "dropped"
    event = only_event(sandbox, sent["sid"], 80913)
    assert event["message"]  # says what went wrong


def test_no_url_drops_the_traffic_with_80901(sdk: Client, sandbox: Sandbox) -> None:
    service = new_service(sdk, 1)
    proxy = sdk.proxy.v1.services(service.sid).phone_numbers.list()[0].phone_number
    stranger = next_number("212")
    sent = sandbox.send(stranger, proxy, "hi")
    placed = sandbox.call(stranger, proxy)
    for outcome in (sent, placed):
        assert outcome["routing"]["result"] == "dropped"
        assert outcome["routing"]["event_code"] == 80901
        assert only_event(sandbox, outcome["sid"], 80901)["service_sid"] == service.sid
    assert placed["status"] == "failed"
    assert sandbox.messages(stranger) == []
