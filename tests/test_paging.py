"""Paging of lists: the SDK walks pages by next_page_url; meta, page sizes and tokens."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from twilio.rest import Client

from tests.conftest import add_numbers, next_number
from tests.support import unique

TOTAL = 250
META_KEYS = {
    "page",
    "page_size",
    "first_page_url",
    "previous_page_url",
    "next_page_url",
    "url",
    "key",
}


@pytest.fixture(scope="module")
def busy_service(client: Client, api: httpx.Client) -> tuple[str, list[str]]:
    """A service with 250 sessions; (its SID, the session SIDs in creation order)."""
    service = client.proxy.v1.services.create(unique_name=unique("svc"))
    created = []
    for n in range(TOTAL):
        response = api.post(
            f"/v1/Services/{service.sid}/Sessions", data={"UniqueName": f"s{n:03d}"}
        )
        assert response.status_code == 201, response.text
        created.append(response.json()["sid"])
    return service.sid, created


def sessions_path(service_sid: str) -> str:
    return f"/v1/Services/{service_sid}/Sessions"


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_sdk_list_sees_every_session_once_in_order(
    client: Client, busy_service: tuple[str, list[str]]
) -> None:
    service_sid, created = busy_service
    listed = client.proxy.v1.services(service_sid).sessions.list(page_size=100)
    sids = [s.sid for s in listed]
    assert len(sids) == TOTAL
    assert len(set(sids)) == TOTAL
    assert sids == created
    assert [s.unique_name for s in listed[:3]] == ["s000", "s001", "s002"]

    limited = client.proxy.v1.services(service_sid).sessions.list(limit=120, page_size=100)
    assert [s.sid for s in limited] == created[:120]


def test_sdk_pages_are_100_100_50(client: Client, busy_service: tuple[str, list[str]]) -> None:
    service_sid, created = busy_service
    page = client.proxy.v1.services(service_sid).sessions.page(page_size=100)
    sizes = []
    seen: list[str] = []
    while page is not None:
        records = [s.sid for s in page]
        sizes.append(len(records))
        seen.extend(records)
        page = page.next_page()
    assert sizes == [100, 100, 50]
    assert seen == created


def test_raw_meta_links_walk_forward_and_back(
    api: httpx.Client, busy_service: tuple[str, list[str]]
) -> None:
    service_sid, created = busy_service
    base = f"{api.base_url}{sessions_path(service_sid)}"

    first = api.get(sessions_path(service_sid), params={"PageSize": 100})
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"sessions", "meta"}
    meta = body["meta"]
    assert set(meta) == META_KEYS
    assert meta["key"] == "sessions"
    assert meta["page"] == 0
    assert meta["page_size"] == 100
    assert meta["previous_page_url"] is None
    assert meta["first_page_url"].startswith(base + "?")
    assert meta["url"].startswith(base + "?")
    assert query_of(meta["first_page_url"])["PageSize"] == ["100"]
    next_url = meta["next_page_url"]
    assert next_url.startswith(base + "?")
    assert query_of(next_url)["PageSize"] == ["100"]
    assert query_of(next_url)["PageToken"]
    assert [s["sid"] for s in body["sessions"]] == created[:100]

    # Links are followed verbatim, without adding credentials to them.
    second = api.get(next_url).json()
    assert [s["sid"] for s in second["sessions"]] == created[100:200]
    assert second["meta"]["page"] == 1
    assert second["meta"]["url"] == next_url
    assert second["meta"]["previous_page_url"].startswith(base + "?")
    assert second["meta"]["first_page_url"] == meta["first_page_url"]

    third = api.get(second["meta"]["next_page_url"]).json()
    assert [s["sid"] for s in third["sessions"]] == created[200:]
    assert third["meta"]["page"] == 2
    assert third["meta"]["next_page_url"] is None

    back = api.get(third["meta"]["previous_page_url"]).json()
    assert [s["sid"] for s in back["sessions"]] == created[100:200]
    assert back["meta"]["page"] == 1
    back_again = api.get(back["meta"]["previous_page_url"]).json()
    assert [s["sid"] for s in back_again["sessions"]] == created[:100]
    assert back_again["meta"]["page"] == 0
    assert back_again["meta"]["previous_page_url"] is None
    assert api.get(back_again["meta"]["next_page_url"]).json()["sessions"] == second["sessions"]

    restart = api.get(meta["first_page_url"]).json()
    assert restart["sessions"] == body["sessions"]


def test_default_and_extreme_page_sizes(
    api: httpx.Client, busy_service: tuple[str, list[str]]
) -> None:
    service_sid, created = busy_service
    default = api.get(sessions_path(service_sid)).json()
    assert default["meta"]["page_size"] == 50
    assert [s["sid"] for s in default["sessions"]] == created[:50]

    everything = api.get(sessions_path(service_sid), params={"PageSize": 1000}).json()
    assert [s["sid"] for s in everything["sessions"]] == created
    assert everything["meta"]["next_page_url"] is None
    assert everything["meta"]["page_size"] == 1000

    one = api.get(sessions_path(service_sid), params={"PageSize": 1}).json()
    assert [s["sid"] for s in one["sessions"]] == created[:1]
    assert one["meta"]["next_page_url"] is not None


@pytest.mark.parametrize("size", ["0", "1001", "abc", "-1", "1.5", "1e3"])
def test_page_size_out_of_range_is_80701(api: httpx.Client, size: str) -> None:
    response = api.get("/v1/Services", params={"PageSize": size})
    assert response.status_code == 400
    body = response.json()
    assert (body["status"], body["code"]) == (400, 80701)
    assert "PageSize" in body["message"]


@pytest.mark.parametrize("token", ["garbage", "PA", "PAabc", "XX12", "PA-1", "PA1 2", "x" * 100])
def test_bogus_page_token_is_400(api: httpx.Client, token: str) -> None:
    response = api.get("/v1/Services", params={"PageToken": token})
    assert response.status_code == 400
    body = response.json()
    assert (body["status"], body["code"]) == (400, 80701)
    assert "PageToken" in body["message"]


def test_a_token_past_the_end_is_an_empty_page(
    api: httpx.Client, busy_service: tuple[str, list[str]]
) -> None:
    service_sid, _ = busy_service
    response = api.get(sessions_path(service_sid), params={"PageToken": "PA999999999999"})
    assert response.status_code == 200
    assert response.json()["sessions"] == []
    assert response.json()["meta"]["next_page_url"] is None


def test_deleting_between_pages_skips_nothing(client: Client, api: httpx.Client) -> None:
    service = client.proxy.v1.services.create(unique_name=unique("svc"))
    sessions = client.proxy.v1.services(service.sid).sessions
    created = [sessions.create().sid for _ in range(6)]

    first = api.get(sessions_path(service.sid), params={"PageSize": 2}).json()
    assert [s["sid"] for s in first["sessions"]] == created[:2]
    sessions(created[0]).delete()
    sessions(created[2]).delete()
    second = api.get(first["meta"]["next_page_url"]).json()
    assert [s["sid"] for s in second["sessions"]] == created[3:5]
    # Something created after the walk began shows up at the end, not twice.
    late = sessions.create().sid
    third = api.get(second["meta"]["next_page_url"]).json()
    assert [s["sid"] for s in third["sessions"]] == [created[5], late]


def list_body(api: httpx.Client, path: str) -> dict[str, Any]:
    response = api.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_every_list_names_its_key(client: Client, api: httpx.Client) -> None:
    service = client.proxy.v1.services.create(unique_name=unique("svc"))
    add_numbers(client, service.sid, 1)
    code = api.post("/sandbox/v1/ShortCodes", data={"ShortCode": "7" + next_number()[-6:]})
    assert code.status_code in (200, 201)
    added = api.post(f"/v1/Services/{service.sid}/ShortCodes", data={"Sid": code.json()["sid"]})
    assert added.status_code == 201
    session = client.proxy.v1.services(service.sid).sessions.create(
        participants=[{"Identifier": next_number("212")}, {"Identifier": next_number("212")}]
    )
    sessions = client.proxy.v1.services(service.sid).sessions
    participant = sessions(session.sid).participants.list()[0]
    sessions(session.sid).participants(participant.sid).message_interactions.create(body="hi")

    base = f"/v1/Services/{service.sid}"
    session_base = f"{base}/Sessions/{session.sid}"
    expected = {
        "/v1/Services": "services",
        f"{base}/Sessions": "sessions",
        f"{base}/PhoneNumbers": "phone_numbers",
        f"{base}/ShortCodes": "short_codes",
        f"{session_base}/Participants": "participants",
        f"{session_base}/Interactions": "interactions",
        f"{session_base}/Participants/{participant.sid}/MessageInteractions": "interactions",
    }
    for path, key in expected.items():
        body = list_body(api, path)
        assert set(body) == {key, "meta"}, path
        assert body["meta"]["key"] == key, path
        assert set(body["meta"]) == META_KEYS, path
        assert isinstance(body["meta"]["page"], int)
        assert isinstance(body["meta"]["page_size"], int)
        assert body["meta"]["first_page_url"].startswith(f"{api.base_url}{path}?"), path
        assert body[key], path

    listed = sessions(session.sid).participants(participant.sid).message_interactions.list()
    assert len(listed) == 1
    assert listed[0].participant_sid == participant.sid
