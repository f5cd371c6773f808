"""MessageInteractions (the app texts one participant) and the session's Interactions."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import add_numbers, next_number
from tests.support import assert_schema


def proxy_error(call: Any, status: int, code: int) -> TwilioRestException:
    with pytest.raises(TwilioRestException) as err:
        call()
    assert (err.value.status, err.value.code) == (status, code), err.value.msg
    return err.value


def received(api: httpx.Client, handset: str) -> list[dict[str, Any]]:
    response = api.get(f"/sandbox/v1/Devices/{handset}/Messages")
    assert response.status_code == 200, response.text
    return list(response.json()["messages"])


@pytest.fixture
def conversation(client: Client, service: Any) -> tuple[Any, Any, Any]:
    """An open session of two participants on a pool of two numbers: (session, alice, bob)."""
    add_numbers(client, service.sid, 2)
    created = client.proxy.v1.services(service.sid).sessions.create(
        participants=[{"Identifier": next_number("650")}, {"Identifier": next_number("650")}]
    )
    session = client.proxy.v1.services(service.sid).sessions(created.sid)
    alice, bob = session.participants.list()
    return session, alice, bob


def test_create_message_interaction_with_body(
    conversation: tuple[Any, Any, Any], api: httpx.Client
) -> None:
    session, alice, bob = conversation
    sent = session.participants(alice.sid).message_interactions.create(body="Your ride is here")
    assert sent.sid.startswith("KI") and len(sent.sid) == 34
    assert sent.type == "message"
    assert json.loads(sent.data)["body"] == "Your ride is here"
    assert sent.participant_sid == alice.sid
    assert sent.outbound_participant_sid == alice.sid
    assert sent.outbound_resource_sid.startswith("SM")
    assert sent.outbound_resource_type == "Message"
    assert sent.outbound_resource_status in ("queued", "sent", "delivered")
    assert sent.inbound_participant_sid is None
    assert sent.inbound_resource_sid is None
    assert sent.inbound_resource_type is None

    messages = received(api, alice.identifier)
    assert [(m["from"], m["to"], m["body"]) for m in messages] == [
        (alice.proxy_identifier, alice.identifier, "Your ride is here")
    ]
    assert messages[0]["sid"] == sent.outbound_resource_sid
    assert received(api, bob.identifier) == []


def test_create_message_interaction_raw_has_spec_shape(
    conversation: tuple[Any, Any, Any], api: httpx.Client
) -> None:
    _session, alice, _bob = conversation
    url = alice.links["message_interactions"]
    response = api.post(url, data={"Body": "hello there"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert_schema(body, "service.session.participant.message_interaction")
    assert body["url"] == f"{url}/{body['sid']}"
    assert json.loads(body["data"]) == {"body": "hello there"}
    assert body["outbound_resource_url"].startswith("http")

    fetched = api.get(body["url"])
    assert fetched.status_code == 200
    assert_schema(fetched.json(), "service.session.participant.message_interaction")
    # The sandbox may have moved the outbound leg on (queued, sent, delivered) meanwhile.
    stepped = ("outbound_resource_status", "date_updated")
    assert fetched.json()["outbound_resource_status"] in ("queued", "sent", "delivered")
    assert {k: v for k, v in fetched.json().items() if k not in stepped} == {
        k: v for k, v in body.items() if k not in stepped
    }


def test_create_message_interaction_with_media(
    conversation: tuple[Any, Any, Any], api: httpx.Client
) -> None:
    session, _alice, bob = conversation
    media = ["https://example.com/a.jpg", "https://example.com/b.png"]
    sent = session.participants(bob.sid).message_interactions.create(media_url=media)
    assert sent.type == "message"
    messages = received(api, bob.identifier)
    assert len(messages) == 1
    assert messages[0]["from"] == bob.proxy_identifier
    assert messages[0]["media_urls"] == media

    both = api.post(
        bob.links["message_interactions"],
        data={"Body": "see these", "MediaUrl": media},
    )
    assert both.status_code == 201, both.text
    latest = received(api, bob.identifier)[-1]
    assert (latest["body"], latest["media_urls"]) == ("see these", media)


def test_body_or_media_is_required(conversation: tuple[Any, Any, Any], api: httpx.Client) -> None:
    _session, alice, _bob = conversation
    for data in ({}, {"Body": ""}):
        response = api.post(alice.links["message_interactions"], data=data)
        assert response.status_code == 400
        assert response.json()["code"] == 80701
    assert received(api, alice.identifier) == []


def test_invalid_media_url_is_rejected(
    conversation: tuple[Any, Any, Any], api: httpx.Client
) -> None:
    _session, alice, _bob = conversation
    response = api.post(alice.links["message_interactions"], data={"MediaUrl": "not a url"})
    assert response.status_code == 400
    assert response.json()["code"] == 80701
    assert "MediaUrl" in response.json()["message"]


def test_message_interaction_on_a_closed_session_is_80607(
    conversation: tuple[Any, Any, Any], api: httpx.Client
) -> None:
    session, alice, _bob = conversation
    session.update(status="closed")
    proxy_error(
        lambda: session.participants(alice.sid).message_interactions.create(body="late"),
        400,
        80607,
    )
    assert received(api, alice.identifier) == []
    assert session.interactions.list() == []


def test_message_interaction_moves_the_session_in_progress(
    conversation: tuple[Any, Any, Any],
) -> None:
    session, alice, _bob = conversation
    before = session.fetch()
    assert before.status == "open"
    assert before.date_last_interaction is None
    session.participants(alice.sid).message_interactions.create(body="hi")
    after = session.fetch()
    assert after.status == "in-progress"
    assert after.date_last_interaction is not None
    assert after.date_last_interaction >= before.date_started
    # A closed session re-opened keeps taking messages.
    session.update(status="closed")
    session.update(status="in-progress")
    session.participants(alice.sid).message_interactions.create(body="again")
    assert session.fetch().status == "in-progress"


def test_list_and_fetch_message_interactions(
    conversation: tuple[Any, Any, Any], api: httpx.Client
) -> None:
    session, alice, bob = conversation
    to_alice = [
        session.participants(alice.sid).message_interactions.create(body=f"m{i}").sid
        for i in range(3)
    ]
    to_bob = session.participants(bob.sid).message_interactions.create(body="bob").sid

    listed = session.participants(alice.sid).message_interactions.list()
    assert [m.sid for m in listed] == to_alice
    assert [m.sid for m in session.participants(bob.sid).message_interactions.list()] == [to_bob]
    fetched = session.participants(alice.sid).message_interactions(to_alice[1]).fetch()
    assert json.loads(fetched.data)["body"] == "m1"
    # A message interaction is reached only through its own participant.
    proxy_error(
        lambda: session.participants(bob.sid).message_interactions(to_alice[0]).fetch(),
        404,
        20404,
    )

    body = api.get(alice.links["message_interactions"], params={"PageSize": 2}).json()
    assert set(body) == {"interactions", "meta"}
    assert body["meta"]["key"] == "interactions"
    assert [m["sid"] for m in body["interactions"]] == to_alice[:2]
    assert body["meta"]["next_page_url"] is not None
    for item in body["interactions"]:
        assert_schema(item, "service.session.participant.message_interaction")
    assert [
        m.sid for m in session.participants(alice.sid).message_interactions.list(page_size=2)
    ] == (to_alice)


def test_interactions_list_fetch_and_delete(
    conversation: tuple[Any, Any, Any], api: httpx.Client
) -> None:
    session, alice, bob = conversation
    first = session.participants(alice.sid).message_interactions.create(body="one")
    second = session.participants(bob.sid).message_interactions.create(body="two")

    listed = session.interactions.list()
    assert [i.sid for i in listed] == [first.sid, second.sid]
    fetched = session.interactions(first.sid).fetch()
    assert fetched.type == "message"
    assert fetched.outbound_participant_sid == alice.sid
    assert json.loads(fetched.data)["body"] == "one"

    url = fetched.url
    raw = api.get(url)
    assert raw.status_code == 200
    assert_schema(raw.json(), "service.session.interaction")
    listing = api.get(url.rsplit("/", 1)[0]).json()
    assert listing["meta"]["key"] == "interactions"
    for item in listing["interactions"]:
        assert_schema(item, "service.session.interaction")

    deleted = api.delete(url)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert [i.sid for i in session.interactions.list()] == [second.sid]
    proxy_error(lambda: session.interactions(first.sid).fetch(), 404, 20404)
    assert session.interactions(second.sid).delete() is True
    assert session.interactions.list() == []
    assert api.delete(url).status_code == 404
    # Only Proxy's record goes: the handset still has the message.
    assert [m["body"] for m in received(api, alice.identifier)] == ["one"]


def test_interaction_of_another_session_is_not_found(
    client: Client, service: Any, conversation: tuple[Any, Any, Any]
) -> None:
    session, alice, _bob = conversation
    sent = session.participants(alice.sid).message_interactions.create(body="x")
    other = client.proxy.v1.services(service.sid).sessions.create()
    handle = client.proxy.v1.services(service.sid).sessions(other.sid)
    proxy_error(lambda: handle.interactions(sent.sid).fetch(), 404, 20404)
    proxy_error(lambda: handle.interactions(sent.sid).delete(), 404, 20404)
    assert session.interactions(sent.sid).fetch().sid == sent.sid
