"""The pair rule under concurrent requests: never one (identifier, proxy number) active twice."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import add_numbers, next_number
from tests.support import Server, new_database_url
from tests.traffic import new_service, open_conversation


def active_pairs(api: httpx.Client, service_sid: str) -> list[tuple[str, str]]:
    """(identifier, proxy identifier) of every participant of every active session."""
    pairs = []
    sessions = api.get(f"/v1/Services/{service_sid}/Sessions", params={"PageSize": 1000})
    for session in sessions.json()["sessions"]:
        if session["status"] not in ("open", "in-progress"):
            continue
        listed = api.get(session["links"]["participants"]).json()["participants"]
        pairs += [
            (p["identifier"], p["proxy_identifier"]) for p in listed if p["date_deleted"] is None
        ]
    return pairs


def pool_in_use(api: httpx.Client, service_sid: str) -> dict[str, int]:
    body = api.get(f"/v1/Services/{service_sid}/PhoneNumbers", params={"PageSize": 1000}).json()
    return {n["phone_number"]: n["in_use"] for n in body["phone_numbers"]}


def run_at_once(count: int, task: Any) -> list[Any]:
    """Run `task(i)` for i in range(count) on as many threads, released together."""
    barrier = threading.Barrier(count)

    def start(i: int) -> Any:
        barrier.wait(timeout=30)
        return task(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(start, range(count)))


def assert_proxy_error(response: httpx.Response) -> None:
    assert response.status_code in (400, 409), response.text
    body = response.json()
    assert body["status"] == response.status_code
    assert 80000 <= body["code"] < 81000, body


def test_same_identifier_into_fifty_sessions_on_twenty_numbers(
    server: Server, client: Client, service: Any, api: httpx.Client
) -> None:
    numbers = add_numbers(client, service.sid, 20)
    sessions = [client.proxy.v1.services(service.sid).sessions.create().sid for _ in range(50)]
    alice = next_number("650")

    def add(i: int) -> httpx.Response:
        with server.http() as http:
            return http.post(
                f"/v1/Services/{service.sid}/Sessions/{sessions[i]}/Participants",
                data={"Identifier": alice},
            )

    responses = run_at_once(50, add)
    succeeded = [r.json() for r in responses if r.status_code == 201]
    assert len(succeeded) == 20
    assert len({p["proxy_identifier"] for p in succeeded}) == 20
    for response in responses:
        if response.status_code != 201:
            assert_proxy_error(response)

    pairs = active_pairs(api, service.sid)
    assert len(pairs) == 20
    assert max(Counter(pairs).values()) == 1
    assert pool_in_use(api, service.sid) == {n.phone_number: 1 for n in numbers}


def test_same_identifier_through_fifty_sdk_clients(
    server: Server, client: Client, service: Any, api: httpx.Client
) -> None:
    add_numbers(client, service.sid, 20)
    sessions = [client.proxy.v1.services(service.sid).sessions.create().sid for _ in range(50)]
    alice = next_number("650")

    def add(i: int) -> Any:
        own = server.client()
        try:
            handle = own.proxy.v1.services(service.sid).sessions(sessions[i])
            return handle.participants.create(identifier=alice)
        except TwilioRestException as error:
            return error

    results = run_at_once(50, add)
    created = [r for r in results if not isinstance(r, TwilioRestException)]
    failed = [r for r in results if isinstance(r, TwilioRestException)]
    assert len(created) == 20
    assert len({p.proxy_identifier for p in created}) == 20
    assert all(e.status in (400, 409) and 80000 <= e.code < 81000 for e in failed)
    assert max(Counter(active_pairs(api, service.sid)).values()) == 1


def test_parallel_create_session_with_two_participants(
    server: Server, client: Client, service: Any, api: httpx.Client
) -> None:
    """40 sessions of the same two people race for 20 numbers: each person fits in 20."""
    add_numbers(client, service.sid, 20)
    alice, bob = next_number("650"), next_number("650")
    participants = [json.dumps({"Identifier": alice}), json.dumps({"Identifier": bob})]

    def create(i: int) -> httpx.Response:
        with server.http() as http:
            return http.post(
                f"/v1/Services/{service.sid}/Sessions",
                data={"UniqueName": f"race-{i}", "Participants": participants},
            )

    responses = run_at_once(40, create)
    created = [r.json() for r in responses if r.status_code == 201]
    for response in responses:
        if response.status_code != 201:
            assert_proxy_error(response)
    assert len(created) == 20

    # Failed creates left nothing behind.
    listed = api.get(f"/v1/Services/{service.sid}/Sessions", params={"PageSize": 1000}).json()
    assert sorted(s["sid"] for s in listed["sessions"]) == sorted(s["sid"] for s in created)

    pairs = active_pairs(api, service.sid)
    assert len(pairs) == 40
    assert max(Counter(pairs).values()) == 1
    # in_use counts, per number, the sessions that use it.
    per_session: set[tuple[str, str]] = set()
    for session in created:
        for p in api.get(session["links"]["participants"]).json()["participants"]:
            per_session.add((session["sid"], p["proxy_identifier"]))
    expected = Counter(number for _sid, number in per_session)
    in_use = pool_in_use(api, service.sid)
    assert {n: c for n, c in in_use.items() if c} == dict(expected)


def test_parallel_closes_and_reopens_keep_the_rule(
    server: Server, client: Client, service: Any, api: httpx.Client
) -> None:
    """Sessions closed, then re-opened at once while new ones take their numbers."""
    add_numbers(client, service.sid, 5)
    alice = next_number("650")
    sessions = client.proxy.v1.services(service.sid).sessions
    first = [sessions.create(participants=[{"Identifier": alice}]).sid for _ in range(5)]
    for sid in first:
        client.proxy.v1.services(service.sid).sessions(sid).update(status="closed")
    fresh = [sessions.create().sid for _ in range(5)]

    def act(i: int) -> httpx.Response:
        with server.http() as http:
            if i < 5:
                return http.post(
                    f"/v1/Services/{service.sid}/Sessions/{first[i]}",
                    data={"Status": "in-progress"},
                )
            return http.post(
                f"/v1/Services/{service.sid}/Sessions/{fresh[i - 5]}/Participants",
                data={"Identifier": alice},
            )

    responses = run_at_once(10, act)
    for response in responses:
        if response.status_code not in (200, 201):
            assert_proxy_error(response)
    assert sum(r.status_code in (200, 201) for r in responses) == 5
    pairs = active_pairs(api, service.sid)
    assert len(pairs) == 5
    assert max(Counter(pairs).values()) == 1
    assert set(pool_in_use(api, service.sid).values()) == {1}


def test_texts_racing_a_close_never_reopen_the_session(
    server: Server, client: Client, service: Any, api: httpx.Client
) -> None:
    """Routing holds no lock on the session while it works: what it writes to the session is
    written only while the session is still active. Texts that reach it as it closes are
    routed or not, but the session stays closed and its numbers free."""
    add_numbers(client, service.sid, 2)
    talk = open_conversation(client, service)
    sender, proxy = talk.a.identifier, talk.a.proxy_identifier

    def act(i: int) -> httpx.Response:
        with server.http() as http:
            if i == 10:
                return http.post(
                    f"/v1/Services/{service.sid}/Sessions/{talk.session_sid}",
                    data={"Status": "closed"},
                )
            return http.post(
                "/sandbox/v1/Messages", data={"From": sender, "To": proxy, "Body": f"text {i}"}
            )

    responses = run_at_once(20, act)
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    results = Counter(r.json()["routing"]["result"] for i, r in enumerate(responses) if i != 10)
    assert set(results) <= {"forwarded", "dropped"}, results
    session = talk.session.fetch()
    assert session.status == "closed"
    assert set(pool_in_use(api, service.sid).values()) == {0}
    interactions = talk.session.interactions.list()
    assert len(interactions) == results["forwarded"]


def test_a_session_past_its_deadline_is_closed_once_by_the_texts_that_find_it(
    tmp_path: Path,
) -> None:
    """With no worker to close it, the texts that find a session past its deadline close it
    themselves: many at once close it once, its numbers released once."""
    srv = Server(database_url=new_database_url(tmp_path), env={"MASKLINE_RUN_WORKER": "0"})
    srv.start()
    try:
        sdk = srv.client()
        service = new_service(sdk, 2)
        talk = open_conversation(sdk, service, ttl=1)
        time.sleep(1.2)

        def text(i: int) -> httpx.Response:
            with srv.http() as http:
                return http.post(
                    "/sandbox/v1/Messages",
                    data={
                        "From": talk.a.identifier,
                        "To": talk.a.proxy_identifier,
                        "Body": f"late {i}",
                    },
                )

        responses = run_at_once(16, text)
        assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
        assert {r.json()["routing"]["result"] for r in responses} == {"dropped"}
        session = talk.session.fetch()
        assert (session.status, session.closed_reason) == ("closed", "ttl")
        with srv.http() as http:
            assert set(pool_in_use(http, service.sid).values()) == {0}
        assert talk.session.interactions.list() == []
    finally:
        srv.stop()
