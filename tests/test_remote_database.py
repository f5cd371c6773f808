"""PostgreSQL on another host: one `maskline serve` keeps many requests in flight, each waiting
for its own round trips on the event loop while the others run (db/cooperative.py), on
connections lent from its pool. The database is reached through a proxy that delays every
byte, as a network would. Runs on PostgreSQL in both halves of the suite: SQLite has no round
trips to wait for."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from bench.delay import DelayProxy

from tests.conftest import add_numbers, next_number
from tests.support import Server, postgres, postgres_database, unique

# Each way: a 100 ms round trip, far above what a busy machine adds to a request's own work
# (the other test process may be building a container image meanwhile).
DELAY_S = 0.05
REQUESTS = 8


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Server, Server]]:
    """Two processes on one database: `near` reaches it directly and makes and checks what the
    test needs; `far` reaches it through the delay, and only what is timed goes to it."""
    url = postgres_database()
    database = postgres()
    near = Server(database_url=url).start()
    with DelayProxy(database.port, DELAY_S) as proxy:
        delayed = url.replace(f":{database.port}/", f":{proxy.port}/")
        # As shipped: the worker in the process, its rounds waiting on the loop too, and the
        # pool at its default size (more connections than the requests timed at once).
        far = Server(database_url=delayed, migrate_first=False).start()
        yield near, far
        far.stop()
    near.stop()


def _timed(
    clients: list[httpx.Client], call: Callable[[httpx.Client], None], parallel: bool
) -> float:
    """How long one call per client takes, one after another or all at once. Each client
    keeps its connection open: what is timed is the server's answer, not the client's
    connection set-up."""
    started = time.perf_counter()
    if parallel:
        with ThreadPoolExecutor(len(clients)) as pool:
            list(pool.map(call, clients))
    else:
        for client in clients:
            call(client)
    return time.perf_counter() - started


def test_concurrent_requests_overlap_their_database_waits(servers: tuple[Server, Server]) -> None:
    near, far = servers
    sdk = near.client()
    service = sdk.proxy.v1.services.create(unique_name=unique("far"))
    # Enough numbers that concurrent sessions seldom want the same one: two transactions that
    # change one number's use counter take turns, as they must.
    add_numbers(sdk, service.sid, 24)
    session = sdk.proxy.v1.services(service.sid).sessions.create()
    base = f"/v1/Services/{service.sid}"
    clients = [far.http() for _ in range(REQUESTS)]

    def fetch(http: httpx.Client) -> None:
        answer = http.get(f"{base}/Sessions/{session.sid}")
        assert answer.status_code == 200

    def create(http: httpx.Client) -> None:
        answer = http.post(
            f"{base}/Sessions",
            data={
                "Participants": [
                    f'{{"Identifier": "{next_number("212")}"}}',
                    f'{{"Identifier": "{next_number("718")}"}}',
                ]
            },
        )
        assert answer.status_code == 201, answer.text

    try:
        # Every client connects, and the pool opens its connections, first.
        _timed(clients, fetch, parallel=True)
        one_by_one = _timed(clients, fetch, parallel=False)
        # The best of three: a busy machine can only slow a try down.
        together = min(_timed(clients, fetch, parallel=True) for _ in range(3))
        # Waited for one after another, eight requests would take as long together as one
        # by one; overlapped, a fraction of it, even on a busy machine.
        assert together < one_by_one / 2, (together, one_by_one)

        one_by_one = _timed(clients, create, parallel=False)
        together = _timed(clients, create, parallel=True)
        assert together < one_by_one / 2, (together, one_by_one)
    finally:
        for client in clients:
            client.close()
    # Every session whole, the pair rule held: two participants each, the numbers counted.
    listed = near.http().get(f"{base}/Sessions", params={"PageSize": 100}).json()["sessions"]
    assert len(listed) == 1 + 2 * REQUESTS
    for made in listed[1:]:
        people = near.http().get(f"{base}/Sessions/{made['sid']}/Participants").json()
        assert len(people["participants"]) == 2
    pool = near.http().get(f"{base}/PhoneNumbers").json()["phone_numbers"]
    assert sum(n["in_use"] for n in pool) >= REQUESTS
