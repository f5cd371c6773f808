"""Several Maskline processes on one database: two API processes and two workers.

The pair rule holds across processes, and every interaction and callback of a burst of traffic
is accounted for: none lost, none delivered twice. It runs on the engine of the run (SQLite or
PostgreSQL), since both are meant to carry several processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import next_number
from tests.support import ACCOUNT_SID, AUTH_TOKEN, Server, new_database_url, unique

IDENTIFIERS = 8
PER_IDENTIFIER = 25
POOL = 20
MESSAGES = 1000
CONVERSATIONS = 50


class Receiver:
    """Records every callback's idempotency token; always answers 200."""

    def __init__(self) -> None:
        tokens: list[str] = []
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    tokens.append(self.headers.get("I-Twilio-Idempotency-Token", ""))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.tokens = tokens
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder: Path = tmp_path_factory.mktemp("scale")
    url = new_database_url(folder)
    env = {"MASKLINE_RUN_WORKER": "0", "MASKLINE_SANDBOX_STEP_MS": "10"}
    apis = [Server(database_url=url, env=env).start() for _ in range(2)]
    worker_env = {
        **os.environ,
        "MASKLINE_DATABASE_URL": url,
        "MASKLINE_ACCOUNT_SID": ACCOUNT_SID,
        "MASKLINE_AUTH_TOKEN": AUTH_TOKEN,
        "MASKLINE_LOG_LEVEL": "warning",
        "MASKLINE_WORKER_POLL_MS": "50",
    }
    workers = [
        subprocess.Popen([sys.executable, "-m", "maskline", "worker"], env=worker_env)
        for _ in range(2)
    ]
    receiver = Receiver()
    yield apis, receiver
    receiver.close()
    for worker in workers:
        worker.terminate()
        worker.wait(timeout=30)
    for api in apis:
        api.stop()


def test_pair_rule_holds_across_processes(cluster: Any) -> None:
    apis, _ = cluster
    client = apis[0].client()
    service = client.proxy.v1.services.create(unique_name=unique("scale"))
    pool = client.proxy.v1.services(service.sid).phone_numbers
    for _ in range(POOL):
        pool.create(phone_number=next_number("646"))
    sessions = [
        client.proxy.v1.services(service.sid).sessions.create().sid
        for _ in range(IDENTIFIERS * PER_IDENTIFIER)
    ]
    identifiers = [next_number("312") for _ in range(IDENTIFIERS)]
    jobs = [
        (apis[i % 2], session, identifiers[i % IDENTIFIERS]) for i, session in enumerate(sessions)
    ]

    def add(job: tuple[Server, str, str]) -> tuple[str, int, dict[str, Any]]:
        api, session, identifier = job
        with api.http() as http:
            answer = http.post(
                f"/v1/Services/{service.sid}/Sessions/{session}/Participants",
                data={"Identifier": identifier},
            )
        return identifier, answer.status_code, answer.json()

    with ThreadPoolExecutor(max_workers=32) as pool_threads:
        results = list(pool_threads.map(add, jobs))

    assert all(status in (201, 400, 409) for _, status, _ in results), results
    made = [(who, body["proxy_identifier"]) for who, status, body in results if status == 201]
    refused = [body["code"] for _, status, body in results if status != 201]
    # Each identifier can hold each of the 20 numbers once: exactly 20 successes each.
    per_identifier = Counter(who for who, _ in made)
    assert per_identifier == {who: POOL for who in identifiers}
    assert len(set(made)) == len(made), "a pair was given twice"
    assert all(80000 < code < 90000 for code in refused)
    assert len(refused) == IDENTIFIERS * (PER_IDENTIFIER - POOL)
    # What the API lists agrees: no pair active twice.
    with apis[1].http() as http:
        pairs: Counter[tuple[str, str]] = Counter()
        for session in sessions:
            listed = http.get(f"/v1/Services/{service.sid}/Sessions/{session}/Participants").json()[
                "participants"
            ]
            pairs.update((p["identifier"], p["proxy_identifier"]) for p in listed)
    assert max(pairs.values()) == 1
    assert sum(pairs.values()) == IDENTIFIERS * POOL


def test_burst_of_traffic_is_fully_accounted_for(cluster: Any) -> None:
    apis, receiver = cluster
    client = apis[0].client()
    service = client.proxy.v1.services.create(
        unique_name=unique("burst"), callback_url=receiver.url
    )
    pool = client.proxy.v1.services(service.sid).phone_numbers
    for _ in range(10):
        pool.create(phone_number=next_number("718"))
    conversations = []
    for _ in range(CONVERSATIONS):
        a, b = next_number("917"), next_number("347")
        session = client.proxy.v1.services(service.sid).sessions.create(
            participants=[json.dumps({"Identifier": a}), json.dumps({"Identifier": b})]
        )
        listed = client.proxy.v1.services(service.sid).sessions(session.sid).participants.list()
        sender = next(p for p in listed if p.identifier == a)
        conversations.append((session.sid, sender.identifier, sender.proxy_identifier, b))

    def send(i: int) -> dict[str, Any]:
        _, a, proxy, _ = conversations[i % CONVERSATIONS]
        with apis[i % 2].http() as http:
            answer = http.post(
                "/sandbox/v1/Messages", data={"From": a, "To": proxy, "Body": f"message {i}"}
            )
        assert answer.status_code == 201, answer.text
        return dict(answer.json()["routing"])

    with ThreadPoolExecutor(max_workers=16) as threads:
        routed = list(threads.map(send, range(MESSAGES)))
    assert Counter(r["result"] for r in routed) == {"forwarded": MESSAGES}
    assert len({r["interaction_sid"] for r in routed}) == MESSAGES

    # Every interaction is listed, and every recipient got every message, once.
    with apis[1].http() as http:
        total = 0
        for session_sid, _, _, b in conversations:
            interactions = http.get(
                f"/v1/Services/{service.sid}/Sessions/{session_sid}/Interactions",
                params={"PageSize": 1000},
            ).json()["interactions"]
            total += len(interactions)
            received = http.get(f"/sandbox/v1/Devices/{urllib.parse.quote(b)}/Messages").json()[
                "messages"
            ]
            assert len(received) == MESSAGES // CONVERSATIONS
            assert len({m["body"] for m in received}) == len(received)
    assert total == MESSAGES

    # Each interaction is called back three times (queued, sent, delivered), each once.
    expected = 3 * MESSAGES
    deadline = time.monotonic() + 120
    while len(receiver.tokens) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)  # anything doubled would arrive now
    tokens = Counter(receiver.tokens)
    assert len(tokens) == expected
    assert max(tokens.values()) == 1, "a callback was delivered twice"
    with apis[0].http() as http:
        listed = http.get("/maskline/v1/Callbacks", params={"PageSize": 1000}).json()
    assert all(
        cb["status"] == "delivered" for cb in listed["callbacks"] if cb["url"] == receiver.url
    )


def test_sessions_created_at_once_by_two_processes_share_a_small_pool(cluster: Any) -> None:
    # Each CreateSession picks two numbers and counts each one's use: two processes doing so
    # at once on four numbers must neither fail (PostgreSQL ends a lock cycle as a deadlock)
    # nor lose a count.
    apis, _ = cluster
    client = apis[0].client()
    service = client.proxy.v1.services.create(unique_name=unique("small-pool"))
    pool = client.proxy.v1.services(service.sid).phone_numbers
    for _ in range(4):
        pool.create(phone_number=next_number("212"))
    path = f"/v1/Services/{service.sid}/Sessions"

    def create(i: int) -> tuple[int, str]:
        with apis[i % 2].http() as http:
            answer = http.post(
                path,
                data={
                    "Participants": [
                        json.dumps({"Identifier": next_number("415")}),
                        json.dumps({"Identifier": next_number("628")}),
                    ]
                },
            )
        return answer.status_code, answer.text

    with ThreadPoolExecutor(max_workers=16) as threads:
        answers = list(threads.map(create, range(160)))
    assert [a for a in answers if a[0] != 201] == []
    # Every number's in_use is the number of sessions one of whose participants holds it.
    holders: dict[str, set[str]] = {}
    with apis[1].http() as http:
        for _, text in answers:
            session = json.loads(text)
            listed = http.get(f"{path}/{session['sid']}/Participants").json()["participants"]
            for participant in listed:
                holders.setdefault(participant["proxy_identifier"], set()).add(session["sid"])
        numbers = http.get(f"/v1/Services/{service.sid}/PhoneNumbers").json()["phone_numbers"]
    assert {n["phone_number"]: n["in_use"] for n in numbers} == {
        n["phone_number"]: len(holders.get(n["phone_number"], ())) for n in numbers
    }
