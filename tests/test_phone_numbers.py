"""A service's phone number pool: add by number or SID, reserve, fetch, list, remove, errors."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import add_numbers, next_number
from tests.support import ACCOUNT_SID, Server, assert_schema, other_account, unique


@pytest.fixture
def second_account(server: Server) -> tuple[str, str]:
    return other_account(server)


def pool(client: Client, service_sid: str) -> Any:
    return client.proxy.v1.services(service_sid).phone_numbers


def error_of(call: Any) -> TwilioRestException:
    with pytest.raises(TwilioRestException) as err:
        call()
    return err.value


def test_create_by_phone_number_provisions_an_unowned_number(
    client: Client, service: Any, api: httpx.Client
) -> None:
    number = next_number()
    created = pool(client, service.sid).create(phone_number=number)

    assert re.fullmatch(r"PN[0-9a-f]{32}", created.sid)
    assert created.account_sid == ACCOUNT_SID
    assert created.service_sid == service.sid
    assert created.phone_number == number
    assert created.iso_country == "US"
    assert created.capabilities == {"fax": False, "mms": True, "sms": True, "voice": True}
    assert created.is_reserved is False
    assert created.in_use == 0
    assert created.date_created is not None
    assert created.url == f"{api.base_url}/v1/Services/{service.sid}/PhoneNumbers/{created.sid}"

    # The sandbox now counts the number as owned: provisioning it again changes nothing new.
    again = api.post("/sandbox/v1/PhoneNumbers", data={"PhoneNumber": number})
    assert again.status_code == 200
    assert again.json()["sid"] == created.sid


def test_create_by_sid_keeps_the_owned_numbers_capabilities(
    client: Client, service: Any, api: httpx.Client
) -> None:
    number = next_number()
    owned = api.post(
        "/sandbox/v1/PhoneNumbers",
        data={"PhoneNumber": number, "VoiceCapable": "false", "FriendlyName": "Texts only"},
    )
    assert owned.status_code == 201
    owned_body = owned.json()
    assert owned_body["phone_number"] == number
    assert owned_body["capabilities"]["voice"] is False

    created = pool(client, service.sid).create(sid=owned_body["sid"])
    assert created.sid == owned_body["sid"]
    assert created.phone_number == number
    assert created.friendly_name == "Texts only"
    assert created.capabilities == {"fax": False, "mms": True, "sms": True, "voice": False}


def test_create_reserved_and_update_only_changes_is_reserved(
    client: Client, service: Any, api: httpx.Client
) -> None:
    numbers = pool(client, service.sid)
    created = numbers.create(phone_number=next_number(), is_reserved=True)
    assert created.is_reserved is True

    updated = numbers(created.sid).update(is_reserved=False)
    assert updated.is_reserved is False
    assert updated.phone_number == created.phone_number
    assert updated.date_updated >= created.date_updated
    assert numbers(created.sid).fetch().is_reserved is False

    # Other parameters are not updatable: they are ignored, and an empty update changes nothing.
    path = f"/v1/Services/{service.sid}/PhoneNumbers/{created.sid}"
    response = api.post(path, data={"FriendlyName": "renamed", "PhoneNumber": next_number()})
    assert response.status_code == 200
    body = response.json()
    assert body["friendly_name"] == created.friendly_name
    assert body["phone_number"] == created.phone_number
    assert body["is_reserved"] is False

    bad = api.post(path, data={"IsReserved": "maybe"})
    assert bad.status_code == 400
    assert bad.json()["code"] == 80701
    assert "IsReserved" in bad.json()["message"]


def test_fetch_matches_the_spec(client: Client, service: Any, api: httpx.Client) -> None:
    created = pool(client, service.sid).create(phone_number=next_number())

    fetched = pool(client, service.sid)(created.sid).fetch()
    assert fetched.sid == created.sid
    assert fetched.phone_number == created.phone_number

    response = api.get(f"/v1/Services/{service.sid}/PhoneNumbers/{created.sid}")
    assert response.status_code == 200
    body = response.json()
    assert_schema(body, "service.phone_number")
    assert body["url"] == f"{api.base_url}/v1/Services/{service.sid}/PhoneNumbers/{created.sid}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["date_created"])

    # Through the service's unique name as well.
    by_name = pool(client, service.unique_name)(created.sid).fetch()
    assert by_name.sid == created.sid


def test_delete_frees_the_number(client: Client, service: Any, api: httpx.Client) -> None:
    created = pool(client, service.sid).create(phone_number=next_number())
    response = api.delete(f"/v1/Services/{service.sid}/PhoneNumbers/{created.sid}")
    assert response.status_code == 204
    assert response.content == b""

    err = error_of(pool(client, service.sid)(created.sid).fetch)
    assert (err.status, err.code) == (404, 20404)
    err = error_of(pool(client, service.sid)(created.sid).delete)
    assert (err.status, err.code) == (404, 20404)

    # Freed: another service may take it, by SID.
    other = client.proxy.v1.services.create(unique_name=unique("svc"))
    moved = pool(client, other.sid).create(sid=created.sid)
    assert moved.service_sid == other.sid
    assert pool(client, other.sid)(created.sid).delete() is True


def test_list_in_order_with_the_list_shape(client: Client, service: Any, api: httpx.Client) -> None:
    added = add_numbers(client, service.sid, 3)
    listed = pool(client, service.sid).list()
    assert [n.sid for n in listed] == [n.sid for n in added]

    response = api.get(f"/v1/Services/{service.sid}/PhoneNumbers")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"phone_numbers", "meta"}
    assert body["meta"]["key"] == "phone_numbers"
    assert body["meta"]["page_size"] == 50
    assert body["meta"]["next_page_url"] is None
    for item in body["phone_numbers"]:
        assert_schema(item, "service.phone_number")

    empty = client.proxy.v1.services.create(unique_name=unique("svc"))
    assert pool(client, empty.sid).list() == []


def test_number_in_another_service_is_80101(client: Client, service: Any) -> None:
    number = next_number()
    created = pool(client, service.sid).create(phone_number=number)
    other = client.proxy.v1.services.create(unique_name=unique("svc"))

    err = error_of(lambda: pool(client, other.sid).create(phone_number=number))
    assert (err.status, err.code) == (400, 80101)
    err = error_of(lambda: pool(client, other.sid).create(sid=created.sid))
    assert (err.status, err.code) == (400, 80101)
    assert pool(client, other.sid).list() == []


def test_number_already_in_this_service_is_80104(client: Client, service: Any) -> None:
    number = next_number()
    created = pool(client, service.sid).create(phone_number=number)

    err = error_of(lambda: pool(client, service.sid).create(phone_number=number))
    assert (err.status, err.code) == (400, 80104)
    err = error_of(lambda: pool(client, service.sid).create(sid=created.sid))
    assert (err.status, err.code) == (400, 80104)
    assert len(pool(client, service.sid).list()) == 1


def test_unknown_phone_number_sid_is_80301(client: Client, service: Any) -> None:
    err = error_of(lambda: pool(client, service.sid).create(sid="PN" + "0" * 32))
    assert (err.status, err.code) == (400, 80301)


def test_missing_or_invalid_parameters_are_80701(service: Any, api: httpx.Client) -> None:
    path = f"/v1/Services/{service.sid}/PhoneNumbers"
    for data in ({}, {"PhoneNumber": "+1415200"}, {"PhoneNumber": "hello"}, {"Sid": "KS123"}):
        response = api.post(path, data=data)
        assert response.status_code == 400, data
        assert response.json()["code"] == 80701, data


def test_number_of_another_account(
    client: Client, service: Any, server: Server, second_account: tuple[str, str]
) -> None:
    other_sid, other_token = second_account
    number = next_number()
    with server.http(other_sid, other_token) as other_api:
        owned = other_api.post("/sandbox/v1/PhoneNumbers", data={"PhoneNumber": number})
    assert owned.status_code == 201
    assert owned.json()["account_sid"] == other_sid

    # By number or by SID, the answer is the one for a number this account does not own:
    # nothing says that another account has it.
    err = error_of(lambda: pool(client, service.sid).create(phone_number=number))
    assert (err.status, err.code) == (400, 80301)
    assert "another" not in str(err.msg)
    err = error_of(lambda: pool(client, service.sid).create(sid=owned.json()["sid"]))
    assert (err.status, err.code) == (400, 80301)
    assert pool(client, service.sid).list() == []


def test_number_of_another_accounts_pool_is_not_found(
    client: Client, server: Server, second_account: tuple[str, str]
) -> None:
    mine = client.proxy.v1.services.create(unique_name=unique("svc"))
    number = pool(client, mine.sid).create(phone_number=next_number())
    other = server.client(*second_account)
    err = error_of(lambda: pool(other, mine.sid)(number.sid).fetch())
    assert (err.status, err.code) == (404, 20404)


def test_removing_a_number_an_active_session_uses_is_80611(
    client: Client, service: Any, api: httpx.Client
) -> None:
    number = pool(client, service.sid).create(phone_number=next_number())
    session = client.proxy.v1.services(service.sid).sessions.create(
        participants=[{"Identifier": next_number("212")}]
    )
    assert pool(client, service.sid)(number.sid).fetch().in_use == 1

    err = error_of(pool(client, service.sid)(number.sid).delete)
    assert (err.status, err.code) == (400, 80611)
    assert pool(client, service.sid)(number.sid).fetch().sid == number.sid

    client.proxy.v1.services(service.sid).sessions(session.sid).update(status="closed")
    response = api.delete(f"/v1/Services/{service.sid}/PhoneNumbers/{number.sid}")
    assert response.status_code == 204


def test_in_use_counts_active_sessions(client: Client, service: Any) -> None:
    number = pool(client, service.sid).create(phone_number=next_number())
    spare = pool(client, service.sid).create(phone_number=next_number(), is_reserved=True)
    sessions = client.proxy.v1.services(service.sid).sessions

    def in_use() -> int:
        return int(pool(client, service.sid)(number.sid).fetch().in_use)

    # Two participants of one session on the same number: one session, counted once.
    first = sessions.create(
        participants=[{"Identifier": next_number("212")}, {"Identifier": next_number("212")}]
    )
    participants = sessions(first.sid).participants.list()
    assert {p.proxy_identifier for p in participants} == {number.phone_number}
    assert in_use() == 1

    second = sessions.create(participants=[{"Identifier": next_number("212")}])
    assert in_use() == 2

    # A session without participants uses no number, nor does a session that failed to be made.
    sessions.create()
    err = error_of(
        lambda: sessions.create(
            participants=[{"Identifier": next_number("212")}, {"Identifier": "hello"}]
        )
    )
    assert (err.status, err.code) == (400, 80404)
    assert in_use() == 2

    # Removing one of two participants on the number keeps the session counted.
    sessions(first.sid).participants(participants[0].sid).delete()
    assert in_use() == 2

    sessions(first.sid).update(status="closed")
    assert in_use() == 1
    sessions(second.sid).delete()
    assert in_use() == 0

    # Reserved numbers are not picked automatically, so the spare was never used.
    assert pool(client, service.sid)(spare.sid).fetch().in_use == 0


def test_a_removed_number_does_not_come_back_with_a_reopened_session(
    client: Client, service: Any, api: httpx.Client
) -> None:
    number = pool(client, service.sid).create(phone_number=next_number())
    sessions = client.proxy.v1.services(service.sid).sessions
    session = sessions.create(participants=[{"Identifier": next_number("212")}])
    sessions(session.sid).update(status="closed")
    assert api.delete(f"/v1/Services/{service.sid}/PhoneNumbers/{number.sid}").status_code == 204

    other = client.proxy.v1.services.create(unique_name=unique("svc"))
    moved = pool(client, other.sid).create(sid=number.sid)
    assert moved.in_use == 0

    # Re-opening would make the session use a number of another service's pool.
    err = error_of(lambda: sessions(session.sid).update(status="in-progress"))
    assert (err.status, err.code) == (400, 80605)
    assert sessions(session.sid).fetch().status == "closed"
    assert pool(client, other.sid)(number.sid).fetch().in_use == 0
    assert pool(client, other.sid)(number.sid).delete() is True
