"""The Twilio carrier against a local fake of Twilio: REST sends, signed webhooks, numbers.

A real `maskline serve` runs with MASKLINE_CARRIER=twilio and MASKLINE_TWILIO_API_BASE pointing
at tests/fake_twilio.py, which answers as api.twilio.com does and plays the handsets: they text
and call through signed webhooks, and receive what Maskline sends through the REST API.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.conftest import next_number
from tests.fake_twilio import (
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    FakeTwilio,
    twilio_env,
)
from tests.receiver import Receiver
from tests.support import Server, free_port, new_database_url, unique
from tests.traffic import FAST_ENV, Sandbox, data, wait_until

TIMEOUT_MS = 1500
MAX_ATTEMPTS = 4
API_KEY = "SK" + "5" * 32
API_SECRET = "s" * 32
XML = "application/xml"


def start_twilio_server(
    tmp_path_factory: pytest.TempPathFactory, name: str, fake: FakeTwilio, **env: str
) -> Server:
    port = free_port()
    settings = {
        **FAST_ENV,
        **twilio_env(fake, port),
        "MASKLINE_TWILIO_TIMEOUT_MS": str(TIMEOUT_MS),
        "MASKLINE_TWILIO_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        **env,
    }
    folder = tmp_path_factory.mktemp(name)
    return Server(database_url=new_database_url(folder), env=settings, port=port).start()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN) as running:
        yield running


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, fake: FakeTwilio) -> Iterator[Server]:
    running = start_twilio_server(tmp_path_factory, "twilio", fake)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def sdk(srv: Server) -> Client:
    return srv.client()


@pytest.fixture(scope="module")
def maskline(srv: Server) -> Iterator[Sandbox]:
    """Maskline's own endpoints (events, callbacks) through raw HTTP."""
    with srv.http() as http:
        yield Sandbox(http)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def twilio_rest(fake: FakeTwilio) -> Client:
    """The fake's REST API through the twilio SDK, as the account owner."""
    client = Client(fake.account_sid, fake.auth_token, account_sid=fake.account_sid)
    client.api.base_url = fake.url
    return client


@dataclass
class Masked:
    """A session of handsets A and B on two numbers the Twilio account owns."""

    service: Any
    session: Any
    a: Any
    b: Any

    def interaction(self, sid: str) -> Any:
        return self.session.interactions(sid).fetch()

    def only_interaction(self) -> Any:
        rows = wait_until(lambda: self.session.interactions.list(), what="an interaction")
        assert len(rows) == 1, rows
        return rows[0]


def adopt(sdk: Client, fake: FakeTwilio, service_sid: str, **caps: bool) -> Any:
    owned = fake.add_number(next_number("628"), **caps)
    return sdk.proxy.v1.services(service_sid).phone_numbers.create(sid=owned["sid"])


def masked(sdk: Client, fake: FakeTwilio, **service: Any) -> Masked:
    created = sdk.proxy.v1.services.create(unique_name=unique("svc"), **service)
    for _ in range(2):
        adopt(sdk, fake, created.sid)
    a_number, b_number = next_number("212"), next_number("718")
    sessions = sdk.proxy.v1.services(created.sid).sessions
    opened = sessions.create(participants=[{"Identifier": a_number}, {"Identifier": b_number}])
    session = sessions(opened.sid)
    by_identifier = {p.identifier: p for p in session.participants.list()}
    return Masked(created, session, by_identifier[a_number], by_identifier[b_number])


def settled(conversation: Masked, sid: str, status: str, leg: str = "outbound") -> Any:
    return wait_until(
        lambda: (
            getattr(row := conversation.interaction(sid), f"{leg}_resource_status") == status
            and row
        ),
        what=f"{leg} leg {status}",
    )


def empty_twiml(answer: Any) -> None:
    assert answer.status == 200, answer.body
    assert answer.content_type.startswith(XML)
    assert answer.twiml.tag == "Response"
    assert list(answer.twiml) == []


def webhook(srv: Server, name: str) -> str:
    return f"{srv.base_url}/webhooks/twilio/{name}"


# -- numbers ------------------------------------------------------------------------------------


def test_create_phone_number_by_number_and_by_sid_adopts_the_twilio_number(
    sdk: Client, fake: FakeTwilio, srv: Server
) -> None:
    service = sdk.proxy.v1.services.create(unique_name=unique("svc"))
    pool = sdk.proxy.v1.services(service.sid).phone_numbers
    by_number = fake.add_number(next_number("628"), mms=False, friendly_name="Front desk")
    by_sid = fake.add_number(next_number("628"), voice=False, sms=True, mms=True)

    first = pool.create(phone_number=by_number["phone_number"])
    second = pool.create(sid=by_sid["sid"])

    assert (first.sid, first.phone_number) == (by_number["sid"], by_number["phone_number"])
    assert first.friendly_name == "Front desk"
    assert first.capabilities == {"fax": False, "mms": False, "sms": True, "voice": True}
    assert (second.sid, second.phone_number) == (by_sid["sid"], by_sid["phone_number"])
    assert second.capabilities == {"fax": False, "mms": True, "sms": True, "voice": False}
    assert second.friendly_name == by_sid["friendly_name"]
    assert {n.sid for n in pool.list()} == {first.sid, second.sid}
    assert pool(first.sid).fetch().phone_number == by_number["phone_number"]

    # Looked up among the account's IncomingPhoneNumbers, then pointed at Maskline.
    lookups = fake.requests("GET", "/IncomingPhoneNumbers.json")
    assert ("PhoneNumber", by_number["phone_number"]) in lookups[-1].query
    assert fake.requests("GET", f"/IncomingPhoneNumbers/{by_sid['sid']}.json")
    for owned in (by_number, by_sid):
        now = fake.number(owned["sid"])
        assert now["sms_url"] == webhook(srv, "messages")
        assert now["voice_url"] == webhook(srv, "voice")
        assert now["status_callback"] == webhook(srv, "call-status")
        assert now["sms_method"] == now["voice_method"] == "POST"
        assert now["status_callback_method"] == "POST"
        updates = fake.requests("POST", f"/IncomingPhoneNumbers/{owned['sid']}.json")
        assert [u.status for u in updates] == [200]


@pytest.mark.parametrize("how", ["unknown number", "unknown sid", "part of a number"])
def test_a_number_the_twilio_account_does_not_own_is_80301(
    sdk: Client, fake: FakeTwilio, how: str
) -> None:
    service = sdk.proxy.v1.services.create(unique_name=unique("svc"))
    pool = sdk.proxy.v1.services(service.sid).phone_numbers
    owned = fake.add_number(next_number("628"))
    asked = {
        "unknown number": {"phone_number": next_number("628")},
        "unknown sid": {"sid": "PN" + "0" * 32},
        # Twilio's PhoneNumber filter matches parts of numbers: that is not the number asked.
        "part of a number": {"phone_number": owned["phone_number"][:-1]},
    }[how]
    with pytest.raises(TwilioRestException) as err:
        pool.create(**asked)
    assert (err.value.status, err.value.code) == (400, 80301), err.value.msg
    assert pool.list() == []
    assert fake.number(owned["sid"])["sms_url"] == ""


# -- messages -----------------------------------------------------------------------------------


BODY = "Where are you? 100% sure & 1+1=2 ✓ 😀\nsecond line"


def test_sms_round_trip_through_twilio(
    sdk: Client, fake: FakeTwilio, srv: Server, receiver: Receiver
) -> None:
    conversation = masked(sdk, fake, callback_url=receiver.url("/rt/cb"))
    a, b = conversation.a, conversation.b

    answer = fake.handset_texts(a.identifier, a.proxy_identifier, BODY)
    empty_twiml(answer)
    inbound_sid = answer.params["MessageSid"]
    (on_b,) = fake.wait_received(b.identifier)
    assert (on_b["from"], on_b["to"], on_b["body"]) == (b.proxy_identifier, b.identifier, BODY)
    row = conversation.only_interaction()
    (send,) = [s for s in fake.sends() if s.value("To") == b.identifier]
    assert send.status == 201
    assert send.value("From") == b.proxy_identifier
    assert send.value("Body") == BODY
    assert send.values("MediaUrl") == []
    assert send.value("StatusCallback") == (
        webhook(srv, "message-status") + f"?InteractionSid={row.sid}"
    )
    assert send.username == fake.account_sid and send.password == fake.auth_token

    row = settled(conversation, row.sid, "delivered")
    assert row.type == "message"
    assert data(row) == {"body": BODY}
    assert row.inbound_participant_sid == a.sid
    assert row.outbound_participant_sid == b.sid
    assert row.inbound_resource_sid == inbound_sid
    assert row.inbound_resource_status == "received"
    assert row.outbound_resource_sid == on_b["sid"]
    assert row.inbound_resource_type == row.outbound_resource_type == "Message"
    account = f"{fake.url}/2010-04-01/Accounts/{fake.account_sid}"
    assert row.inbound_resource_url == f"{account}/Messages/{inbound_sid}.json"
    assert row.outbound_resource_url == f"{account}/Messages/{on_b['sid']}.json"
    # The outbound URL is Twilio's own record of the message.
    fetched = httpx.get(row.outbound_resource_url, auth=(fake.account_sid, fake.auth_token))
    assert fetched.status_code == 200
    assert (fetched.json()["sid"], fetched.json()["status"]) == (on_b["sid"], "delivered")
    # Twilio's status callbacks were accepted, and the user's server heard of each step.
    hooks = fake.status_callbacks(on_b["sid"])
    assert [h.params["MessageStatus"] for h in hooks] == ["sent", "delivered"]
    assert all(200 <= h.status < 300 for h in hooks), hooks
    got = receiver.wait_for(
        "/rt/cb",
        lambda got: {"sent", "delivered"} <= {r.form["outboundResourceStatus"] for r in got},
    )
    assert {r.form["interactionSid"] for r in got} == {row.sid}
    assert all(
        r.form["outboundResourceSid"] == on_b["sid"]
        for r in got
        if r.form["outboundResourceStatus"] != "queued"
    )
    session = conversation.session.fetch()
    assert session.status == "in-progress"

    reply = fake.handset_texts(b.identifier, b.proxy_identifier, "Around the corner")
    empty_twiml(reply)
    (on_a,) = fake.wait_received(a.identifier)
    assert (on_a["from"], on_a["to"], on_a["body"]) == (
        a.proxy_identifier,
        a.identifier,
        "Around the corner",
    )
    rows = conversation.session.interactions.list()
    assert len(rows) == 2
    back = next(r for r in rows if r.sid != row.sid)
    back = settled(conversation, back.sid, "delivered")
    assert (back.inbound_participant_sid, back.outbound_participant_sid) == (b.sid, a.sid)
    assert back.outbound_resource_sid == on_a["sid"]
    # Nobody saw the other's real number.
    assert on_b["from"] != a.identifier and on_a["from"] != b.identifier


def test_mms_media_go_out_in_the_rest_call(sdk: Client, fake: FakeTwilio) -> None:
    conversation = masked(sdk, fake)
    a, b = conversation.a, conversation.b
    media = ["https://example.com/a.jpg", "https://example.com/b.png?size=2&x=1"]
    answer = fake.handset_texts(a.identifier, a.proxy_identifier, "photos", media)
    empty_twiml(answer)
    assert answer.params["MessageSid"].startswith("MM")
    (on_b,) = fake.wait_received(b.identifier)
    assert (on_b["body"], on_b["media_urls"], on_b["num_media"]) == ("photos", media, "2")
    (send,) = [s for s in fake.sends() if s.value("To") == b.identifier]
    assert send.values("MediaUrl") == media
    row = settled(conversation, conversation.only_interaction().sid, "delivered")
    assert data(row) == {"body": "photos", "media_urls": media}
    assert row.outbound_resource_sid == on_b["sid"]
    assert row.outbound_resource_sid.startswith("MM")

    # A picture alone, with no text.
    fake.handset_texts(a.identifier, a.proxy_identifier, "", media[:1])
    got = fake.wait_received(b.identifier, 2)
    assert (got[1]["body"], got[1]["media_urls"]) == ("", media[:1])


def test_status_callbacks_move_the_interaction(
    sdk: Client, fake: FakeTwilio, receiver: Receiver, srv: Server
) -> None:
    conversation = masked(sdk, fake, callback_url=receiver.url("/undelivered/cb"))
    a, b = conversation.a, conversation.b
    fake.undeliverable(b.identifier)
    fake.handset_texts(a.identifier, a.proxy_identifier, "anyone there?")
    row = settled(conversation, conversation.only_interaction().sid, "undelivered")
    (message,) = [m for m in fake.messages() if m["to"] == b.identifier]
    assert row.outbound_resource_sid == message["sid"]
    assert message["status"] == "undelivered"
    assert fake.received(b.identifier) == []
    receiver.wait_for(
        "/undelivered/cb",
        lambda got: {"sent", "undelivered"} <= {r.form["outboundResourceStatus"] for r in got},
    )

    # A callback of a message Maskline never sent changes nothing and is not an error.
    stray = {
        "AccountSid": fake.account_sid,
        "MessageSid": "SM" + "9" * 32,
        "MessageStatus": "delivered",
        "From": a.proxy_identifier,
        "To": b.identifier,
    }
    answer = fake.post_signed(webhook(srv, "message-status"), stray)
    assert 200 <= answer.status < 300
    assert conversation.interaction(row.sid).outbound_resource_status == "undelivered"


def test_status_callbacks_that_come_before_the_send_is_recorded_are_kept(
    sdk: Client, fake: FakeTwilio
) -> None:
    """Twilio may call back `sent` and `delivered` before the worker has stored the SID."""
    conversation = masked(sdk, fake)
    a, b = conversation.a, conversation.b
    fake.step = 0.0
    try:
        for index in range(8):
            fake.handset_texts(a.identifier, a.proxy_identifier, f"quick {index}")
        got = fake.wait_received(b.identifier, 8)
    finally:
        fake.step = 0.05
    rows = wait_until(
        lambda: (
            (rows := conversation.session.interactions.list())
            and all(r.outbound_resource_status == "delivered" for r in rows)
            and rows
        ),
        what="every message delivered",
    )
    assert sorted(r.outbound_resource_sid for r in rows) == sorted(m["sid"] for m in got)
    assert {data(r)["body"] for r in rows} == {f"quick {i}" for i in range(8)}


def test_status_callbacks_out_of_order_do_not_move_a_message_back(
    sdk: Client, fake: FakeTwilio
) -> None:
    conversation = masked(sdk, fake)
    a, b = conversation.a, conversation.b
    fake.out_of_order(b.identifier)
    fake.handset_texts(a.identifier, a.proxy_identifier, "late news")
    (on_b,) = fake.wait_received(b.identifier)
    hooks = wait_until(
        lambda: len(got := fake.status_callbacks(on_b["sid"])) == 2 and got,
        what="both status callbacks",
    )
    assert [h.params["MessageStatus"] for h in hooks] == ["delivered", "sent"]
    assert all(200 <= h.status < 300 for h in hooks)
    row = conversation.only_interaction()
    assert (row.outbound_resource_sid, row.outbound_resource_status) == (on_b["sid"], "delivered")


# -- calls --------------------------------------------------------------------------------------


def test_bridged_call_with_its_duration(
    sdk: Client, fake: FakeTwilio, srv: Server, receiver: Receiver
) -> None:
    conversation = masked(sdk, fake, callback_url=receiver.url("/call/cb"))
    a, b = conversation.a, conversation.b
    call = fake.handset_calls(a.identifier, a.proxy_identifier, "answered", duration=7)

    assert call.answer is not None and call.answer.status == 200
    twiml = call.answer.twiml
    (dial,) = list(twiml)
    assert dial.tag == "Dial"
    assert dial.get("callerId") == b.proxy_identifier
    assert dial.get("action") == webhook(srv, "call-status")
    (number,) = list(dial)
    assert (number.tag, number.text) == ("Number", b.identifier)
    assert number.get("statusCallback") == webhook(srv, "call-status")
    assert set((number.get("statusCallbackEvent") or "").split()) >= {"answered", "completed"}

    (child,) = call.children
    assert (child.from_, child.to, child.status, child.duration) == (
        b.proxy_identifier,
        b.identifier,
        "completed",
        7,
    )
    hooks = child.callbacks + call.callbacks
    assert all(200 <= h.status < 300 for h in hooks), [(h.url, h.status, h.body) for h in hooks]
    assert [h.params["CallStatus"] for h in child.callbacks] == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    # The <Dial action> ends the inbound call once the bridged leg is over.
    action = next(h for h in call.callbacks if "DialCallStatus" in h.params)
    assert action.twiml.tag == "Response"
    assert [verb.tag for verb in action.twiml] == ["Hangup"]

    row = settled(conversation, conversation.only_interaction().sid, "completed")
    assert row.type == "voice"
    assert data(row) == {"duration": "7"}
    assert (row.inbound_participant_sid, row.outbound_participant_sid) == (a.sid, b.sid)
    assert row.inbound_resource_sid == call.sid
    assert row.outbound_resource_sid == child.sid
    assert row.inbound_resource_type == row.outbound_resource_type == "Call"
    account = f"{fake.url}/2010-04-01/Accounts/{fake.account_sid}"
    assert row.inbound_resource_url == f"{account}/Calls/{call.sid}.json"
    assert row.outbound_resource_url == f"{account}/Calls/{child.sid}.json"
    settled(conversation, row.sid, "completed", leg="inbound")
    got = receiver.wait_for(
        "/call/cb", lambda got: "completed" in {r.form["outboundResourceStatus"] for r in got}
    )
    done = [r.form for r in got if r.form["outboundResourceStatus"] == "completed"]
    assert all(json.loads(f["interactionData"]) == {"duration": "7"} for f in done)
    assert all(f["outboundResourceSid"] == child.sid for f in done)
    assert conversation.session.fetch().status == "in-progress"


@pytest.mark.parametrize("answer", ["busy", "no-answer"])
def test_an_unanswered_bridge_ends_the_leg_with_that_status(
    sdk: Client, fake: FakeTwilio, answer: str
) -> None:
    conversation = masked(sdk, fake)
    a, b = conversation.a, conversation.b
    call = fake.handset_calls(b.identifier, b.proxy_identifier, answer, duration=30)
    (child,) = call.children
    assert (child.to, child.from_, child.status) == (a.identifier, a.proxy_identifier, answer)
    row = settled(conversation, conversation.only_interaction().sid, answer)
    assert data(row) == {"duration": "0"}
    assert row.outbound_resource_sid == child.sid


def test_a_call_in_a_message_only_session_is_rejected(sdk: Client, fake: FakeTwilio) -> None:
    service = sdk.proxy.v1.services.create(unique_name=unique("svc"))
    for _ in range(2):
        adopt(sdk, fake, service.sid)
    sessions = sdk.proxy.v1.services(service.sid).sessions
    a_number, b_number = next_number("212"), next_number("718")
    opened = sessions.create(
        mode="message-only",
        participants=[{"Identifier": a_number}, {"Identifier": b_number}],
    )
    (a,) = [p for p in sessions(opened.sid).participants.list() if p.identifier == a_number]
    call = fake.handset_calls(a_number, a.proxy_identifier)
    assert call.answer is not None
    assert [verb.tag for verb in call.answer.twiml] == ["Reject"]
    assert call.children == []
    assert sessions(opened.sid).interactions.list() == []


# -- signatures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["messages", "voice", "message-status", "call-status"])
def test_unsigned_or_wrongly_signed_webhooks_are_403(
    sdk: Client, fake: FakeTwilio, srv: Server, maskline: Sandbox, name: str
) -> None:
    conversation = masked(sdk, fake)
    a, b = conversation.a, conversation.b
    url = webhook(srv, name)
    params = {
        "AccountSid": fake.account_sid,
        "From": a.identifier,
        "To": a.proxy_identifier,
        "Body": "let me in",
        "NumMedia": "0",
        "MessageSid": "SM" + "4" * 32,
        "CallSid": "CA" + "4" * 32,
        "CallStatus": "ringing",
        "MessageStatus": "delivered",
    }
    other_token = RequestValidator("0" * 32)
    forged = {
        "no signature": "",
        "another token": other_token.compute_signature(url, params),
        "another URL": fake.signature(url.replace("127.0.0.1", "localhost"), params),
        "other parameters": fake.signature(url, {**params, "Body": "hello"}),
        "another path": fake.signature(webhook(srv, "elsewhere"), params),
    }
    for why, signature in forged.items():
        answer = fake.post_signed(url, params, signature=signature)
        assert answer.status == 403, (why, answer.status, answer.body)
        assert json.loads(answer.body)["status"] == 403
    assert [w.status for w in fake.webhooks(f"/webhooks/twilio/{name}")[-len(forged) :]] == [
        403
    ] * len(forged)
    # A missing header is refused too, not only an empty one.
    bare = httpx.post(url, data=params)
    assert bare.status_code == 403
    # Nothing was routed: no interaction, no send, no event.
    assert conversation.session.interactions.list() == []
    assert [s for s in fake.sends() if s.value("To") == b.identifier] == []
    assert maskline.events_for(params["MessageSid"]) == []
    assert maskline.events_for(params["CallSid"]) == []
    # The same request, signed with the account's token, goes through.
    signed = fake.post_signed(url, params)
    assert signed.status in (200, 204), signed.body


# -- refusals and retries -----------------------------------------------------------------------


def test_429_and_500_are_retried_until_twilio_takes_the_message(
    sdk: Client, fake: FakeTwilio, maskline: Sandbox
) -> None:
    conversation = masked(sdk, fake)
    a, b = conversation.a, conversation.b
    fake.fail_next(2, 429)
    fake.fail_next(1, 500)
    fake.handset_texts(a.identifier, a.proxy_identifier, "third time lucky")
    (on_b,) = fake.wait_received(b.identifier)
    row = settled(conversation, conversation.only_interaction().sid, "delivered")
    sends = [s for s in fake.sends() if s.value("To") == b.identifier]
    assert [s.status for s in sends] == [429, 429, 500, 201]
    assert {s.value("Body") for s in sends} == {"third time lucky"}
    assert [m["sid"] for m in fake.messages() if m["to"] == b.identifier] == [on_b["sid"]]
    assert row.outbound_resource_sid == on_b["sid"]
    assert all(e["details"].get("interaction_sid") != row.sid for e in maskline.events(30008))


def failure_event(maskline: Sandbox, interaction_sid: str) -> dict[str, Any]:
    found = wait_until(
        lambda: [
            e
            for e in maskline.events(30008)
            if e["details"].get("interaction_sid") == interaction_sid
        ],
        what="a 30008 event",
    )
    assert len(found) == 1, found
    return found[0]


def test_a_refused_message_fails_the_leg_with_event_30008(
    sdk: Client, fake: FakeTwilio, maskline: Sandbox, receiver: Receiver
) -> None:
    conversation = masked(sdk, fake, callback_url=receiver.url("/refused/cb"))
    a, b = conversation.a, conversation.b
    fake.refuse_next(21211)
    fake.handset_texts(a.identifier, a.proxy_identifier, "to nowhere")
    row = settled(conversation, conversation.only_interaction().sid, "failed")
    event = failure_event(maskline, row.sid)
    assert event["code"] == 30008
    assert event["session_sid"] == conversation.session.fetch().sid
    assert event["service_sid"] == conversation.service.sid
    assert event["details"]["twilio_error_code"] == 21211
    assert (event["details"]["from"], event["details"]["to"]) == (
        b.proxy_identifier,
        b.identifier,
    )
    sends = [s for s in fake.sends() if s.value("To") == b.identifier]
    assert [s.status for s in sends] == [400]
    assert fake.received(b.identifier) == []
    receiver.wait_for(
        "/refused/cb", lambda got: "failed" in {r.form["outboundResourceStatus"] for r in got}
    )


def test_twilio_unavailable_for_every_attempt_fails_the_leg(
    sdk: Client, fake: FakeTwilio, maskline: Sandbox
) -> None:
    conversation = masked(sdk, fake)
    a, b = conversation.a, conversation.b
    fake.fail_next(MAX_ATTEMPTS, 503)
    fake.handset_texts(a.identifier, a.proxy_identifier, "is anyone up?")
    row = settled(conversation, conversation.only_interaction().sid, "failed")
    event = failure_event(maskline, row.sid)
    assert f"after {MAX_ATTEMPTS} attempts" in event["message"]
    sends = [s for s in fake.sends() if s.value("To") == b.identifier]
    assert [s.status for s in sends] == [503] * MAX_ATTEMPTS


def test_a_send_twilio_does_not_answer_in_time_is_not_sent_again(
    sdk: Client, fake: FakeTwilio, maskline: Sandbox
) -> None:
    conversation = masked(sdk, fake)
    a, b = conversation.a, conversation.b
    fake.hang_next(TIMEOUT_MS / 1000 + 1.0, create=True)
    fake.handset_texts(a.identifier, a.proxy_identifier, "slow lane")
    row = settled(conversation, conversation.only_interaction().sid, "failed")
    event = failure_event(maskline, row.sid)
    assert "in time" in event["message"]
    # Twilio had taken it: the handset got it once, and Maskline did not send it again.
    fake.wait_received(b.identifier)
    assert len([s for s in fake.sends() if s.value("To") == b.identifier]) == 1


# -- out of session -----------------------------------------------------------------------------


def test_out_of_session_twiml_goes_back_to_twilio_as_it_is(
    sdk: Client, fake: FakeTwilio, receiver: Receiver
) -> None:
    message_twiml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<Response><Message>This conversation has ended &amp; is closed.</Message></Response>"
    )
    voice_twiml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Response><Say voice="alice">Nobody here</Say><Hangup/></Response>'
    )
    path = f"/oos/{unique()}"
    service = sdk.proxy.v1.services.create(
        unique_name=unique("svc"), out_of_session_callback_url=receiver.url(path)
    )
    number = adopt(sdk, fake, service.sid)
    stranger = next_number("305")

    receiver.answer(path, 200, "text/xml", message_twiml)
    answer = fake.handset_texts(stranger, number.phone_number, "hello?")
    assert answer.status == 200
    assert answer.content_type.startswith(XML)
    assert answer.body == message_twiml
    receiver.answer(path, 200, "application/xml; charset=utf-8", voice_twiml)
    call = fake.handset_calls(stranger, number.phone_number)
    assert call.answer is not None and call.answer.body == voice_twiml
    assert call.children == []

    asked = receiver.received(path)
    assert [(r.form["From"], r.form["To"]) for r in asked] == [(stranger, number.phone_number)] * 2
    assert asked[0].form["MessageSid"] == answer.params["MessageSid"]
    assert asked[1].form["CallSid"] == call.sid
    # The reply is Twilio's to send, from the TwiML: Maskline sent nothing itself.
    assert [s for s in fake.sends() if s.value("To") == stranger] == []


# -- API keys -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeTwilio, Server]]:
    with FakeTwilio(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, api_keys={API_KEY: API_SECRET}) as fake:
        running = start_twilio_server(
            tmp_path_factory,
            "twilio-key",
            fake,
            MASKLINE_TWILIO_API_KEY=API_KEY,
            MASKLINE_TWILIO_API_SECRET=API_SECRET,
        )
        yield fake, running
        running.stop()


def test_api_key_credentials_are_used_for_rest_calls(
    keyed: tuple[FakeTwilio, Server],
) -> None:
    fake, server = keyed
    conversation = masked(server.client(), fake)
    a, b = conversation.a, conversation.b
    fake.handset_texts(a.identifier, a.proxy_identifier, "keyed")
    (on_b,) = fake.wait_received(b.identifier)
    assert on_b["body"] == "keyed"
    settled(conversation, conversation.only_interaction().sid, "delivered")
    made = fake.requests()
    assert any(r.path.endswith("/Messages.json") for r in made)
    assert any("/IncomingPhoneNumbers/" in r.path for r in made)
    assert {(r.username, r.password) for r in made} == {(API_KEY, API_SECRET)}
    assert all(r.status in (200, 201) for r in made), [(r.path, r.status) for r in made]
    # Webhooks are still signed with the account's auth token, which Maskline checks.
    assert all(200 <= h.status < 300 for h in fake.status_callbacks(on_b["sid"]))


def test_the_console_s_phone_simulator_is_the_sandbox_s_alone(srv: Server) -> None:
    """On a real network there are no simulated handsets and no clock to move: the console's
    simulator pages and actions are not there."""
    from tests.test_console import _csrf, _signed_in

    http = _signed_in(srv)
    try:
        csrf = _csrf(http)
        assert http.get("/console/phones").status_code == 404
        assert http.get("/console/phones/inbox", params={"h": "+12125550190"}).status_code == 404
        for path, form in (
            ("/console/phones/clock", {"advance": "3600"}),
            ("/console/phones/text", {"from": "+12125550190", "to": "+14155550190", "body": "x"}),
            ("/console/phones/call", {"from": "+12125550190", "to": "+14155550190"}),
        ):
            answer = http.post(path, data={"csrf": csrf, **form})
            assert answer.status_code == 404, (path, answer.status_code)
    finally:
        http.close()
