"""A service's short codes, through raw HTTP and `client.request` (the SDK has no ShortCodes)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import pytest
from twilio.rest import Client

from tests.conftest import next_number
from tests.support import ACCOUNT_SID, Server, assert_schema, other_account, unique


def short_code() -> str:
    """Eight digits nobody else in this run is likely to have provisioned."""
    return str(10_000_000 + uuid.uuid4().int % 90_000_000)


def provision(api: httpx.Client, code: str | None = None, country: str = "US") -> dict[str, Any]:
    response = api.post(
        "/sandbox/v1/ShortCodes", data={"ShortCode": code or short_code(), "IsoCountry": country}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def codes_path(service_sid: str) -> str:
    return f"/v1/Services/{service_sid}/ShortCodes"


def add(api: httpx.Client, service_sid: str, sid: str) -> httpx.Response:
    return api.post(codes_path(service_sid), data={"Sid": sid})


def assert_error(response: httpx.Response, status: int, code: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["status"], body["code"]) == (status, code)


def test_sandbox_provisions_a_short_code(api: httpx.Client) -> None:
    code = short_code()
    owned = provision(api, code)
    assert re.fullmatch(r"SC[0-9a-f]{32}", owned["sid"])
    assert owned["short_code"] == code
    assert owned["iso_country"] == "US"
    assert owned["account_sid"] == ACCOUNT_SID
    assert owned["capabilities"] == {"fax": False, "mms": False, "sms": True, "voice": False}

    again = api.post("/sandbox/v1/ShortCodes", data={"ShortCode": code, "IsoCountry": "US"})
    assert again.status_code == 200
    assert again.json()["sid"] == owned["sid"]

    # Short codes are unique per country: the same digits elsewhere are another short code.
    elsewhere = provision(api, code, "GB")
    assert elsewhere["sid"] != owned["sid"]
    assert elsewhere["iso_country"] == "GB"


def test_create_through_the_sdk_request_matches_the_spec(
    client: Client, service: Any, server: Server
) -> None:
    with server.http() as api:
        owned = provision(api)
    url = f"{server.base_url}{codes_path(service.sid)}"
    response = client.request("POST", url, data={"Sid": owned["sid"]})
    assert response.status_code == 201
    created = json.loads(response.text)
    assert_schema(created, "service.short_code")
    assert created["sid"] == owned["sid"]
    assert created["service_sid"] == service.sid
    assert created["account_sid"] == ACCOUNT_SID
    assert created["short_code"] == owned["short_code"]
    assert created["iso_country"] == "US"
    assert created["is_reserved"] is False
    assert created["capabilities"]["sms"] is True
    assert created["url"] == f"{url}/{owned['sid']}"

    fetched = client.request("GET", created["url"])
    assert fetched.status_code == 200
    assert json.loads(fetched.text) == created


def test_fetch_update_delete(service: Any, api: httpx.Client) -> None:
    owned = provision(api)
    assert add(api, service.sid, owned["sid"]).status_code == 201
    path = f"{codes_path(service.sid)}/{owned['sid']}"

    fetched = api.get(path)
    assert fetched.status_code == 200
    assert_schema(fetched.json(), "service.short_code")

    reserved = api.post(path, data={"IsReserved": "true"})
    assert reserved.status_code == 200
    assert_schema(reserved.json(), "service.short_code")
    assert reserved.json()["is_reserved"] is True
    assert reserved.json()["date_updated"] >= fetched.json()["date_updated"]
    assert api.get(path).json()["is_reserved"] is True

    # Only IsReserved changes; an update without it leaves the short code as it was.
    unchanged = api.post(path, data={"ShortCode": "12345"})
    assert unchanged.status_code == 200
    assert unchanged.json()["is_reserved"] is True
    assert unchanged.json()["short_code"] == owned["short_code"]
    assert_error(api.post(path, data={"IsReserved": "yes"}), 400, 80701)

    released = api.post(path, data={"IsReserved": "false"})
    assert released.json()["is_reserved"] is False

    deleted = api.delete(path)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_error(api.get(path), 404, 20404)
    assert_error(api.delete(path), 404, 20404)
    assert_error(api.post(path, data={"IsReserved": "true"}), 404, 20404)

    # Deleted from the pool, still owned: it can be added again.
    assert add(api, service.sid, owned["sid"]).status_code == 201


def test_list(client: Client, service: Any, api: httpx.Client) -> None:
    sids = [provision(api)["sid"] for _ in range(3)]
    for sid in sids:
        assert add(api, service.sid, sid).status_code == 201
    # Phone numbers are a separate list.
    client.proxy.v1.services(service.sid).phone_numbers.create(phone_number=next_number())

    response = api.get(codes_path(service.sid))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"short_codes", "meta"}
    assert body["meta"]["key"] == "short_codes"
    assert [item["sid"] for item in body["short_codes"]] == sids
    for item in body["short_codes"]:
        assert_schema(item, "service.short_code")

    paged = api.get(codes_path(service.sid), params={"PageSize": 2}).json()
    assert [item["sid"] for item in paged["short_codes"]] == sids[:2]
    rest = api.get(paged["meta"]["next_page_url"]).json()
    assert [item["sid"] for item in rest["short_codes"]] == sids[2:]
    assert rest["meta"]["next_page_url"] is None

    empty = client.proxy.v1.services.create(unique_name=unique("svc"))
    assert api.get(codes_path(empty.sid)).json()["short_codes"] == []


def test_unknown_short_code_sid_is_80303(service: Any, api: httpx.Client) -> None:
    assert_error(add(api, service.sid, "SC" + "0" * 32), 400, 80303)


def test_short_code_of_another_account_is_80303(
    service: Any, api: httpx.Client, server: Server
) -> None:
    with server.http(*other_account(server)) as other_api:
        theirs = provision(other_api)
    assert_error(add(api, service.sid, theirs["sid"]), 400, 80303)
    assert api.get(codes_path(service.sid)).json()["short_codes"] == []


def test_short_code_already_in_this_service_is_80105(service: Any, api: httpx.Client) -> None:
    owned = provision(api)
    assert add(api, service.sid, owned["sid"]).status_code == 201
    assert_error(add(api, service.sid, owned["sid"]), 400, 80105)
    assert len(api.get(codes_path(service.sid)).json()["short_codes"]) == 1


def test_short_code_in_another_service_is_80101(client: Client, api: httpx.Client) -> None:
    owned = provision(api)
    first = client.proxy.v1.services.create(unique_name=unique("svc"))
    second = client.proxy.v1.services.create(unique_name=unique("svc"))
    assert add(api, first.sid, owned["sid"]).status_code == 201
    assert_error(add(api, second.sid, owned["sid"]), 400, 80101)
    assert api.get(codes_path(second.sid)).json()["short_codes"] == []

    # Freed from the first service, it may join the second.
    assert api.delete(f"{codes_path(first.sid)}/{owned['sid']}").status_code == 204
    assert add(api, second.sid, owned["sid"]).status_code == 201


def test_bad_sid_parameter_is_80701(service: Any, api: httpx.Client) -> None:
    owned_number = api.post("/sandbox/v1/PhoneNumbers", data={"PhoneNumber": next_number()})
    for data in ({}, {"Sid": ""}, {"Sid": "SC123"}, {"Sid": owned_number.json()["sid"]}):
        response = api.post(codes_path(service.sid), data=data)
        assert_error(response, 400, 80701)
        assert "Sid" in response.json()["message"]


def test_short_code_is_not_a_phone_number(service: Any, api: httpx.Client) -> None:
    owned = provision(api)
    assert add(api, service.sid, owned["sid"]).status_code == 201
    path = f"/v1/Services/{service.sid}/PhoneNumbers/{owned['sid']}"
    assert_error(api.get(path), 404, 20404)
    assert api.get(f"/v1/Services/{service.sid}/PhoneNumbers").json()["phone_numbers"] == []


def test_removing_a_short_code_an_active_session_uses_is_80611(
    client: Client, service: Any, api: httpx.Client
) -> None:
    owned = provision(api)
    assert add(api, service.sid, owned["sid"]).status_code == 201
    sessions = client.proxy.v1.services(service.sid).sessions
    session = sessions.create(mode="message-only")
    participant = sessions(session.sid).participants.create(
        identifier=next_number("212"), proxy_identifier_sid=owned["sid"]
    )
    assert participant.proxy_identifier_sid == owned["sid"]
    assert participant.proxy_identifier == owned["short_code"]

    path = f"{codes_path(service.sid)}/{owned['sid']}"
    assert_error(api.delete(path), 400, 80611)
    assert api.get(path).status_code == 200

    sessions(session.sid).update(status="closed")
    assert api.delete(path).status_code == 204


@pytest.mark.parametrize(
    ("data", "parameter"),
    [
        ({}, "ShortCode"),
        ({"ShortCode": "12"}, "ShortCode"),
        ({"ShortCode": "12ab5"}, "ShortCode"),
        ({"ShortCode": "12345", "IsoCountry": "ZZ"}, "IsoCountry"),
    ],
)
def test_sandbox_rejects_bad_short_codes(
    api: httpx.Client, data: dict[str, str], parameter: str
) -> None:
    response = api.post("/sandbox/v1/ShortCodes", data=data)
    assert_error(response, 400, 80701)
    assert parameter in response.json()["message"]
