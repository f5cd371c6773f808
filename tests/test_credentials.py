"""Managing credentials from the command line: keys listed and revoked, accounts listed and
their tokens rotated; a revoked key or an old token stops working within seconds in every
process of `serve --workers 2`, and no listing ever shows a secret."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support import ACCOUNT_SID, AUTH_TOKEN, Server, create_account, new_database_url
from tests.test_auth import MASKLINE, create_api_key, key_client
from tests.traffic import wait_until


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("credentials")
    running = Server(database_url=new_database_url(folder), args=["--workers", "2"]).start()
    yield running
    running.stop()


def cli(server: Server, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MASKLINE), *args],
        env={**os.environ, "MASKLINE_DATABASE_URL": server.database_url, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def statuses(server: Server, username: str, password: str, count: int = 16) -> set[int]:
    """The statuses of `count` requests, each on a connection of its own so that both
    processes answer some."""

    def one(_: int) -> int:
        return httpx.get(
            server.base_url + "/v1/Services", auth=(username, password), timeout=10
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        return set(pool.map(one, range(count)))


def test_a_revoked_key_is_refused_by_every_process(srv: Server) -> None:
    key_sid, secret = create_api_key(srv, ACCOUNT_SID)
    assert key_client(srv, key_sid, secret, ACCOUNT_SID).proxy.v1.services.list() == []
    # Both processes now hold the key as verified.
    assert statuses(srv, key_sid, secret) == {200}

    listed = cli(srv, "keys", "list", "--account-sid", ACCOUNT_SID)
    assert listed.returncode == 0, listed.stderr
    assert key_sid in listed.stdout
    assert secret not in listed.stdout + listed.stderr

    revoked = cli(srv, "keys", "revoke", key_sid)
    assert revoked.returncode == 0, revoked.stderr
    assert f"Revoked {key_sid}" in revoked.stdout
    wait_until(
        lambda: statuses(srv, key_sid, secret) == {401},
        timeout=5,
        interval=0.2,
        what="every process to refuse the revoked key",
    )
    assert key_sid not in cli(srv, "keys", "list", "--account-sid", ACCOUNT_SID).stdout
    again = cli(srv, "keys", "revoke", key_sid)
    assert again.returncode != 0 and f"No API key {key_sid}" in again.stderr


def test_a_rotated_token_replaces_the_old_one(srv: Server) -> None:
    sid, old = create_account(srv)
    assert statuses(srv, sid, old) == {200}
    rotated = cli(srv, "accounts", "rotate-token", sid)
    assert rotated.returncode == 0, rotated.stderr
    new = rotated.stdout.split("Auth token:")[1].strip()
    assert len(new) == 32 and new != old
    wait_until(
        lambda: statuses(srv, sid, old) == {401},
        timeout=5,
        interval=0.2,
        what="every process to refuse the old token",
    )
    assert statuses(srv, sid, new) == {200}

    listed = cli(srv, "accounts", "list")
    assert listed.returncode == 0, listed.stderr
    assert sid in listed.stdout and ACCOUNT_SID in listed.stdout
    assert new not in listed.stdout and AUTH_TOKEN not in listed.stdout


def test_the_configured_account_s_token_is_not_rotated_behind_the_setting(srv: Server) -> None:
    refused = cli(
        srv,
        "accounts",
        "rotate-token",
        ACCOUNT_SID,
        MASKLINE_ACCOUNT_SID=ACCOUNT_SID,
        MASKLINE_AUTH_TOKEN=AUTH_TOKEN,
    )
    assert refused.returncode != 0
    assert "MASKLINE_AUTH_TOKEN" in refused.stderr
    assert statuses(srv, ACCOUNT_SID, AUTH_TOKEN, 4) == {200}
    unknown = cli(srv, "accounts", "rotate-token", "AC" + "9" * 32)
    assert unknown.returncode != 0 and "No account" in unknown.stderr
    keys = cli(srv, "keys", "list", "--account-sid", "AC" + "9" * 32)
    assert keys.returncode != 0 and "No account" in keys.stderr
