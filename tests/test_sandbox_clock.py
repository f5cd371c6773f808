"""The sandbox clock belongs to each account: one account's Advance moves nothing of another's,
and no clock value an account can reach makes any request fail."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import next_number
from tests.support import Server, create_account, other_account, unique
from tests.traffic import Sandbox, new_service, open_conversation, start_server

DAY = 86_400


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory, "clocks")
    yield running
    running.stop()


def _session_status(http: httpx.Client, service: str, session: str) -> str:
    return str(http.get(f"/v1/Services/{service}/Sessions/{session}").json()["status"])


def test_one_account_s_advance_closes_nothing_of_another_s(srv: Server) -> None:
    b_sid, b_token = other_account(srv)
    a_client = srv.client()
    service = new_service(a_client, 2)
    conversation = open_conversation(a_client, service, ttl=3600)
    with srv.http() as a, srv.http(b_sid, b_token) as b:
        before = a.get(f"/v1/Services/{service.sid}/Sessions/{conversation.session_sid}").json()
        moved = Sandbox(b).advance(2 * 3600)
        assert moved["offset_seconds"] == 2 * 3600
        assert moved["sessions_closed"] == 0
        time.sleep(0.5)  # a few worker rounds
        after = a.get(f"/v1/Services/{service.sid}/Sessions/{conversation.session_sid}").json()
        assert after["status"] == before["status"] == "open"
        # A's own clock is where it was: within seconds of the wall.
        assert after["date_updated"] == before["date_updated"]
        closed = Sandbox(a).advance(2 * 3600)
        assert closed["sessions_closed"] == 1
        assert _session_status(a, service.sid, conversation.session_sid) == "closed"


def test_work_due_on_an_advanced_clock_is_done(srv: Server) -> None:
    c_sid, c_token = create_account(srv)
    with srv.http(c_sid, c_token) as c:
        sandbox = Sandbox(c)
        sandbox.advance(30 * DAY)
        service = c.post("/v1/Services", data={"UniqueName": unique("ahead")}).json()["sid"]
        for _ in range(2):
            number = next_number("415")
            added = c.post(f"/v1/Services/{service}/PhoneNumbers", data={"PhoneNumber": number})
            assert added.status_code == 201, added.text
        a, b = next_number("212"), next_number("718")
        session = c.post(
            f"/v1/Services/{service}/Sessions",
            data={
                "Participants": [f'{{"Identifier": "{a}"}}', f'{{"Identifier": "{b}"}}'],
                "Ttl": "60",
            },
        ).json()
        participants = c.get(
            f"/v1/Services/{service}/Sessions/{session['sid']}/Participants"
        ).json()["participants"]
        proxy = next(p["proxy_identifier"] for p in participants if p["identifier"] == a)
        sent = sandbox.send(a, proxy, "from the future")
        assert sent["routing"]["result"] == "forwarded"
        # Status steps are jobs due on C's clock: the worker runs them all the same.
        deadline = time.monotonic() + 10
        while True:
            got = sandbox.messages(b)
            if got and got[0]["status"] == "delivered":
                break
            assert time.monotonic() < deadline, got
            time.sleep(0.1)
        # And the TTL runs on C's clock: 60 s of it closes the session.
        assert sandbox.advance(61)["sessions_closed"] == 1


def test_no_clock_value_makes_a_request_fail(srv: Server) -> None:
    d_sid, d_token = create_account(srv)
    with srv.http(d_sid, d_token) as d:
        too_far = d.post("/sandbox/v1/Clock", data={"Advance": str(367 * DAY)})
        assert too_far.status_code == 400 and too_far.json()["code"] == 80701, too_far.text
        for _ in range(10):
            assert d.post("/sandbox/v1/Clock", data={"Advance": str(366 * DAY)}).status_code == 200
        beyond = d.post("/sandbox/v1/Clock", data={"Advance": str(DAY)})
        assert beyond.status_code == 400, beyond.text
        assert "3660 days" in beyond.json()["message"]
        # At the furthest a clock can be, every kind of write still works.
        service = d.post(
            "/v1/Services", data={"UniqueName": unique("far"), "DefaultTtl": str(2**31 - 1)}
        )
        assert service.status_code == 201, service.text
        sid = service.json()["sid"]
        number = d.post(f"/v1/Services/{sid}/PhoneNumbers", data={"PhoneNumber": next_number()})
        assert number.status_code == 201, number.text
        for data in ({}, {"Ttl": str(2**31 - 1)}, {"DateExpiry": "9999-12-31T23:59:59Z"}):
            made = d.post(
                f"/v1/Services/{sid}/Sessions",
                data={**data, "Participants": [f'{{"Identifier": "{next_number("212")}"}}']},
            )
            assert made.status_code == 201, made.text
        assert d.get(f"/v1/Services/{sid}/Sessions").status_code == 200
    # Everyone else's requests are untouched.
    with srv.http() as a:
        assert a.post("/v1/Services", data={"UniqueName": unique("near")}).status_code == 201
