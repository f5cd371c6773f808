"""One masked conversation, played on each carrier: the sandbox network, and Twilio (faked).

The same scenario drives the handsets through the sandbox API or through the fake Twilio's
network, reads what each handset received, and expects the same interactions and outcomes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import pytest
from twilio.rest import Client

from tests.conftest import next_number
from tests.fake_twilio import TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, FakeTwilio, twilio_env
from tests.receiver import Received, Receiver
from tests.support import Server, free_port, new_database_url, unique
from tests.traffic import FAST_ENV, Sandbox, data, wait_until

CARRIERS = ["sandbox", "twilio"]
PHOTO = "https://example.com/photo.jpg?w=640&h=480"


class Network(Protocol):
    """The phone network a carrier gives: numbers, handsets that text and call."""

    name: str
    sdk: Client
    maskline: Sandbox  # Maskline's own endpoints (events)

    def own_numbers(self, service_sid: str, count: int) -> list[str]:
        """Numbers the account owns, added to the service's pool."""
        ...

    def text(self, from_: str, to: str, body: str, media: Sequence[str] = ()) -> str:
        """A handset texts; the inbound message's SID."""
        ...

    def call(self, from_: str, to: str, answer: str, duration: int) -> str:
        """A handset calls and the call runs its course; the inbound call's SID."""
        ...

    def texts_on(self, handset: str) -> list[dict[str, Any]]:
        """Messages delivered to a handset: sid, from, body, media."""
        ...

    def calls_on(self, handset: str) -> list[dict[str, Any]]:
        """Calls that rang a handset: sid, from, status, duration."""
        ...


class SandboxNetwork:
    name = "sandbox"

    def __init__(self, server: Server, http: Any) -> None:
        self.sdk = server.client()
        self.maskline = Sandbox(http)

    def own_numbers(self, service_sid: str, count: int) -> list[str]:
        pool = self.sdk.proxy.v1.services(service_sid).phone_numbers
        return [pool.create(phone_number=next_number("628")).phone_number for _ in range(count)]

    def text(self, from_: str, to: str, body: str, media: Sequence[str] = ()) -> str:
        return str(self.maskline.send(from_, to, body or None, media)["sid"])

    def call(self, from_: str, to: str, answer: str, duration: int) -> str:
        placed = self.maskline.call(from_, to, answer, duration)
        child = placed["routing"]["outbound_resource_sid"]
        if child is None:
            return str(placed["sid"])
        http = self.maskline.http

        def status() -> str:
            return str(http.get(f"/sandbox/v1/Calls/{child}").json()["status"])

        if answer == "answered":
            wait_until(lambda: status() == "in-progress", what="the call answered")
            self.maskline.advance(duration + 1)  # the handsets talk
        final = "completed" if answer == "answered" else answer
        wait_until(lambda: status() == final, what=f"the bridged leg {final}")
        return str(placed["sid"])

    def texts_on(self, handset: str) -> list[dict[str, Any]]:
        return [
            {"sid": m["sid"], "from": m["from"], "body": m["body"] or "", "media": m["media_urls"]}
            for m in self.maskline.messages(handset)
            if m["status"] == "delivered"
        ]

    def calls_on(self, handset: str) -> list[dict[str, Any]]:
        return [
            {"sid": c["sid"], "from": c["from"], "status": c["status"], "duration": c["duration"]}
            for c in self.maskline.calls(handset)
        ]


class TwilioNetwork:
    name = "twilio"

    def __init__(self, server: Server, http: Any, fake: FakeTwilio) -> None:
        self.sdk = server.client()
        self.maskline = Sandbox(http)
        self.fake = fake

    def own_numbers(self, service_sid: str, count: int) -> list[str]:
        pool = self.sdk.proxy.v1.services(service_sid).phone_numbers
        bought = [self.fake.add_number(next_number("628")) for _ in range(count)]
        return [pool.create(sid=number["sid"]).phone_number for number in bought]

    def text(self, from_: str, to: str, body: str, media: Sequence[str] = ()) -> str:
        answer = self.fake.handset_texts(from_, to, body, media)
        assert answer.status == 200, answer.body
        return answer.params["MessageSid"]

    def call(self, from_: str, to: str, answer: str, duration: int) -> str:
        call = self.fake.handset_calls(from_, to, answer, duration)
        hooks = [h for leg in (call, *call.children) for h in leg.callbacks]
        assert all(200 <= h.status < 300 for h in hooks), [(h.url, h.status) for h in hooks]
        return call.sid

    def texts_on(self, handset: str) -> list[dict[str, Any]]:
        return [
            {"sid": m["sid"], "from": m["from"], "body": m["body"], "media": m["media_urls"]}
            for m in self.fake.received(handset)
        ]

    def calls_on(self, handset: str) -> list[dict[str, Any]]:
        return [
            {"sid": c.sid, "from": c.from_, "status": c.status, "duration": c.duration}
            for c in self.fake.calls(handset)
            if c.direction == "outbound-dial"
        ]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture(scope="module", params=CARRIERS)
def network(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Network]:
    folder = tmp_path_factory.mktemp(f"conversation-{request.param}")
    if request.param == "sandbox":
        server = Server(database_url=new_database_url(folder), env=dict(FAST_ENV)).start()
        with server.http() as http:
            yield SandboxNetwork(server, http)
        server.stop()
        return
    with FakeTwilio(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN) as fake:
        port = free_port()
        env = {**FAST_ENV, **twilio_env(fake, port)}
        server = Server(database_url=new_database_url(folder), env=env, port=port).start()
        with server.http() as http:
            yield TwilioNetwork(server, http, fake)
        server.stop()


def delivered_to(network: Network, handset: str, count: int) -> list[dict[str, Any]]:
    return wait_until(
        lambda: len(got := network.texts_on(handset)) >= count and got,
        what=f"{count} message(s) delivered to {handset} on {network.name}",
    )


def statuses(got: list[Received], interaction_sid: str) -> set[str]:
    return {
        r.form["outboundResourceStatus"] for r in got if r.form["interactionSid"] == interaction_sid
    }


def test_a_masked_conversation(network: Network, receiver: Receiver) -> None:
    sdk = network.sdk
    path = f"/conversation/{network.name}/{unique()}"
    service = sdk.proxy.v1.services.create(
        unique_name=unique("svc"), callback_url=receiver.url(path)
    )
    assert len(network.own_numbers(service.sid, 2)) == 2
    a_number, b_number = next_number("212"), next_number("718")
    sessions = sdk.proxy.v1.services(service.sid).sessions
    opened = sessions.create(participants=[{"Identifier": a_number}, {"Identifier": b_number}])
    session = sessions(opened.sid)
    people = {p.identifier: p for p in session.participants.list()}
    a, b = people[a_number], people[b_number]
    assert a.proxy_identifier != b.proxy_identifier
    assert session.fetch().status == "open"

    # A texts; B gets it from B's proxy number. B answers with a photo.
    network.text(a_number, a.proxy_identifier, "Are you there?")
    (on_b,) = delivered_to(network, b_number, 1)
    assert (on_b["from"], on_b["body"], on_b["media"]) == (b.proxy_identifier, "Are you there?", [])
    network.text(b_number, b.proxy_identifier, "Here", [PHOTO])
    (on_a,) = delivered_to(network, a_number, 1)
    assert (on_a["from"], on_a["body"], on_a["media"]) == (a.proxy_identifier, "Here", [PHOTO])
    assert session.fetch().status == "in-progress"

    # A calls B, who talks for 4 seconds; B calls back and A is busy.
    network.call(a_number, a.proxy_identifier, "answered", 4)
    network.call(b_number, b.proxy_identifier, "busy", 0)
    (rang_b,) = network.calls_on(b_number)
    (rang_a,) = network.calls_on(a_number)
    assert (rang_b["from"], rang_b["status"], rang_b["duration"]) == (
        b.proxy_identifier,
        "completed",
        4,
    )
    assert (rang_a["from"], rang_a["status"], rang_a["duration"]) == (a.proxy_identifier, "busy", 0)

    # STOP is not relayed: no interaction comes of it.
    network.text(a_number, a.proxy_identifier, "STOP")
    assert len(session.interactions.list()) == 4

    # Once the session is closed, nothing gets through.
    session.update(status="closed")
    late = network.text(a_number, a.proxy_identifier, "hello?")
    (event,) = network.maskline.events_for(late)
    assert (event["code"], event["service_sid"]) == (80901, service.sid)

    # Four interactions, each leg settled as the handsets saw it.
    def settled() -> list[Any]:
        rows = session.interactions.list()
        done = {"delivered", "completed", "busy"}
        ready = all(
            r.outbound_resource_status in done
            and (r.type == "message" or r.inbound_resource_status == "completed")
            for r in rows
        )
        return rows if ready else []

    rows = wait_until(settled, what=f"every leg settled on {network.name}")
    seen = {(r.type, r.inbound_participant_sid): r for r in rows}
    assert set(seen) == {("message", a.sid), ("message", b.sid), ("voice", a.sid), ("voice", b.sid)}
    text_ab, text_ba = seen[("message", a.sid)], seen[("message", b.sid)]
    call_ab, call_ba = seen[("voice", a.sid)], seen[("voice", b.sid)]
    expected = [
        (text_ab, b, {"body": "Are you there?"}, "Message", "received", "delivered", on_b),
        (
            text_ba,
            a,
            {"body": "Here", "media_urls": [PHOTO]},
            "Message",
            "received",
            "delivered",
            on_a,
        ),
        (call_ab, b, {"duration": "4"}, "Call", "completed", "completed", rang_b),
        (call_ba, a, {"duration": "0"}, "Call", "completed", "busy", rang_a),
    ]
    for row, recipient, carried, kind, inbound, outbound, handset in expected:
        assert row.outbound_participant_sid == recipient.sid
        assert data(row) == carried
        assert row.inbound_resource_type == row.outbound_resource_type == kind
        assert (row.inbound_resource_status, row.outbound_resource_status) == (inbound, outbound)
        assert row.outbound_resource_sid == handset["sid"]
        assert row.inbound_resource_sid != row.outbound_resource_sid
        assert row.inbound_resource_url.startswith("http://127.0.0.1:")
        assert f"/{handset['sid']}" in row.outbound_resource_url
    assert session.fetch().status == "closed"

    # The user's server heard every leg reach its end.
    got = receiver.wait_for(
        path,
        lambda got: all(row.outbound_resource_status in statuses(got, row.sid) for row in rows),
    )
    assert {r.form["interactionSid"] for r in got} == {r.sid for r in rows}
    for r in got:
        if r.form["outboundResourceStatus"] == "completed":
            assert json.loads(r.form["interactionData"]) == {"duration": "4"}


def test_out_of_session_traffic_opens_a_session(network: Network, receiver: Receiver) -> None:
    """A stranger texts a pool number; the user's server answers with the session to open."""
    sdk = network.sdk
    path = f"/oos/{network.name}/{unique()}"
    service = sdk.proxy.v1.services.create(
        unique_name=unique("svc"), out_of_session_callback_url=receiver.url(path)
    )
    first, _ = network.own_numbers(service.sid, 2)
    stranger, agent = next_number("305"), next_number("415")
    receiver.answer(path, 200, "application/json", json.dumps({"participantIdentifier": agent}))

    network.text(stranger, first, "I need help")
    (on_agent,) = delivered_to(network, agent, 1)
    assert on_agent["body"] == "I need help"
    (opened,) = sdk.proxy.v1.services(service.sid).sessions.list()
    session = sdk.proxy.v1.services(service.sid).sessions(opened.sid)
    people = {p.identifier: p for p in session.participants.list()}
    assert set(people) == {stranger, agent}
    assert people[stranger].proxy_identifier == first
    assert on_agent["from"] == people[agent].proxy_identifier

    # The agent calls back through the session, without the user's server.
    network.call(agent, people[agent].proxy_identifier, "answered", 2)
    (rang,) = network.calls_on(stranger)
    assert (rang["from"], rang["status"], rang["duration"]) == (first, "completed", 2)
    asked = receiver.received(path)
    assert [(r.form["From"], r.form["To"]) for r in asked] == [(stranger, first)]
    rows = wait_until(
        lambda: (
            (rows := session.interactions.list())
            and len(rows) == 2
            and {r.outbound_resource_status for r in rows} == {"delivered", "completed"}
            and rows
        ),
        what="both interactions settled",
    )
    by_type = {r.type: r for r in rows}
    assert by_type["message"].inbound_participant_sid == people[stranger].sid
    assert by_type["voice"].inbound_participant_sid == people[agent].sid
    assert data(by_type["voice"]) == {"duration": "2"}
