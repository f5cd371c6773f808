"""GET /metrics: the families an operator watches, moving as traffic flows, counted over every
process of `serve --workers 2` and of a `maskline worker` beside it, behind a bearer token."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from twilio.base.exceptions import TwilioRestException

from tests.conftest import add_numbers, next_number
from tests.receiver import Receiver, Reply
from tests.support import ACCOUNT_SID, AUTH_TOKEN, Server, new_database_url
from tests.traffic import FAST_ENV, Sandbox, new_service, open_conversation, wait_until

TOKEN = "scrape-" + "k" * 24
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("metrics")
    running = Server(
        database_url=new_database_url(folder),
        env={
            **FAST_ENV,
            "MASKLINE_METRICS_TOKEN": TOKEN,
            # The access records say which process answered (`pid`).
            "MASKLINE_LOG_LEVEL": "info",
            "MASKLINE_LOG_FORMAT": "json",
        },
        args=["--workers", "2"],
    ).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def scrape(server: Server, token: str = TOKEN) -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(server.base_url + "/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in samples.items() if n == name and wanted <= got)


def test_a_scrape_needs_the_token_when_one_is_set(srv: Server) -> None:
    missing = httpx.get(srv.base_url + "/metrics")
    assert missing.status_code == 401
    assert missing.json()["code"] == 20003
    assert missing.headers["www-authenticate"].startswith("Bearer ")
    wrong = httpx.get(srv.base_url + "/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    # Account credentials are not a scrape token.
    basic = httpx.get(srv.base_url + "/metrics", auth=(ACCOUNT_SID, AUTH_TOKEN))
    assert basic.status_code == 401
    assert value(scrape(srv), "maskline_http_requests_total", route="/metrics") >= 0


def test_requests_are_counted_over_every_process(srv: Server) -> None:
    route = {"method": "GET", "route": "/v1/Services", "status": "200"}
    before = scrape(srv)
    sent = 0
    pids: set[int] = set()

    def one(_: int) -> str:
        # A connection of its own each, so that both processes get a share.
        response = httpx.get(
            srv.base_url + "/v1/Services", auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=10
        )
        assert response.status_code == 200
        return response.headers["twilio-request-id"]

    with ThreadPoolExecutor(8) as pool:
        for _ in range(40):
            list(pool.map(one, range(16)))
            sent += 16
            pids = _serving_pids(srv)
            if len(pids) == 2:
                break
    assert len(pids) == 2, "every request went to one process"

    def delta(name: str, **labels: str) -> float:
        return value(scrape(srv), name, **labels) - value(before, name, **labels)

    # Each process hands its tallies over at least every second (web/observe.py).
    wait_until(
        lambda: delta("maskline_http_requests_total", **route) >= sent,
        what="every process's requests counted",
    )
    time.sleep(1.5)
    assert delta("maskline_http_requests_total", **route) == sent
    timing = {"method": "GET", "route": "/v1/Services"}
    assert delta("maskline_http_request_duration_seconds_count", **timing) == sent
    # Every request falls in the +Inf bucket, and the buckets only grow with their bound.
    after = scrape(srv)
    buckets = sorted(
        (float(dict(labels)["le"]), v - before.get((n, labels), 0))
        for (n, labels), v in after.items()
        if n == "maskline_http_request_duration_seconds_bucket" and set(timing.items()) <= labels
    )
    assert buckets[-1] == (float("inf"), sent)
    assert [count for _, count in buckets] == sorted(count for _, count in buckets)


def _serving_pids(server: Server) -> set[int]:
    """The processes that answered a GET /v1/Services, from their access records."""
    found = set()
    for line in server.log().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record["logger"] == "maskline.access" and record["path"] == "/v1/Services":
                found.add(int(record["pid"]))
    return found


def pool_states(gauges: Samples, service_sid: str) -> dict[str, float]:
    """`maskline_pool_numbers` of one service, by state."""
    return {
        state: value(gauges, "maskline_pool_numbers", service_sid=service_sid, state=state)
        for state in ("free", "in_use", "reserved")
    }


def test_pool_and_session_gauges_and_exhaustion_follow_the_traffic(srv: Server) -> None:
    sdk = srv.client()
    service = new_service(sdk, 1)
    gauges = scrape(srv)
    assert pool_states(gauges, service.sid) == {"free": 1, "in_use": 0, "reserved": 0}
    assert value(gauges, "maskline_sessions", service_sid=service.sid) == 0
    assert value(gauges, "maskline_pool_exhausted_total", service_sid=service.sid) == 0

    a, b = next_number("212"), next_number("718")
    conversation = open_conversation(sdk, service, handsets=(a, b))
    gauges = scrape(srv)
    assert value(gauges, "maskline_pool_numbers", service_sid=service.sid, state="in_use") == 1
    assert value(gauges, "maskline_pool_numbers", service_sid=service.sid, state="free") == 0
    assert value(gauges, "maskline_sessions", service_sid=service.sid, status="open") == 1

    # `a` already talks through the one number: a second session for it cannot get one.
    sessions = sdk.proxy.v1.services(service.sid).sessions
    second = sessions.create()
    with pytest.raises(TwilioRestException) as refused:
        sessions(second.sid).participants.create(identifier=a)
    assert refused.value.code == 80208
    gauges = scrape(srv)
    assert value(gauges, "maskline_pool_exhausted_total", service_sid=service.sid) == 1

    conversation.session.update(status="closed")
    gauges = scrape(srv)
    assert value(gauges, "maskline_sessions", service_sid=service.sid, status="closed") == 1
    assert value(gauges, "maskline_sessions", service_sid=service.sid, status="open") == 1
    assert value(gauges, "maskline_pool_numbers", service_sid=service.sid, state="free") == 1

    # A reserved number is counted as such; a number in no participant's area, under an
    # area-code match, refuses with 80206, counted as exhaustion too.
    local = new_service(sdk, 0, geo_match_level="area-code")
    numbers = add_numbers(sdk, local.sid, 2, area="415")
    sdk.proxy.v1.services(local.sid).phone_numbers(numbers[0].sid).update(is_reserved=True)
    far = sdk.proxy.v1.services(local.sid).sessions.create()
    with pytest.raises(TwilioRestException) as refused:
        sdk.proxy.v1.services(local.sid).sessions(far.sid).participants.create(
            identifier=next_number("212")
        )
    assert refused.value.code == 80206
    gauges = scrape(srv)
    assert pool_states(gauges, local.sid) == {"free": 1, "in_use": 0, "reserved": 1}
    assert value(gauges, "maskline_pool_exhausted_total", service_sid=local.sid) == 1


def test_callbacks_delivered_and_failed_are_counted(srv: Server, receiver: Receiver) -> None:
    receiver.answer("/good")
    # Slow failures: the callback stays pending long enough to be seen so.
    receiver.answers("/bad", [Reply(500, delay=0.3)])
    sdk = srv.client()
    sandbox = Sandbox(srv.http())
    good = open_conversation(sdk, new_service(sdk, 2, callback_url=receiver.url("/good")))
    bad = open_conversation(sdk, new_service(sdk, 2, callback_url=receiver.url("/bad")))
    before = scrape(srv)

    sandbox.send(good.a.identifier, good.a.proxy_identifier, "to the good receiver")
    sandbox.send(bad.a.identifier, bad.a.proxy_identifier, "to the bad receiver")
    assert value(scrape(srv), "maskline_callbacks_pending") >= 1
    attempts = int(FAST_ENV["MASKLINE_CALLBACK_MAX_ATTEMPTS"])
    receiver.wait_for("/good")
    receiver.wait_for("/bad", lambda got: len(got) >= attempts, timeout=20)

    def delta(name: str, **labels: str) -> float:
        return value(scrape(srv), name, **labels) - value(before, name, **labels)

    name = "maskline_callback_deliveries_total"
    wait_until(lambda: delta(name, outcome="failed") >= 1, what="a failed delivery counted")
    wait_until(
        lambda: delta(name, outcome="delivered") >= len(receiver.received("/good")),
        what="every delivery counted",
    )
    assert delta(name, outcome="retrying") >= attempts - 1
    latency = delta("maskline_callback_delivery_duration_seconds_count")
    assert latency >= len(receiver.received("/good")) + attempts
    wait_until(
        lambda: value(scrape(srv), "maskline_callbacks_pending") == 0, what="nothing pending"
    )


def test_labels_carry_no_phone_number(srv: Server) -> None:
    number = next_number("415")
    sdk = srv.client()
    service = new_service(sdk, 1)
    # A number in a path that matches a route, and in one that matches none.
    httpx.get(
        srv.base_url + f"/v1/Services/{service.sid}/PhoneNumbers/{number}",
        auth=(ACCOUNT_SID, AUTH_TOKEN),
    )
    httpx.get(srv.base_url + f"/v1/{number}", auth=(ACCOUNT_SID, AUTH_TOKEN))

    def page() -> str:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        return httpx.get(srv.base_url + "/metrics", headers=headers).text

    def counted() -> str:
        got = page()
        both = 'route="/v1/Services/{service}/PhoneNumbers/{sid}"' in got
        return got if both and 'route="unmatched"' in got else ""

    text = wait_until(counted, what="both requests counted")
    assert number not in text and number[1:] not in text
    assert not re.search(r"\+\d{7,}", text)
    assert AUTH_TOKEN not in text


def test_a_separate_worker_s_deliveries_and_the_lag_are_seen(
    tmp_path: Path, receiver: Receiver
) -> None:
    """`serve` without its own worker: due callbacks wait and the lag grows; a `maskline
    worker` given the same metrics directory delivers them, and serve's scrape counts it."""
    shared = tmp_path / "metrics"
    shared.mkdir()
    env = {**FAST_ENV, "MASKLINE_RUN_WORKER": "0", "MASKLINE_METRICS_DIR": str(shared)}
    serve = Server(database_url=new_database_url(tmp_path), env=env).start()
    worker = None
    try:
        receiver.answer("/later")
        sdk = serve.client()
        chat = open_conversation(sdk, new_service(sdk, 2, callback_url=receiver.url("/later")))
        Sandbox(serve.http()).send(chat.a.identifier, chat.a.proxy_identifier, "waiting")
        wait_until(
            lambda: value(scrape(serve, ""), "maskline_worker_lag_seconds") >= 1.0,
            what="the lag to grow while no worker runs",
        )
        assert value(scrape(serve, ""), "maskline_callbacks_pending") >= 1
        assert not receiver.received("/later")

        worker = subprocess.Popen(
            [sys.executable, "-m", "maskline", "worker"],
            env={
                **os.environ,
                **env,
                "MASKLINE_DATABASE_URL": serve.database_url,
                "MASKLINE_LOG_LEVEL": "warning",
            },
        )
        receiver.wait_for("/later", timeout=20)
        wait_until(
            lambda: (
                value(scrape(serve, ""), "maskline_callback_deliveries_total", outcome="delivered")
                >= 1
            ),
            what="the worker's delivery in serve's scrape",
        )
        wait_until(
            lambda: value(scrape(serve, ""), "maskline_worker_lag_seconds") == 0,
            what="the lag to fall back to 0",
        )
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=15)
        serve.stop()
