"""Authentication: account credentials, API keys, accounts kept apart, the open health check."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from tests.conftest import next_number
from tests.support import ACCOUNT_SID, AUTH_TOKEN, Server, other_account, unique

MASKLINE = Path(sys.executable).parent / "maskline"


def run_cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MASKLINE), *args],
        env={**os.environ, "MASKLINE_DATABASE_URL": server.database_url},
        capture_output=True,
        text=True,
        timeout=60,
    )


def create_api_key(server: Server, account_sid: str) -> tuple[str, str]:
    done = run_cli(server, "keys", "create", "--account-sid", account_sid)
    assert done.returncode == 0, done.stdout + done.stderr
    sid = re.search(r"API key SID:\s*(SK[0-9a-f]{32})", done.stdout)
    secret = re.search(r"Secret:\s*(\S+)", done.stdout)
    assert sid and secret, done.stdout
    return sid.group(1), secret.group(1)


def key_client(server: Server, key_sid: str, secret: str, account_sid: str) -> Client:
    client = Client(key_sid, secret, account_sid=account_sid)
    client.proxy.base_url = server.base_url
    return client


@pytest.fixture(scope="module")
def api_key(server: Server) -> tuple[str, str]:
    return create_api_key(server, ACCOUNT_SID)


@pytest.fixture
def second_account(server: Server) -> tuple[str, str]:
    return other_account(server)


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers.get("www-authenticate", "").lower().startswith("basic")
    body = response.json()
    assert set(body) <= {"code", "message", "more_info", "status", "details"}
    assert {"code", "message", "more_info", "status"} <= set(body)
    assert not {"type", "title"} <= set(body)
    assert body["code"] == 20003
    assert body["status"] == 401
    assert body["more_info"] == "https://www.twilio.com/docs/errors/20003"
    assert isinstance(body["message"], str) and body["message"]


def test_missing_credentials_are_401(server: Server) -> None:
    with httpx.Client(base_url=server.base_url) as anonymous:
        assert_unauthorized(anonymous.get("/v1/Services"))
        assert_unauthorized(anonymous.post("/v1/Services", data={"UniqueName": unique("svc")}))
        assert_unauthorized(anonymous.get("/v1/Services/" + "KS" + "0" * 32 + "/PhoneNumbers"))
        assert_unauthorized(anonymous.post("/sandbox/v1/PhoneNumbers", data={"PhoneNumber": "1"}))


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic " + base64.b64encode(f"{ACCOUNT_SID}:wrong".encode()).decode(),
        "Basic " + base64.b64encode(f"{ACCOUNT_SID}:".encode()).decode(),
        "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}x".encode()).decode(),
        "Basic " + base64.b64encode(f"{'AC' + '2' * 32}:{AUTH_TOKEN}".encode()).decode(),
        "Basic " + base64.b64encode(f"{ACCOUNT_SID.lower()}x:{AUTH_TOKEN}".encode()).decode(),
        "Basic " + base64.b64encode(b"nobody:nothing").decode(),
        "Basic " + base64.b64encode(ACCOUNT_SID.encode()).decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Basic not-base64!!",
        "Basic",
        f"Bearer {AUTH_TOKEN}",
        "",
    ],
)
def test_wrong_credentials_are_401(server: Server, authorization: str) -> None:
    with httpx.Client(base_url=server.base_url) as raw:
        response = raw.get("/v1/Services", headers={"Authorization": authorization})
    assert_unauthorized(response)


def test_sdk_with_a_wrong_token_raises_20003(server: Server) -> None:
    client = server.client(ACCOUNT_SID, "x" * 32)
    with pytest.raises(TwilioRestException) as err:
        client.proxy.v1.services.create(unique_name=unique("svc"))
    assert (err.value.status, err.value.code) == (401, 20003)
    # Lists raise the SDK's plain TwilioException, carrying the response.
    with pytest.raises(TwilioException) as list_err:
        client.proxy.v1.services.list()
    assert list_err.value.args[1].status_code == 401


def test_a_created_service_does_not_survive_a_401(server: Server, client: Client) -> None:
    name = unique("svc")
    with pytest.raises(TwilioRestException):
        server.client(ACCOUNT_SID, "nope").proxy.v1.services.create(unique_name=name)
    with pytest.raises(TwilioRestException) as err:
        client.proxy.v1.services(name).fetch()
    assert err.value.status == 404


def test_api_key_acts_for_its_account(
    server: Server, client: Client, api_key: tuple[str, str]
) -> None:
    key_sid, secret = api_key
    mine = client.proxy.v1.services.create(unique_name=unique("svc"))
    with_key = key_client(server, key_sid, secret, ACCOUNT_SID)

    seen = {s.sid for s in with_key.proxy.v1.services.list()}
    assert mine.sid in seen
    assert seen == {s.sid for s in client.proxy.v1.services.list()}
    assert with_key.proxy.v1.services(mine.sid).fetch().unique_name == mine.unique_name

    # What the key creates belongs to the account.
    made = with_key.proxy.v1.services.create(unique_name=unique("svc"))
    assert made.account_sid == ACCOUNT_SID
    assert client.proxy.v1.services(made.sid).fetch().sid == made.sid

    with server.http(key_sid, secret) as raw:
        assert raw.get(f"/v1/Services/{mine.sid}").status_code == 200


def test_api_key_with_a_wrong_secret_is_401(server: Server, api_key: tuple[str, str]) -> None:
    key_sid, secret = api_key
    with server.http(key_sid, secret + "x") as raw:
        assert_unauthorized(raw.get("/v1/Services"))
    with server.http(key_sid, "") as raw:
        assert_unauthorized(raw.get("/v1/Services"))
    with server.http("SK" + "0" * 32, secret) as raw:
        assert_unauthorized(raw.get("/v1/Services"))
    # The key's secret is not the account's token, nor the other way round.
    with server.http(ACCOUNT_SID, secret) as raw:
        assert_unauthorized(raw.get("/v1/Services"))
    with server.http(key_sid, AUTH_TOKEN) as raw:
        assert_unauthorized(raw.get("/v1/Services"))

    client = key_client(server, key_sid, "wrong-secret", ACCOUNT_SID)
    with pytest.raises(TwilioRestException) as err:
        client.proxy.v1.services("KS" + "0" * 32).fetch()
    assert (err.value.status, err.value.code) == (401, 20003)


def test_another_accounts_resources_are_not_found(
    server: Server, client: Client, second_account: tuple[str, str]
) -> None:
    mine = client.proxy.v1.services.create(unique_name=unique("svc"))
    number = client.proxy.v1.services(mine.sid).phone_numbers.create(phone_number=next_number())
    session = client.proxy.v1.services(mine.sid).sessions.create(unique_name=unique("ses"))

    theirs = server.client(*second_account)
    calls: list[Any] = [
        theirs.proxy.v1.services(mine.sid).fetch,
        theirs.proxy.v1.services(mine.unique_name).fetch,
        lambda: theirs.proxy.v1.services(mine.sid).update(default_ttl=5),
        theirs.proxy.v1.services(mine.sid).delete,
        theirs.proxy.v1.services(mine.sid).sessions(session.sid).fetch,
        theirs.proxy.v1.services(mine.sid).sessions(session.sid).delete,
        theirs.proxy.v1.services(mine.sid).phone_numbers(number.sid).fetch,
        theirs.proxy.v1.services(mine.sid).phone_numbers(number.sid).delete,
        lambda: theirs.proxy.v1.services(mine.sid).sessions.create(),
    ]
    for call in calls:
        with pytest.raises(TwilioRestException) as err:
            call()
        assert (err.value.status, err.value.code) == (404, 20404)

    with pytest.raises(TwilioException) as list_err:
        theirs.proxy.v1.services(mine.sid).sessions.list()
    assert list_err.value.args[1].status_code == 404
    assert mine.sid not in {s.sid for s in theirs.proxy.v1.services.list()}
    # Nothing of mine was changed by those calls.
    assert client.proxy.v1.services(mine.sid).fetch().default_ttl == 0
    assert client.proxy.v1.services(mine.sid).sessions(session.sid).fetch().sid == session.sid
    assert len(client.proxy.v1.services(mine.sid).phone_numbers.list()) == 1
    assert len(client.proxy.v1.services(mine.sid).sessions.list()) == 1


def test_unique_names_are_per_account(
    server: Server, client: Client, second_account: tuple[str, str]
) -> None:
    name = unique("svc")
    mine = client.proxy.v1.services.create(unique_name=name)
    theirs = server.client(*second_account).proxy.v1.services.create(unique_name=name)
    assert theirs.sid != mine.sid
    assert theirs.account_sid == second_account[0]
    assert client.proxy.v1.services(name).fetch().sid == mine.sid


def test_api_key_of_another_account_sees_only_that_account(
    server: Server, client: Client, second_account: tuple[str, str]
) -> None:
    other_sid, _ = second_account
    key_sid, secret = create_api_key(server, other_sid)
    with_key = key_client(server, key_sid, secret, other_sid)
    theirs = with_key.proxy.v1.services.create(unique_name=unique("svc"))
    assert theirs.account_sid == other_sid
    mine = client.proxy.v1.services.create(unique_name=unique("svc"))
    assert mine.sid not in {s.sid for s in with_key.proxy.v1.services.list()}
    with pytest.raises(TwilioRestException) as err:
        client.proxy.v1.services(theirs.sid).fetch()
    assert err.value.status == 404


def test_healthz_needs_no_auth(server: Server) -> None:
    with httpx.Client(base_url=server.base_url) as anonymous:
        response = anonymous.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        wrong = anonymous.get("/healthz", auth=(ACCOUNT_SID, "wrong"))
        assert wrong.status_code == 200


def test_remembered_credentials_admit_no_one_else_on_routing_routes(server: Server) -> None:
    """The routes that route traffic check remembered credentials before any transaction:
    a remembered pair lets its owner through, and a wrong password still gets 401."""
    text = {"From": "+14155550100", "To": "+14155550101", "Body": "hello"}
    with server.http() as owner:
        first = owner.post("/sandbox/v1/Messages", data=text)
        assert first.status_code == 201, first.text
        with server.http(password=AUTH_TOKEN + "x") as stranger:
            assert_unauthorized(stranger.post("/sandbox/v1/Messages", data=text))
        again = owner.post("/sandbox/v1/Messages", data=text)
        assert again.status_code == 201, again.text
        assert again.json()["sid"] != first.json()["sid"]
