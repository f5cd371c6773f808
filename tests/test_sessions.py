"""Sessions: create (defaults, names, TTL, expiry, participants), fetch, update, delete."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import add_numbers, next_number, participants_json
from tests.support import assert_schema, unique


def sessions_path(service_sid: str) -> str:
    return f"/v1/Services/{service_sid}/Sessions"


def in_use(api: httpx.Client, service_sid: str) -> dict[str, int]:
    """phone number -> in_use, for the whole pool of the service."""
    body = api.get(f"/v1/Services/{service_sid}/PhoneNumbers").json()
    return {n["phone_number"]: n["in_use"] for n in body["phone_numbers"]}


def proxy_error(call: Any, status: int, code: int) -> TwilioRestException:
    with pytest.raises(TwilioRestException) as err:
        call()
    assert (err.value.status, err.value.code) == (status, code), err.value.msg
    return err.value


def test_create_session_defaults(client: Client, api: httpx.Client) -> None:
    service = client.proxy.v1.services.create(unique_name=unique("svc"), default_ttl=3600)
    before = datetime.now(UTC).replace(microsecond=0)
    session = client.proxy.v1.services(service.sid).sessions.create()
    assert session.sid.startswith("KC") and len(session.sid) == 34
    assert session.service_sid == service.sid
    assert session.mode == "voice-and-message"
    assert session.status == "open"
    assert session.ttl == 3600
    assert session.unique_name is None
    assert session.date_expiry is None
    assert session.date_ended is None
    assert session.date_last_interaction is None
    assert session.closed_reason is None
    assert session.date_started is not None
    assert before - timedelta(seconds=5) <= session.date_started
    assert session.date_started <= datetime.now(UTC) + timedelta(seconds=5)
    assert session.links["participants"].endswith(
        f"/v1/Services/{service.sid}/Sessions/{session.sid}/Participants"
    )

    body = api.get(f"{sessions_path(service.sid)}/{session.sid}").json()
    assert_schema(body, "service.session")
    assert body["url"] == f"{api.base_url}{sessions_path(service.sid)}/{session.sid}"
    assert body["links"] == {
        "interactions": body["url"] + "/Interactions",
        "participants": body["url"] + "/Participants",
    }


def test_create_session_raw_is_201_with_spec_shape(service: Any, api: httpx.Client) -> None:
    response = api.post(sessions_path(service.sid), data={"UniqueName": unique("s"), "Ttl": "90"})
    assert response.status_code == 201
    body = response.json()
    assert_schema(body, "service.session")
    assert body["ttl"] == 90
    assert body["status"] == "open"
    assert isinstance(body["date_started"], str) and body["date_started"].endswith("Z")


def test_create_session_in_a_service_named_by_unique_name(client: Client) -> None:
    # By SID, CreateSession reads a few of the service's settings; by unique name it takes
    # the whole lookup. Both give the session the same service, TTL and numbers.
    name = unique("svc")
    service = client.proxy.v1.services.create(unique_name=name, default_ttl=600)
    (number,) = add_numbers(client, service.sid, 1)
    a, b = next_number("206"), next_number("303")
    session = client.proxy.v1.services(name).sessions.create(participants=participants_json(a, b))
    assert session.service_sid == service.sid
    assert session.ttl == 600
    listed = client.proxy.v1.services(service.sid).sessions(session.sid).participants.list()
    assert {p.proxy_identifier for p in listed} == {number.phone_number}
    proxy_error(lambda: client.proxy.v1.services(unique("missing")).sessions.create(), 404, 20404)
    proxy_error(lambda: client.proxy.v1.services("KS" + "0" * 32).sessions.create(), 404, 20404)


def test_create_with_unique_name_ttl_and_mode(client: Client, service: Any) -> None:
    name = unique("order")
    sessions = client.proxy.v1.services(service.sid).sessions
    session = sessions.create(unique_name=name, ttl=120, mode="message-only")
    assert session.unique_name == name
    assert session.ttl == 120
    assert session.mode == "message-only"

    by_sid = client.proxy.v1.services(service.sid).sessions(session.sid).fetch()
    by_name = client.proxy.v1.services(service.sid).sessions(name).fetch()
    assert by_sid.sid == by_name.sid == session.sid
    assert by_name.unique_name == name
    # The service default (0) applies when Ttl is absent.
    assert sessions.create().ttl == 0


def test_date_expiry_with_z_and_with_offset(service: Any, api: httpx.Client) -> None:
    path = sessions_path(service.sid)
    with_z = api.post(path, data={"DateExpiry": "2030-01-02T03:04:05Z"})
    assert with_z.status_code == 201, with_z.text
    assert with_z.json()["date_expiry"] == "2030-01-02T03:04:05Z"

    with_offset = api.post(path, data={"DateExpiry": "2030-01-02T03:04:05+01:00"})
    assert with_offset.status_code == 201, with_offset.text
    assert with_offset.json()["date_expiry"] == "2030-01-02T02:04:05Z"
    assert_schema(with_offset.json(), "service.session")


def test_date_expiry_through_the_sdk(client: Client, service: Any) -> None:
    expiry = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    session = client.proxy.v1.services(service.sid).sessions.create(date_expiry=expiry)
    assert session.date_expiry == expiry


def test_date_expiry_in_the_past_is_rejected(service: Any, api: httpx.Client) -> None:
    response = api.post(sessions_path(service.sid), data={"DateExpiry": "2001-01-01T00:00:00Z"})
    assert response.status_code == 400
    assert response.json()["code"] == 80701
    assert "DateExpiry" in response.json()["message"]
    assert api.get(sessions_path(service.sid)).json()["sessions"] == []


def test_date_expiry_that_is_not_a_date_is_rejected(service: Any, api: httpx.Client) -> None:
    response = api.post(sessions_path(service.sid), data={"DateExpiry": "tomorrow"})
    assert response.status_code == 400
    assert response.json()["code"] == 80701


def test_create_with_two_participants_through_the_sdk(
    client: Client, service: Any, api: httpx.Client
) -> None:
    numbers = add_numbers(client, service.sid, 2)
    alice, bob = next_number("650"), next_number("650")
    session = client.proxy.v1.services(service.sid).sessions.create(
        participants=[
            {"Identifier": alice, "FriendlyName": "Alice"},
            {"Identifier": bob},
        ]
    )
    listed = client.proxy.v1.services(service.sid).sessions(session.sid).participants.list()
    assert [(p.identifier, p.friendly_name) for p in listed] == [(alice, "Alice"), (bob, None)]
    pool = {n.phone_number: n.sid for n in numbers}
    for participant in listed:
        assert participant.proxy_identifier in pool
        assert participant.proxy_identifier_sid == pool[participant.proxy_identifier]
    used = {p.proxy_identifier for p in listed}
    counts = in_use(api, service.sid)
    assert all(counts[number] == (1 if number in used else 0) for number in counts)


def test_create_with_participants_raw_json_values(
    client: Client, service: Any, api: httpx.Client
) -> None:
    add_numbers(client, service.sid, 1)
    alice, bob = next_number("650"), next_number("650")
    # Go sorts keys and writes no spaces; Python writes ", ": both are accepted.
    values = [
        json.dumps({"FriendlyName": "A", "Identifier": alice}, separators=(",", ":")),
        json.dumps({"Identifier": bob}),
    ]
    response = api.post(sessions_path(service.sid), data={"Participants": values})
    assert response.status_code == 201, response.text
    listed = api.get(response.json()["links"]["participants"]).json()["participants"]
    assert [p["identifier"] for p in listed] == [alice, bob]
    assert listed[0]["friendly_name"] == "A"


@pytest.mark.parametrize(
    "value",
    ["not json", '["+14155550100"]', '{"Identifier": 14155550100}', '{"Who": "+14155550100"}'],
)
def test_malformed_participants_are_rejected(service: Any, api: httpx.Client, value: str) -> None:
    response = api.post(sessions_path(service.sid), data={"Participants": [value]})
    assert response.status_code == 400
    assert response.json()["code"] == 80701
    assert "Participants" in response.json()["message"]


def test_create_with_three_participants_is_rejected(
    client: Client, service: Any, api: httpx.Client
) -> None:
    add_numbers(client, service.sid, 3)
    three = participants_json(next_number("650"), next_number("650"), next_number("650"))
    response = api.post(sessions_path(service.sid), data={"Participants": three})
    assert response.status_code == 400
    assert response.json()["code"] == 80609
    assert api.get(sessions_path(service.sid)).json()["sessions"] == []


def test_create_is_all_or_nothing(client: Client, service: Any, api: httpx.Client) -> None:
    add_numbers(client, service.sid, 2)
    name = unique("s")
    response = api.post(
        sessions_path(service.sid),
        data={"UniqueName": name, "Participants": participants_json(next_number("650"), "+1234")},
    )
    assert response.status_code == 400
    assert response.json()["code"] == 80404
    # Nothing of the failed create is left: no session, no number in use, the name is free.
    assert api.get(sessions_path(service.sid)).json()["sessions"] == []
    assert set(in_use(api, service.sid).values()) == {0}
    assert client.proxy.v1.services(service.sid).sessions.create(unique_name=name).sid


def test_create_is_all_or_nothing_when_the_second_pair_conflicts(
    client: Client, service: Any, api: httpx.Client
) -> None:
    """The second participant fails number selection: the first one's number stays free."""
    add_numbers(client, service.sid, 1)
    alice, bob = next_number("650"), next_number("650")
    sessions = client.proxy.v1.services(service.sid).sessions
    first = sessions.create(participants=[{"Identifier": bob}])
    assert set(in_use(api, service.sid).values()) == {1}
    client.proxy.v1.services(service.sid).sessions(first.sid).update(status="closed")
    assert set(in_use(api, service.sid).values()) == {0}
    # Bob holds the only number again; a session of Alice and Bob cannot place Bob.
    sessions.create(participants=[{"Identifier": bob}])
    before = {s.sid for s in sessions.list()}
    proxy_error(
        lambda: sessions.create(participants=[{"Identifier": alice}, {"Identifier": bob}]),
        400,
        80208,
    )
    assert {s.sid for s in sessions.list()} == before
    assert set(in_use(api, service.sid).values()) == {1}


def test_fetch_by_sid_and_by_unique_name(client: Client, service: Any, api: httpx.Client) -> None:
    name = unique("ride")
    session = client.proxy.v1.services(service.sid).sessions.create(unique_name=name)
    by_sid = api.get(f"{sessions_path(service.sid)}/{session.sid}")
    by_name = api.get(f"{sessions_path(service.sid)}/{name}")
    assert by_sid.status_code == by_name.status_code == 200
    assert by_sid.json() == by_name.json()
    missing = api.get(f"{sessions_path(service.sid)}/KC{'0' * 32}")
    assert missing.status_code == 404
    assert missing.json()["code"] == 20404


def test_a_body_sent_with_a_get_is_ignored(client: Client, service: Any, api: httpx.Client) -> None:
    session = client.proxy.v1.services(service.sid).sessions.create(unique_name=unique("ride"))
    path = f"{sessions_path(service.sid)}/{session.sid}"
    plain = api.get(path)
    # A form body, larger even than the limit on a request's body (1 MiB, which a POST would
    # be refused for with 413), on a kept-alive connection: the answer is the same, and the
    # connection serves the next request.
    form = {"Ttl": "60", "Status": "closed", "Pad": "x" * 1_100_000}
    with_body = api.request("GET", path, data=form)
    assert with_body.status_code == plain.status_code == 200
    assert with_body.json() == plain.json()
    assert api.get(path).json()["status"] == "open"


def test_session_of_another_service_is_not_found(client: Client, service: Any) -> None:
    other = client.proxy.v1.services.create(unique_name=unique("svc"))
    session = client.proxy.v1.services(other.sid).sessions.create(unique_name=unique("s"))
    proxy_error(
        lambda: client.proxy.v1.services(service.sid).sessions(session.sid).fetch(), 404, 20404
    )
    proxy_error(
        lambda: client.proxy.v1.services(service.sid).sessions(session.unique_name).fetch(),
        404,
        20404,
    )


def test_duplicate_unique_name_is_80603(client: Client, service: Any) -> None:
    name = unique("s")
    sessions = client.proxy.v1.services(service.sid).sessions
    sessions.create(unique_name=name)
    proxy_error(lambda: sessions.create(unique_name=name), 400, 80603)
    # Unique within the service only.
    other = client.proxy.v1.services.create(unique_name=unique("svc"))
    assert client.proxy.v1.services(other.sid).sessions.create(unique_name=name).unique_name == (
        name
    )


def test_unique_name_of_a_deleted_session_is_free_again(client: Client, service: Any) -> None:
    name = unique("s")
    sessions = client.proxy.v1.services(service.sid).sessions
    first = sessions.create(unique_name=name)
    assert client.proxy.v1.services(service.sid).sessions(first.sid).delete() is True
    second = sessions.create(unique_name=name)
    assert second.sid != first.sid
    assert client.proxy.v1.services(service.sid).sessions(name).fetch().sid == second.sid


def test_closed_session_keeps_its_unique_name(client: Client, service: Any) -> None:
    name = unique("s")
    sessions = client.proxy.v1.services(service.sid).sessions
    first = sessions.create(unique_name=name)
    client.proxy.v1.services(service.sid).sessions(first.sid).update(status="closed")
    proxy_error(lambda: sessions.create(unique_name=name), 400, 80603)
    fetched = client.proxy.v1.services(service.sid).sessions(name).fetch()
    assert (fetched.sid, fetched.status) == (first.sid, "closed")


def test_list_sessions(client: Client, service: Any, api: httpx.Client) -> None:
    sessions = client.proxy.v1.services(service.sid).sessions
    created = [sessions.create(unique_name=unique("s")).sid for _ in range(3)]
    assert [s.sid for s in sessions.list()] == created
    body = api.get(sessions_path(service.sid), params={"PageSize": 2}).json()
    assert body["meta"]["key"] == "sessions"
    assert [s["sid"] for s in body["sessions"]] == created[:2]
    for item in body["sessions"]:
        assert_schema(item, "service.session")
    assert [s.sid for s in sessions.list(page_size=2)] == created


def test_close_session(client: Client, service: Any, api: httpx.Client) -> None:
    add_numbers(client, service.sid, 2)
    session = client.proxy.v1.services(service.sid).sessions.create(
        participants=[{"Identifier": next_number("650")}, {"Identifier": next_number("650")}]
    )
    assert sum(in_use(api, service.sid).values()) >= 1
    closed = client.proxy.v1.services(service.sid).sessions(session.sid).update(status="closed")
    assert closed.status == "closed"
    assert closed.closed_reason == "api"
    assert closed.date_ended is not None
    assert set(in_use(api, service.sid).values()) == {0}

    body = api.get(f"{sessions_path(service.sid)}/{session.sid}").json()
    assert_schema(body, "service.session")
    assert body["status"] == "closed"
    assert body["closed_reason"] == "api"
    assert body["date_ended"].endswith("Z")


def test_update_raw_returns_200(service: Any, api: httpx.Client) -> None:
    created = api.post(sessions_path(service.sid), data={}).json()
    response = api.post(created["url"], data={"Status": "closed"})
    assert response.status_code == 200
    assert_schema(response.json(), "service.session")
    assert response.json()["status"] == "closed"


def test_reopen_closed_session(client: Client, service: Any, api: httpx.Client) -> None:
    add_numbers(client, service.sid, 1)
    session = client.proxy.v1.services(service.sid).sessions.create(
        participants=[{"Identifier": next_number("650")}]
    )
    handle = client.proxy.v1.services(service.sid).sessions(session.sid)
    handle.update(status="closed")
    assert set(in_use(api, service.sid).values()) == {0}
    reopened = handle.update(status="in-progress")
    assert reopened.status == "in-progress"
    assert reopened.closed_reason is None
    assert reopened.date_ended is None
    assert set(in_use(api, service.sid).values()) == {1}
    # Its participant is active again: the pair is taken.
    participant = handle.participants.list()[0]
    other = client.proxy.v1.services(service.sid).sessions.create()
    proxy_error(
        lambda: (
            client.proxy.v1.services(service.sid)
            .sessions(other.sid)
            .participants.create(identifier=participant.identifier)
        ),
        400,
        80208,
    )


def test_reopen_conflict_is_80604(client: Client, service: Any, api: httpx.Client) -> None:
    add_numbers(client, service.sid, 1)
    alice = next_number("650")
    sessions = client.proxy.v1.services(service.sid).sessions
    first = sessions.create(participants=[{"Identifier": alice}])
    client.proxy.v1.services(service.sid).sessions(first.sid).update(status="closed")
    second = sessions.create(participants=[{"Identifier": alice}])
    number = client.proxy.v1.services(service.sid).sessions(second.sid).participants.list()[0]
    assert number.proxy_identifier in in_use(api, service.sid)

    proxy_error(
        lambda: (
            client.proxy.v1.services(service.sid).sessions(first.sid).update(status="in-progress")
        ),
        400,
        80604,
    )
    after = client.proxy.v1.services(service.sid).sessions(first.sid).fetch()
    assert after.status == "closed"
    assert in_use(api, service.sid) == {number.proxy_identifier: 1}


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("open", "failed"),
        ("open", "unknown"),
        ("open", "in-progress"),
        ("closed", "open"),
        ("closed", "failed"),
    ],
)
def test_unsupported_status_change_is_80608(
    client: Client, service: Any, start: str, target: str
) -> None:
    session = client.proxy.v1.services(service.sid).sessions.create()
    handle = client.proxy.v1.services(service.sid).sessions(session.sid)
    if start == "closed":
        handle.update(status="closed")
    proxy_error(lambda: handle.update(status=target), 400, 80608)
    assert handle.fetch().status == start


def test_status_other_than_open_or_in_progress_at_create_is_rejected(
    service: Any, api: httpx.Client
) -> None:
    response = api.post(sessions_path(service.sid), data={"Status": "closed"})
    assert response.status_code == 400
    assert response.json()["code"] == 80608
    assert api.get(sessions_path(service.sid)).json()["sessions"] == []


def test_invalid_mode_is_rejected(service: Any, api: httpx.Client) -> None:
    response = api.post(sessions_path(service.sid), data={"Mode": "fax-only"})
    assert response.status_code == 400
    assert response.json()["code"] == 80701
    assert "Mode" in response.json()["message"]


def test_update_ttl_and_date_expiry_of_an_open_session(client: Client, service: Any) -> None:
    session = client.proxy.v1.services(service.sid).sessions.create(ttl=60)
    handle = client.proxy.v1.services(service.sid).sessions(session.sid)
    assert handle.update(ttl=300).ttl == 300
    expiry = datetime(2032, 1, 1, 12, 0, 0, tzinfo=UTC)
    updated = handle.update(date_expiry=expiry)
    assert updated.date_expiry == expiry
    assert updated.ttl == 300
    assert updated.status == "open"


def test_changing_ttl_or_expiry_of_a_closed_session_is_80607(client: Client, service: Any) -> None:
    session = client.proxy.v1.services(service.sid).sessions.create(ttl=60)
    handle = client.proxy.v1.services(service.sid).sessions(session.sid)
    handle.update(status="closed")
    proxy_error(lambda: handle.update(ttl=600), 400, 80607)
    proxy_error(lambda: handle.update(date_expiry=datetime(2032, 1, 1, tzinfo=UTC)), 400, 80607)
    assert handle.fetch().ttl == 60
    # Re-opening in the same request is allowed.
    reopened = handle.update(status="in-progress", ttl=600)
    assert (reopened.status, reopened.ttl) == ("in-progress", 600)


def test_delete_session_removes_participants_and_interactions(
    client: Client, service: Any, api: httpx.Client
) -> None:
    add_numbers(client, service.sid, 1)
    alice, bob = next_number("650"), next_number("650")
    session = client.proxy.v1.services(service.sid).sessions.create(
        participants=[{"Identifier": alice}, {"Identifier": bob}]
    )
    handle = client.proxy.v1.services(service.sid).sessions(session.sid)
    participant = handle.participants.list()[0]
    message = handle.participants(participant.sid).message_interactions.create(body="hello")
    assert len(handle.interactions.list()) == 1

    response = api.delete(f"{sessions_path(service.sid)}/{session.sid}")
    assert response.status_code == 204
    assert response.content == b""
    base = f"{sessions_path(service.sid)}/{session.sid}"
    for path in (
        base,
        f"{base}/Participants",
        f"{base}/Participants/{participant.sid}",
        f"{base}/Interactions/{message.sid}",
        f"{base}/Participants/{participant.sid}/MessageInteractions/{message.sid}",
    ):
        gone = api.get(path)
        assert gone.status_code == 404, path
        assert gone.json()["code"] == 20404
    assert api.get(sessions_path(service.sid)).json()["sessions"] == []
    # The pairs are free: the same people get the only number again.
    assert set(in_use(api, service.sid).values()) == {0}
    again = client.proxy.v1.services(service.sid).sessions.create(
        participants=[{"Identifier": alice}, {"Identifier": bob}]
    )
    assert len(client.proxy.v1.services(service.sid).sessions(again.sid).participants.list()) == 2
    # Deleting twice: the second time there is nothing to delete.
    assert api.delete(base).status_code == 404


def test_delete_closed_session(client: Client, service: Any, api: httpx.Client) -> None:
    add_numbers(client, service.sid, 1)
    session = client.proxy.v1.services(service.sid).sessions.create(
        participants=[{"Identifier": next_number("650")}]
    )
    handle = client.proxy.v1.services(service.sid).sessions(session.sid)
    handle.update(status="closed")
    assert handle.delete() is True
    # Closing already released the number; deleting must not release it twice.
    assert set(in_use(api, service.sid).values()) == {0}


def test_unique_name_works_in_every_session_path(client: Client, service: Any) -> None:
    add_numbers(client, service.sid, 1)
    name = unique("by-name")
    created = client.proxy.v1.services(service.sid).sessions.create(unique_name=name)
    handle = client.proxy.v1.services(service.sid).sessions(name)
    participant = handle.participants.create(identifier=next_number("650"))
    assert participant.session_sid == created.sid
    assert [p.sid for p in handle.participants.list()] == [participant.sid]
    handle.participants(participant.sid).message_interactions.create(body="hi")
    assert len(handle.interactions.list()) == 1
    assert handle.update(status="closed").sid == created.sid
    assert handle.delete() is True
    proxy_error(
        lambda: client.proxy.v1.services(service.sid).sessions(created.sid).fetch(), 404, 20404
    )
