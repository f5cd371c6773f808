"""Logs: JSON lines or timestamped text from every process, an access record per request that
carries the answer's Twilio-Request-Id, and never a secret."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ACCOUNT_SID, AUTH_TOKEN, Server, new_database_url
from tests.traffic import FAST_ENV, wait_until

REQUEST_ID = re.compile(r"RQ[0-9a-f]{32}")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("logs")
    running = Server(
        database_url=new_database_url(folder),
        env={**FAST_ENV, "MASKLINE_LOG_LEVEL": "info", "MASKLINE_LOG_FORMAT": "json"},
        args=["--workers", "2"],
    ).start()
    yield running
    running.stop()


def records(text: str) -> list[dict[str, Any]]:
    """Every line parsed: each one must be a JSON object with the four fields."""
    parsed = []
    for line in text.splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        assert isinstance(record, dict), line
        assert {"time", "level", "logger", "message"} <= record.keys(), line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"]), line
        parsed.append(record)
    return parsed


def access_records(server: Server) -> dict[str, dict[str, Any]]:
    return {r["request_id"]: r for r in records(server.log()) if r["logger"] == "maskline.access"}


def test_every_line_of_every_process_is_a_json_record_with_its_request_id(srv: Server) -> None:
    def one(_: int) -> httpx.Response:
        # A connection of its own each, so that both processes get a share.
        return httpx.get(
            srv.base_url + "/v1/Services",
            params={"PageSize": "5", "Secret": "query-never-logged"},
            auth=(ACCOUNT_SID, AUTH_TOKEN),
            timeout=10,
        )

    answered: dict[str, httpx.Response] = {}
    with ThreadPoolExecutor(8) as pool:
        for _ in range(40):
            for response in pool.map(one, range(16)):
                assert response.status_code == 200
                answered[response.headers["Twilio-Request-Id"]] = response
            seen = access_records(srv)
            if len({seen[rid]["pid"] for rid in answered if rid in seen}) == 2:
                break
    seen = wait_until(
        lambda: (found := access_records(srv)).keys() >= answered.keys() and found,
        what="an access record for every request",
    )
    assert len({seen[rid]["pid"] for rid in answered}) == 2, "one process answered everything"
    for rid in answered:
        assert REQUEST_ID.fullmatch(rid)
        record = seen[rid]
        assert record["level"] == "info"
        assert record["method"] == "GET"
        assert record["path"] == "/v1/Services"
        assert record["status"] == 200
        assert record["account_sid"] == ACCOUNT_SID
        assert isinstance(record["duration_ms"], float | int) and record["duration_ms"] >= 0
    log = srv.log()
    # uvicorn's own records come as JSON too; nothing secret is written.
    assert any(r["logger"].startswith("uvicorn") for r in records(log))
    assert "query-never-logged" not in log and AUTH_TOKEN not in log


def test_errors_carry_a_request_id_and_an_access_record(srv: Server) -> None:
    missing = httpx.get(srv.base_url + "/v1/Services/KS" + "0" * 32, auth=(ACCOUNT_SID, AUTH_TOKEN))
    refused = httpx.get(srv.base_url + "/v1/Services", auth=(ACCOUNT_SID, "wrong" * 6))
    assert missing.status_code == 404 and refused.status_code == 401
    ids = [r.headers["Twilio-Request-Id"] for r in (missing, refused)]
    assert ids[0] != ids[1]
    seen = wait_until(
        lambda: (found := access_records(srv)).keys() >= set(ids) and found,
        what="the access records",
    )
    assert seen[ids[0]]["status"] == 404
    assert seen[ids[1]]["status"] == 401
    # Wrong credentials act for no one.
    assert seen[ids[1]]["account_sid"] is None
    assert "wrong" * 6 not in srv.log()


def test_a_lone_worker_logs_json_too(srv: Server) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-m", "maskline", "worker"],
        env={
            **os.environ,
            **FAST_ENV,
            "MASKLINE_DATABASE_URL": srv.database_url,
            "MASKLINE_LOG_LEVEL": "info",
            "MASKLINE_LOG_FORMAT": "json",
        },
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker.stderr is not None
    first = ""
    while "worker started" not in first:
        line = worker.stderr.readline()
        assert line, f"the worker ended early: {first}"
        first += line
    worker.send_signal(signal.SIGTERM)
    rest = worker.communicate(timeout=15)[1]
    lines = records(first + rest)
    assert [r["message"] for r in lines if r["logger"] == "maskline.worker"] == [
        "worker started",
        "worker stopped",
    ]


def test_text_lines_start_with_their_time_and_the_access_log_can_be_off(tmp_path: Path) -> None:
    text = Server(
        database_url=new_database_url(tmp_path), env={"MASKLINE_LOG_LEVEL": "info"}
    ).start()
    try:
        answer = text.http().get("/v1/Services")
        rid = answer.headers["Twilio-Request-Id"]
        line = wait_until(
            lambda: next((x for x in text.log().splitlines() if rid in x), None),
            what="the access line",
        )
        assert re.match(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO maskline\.access GET /v1/Services 200 ",
            line,
        )
        assert line.endswith(f" {rid} {ACCOUNT_SID}")
    finally:
        text.stop()
    quiet = Server(
        database_url=new_database_url(tmp_path),
        env={"MASKLINE_LOG_LEVEL": "info", "MASKLINE_ACCESS_LOG": "0"},
    ).start()
    try:
        answer = quiet.http().get("/v1/Services")
        assert REQUEST_ID.fullmatch(answer.headers["Twilio-Request-Id"])
        assert "maskline.access" not in quiet.log()
    finally:
        quiet.stop()
