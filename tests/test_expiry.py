"""Session expiry on the sandbox clock: Ttl, DateExpiry, interactions, SessionCallbackUrl."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.conftest import next_number
from tests.receiver import Received, Receiver
from tests.support import AUTH_TOKEN, Server
from tests.traffic import Conversation, Sandbox, new_service, open_conversation, start_server

SESSION_PARAMS = {
    "sessionSid",
    "sessionServiceSid",
    "sessionAccountSid",
    "sessionUniqueName",
    "sessionStatus",
    "sessionClosedReason",
    "sessionMode",
    "sessionTtl",
    "sessionDateStarted",
    "sessionDateEnded",
    "sessionDateExpiry",
    "sessionDateLastInteraction",
    "sessionDateCreated",
    "serviceUniqueName",
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory, "expiry")
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


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


_paths = iter(range(10**6))


def watched_service(
    sdk: Client, http: httpx.Client, receiver: Receiver, numbers: int = 1, **settings: Any
) -> tuple[Any, str]:
    """A new service whose SessionCallbackUrl (a Maskline extension) is a receiver path."""
    path = f"/sessions/{next(_paths)}"
    service = new_service(sdk, numbers, **settings)
    response = http.post(
        f"/v1/Services/{service.sid}", data={"SessionCallbackUrl": receiver.url(path)}
    )
    assert response.status_code == 200, response.text
    return service, path


def sandbox_now(sandbox: Sandbox) -> datetime:
    return datetime.fromisoformat(sandbox.advance(0)["now"].replace("Z", "+00:00"))


def closed_callback(receiver: Receiver, path: str, session_sid: str) -> Received:
    got = receiver.wait_for(path, lambda got: any(r.form["sessionSid"] == session_sid for r in got))
    (received,) = [r for r in got if r.form["sessionSid"] == session_sid]
    assert set(received.keys) == SESSION_PARAMS
    assert [k for k, n in Counter(received.keys).items() if n > 1] == []
    assert RequestValidator(AUTH_TOKEN).validate(
        receiver.url_of(received), received.form, received.signature
    )
    assert received.token
    assert received.form["sessionStatus"] == "closed"
    return received


def test_ttl_closes_the_session_and_frees_its_number(
    sdk: Client, http: httpx.Client, sandbox: Sandbox, receiver: Receiver
) -> None:
    service, path = watched_service(
        sdk, http, receiver, out_of_session_callback_url=receiver.url("/expiry/oos")
    )
    first = open_conversation(sdk, service, ttl=60, unique_name="short-lived")
    a, b = first.a, first.b
    proxy = a.proxy_identifier
    sessions = sdk.proxy.v1.services(service.sid).sessions
    # While it is active, A cannot get the service's only number a second time.
    with pytest.raises(TwilioRestException) as refused:
        sessions.create(participants=[{"Identifier": a.identifier}])
    assert refused.value.code in (80206, 80208)

    advanced = sandbox.advance(59)
    assert advanced["sessions_closed"] == 0
    assert first.session.fetch().status == "open"
    assert sandbox.advance(2)["sessions_closed"] >= 1

    closed = first.session.fetch()
    assert closed.status == "closed"
    assert closed.closed_reason == "ttl"
    assert closed.date_ended is not None
    received = closed_callback(receiver, path, first.session_sid)
    assert received.form["sessionClosedReason"] == "ttl"
    assert received.form["sessionTtl"] == "60"
    assert received.form["sessionUniqueName"] == "short-lived"
    assert received.form["serviceUniqueName"] == service.unique_name
    assert received.form["sessionDateEnded"].endswith("Z")

    # The number is A's again, in a new session.
    other = next_number("718")
    again = sessions.create(participants=[{"Identifier": a.identifier}, {"Identifier": other}])
    mine = [p for p in sessions(again.sid).participants.list() if p.identifier == a.identifier]
    assert [p.proxy_identifier for p in mine] == [proxy]

    # B's pair closed with the first session: B's text is now out-of-session.
    receiver.answer("/expiry/oos", 200, "application/xml", "<Response/>")
    sent = sandbox.send(b.identifier, proxy, "still there?")
    assert sent["routing"]["result"] == "replied"
    (asked,) = receiver.received("/expiry/oos")
    assert asked.form["sessionSid"] == first.session_sid
    assert asked.form["sessionClosedReason"] == "ttl"
    assert asked.form["inboundParticipantSid"] == b.sid
    assert sandbox.messages(a.identifier) == []
    # A's text goes into the new session.
    routed = sandbox.send(a.identifier, proxy, "new topic")
    assert routed["routing"]["session_sid"] == again.sid


def test_date_expiry_wins_over_ttl(
    sdk: Client, http: httpx.Client, sandbox: Sandbox, receiver: Receiver
) -> None:
    service, path = watched_service(sdk, http, receiver, numbers=2)
    now = sandbox_now(sandbox)
    earlier = open_conversation(sdk, service, ttl=600, date_expiry=now + timedelta(seconds=30))
    later = open_conversation(sdk, service, ttl=60, date_expiry=now + timedelta(seconds=300))

    sandbox.advance(31)
    assert (earlier.session.fetch().status, earlier.session.fetch().closed_reason) == (
        "closed",
        "date-expiry",
    )
    sandbox.advance(60)  # 91 s: past the later session's Ttl, but its DateExpiry wins
    assert later.session.fetch().status == "open"
    sandbox.advance(210)  # 301 s
    fetched = later.session.fetch()
    assert (fetched.status, fetched.closed_reason) == ("closed", "date-expiry")
    for conversation in (earlier, later):
        received = closed_callback(receiver, path, conversation.session_sid)
        assert received.form["sessionClosedReason"] == "date-expiry"
        assert received.form["sessionDateExpiry"].endswith("Z")


def test_an_interaction_restarts_the_ttl(
    sdk: Client, sandbox: Sandbox, http: httpx.Client, receiver: Receiver
) -> None:
    service, path = watched_service(sdk, http, receiver, numbers=2)
    conversation: Conversation = open_conversation(sdk, service, ttl=60)
    a = conversation.a
    sandbox.advance(40)
    sent = sandbox.send(a.identifier, a.proxy_identifier, "keep it alive")
    assert sent["routing"]["result"] == "forwarded"
    sandbox.advance(40)  # 80 s after creation, 40 s after the interaction
    assert conversation.session.fetch().status == "in-progress"
    voice = sandbox.call(a.identifier, a.proxy_identifier)
    assert voice["routing"]["result"] == "forwarded"
    sandbox.advance(50)
    assert conversation.session.fetch().status == "in-progress"
    sandbox.advance(11)  # 61 s after the call
    closed = conversation.session.fetch()
    assert (closed.status, closed.closed_reason) == ("closed", "ttl")
    assert (
        closed_callback(receiver, path, conversation.session_sid)
        .form["sessionDateLastInteraction"]
        .endswith("Z")
    )


def test_a_ttl_of_weeks_moves_with_each_interaction(sdk: Client, sandbox: Sandbox) -> None:
    # 30 days in milliseconds is past a 32-bit integer: the deadline is worked out in 64 bits.
    day = 86400
    conversation = open_conversation(sdk, new_service(sdk, 2), ttl=30 * day)
    a = conversation.a
    sandbox.advance(20 * day)
    sent = sandbox.send(a.identifier, a.proxy_identifier, "still on for next month?")
    assert sent["routing"]["result"] == "forwarded"
    sandbox.advance(20 * day)  # 40 days after creation, 20 after the text
    assert conversation.session.fetch().status == "in-progress"
    sandbox.advance(10 * day + 1)
    closed = conversation.session.fetch()
    assert (closed.status, closed.closed_reason) == ("closed", "ttl")


def test_traffic_after_expiry_without_url_is_not_routed(sdk: Client, sandbox: Sandbox) -> None:
    conversation = open_conversation(sdk, new_service(sdk, 2), ttl=5)
    a, b = conversation.a, conversation.b
    assert sandbox.send(a.identifier, a.proxy_identifier, "hi")["routing"]["result"] == (
        "forwarded"
    )
    sandbox.advance(6)
    sent = sandbox.send(a.identifier, a.proxy_identifier, "too late")
    assert sent["routing"]["result"] == "dropped"
    assert sent["routing"]["event_code"] == 80901
    assert conversation.session.fetch().closed_reason == "ttl"
    assert [m["body"] for m in sandbox.messages(b.identifier)] == ["hi"]


def test_closed_by_the_api_calls_back_with_reason_api(
    sdk: Client, http: httpx.Client, receiver: Receiver
) -> None:
    service, path = watched_service(sdk, http, receiver, numbers=2)
    conversation = open_conversation(sdk, service, ttl=3600)
    conversation.session.update(status="closed")
    received = closed_callback(receiver, path, conversation.session_sid)
    assert received.form["sessionClosedReason"] == "api"
    assert received.form["sessionServiceSid"] == service.sid
    assert received.form["sessionAccountSid"] == sdk.account_sid
    assert received.form["sessionTtl"] == "3600"
    # Re-opened and closed again: a second callback, with its own token.
    conversation.session.update(status="in-progress")
    conversation.session.update(status="closed")
    got = receiver.wait_for(path, lambda got: len(got) == 2)
    assert len({r.token for r in got}) == 2
    assert [r.form["sessionClosedReason"] for r in got] == ["api", "api"]
