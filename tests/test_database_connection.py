"""A PostgreSQL server that drops Maskline's connections: requests fail cleanly, then recover.

Maskline runs its hot statements on libpq directly, prepared once per connection
(`db/libpq.py`). When PostgreSQL ends those connections (a restart, a failover,
`pg_terminate_backend`), a request caught in between answers a Twilio-style error, the
connection is given up, and the next requests run on a new one, where the statements are
prepared again. This runs on PostgreSQL in both halves of the suite: SQLite has no connection
to lose.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import next_number
from tests.support import Server, free_port, postgres, postgres_database, skip_or_fail, unique


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server(database_url=postgres_database()).start()
    yield running
    running.stop()


def terminate_backends(database_url: str) -> int:
    """End every PostgreSQL backend serving this database; how many there were."""
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (name,),
        ).fetchall()
    return len(rows)


def create_session(http: httpx.Client, service_sid: str) -> httpx.Response:
    identifiers = [next_number("628"), next_number("628")]
    return http.post(
        f"/v1/Services/{service_sid}/Sessions",
        data={"Participants": [json.dumps({"Identifier": i}) for i in identifiers]},
    )


def test_requests_recover_after_postgresql_ends_the_connections(
    server: Server,
) -> None:
    http = server.http()
    service = http.post("/v1/Services", data={"UniqueName": unique("svc")}).json()
    for _ in range(3):
        added = http.post(
            f"/v1/Services/{service['sid']}/PhoneNumbers", data={"PhoneNumber": next_number()}
        )
        assert added.status_code == 201, added.text
    # Every statement of these requests is prepared on the server's connection.
    first = create_session(http, service["sid"])
    assert first.status_code == 201, first.text
    session_path = f"/v1/Services/{service['sid']}/Sessions/{first.json()['sid']}"
    assert http.get(session_path).status_code == 200

    assert terminate_backends(server.database_url) >= 1

    answers: list[httpx.Response] = []
    for _ in range(6):
        answers.append(http.get(session_path))
        answers.append(create_session(http, service["sid"]))
    failures = [a for a in answers if a.status_code >= 500]
    # The request that meets the dead connection may fail, with an error body; at most one
    # per connection the server held (the request's and the worker's).
    assert len(failures) <= 2, [a.text for a in failures]
    for failure in failures:
        body: Any = failure.json()
        assert body["status"] == failure.status_code and "message" in body
    # Then everything works, and what was written before is all there.
    assert [a.status_code for a in answers[-6:]] == [200, 201] * 3
    assert http.get(session_path).json()["status"] in ("open", "in-progress")
    assert http.get("/healthz").status_code == 200
    assert server.process is not None and server.process.poll() is None


class PgBouncer:
    """PgBouncer in transaction mode in front of the test cluster: each transaction may run on
    another of its two server connections, which do not share prepared statements."""

    def __init__(self, cluster: Any) -> None:
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not Path(binary).exists():
            raise RuntimeError("pgbouncer is not installed")
        self.binary = binary
        self.cluster = cluster
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="maskline-pgbouncer-"))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PgBouncer:
        (self.root / "users.txt").write_text('"postgres" ""\n')
        (self.root / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={self.cluster.port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.root / 'users.txt'}\n"
            "pool_mode = transaction\n"
            "default_pool_size = 2\n"
            "max_client_conn = 100\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {self.root / 'pgbouncer.log'}\n"
        )
        command = [self.binary, str(self.root / "pgbouncer.ini")]
        if self.cluster.user:  # pgbouncer, like PostgreSQL, will not run as root
            shutil.chown(self.root, user=self.cluster.user)
            for path in self.root.iterdir():
                shutil.chown(path, user=self.cluster.user)
            command = ["runuser", "-u", self.cluster.user, "--", *command]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    _out, err = self.process.communicate()
                    message = err.decode(errors="replace")
                    raise RuntimeError(f"pgbouncer exited: {message}") from None
                time.sleep(0.05)
        raise RuntimeError("pgbouncer did not start")

    def url(self, database_url: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database_url.rsplit('/', 1)[1]}"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def bouncer() -> Iterator[tuple[PgBouncer, str]]:
    database_url = postgres_database()
    try:
        running = PgBouncer(postgres()).start()
    except Exception as exc:
        skip_or_fail(
            "PgBouncer",
            f"PgBouncer could not be started ({exc}); install it with `apt-get install pgbouncer`",
        )
    yield running, database_url
    running.stop()


def test_unprepared_statements_run_behind_pgbouncer_in_transaction_mode(
    bouncer: tuple[PgBouncer, str],
) -> None:
    """Two servers through PgBouncer 1.18 in transaction mode, with MASKLINE_DATABASE_PREPARE=0:
    their transactions land on whichever server connection is free, and every request works."""
    pgbouncer, database_url = bouncer
    url = pgbouncer.url(database_url)
    env = {"MASKLINE_DATABASE_PREPARE": "0"}
    servers = [Server(database_url=url, env=env).start()]
    try:
        servers.append(Server(database_url=url, env={**env, "MASKLINE_RUN_WORKER": "0"}).start())
        one, two = (server.http() for server in servers)
        service = one.post("/v1/Services", data={"UniqueName": unique("svc")}).json()
        for _ in range(4):
            added = two.post(
                f"/v1/Services/{service['sid']}/PhoneNumbers", data={"PhoneNumber": next_number()}
            )
            assert added.status_code == 201, added.text

        def conversation(http: httpx.Client) -> list[int]:
            created = create_session(http, service["sid"])
            if created.status_code != 201:
                return [created.status_code]
            session_path = f"/v1/Services/{service['sid']}/Sessions/{created.json()['sid']}"
            fetched = http.get(session_path)
            closed = http.post(session_path, data={"Status": "closed"})
            return [created.status_code, fetched.status_code, closed.status_code]

        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(conversation, [one, two] * 30))
        assert answers == [[201, 200, 200]] * 60
        listed = one.get(f"/v1/Services/{service['sid']}/Sessions?PageSize=100").json()
        assert len(listed["sessions"]) == 60
        assert {s["status"] for s in listed["sessions"]} == {"closed"}
    finally:
        for server in servers:
            server.stop()
