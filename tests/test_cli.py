"""The maskline command: migrate, the schema check of serve, several API processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import ACCOUNT_SID, AUTH_TOKEN, ENGINE, Server, free_port, new_database_url


def maskline(
    *args: str, database_url: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MASKLINE_DATABASE_URL": database_url, "MASKLINE_LOG_LEVEL": "warning"}
    return subprocess.run(
        [sys.executable, "-m", "maskline", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_migrate_brings_a_new_database_to_the_latest_schema(tmp_path: Path) -> None:
    url = new_database_url(tmp_path)
    first = maskline("migrate", database_url=url)
    assert first.returncode == 0, first.stderr
    assert "schema at" in first.stdout and "(was None)" in first.stdout
    again = maskline("migrate", database_url=url)
    assert again.returncode == 0
    assert "(was" not in again.stdout  # nothing left to apply


def _migrate_to(url: str, revision: str) -> None:
    from alembic import command

    from maskline.db import migrate
    from maskline.db.engine import create_db_engine

    engine = create_db_engine(url)
    try:
        config = migrate._config()
        with engine.begin() as conn:
            conn.info["writes"] = True
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def test_serve_creates_the_schema_of_an_empty_database(tmp_path: Path) -> None:
    # On either engine: a first start needs no `maskline migrate`.
    server = Server(database_url=new_database_url(tmp_path), migrate_first=False).start()
    try:
        made = server.http().post("/v1/Services", data={"UniqueName": "first-start"})
        assert made.status_code == 201, made.text
    finally:
        server.stop()


def test_serve_refuses_a_postgresql_schema_that_is_behind(tmp_path: Path) -> None:
    url = new_database_url(tmp_path)
    _migrate_to(url, "0004")
    if ENGINE == "postgresql":
        done = maskline("serve", "--port", str(free_port()), database_url=url, timeout=60)
        assert done.returncode != 0
        assert "maskline migrate" in done.stderr
        return
    # On SQLite, serve migrates by itself: the embedded database needs no extra step.
    server = Server(database_url=url, migrate_first=False).start()
    try:
        assert server.http().get("/v1/Services").status_code == 200
    finally:
        server.stop()


def test_serve_runs_several_api_processes(tmp_path: Path) -> None:
    url = new_database_url(tmp_path)
    assert maskline("migrate", database_url=url).returncode == 0
    port = free_port()
    env = {
        **os.environ,
        "MASKLINE_DATABASE_URL": url,
        "MASKLINE_ACCOUNT_SID": ACCOUNT_SID,
        "MASKLINE_AUTH_TOKEN": AUTH_TOKEN,
        "MASKLINE_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "maskline", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        made = [
            httpx.post(
                base + "/v1/Services",
                data={"UniqueName": f"multi-{i}"},
                auth=(ACCOUNT_SID, AUTH_TOKEN),
                timeout=10,
            )
            for i in range(20)
        ]
        assert all(r.status_code == 201 for r in made)
        listed = httpx.get(base + "/v1/Services", auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=10).json()
        assert {s["unique_name"] for s in listed["services"]} >= {f"multi-{i}" for i in range(20)}
        assert len(children_of(process.pid)) >= 2, "expected two API processes"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize(
    ("account_sid", "auth_token", "problem"),
    [
        ("AC123", AUTH_TOKEN, "MASKLINE_ACCOUNT_SID must be AC followed by 32 hex digits"),
        ("AC" + "g" * 32, AUTH_TOKEN, "MASKLINE_ACCOUNT_SID must be AC followed by 32 hex digits"),
        (ACCOUNT_SID, "two words token, long enough", "must be printable ASCII without spaces"),
        (ACCOUNT_SID, "jeton-à-accents-longs-assez", "must be printable ASCII without spaces"),
        (ACCOUNT_SID, "short", "MASKLINE_AUTH_TOKEN must be at least 16 characters"),
    ],
)
def test_serve_refuses_an_account_no_one_could_sign_in_to(
    tmp_path: Path, account_sid: str, auth_token: str, problem: str
) -> None:
    env = {
        **os.environ,
        "MASKLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}",
        "MASKLINE_ACCOUNT_SID": account_sid,
        "MASKLINE_AUTH_TOKEN": auth_token,
    }
    done = subprocess.run(
        [sys.executable, "-m", "maskline", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert problem in done.stderr, done.stderr
    assert auth_token not in done.stderr  # the secret is never echoed back
    assert not (tmp_path / "never.db").exists(), "nothing is created before the check"
