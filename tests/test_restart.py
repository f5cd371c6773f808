"""State survives a restart: stop the server (cleanly or killed), start another on its database."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import next_number, participants_json
from tests.support import Server, new_database_url, unique

# A fixed public URL makes `url` fields identical whichever port the server listens on.
PUBLIC_URL = "https://maskline.example"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A database of its own (a SQLite file under tmp_path, or a fresh PostgreSQL database)."""
    return new_database_url(tmp_path)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    """Servers a test starts; whatever is still running at the end is stopped."""
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def start(servers: list[Server], database_url: str, *, worker: bool = True) -> Server:
    env = {"MASKLINE_PUBLIC_URL": PUBLIC_URL, "MASKLINE_RUN_WORKER": "1" if worker else "0"}
    server = Server(database_url=database_url, env=env)
    servers.append(server)
    return server.start()


def local(url: str) -> str:
    """The path of a public URL, to request it from whichever server runs now."""
    assert url.startswith(PUBLIC_URL)
    return url[len(PUBLIC_URL) :]


def build_state(http: httpx.Client) -> dict[str, str]:
    """A service with numbers, a session of two with a message sent; the URLs to read back."""
    service = http.post("/v1/Services", data={"UniqueName": unique("svc"), "DefaultTtl": "600"})
    assert service.status_code == 201, service.text
    service_sid = service.json()["sid"]
    for _ in range(2):
        added = http.post(
            f"/v1/Services/{service_sid}/PhoneNumbers", data={"PhoneNumber": next_number()}
        )
        assert added.status_code == 201, added.text
    reserved = http.post(
        f"/v1/Services/{service_sid}/PhoneNumbers",
        data={"PhoneNumber": next_number(), "IsReserved": "true"},
    )
    assert reserved.status_code == 201, reserved.text
    alice, bob = next_number("650"), next_number("650")
    session = http.post(
        f"/v1/Services/{service_sid}/Sessions",
        data={
            "UniqueName": unique("s"),
            "Participants": participants_json(alice, bob),
            "DateExpiry": "2030-01-02T03:04:05Z",
        },
    )
    assert session.status_code == 201, session.text
    links = session.json()["links"]
    participants = http.get(local(links["participants"])).json()["participants"]
    message = http.post(
        local(participants[0]["links"]["message_interactions"]),
        data={"Body": "see you at 5", "MediaUrl": "https://example.com/map.png"},
    )
    assert message.status_code == 201, message.text
    return {
        "service": local(service.json()["url"]),
        "numbers": f"/v1/Services/{service_sid}/PhoneNumbers",
        "session": local(session.json()["url"]),
        "by_name": f"/v1/Services/{service_sid}/Sessions/{session.json()['unique_name']}",
        "participants": local(links["participants"]),
        "interactions": local(links["interactions"]),
        "message_interactions": local(participants[0]["links"]["message_interactions"]),
        "message": local(message.json()["url"]),
        "handset": f"/sandbox/v1/Devices/{alice}/Messages",
    }


def read_state(http: httpx.Client, paths: dict[str, str]) -> dict[str, Any]:
    state = {}
    for name, path in paths.items():
        response = http.get(path)
        assert response.status_code == 200, (name, response.text)
        state[name] = response.json()
    return state


# Fields the carrier moves on by itself (queued, sent, delivered) once a worker runs.
MOVING = {"outbound_resource_status", "status", "date_updated"}


def frozen(state: Any) -> Any:
    """The state less the fields that the carrier's pending status steps change."""
    if isinstance(state, dict):
        if "outbound_resource_sid" in state or "media_urls" in state:
            return {k: frozen(v) for k, v in state.items() if k not in MOVING}
        return {k: frozen(v) for k, v in state.items()}
    if isinstance(state, list):
        return [frozen(v) for v in state]
    return state


def wait_delivered(http: httpx.Client, path: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while True:
        body: dict[str, Any] = http.get(path).json()
        if body["outbound_resource_status"] == "delivered" or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def check_rules_still_hold(http: httpx.Client, paths: dict[str, str], state: Any) -> None:
    """The restored state is live: pool counts, the pair rule, sending, closing."""
    used = {p["proxy_identifier"] for p in state["participants"]["participants"]}
    for number in state["numbers"]["phone_numbers"]:
        assert number["in_use"] == (1 if number["phone_number"] in used else 0)
    alice = state["participants"]["participants"][0]
    other = http.post(f"/v1/Services/{state['session']['service_sid']}/Sessions", data={})
    assert other.status_code == 201
    clash = http.post(
        local(other.json()["links"]["participants"]),
        data={"Identifier": alice["identifier"], "ProxyIdentifier": alice["proxy_identifier"]},
    )
    assert clash.status_code == 400
    assert clash.json()["code"] == 80604
    again = http.post(local(alice["links"]["message_interactions"]), data={"Body": "running late"})
    assert again.status_code == 201, again.text
    bodies = [m["body"] for m in http.get(paths["handset"]).json()["messages"]]
    assert bodies == ["see you at 5", "running late"]
    closed = http.post(paths["session"], data={"Status": "closed"})
    assert closed.json()["status"] == "closed"
    numbers = http.get(paths["numbers"]).json()["phone_numbers"]
    assert {n["in_use"] for n in numbers} == {0}


def test_state_survives_a_clean_stop(servers: list[Server], database_url: str) -> None:
    first = start(servers, database_url)
    with first.http() as http:
        paths = build_state(http)
        # Let the carrier's status steps settle, so that nothing moves across the restart.
        wait_delivered(http, paths["message"])
        before = read_state(http, paths)
    assert before["session"]["status"] == "in-progress"
    assert len(before["participants"]["participants"]) == 2
    assert before["message"]["outbound_resource_status"] == "delivered"
    assert len(before["handset"]["messages"]) == 1

    first.stop(signal.SIGTERM)
    assert first.process is None

    second = start(servers, database_url)
    assert second.port != first.port
    with second.http() as http:
        assert read_state(http, paths) == before
        check_rules_still_hold(http, paths, before)


def test_state_survives_a_kill(servers: list[Server], database_url: str) -> None:
    # Without a worker nothing moves on its own: the kill finds the message still queued.
    first = start(servers, database_url, worker=False)
    with first.http() as http:
        paths = build_state(http)
        before = read_state(http, paths)
    assert before["message"]["outbound_resource_status"] == "queued"

    first.stop(signal.SIGKILL)
    assert first.process is None

    second = start(servers, database_url)
    with second.http() as http:
        after = read_state(http, paths)
        assert frozen(after) == frozen(before)
        for name in ("service", "numbers", "session", "by_name", "participants"):
            assert after[name] == before[name], name
        # The status steps scheduled before the kill are carried out after it.
        assert wait_delivered(http, paths["message"])["outbound_resource_status"] == "delivered"
        assert http.get(paths["handset"]).json()["messages"][0]["status"] == "delivered"
        check_rules_still_hold(http, paths, after)


def test_every_answered_write_survives_a_kill_under_concurrent_load(
    servers: list[Server], database_url: str
) -> None:
    # Concurrent writes share commits on SQLite (group commit); none may be answered before the
    # commit that holds it, so a kill straight after the last answer loses nothing answered.
    first = start(servers, database_url, worker=False)
    with first.http() as http:
        service = http.post("/v1/Services", data={"UniqueName": unique("burst")})
        assert service.status_code == 201, service.text
        sessions_path = f"/v1/Services/{service.json()['sid']}/Sessions"
        for _ in range(4):
            added = http.post(
                f"/v1/Services/{service.json()['sid']}/PhoneNumbers",
                data={"PhoneNumber": next_number()},
            )
            assert added.status_code == 201, added.text

    def create(i: int) -> tuple[int, str]:
        with first.http() as http:
            answer = http.post(
                sessions_path,
                data={
                    "UniqueName": f"burst-{i}",
                    "Participants": participants_json(next_number("415"), next_number("628")),
                },
            )
            return answer.status_code, answer.text

    with ThreadPoolExecutor(max_workers=16) as threads:
        answers = list(threads.map(create, range(120)))
    first.stop(signal.SIGKILL)
    assert all(status == 201 for status, _ in answers), [a for a in answers if a[0] != 201]
    answered = {json.loads(text)["sid"] for _, text in answers}
    assert len(answered) == 120

    second = start(servers, database_url, worker=False)
    with second.http() as http:
        listed = http.get(sessions_path, params={"PageSize": 1000}).json()["sessions"]
        assert {s["sid"] for s in listed} == answered
        for session in listed:
            participants = http.get(local(session["links"]["participants"])).json()
            assert len(participants["participants"]) == 2
